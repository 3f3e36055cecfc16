// The demo CLI end to end through cli::main (src/app.cpp): timed --jobs lines and
// --timing, on the test export named by DEPLOYKIT_TEST_MANIFEST (as model_test.cpp).
// tests/test_cpp_client.py drives the built binary through the rest of the command line.
#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "deploykit/cli.hpp"
#include "deploykit/manifest.hpp"
#include "deploykit/npy.hpp"
#include "test_util.hpp"

namespace deploykit::cli {
namespace {

using json = nlohmann::ordered_json;  // keeps the key order to check it

std::string manifest_path() { return testing::test_manifest_path(); }

const Manifest& test_manifest() {
  static const Manifest manifest = Manifest::read(manifest_path());
  return manifest;
}

// The first model with a TorchScript (script) artifact: the quickest to load.
const ModelEntry& torch_model() {
  for (const ModelEntry& m : test_manifest().models())
    if (m.find_artifact("torchscript-script") != nullptr) return m;
  throw std::runtime_error("no torchscript-script artifact in the test manifest");
}

struct CliRun {
  int exit = 0;
  std::string out, err;
  std::vector<json> lines() const {
    std::vector<json> v;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) v.push_back(json::parse(line));
    return v;
  }
};

CliRun run_cli(std::vector<std::string> args) {
  args.insert(args.begin(), {"--manifest", manifest_path()});
  std::ostringstream out, err;
  CliRun r;
  r.exit = main(args, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

// A job line on the model's golden set, with `extra` merged in.
json job(const std::string& id, json extra = json::object()) {
  const ModelEntry& m = torch_model();
  const GoldenSet& set = *m.find_golden("golden");
  json j = {{"id", id},
            {"model", m.id},
            {"format", "torchscript-script"},
            {"inputs", json::object()},
            {"check", json::object()}};
  for (const auto& [name, path] : set.inputs) j["inputs"][name] = path.string();
  for (const auto& [name, path] : set.expected) j["check"][name] = path.string();
  j.update(extra);
  return j;
}

CliRun run_jobs(const testing::TempDir& dir, const std::vector<json>& jobs) {
  std::string text;
  for (const json& j : jobs) text += j.dump() + "\n";
  testing::write_file(dir / "jobs.jsonl", text);
  return run_cli({"--jobs", (dir / "jobs.jsonl").string()});
}

std::int64_t golden_batch() {
  const ModelEntry& m = torch_model();
  const Tensor first = read_npy(m.find_golden("golden")->inputs.at(m.inputs.front().name));
  return first.shape.empty() ? 1 : first.shape.front();
}

// The median as numpy.median: the middle sample, or the mean of the two middle ones.
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t mid = v.size() / 2;
  return v.size() % 2 == 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

// The "samples_us" of a timing object of `repeat` timed calls: both lists in full, in as many
// blocks as interleave makes (min(10, repeat)), and the very samples the percentiles came from.
void expect_samples(const json& t, std::int64_t repeat, const std::string& what) {
  const json& s = t["samples_us"];
  ASSERT_TRUE(s.is_object()) << what;
  std::vector<std::string> keys;
  for (const auto& [key, value] : s.items()) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"latency", "direct", "blocks"})) << what;
  EXPECT_EQ(s["blocks"].get<std::int64_t>(), std::min<std::int64_t>(10, repeat)) << what;
  for (const auto& [list, summary] : {std::pair{"latency", "latency_us"}, std::pair{"direct", "direct_latency_us"}}) {
    ASSERT_TRUE(s[list].is_array()) << what << " " << list;
    const auto samples = s[list].get<std::vector<double>>();
    ASSERT_EQ(static_cast<std::int64_t>(samples.size()), repeat) << what << " " << list;
    for (double us : samples) EXPECT_GT(us, 0) << what << " " << list;
    EXPECT_DOUBLE_EQ(t[summary]["p50"].get<double>(), median(samples)) << what << " " << list;
    EXPECT_LE(t[summary]["p99"].get<double>(), *std::max_element(samples.begin(), samples.end()))
        << what << " " << list;
    EXPECT_NEAR(t[summary]["mean"].get<double>(),
                std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(samples.size()),
                1e-9 * t[summary]["mean"].get<double>())
        << what << " " << list;
  }
}

void expect_timing_object(const json& t, std::int64_t repeat, const std::string& what) {
  ASSERT_TRUE(t.is_object()) << what;
  std::vector<std::string> keys;
  for (const auto& [key, value] : t.items()) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"load_ms", "first_ms", "batch", "latency_us", "direct_latency_us", "direct",
                                            "samples_us"}))
      << what;
  expect_samples(t, repeat, what);
  EXPECT_GT(t["load_ms"].get<double>(), 0) << what;
  EXPECT_GT(t["first_ms"].get<double>(), 0) << what;
  EXPECT_EQ(t["batch"].get<std::int64_t>(), golden_batch()) << what;
  for (const char* key : {"latency_us", "direct_latency_us"}) {
    const json& l = t[key];
    EXPECT_GT(l["p50"].get<double>(), 0) << what << " " << key;
    EXPECT_LE(l["p50"].get<double>(), l["p90"].get<double>()) << what << " " << key;
    EXPECT_LE(l["p90"].get<double>(), l["p99"].get<double>()) << what << " " << key;
    EXPECT_GT(l["mean"].get<double>(), 0) << what << " " << key;
  }
  EXPECT_NE(t["direct"].get<std::string>().find("forward"), std::string::npos) << what;
}

TEST(TimedJobs, CarryTheTimingObjectWithOneLoadMsPerModel) {
  const testing::TempDir dir;
  const CliRun r =
      run_jobs(dir, {job("t1", {{"repeat", 20}, {"warmup", 3}}), job("plain"), job("t2", {{"repeat", 5}})});
  ASSERT_EQ(r.exit, 0) << r.err << r.out;
  const std::vector<json> lines = r.lines();
  ASSERT_EQ(lines.size(), 3u) << r.out;
  expect_timing_object(lines[0]["timing"], 20, "t1");
  expect_timing_object(lines[2]["timing"], 5, "t2");
  EXPECT_FALSE(lines[1].contains("timing")) << lines[1];
  EXPECT_EQ(lines[0]["timing"]["load_ms"], lines[2]["timing"]["load_ms"]);  // one load, one figure
  for (const json& line : lines) EXPECT_EQ(line["exit"], 0) << line;
}

TEST(TimedJobs, AFailedJobHasNoTiming) {
  const testing::TempDir dir;
  const ModelEntry& m = torch_model();
  json bad_check = job("check", {{"repeat", 3}});
  for (auto& [name, path] : bad_check["check"].items())  // an input as the expected output: a FAIL
    path = m.find_golden("golden")->inputs.at(m.inputs.front().name).string();
  json missing = job("missing", {{"repeat", 3}});
  missing["inputs"][m.inputs.front().name] = (dir / "none.npy").string();
  const CliRun r = run_jobs(dir, {bad_check, missing, job("ok", {{"repeat", 2}})});
  EXPECT_EQ(r.exit, 1) << r.err;
  const std::vector<json> lines = r.lines();
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_EQ(lines[0]["exit"], 1);
  EXPECT_EQ(lines[1]["exit"], 2);
  EXPECT_FALSE(lines[0].contains("timing")) << lines[0];
  EXPECT_FALSE(lines[1].contains("timing")) << lines[1];
  expect_timing_object(lines[2]["timing"], 2, "ok");
}

TEST(TimedJobs, MalformedRepeatOrWarmupExits2BeforeAnyJobRuns) {
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"repeat", 0}}, "'repeat' must be an integer >= 1"},
      {{{"repeat", -3}}, "'repeat' must be an integer >= 1"},
      {{{"repeat", 2.5}}, "'repeat' must be an integer >= 1"},
      {{{"repeat", 2.0}}, "'repeat' must be an integer >= 1"},
      {{{"repeat", "3"}}, "'repeat' must be an integer >= 1"},
      {{{"repeat", true}}, "'repeat' must be an integer >= 1"},
      {{{"repeat", 3}, {"warmup", -1}}, "'warmup' must be an integer >= 0"},
      {{{"repeat", 3}, {"warmup", 0.5}}, "'warmup' must be an integer >= 0"},
      {{{"repeat", 3}, {"warmup", "1"}}, "'warmup' must be an integer >= 0"},
      {{{"warmup", 2}}, "'warmup' is only valid with 'repeat'"},
  };
  for (const auto& [extra, why] : cases) {
    const testing::TempDir dir;
    json first = job("first", {{"repeat", 2}});
    first["outputs"] = json::object();
    for (const TensorSpec& s : torch_model().outputs) first["outputs"][s.name] = (dir / (s.name + ".npy")).string();
    const CliRun r = run_jobs(dir, {first, job("bad", extra)});
    EXPECT_EQ(r.exit, 2) << extra;
    EXPECT_EQ(r.out, "") << extra;  // no job ran, no line printed
    EXPECT_EQ(r.err, "error: jobs " + (dir / "jobs.jsonl").string() + " line 2: " + why + "\n") << extra;
    for (const TensorSpec& s : torch_model().outputs)
      EXPECT_FALSE(std::filesystem::exists(dir / (s.name + ".npy"))) << extra << ": job 1 ran";
  }
}

TEST(Timing, TheFileHoldsTheSameObjectAsATimedJob) {
  const testing::TempDir dir;
  const ModelEntry& m = torch_model();
  const CliRun r = run_cli({"--model", m.id, "--format", "torchscript-script", "--input-dir",
                            m.find_golden("golden")->inputs.begin()->second.parent_path().string(), "--repeat", "10",
                            "--warmup", "2", "--timing", (dir / "t.json").string()});
  ASSERT_EQ(r.exit, 0) << r.err;
  expect_timing_object(json::parse(testing::read_file(dir / "t.json")), 10, "--timing");
}

}  // namespace
}  // namespace deploykit::cli
