// Resolving a call's files (request.hpp), the per-output check lines and --jobs files.
#include "deploykit/request.hpp"

#include <limits>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "deploykit/errors.hpp"
#include "deploykit/jobs.hpp"
#include "deploykit/npy.hpp"
#include "test_util.hpp"

namespace deploykit::cli {
namespace {

ModelEntry model(std::vector<std::string> inputs, std::vector<std::string> outputs) {
  ModelEntry m;
  m.id = "m";
  for (const auto& n : inputs) m.inputs.push_back({n, DType::kFloat32, {{0, "batch"}}, std::nullopt});
  for (const auto& n : outputs) m.outputs.push_back({n, DType::kFloat32, {{0, "batch"}}, std::nullopt});
  return m;
}

template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

using Paths = std::map<std::string, std::filesystem::path>;

TEST(Request, BareFileIsTheSoleInput) {
  EXPECT_EQ(resolve_inputs(model({"input"}, {"output"}), Files{{{"", "x.npy"}}, {}}), (Paths{{"input", "x.npy"}}));
  EXPECT_EQ(error_of([] {
              resolve_inputs(model({"tokens", "mask"}, {"y"}), Files{{{"", "x.npy"}}, {}});
            }),
            "input x.npy: a bare file needs a model with one input, m has 2 (tokens, mask); use NAME=FILE");
}

TEST(Request, NamedInputsMustBeKnownCompleteAndUnique) {
  const ModelEntry m = model({"tokens", "mask"}, {"y"});
  EXPECT_EQ(resolve_inputs(m, Files{{{"mask", "m.npy"}, {"tokens", "t.npy"}}, {}}),
            (Paths{{"tokens", "t.npy"}, {"mask", "m.npy"}}));
  EXPECT_EQ(error_of([&] {
              resolve_inputs(m, Files{{{"tokens", "t.npy"}}, {}});
            }),
            "input mask: missing (model inputs: tokens, mask)");
  EXPECT_EQ(error_of([&] {
              resolve_inputs(m, Files{{{"tokens", "t.npy"}, {"x", "x.npy"}}, {}});
            }),
            "input x: unknown input \"x\" (model inputs: tokens, mask)");
  EXPECT_EQ(error_of([&] {
              resolve_inputs(m, Files{{{"tokens", "t.npy"}, {"tokens", "u.npy"}}, {}});
            }),
            "input tokens: given more than once");
}

TEST(Request, FoldersNameEveryTensor) {
  const ModelEntry m = model({"tokens", "mask"}, {"logits", "embedding"});
  EXPECT_EQ(resolve_inputs(m, Files{{}, "g"}), (Paths{{"tokens", "g/tokens.npy"}, {"mask", "g/mask.npy"}}));
  EXPECT_EQ(resolve_outputs(m, Files{{}, "o"}, "output"),
            (Paths{{"logits", "o/logits.npy"}, {"embedding", "o/embedding.npy"}}));
}

TEST(Request, OutputsMayBeASubset) {
  const ModelEntry m = model({"x"}, {"logits", "embedding"});
  EXPECT_TRUE(resolve_outputs(m, Files{}, "output").empty());
  EXPECT_EQ(resolve_outputs(m, Files{{{"embedding", "e.npy"}}, {}}, "check"), (Paths{{"embedding", "e.npy"}}));
  EXPECT_EQ(error_of([&] {
              resolve_outputs(m, Files{{{"", "e.npy"}}, {}}, "output");
            }),
            "output e.npy: a bare file needs a model with one output, m has 2 (logits, embedding); use NAME=FILE");
  EXPECT_EQ(error_of([&] {
              resolve_outputs(m, Files{{{"probs", "p.npy"}}, {}}, "check");
            }),
            "check probs: unknown check \"probs\" (model outputs: logits, embedding)");
}

TEST(Request, ReadTensorsReportsTheMissingFile) {
  EXPECT_NE(error_of([] {
              read_tensors(Paths{{"x", "/nonexistent/deploykit/x.npy"}});
            }).find("/nonexistent/deploykit/x.npy"),
            std::string::npos);
}

Tensor floats(std::vector<float> v, std::vector<std::int64_t> shape) {
  return Tensor::of(std::move(shape), std::span<const float>(v));
}

TEST(Request, CheckLinesReportPassAndFail) {
  std::ostringstream out;
  EXPECT_TRUE(check_output("logits", floats({1, 2}, {2}), floats({1, 2.00001f}, {2}), {1e-4, 0}, out));
  EXPECT_EQ(out.str(), "check logits: pass max_abs=1e-05 mismatches=0/2 (atol 0.0001 rtol 0)\n");
  out.str("");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_FALSE(check_output("logits", floats({1, nan}, {2}), floats({1.5f, nan}, {2}), {1e-4, 0}, out));
  EXPECT_EQ(out.str(), "check logits: FAIL max_abs=0.5 mismatches=1/2 worst_index=0 (atol 0.0001 rtol 0)\n");
}

TEST(Request, CheckOfADifferentShapeOrDtypeIsAFailureNotAnError) {
  std::ostringstream out;
  EXPECT_FALSE(check_output("y", floats({1, 2}, {2}), floats({1, 2}, {1, 2}), {1, 1}, out));
  EXPECT_EQ(out.str().rfind("check y: FAIL ", 0), 0u) << out.str();
  EXPECT_NE(out.str().find("(1, 2) differs from the expected float32 (2,)"), std::string::npos) << out.str();
  out.str("");
  EXPECT_FALSE(check_output("y", Tensor(DType::kInt64, {2}), floats({0, 0}, {2}), {1, 1}, out));
  EXPECT_EQ(out.str().rfind("check y: FAIL ", 0), 0u) << out.str();
}

TEST(Request, IntegerChecksAreExact) {
  std::ostringstream out;
  const std::vector<std::int64_t> a{1, 2, 3}, b{1, 2, 4};
  const Tensor ta = Tensor::of(DType::kInt64, {3}, std::span<const std::int64_t>(a));
  const Tensor tb = Tensor::of(DType::kInt64, {3}, std::span<const std::int64_t>(b));
  EXPECT_FALSE(check_output("ids", ta, tb, {10, 10}, out));  // tolerances do not apply
  EXPECT_EQ(out.str(), "check ids: FAIL max_abs=1 mismatches=1/3 worst_index=2 (exact)\n");
}

TEST(Jobs, ParsesLinesResolvingRelativePaths) {
  const std::string text =
      R"({"id": "a", "model": "m", "format": "aoti", "inputs": {"x": "in/x.npy"}, "outputs": {"y": "/abs/y.npy"}, "check": {"y": "e.npy"}})"
      "\n\n   \n"
      R"({"model": "m", "inputs": {"x": "x.npy"}})"
      "\n";
  const std::vector<Job> jobs = parse_jobs(text, "/jobs", "j.jsonl");
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].id, "a");
  EXPECT_EQ(jobs[0].index, 0u);
  EXPECT_EQ(jobs[0].request.model, "m");
  EXPECT_EQ(jobs[0].request.format, "aoti");
  EXPECT_EQ(jobs[0].request.inputs.bindings, (std::vector<Binding>{{"x", "/jobs/in/x.npy"}}));
  EXPECT_EQ(jobs[0].request.outputs.bindings, (std::vector<Binding>{{"y", "/abs/y.npy"}}));
  EXPECT_EQ(jobs[0].request.checks.bindings, (std::vector<Binding>{{"y", "/jobs/e.npy"}}));
  EXPECT_FALSE(jobs[1].id);
  EXPECT_EQ(jobs[1].index, 1u);
  EXPECT_FALSE(jobs[1].request.format);
  EXPECT_TRUE(jobs[1].request.outputs.empty());
}

TEST(Jobs, RejectsMalformedLinesNamingTheLine) {
  const auto error = [](const std::string& text) { return error_of([&] { parse_jobs(text, "/j", "j.jsonl"); }); };
  EXPECT_EQ(error("{\"model\": \"m\", \"inputs\": {\"x\": \"x.npy\"}}\n{oops"),
            error("{oops").replace(error("{oops").find("line 1"), 6, "line 2"));
  EXPECT_EQ(error("[1]").rfind("jobs j.jsonl line 1: expected a JSON object", 0), 0u);
  EXPECT_EQ(error("{\"inputs\": {\"x\": \"x.npy\"}}"), "jobs j.jsonl line 1: missing 'model'");
  EXPECT_EQ(error("{\"model\": \"m\"}"), "jobs j.jsonl line 1: missing 'inputs'");
  EXPECT_EQ(error("{\"model\": \"m\", \"inputs\": {}}"), "jobs j.jsonl line 1: 'inputs' is empty");
  EXPECT_EQ(error("{\"model\": \"m\", \"inputs\": {\"x\": 3}}"),
            "jobs j.jsonl line 1: 'inputs.x' must be a non-empty string");
  EXPECT_EQ(error("{\"model\": \"m\", \"inputs\": {\"x\": \"a\"}, \"check\": [\"e.npy\"]}"),
            "jobs j.jsonl line 1: 'check' must be an object {name: path}");
  EXPECT_EQ(error("{\"id\": 5, \"model\": \"m\", \"inputs\": {\"x\": \"a\"}}"),
            "jobs j.jsonl line 1: 'id' must be a string");
}

TEST(Jobs, ResultLinesAreJsonInTheContractsOrder) {
  Job job;
  job.id = "cnn/aoti/golden";
  job.index = 3;
  EXPECT_EQ(job_line(job, {2, "input x: missing", 0.5, std::nullopt}),
            R"({"id":"cnn/aoti/golden","index":3,"exit":2,"error":"input x: missing","seconds":0.5})");
  job.id.reset();
  EXPECT_EQ(job_line(job, {0, std::nullopt, 0.25, std::nullopt}),
            R"({"id":null,"index":3,"exit":0,"error":null,"seconds":0.25})");
}

TEST(Jobs, ParsesRepeatAndWarmup) {
  const std::string text = R"({"model": "m", "inputs": {"x": "x"}, "repeat": 200, "warmup": 20})"
                           "\n"
                           R"({"model": "m", "inputs": {"x": "x"}, "repeat": 1})"
                           "\n"
                           R"({"model": "m", "inputs": {"x": "x"}, "repeat": null, "warmup": null})";
  const std::vector<Job> jobs = parse_jobs(text, "/j", "j.jsonl");
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[0].repeat, 200);
  EXPECT_EQ(jobs[0].warmup, 20);
  EXPECT_EQ(jobs[1].repeat, 1);
  EXPECT_EQ(jobs[1].warmup, 0);
  EXPECT_FALSE(jobs[2].repeat);  // null is absent, as for the other optional keys
  EXPECT_EQ(jobs[2].warmup, 0);
}

TEST(Jobs, RejectsRepeatAndWarmupThatAreNotCounts) {
  const auto error = [](const std::string& extra) {
    return error_of([&] { parse_jobs(R"({"model": "m", "inputs": {"x": "x"}, )" + extra + "}", "/j", "j.jsonl"); });
  };
  for (const char* repeat : {"0", "-1", "1.5", "2.0", "1e3", "\"3\"", "true", "[1]", "18446744073709551615"})
    EXPECT_EQ(error(std::string("\"repeat\": ") + repeat), "jobs j.jsonl line 1: 'repeat' must be an integer >= 1")
        << repeat;
  for (const char* warmup : {"-1", "0.5", "\"1\"", "false"})
    EXPECT_EQ(error(std::string("\"repeat\": 5, \"warmup\": ") + warmup),
              "jobs j.jsonl line 1: 'warmup' must be an integer >= 0")
        << warmup;
  EXPECT_EQ(error("\"warmup\": 3"), "jobs j.jsonl line 1: 'warmup' is only valid with 'repeat'");
  EXPECT_EQ(error("\"warmup\": 0"), "jobs j.jsonl line 1: 'warmup' is only valid with 'repeat'");
}

TEST(Jobs, ATimedResultLineEndsWithTheTimingObject) {
  Job job;
  job.id = "m/aoti/b1";
  Timing t;
  t.load_ms = 212;
  t.first_ms = 3.5;
  t.batch = 1;
  t.latency = {160.25, 171, 230.5, 163.5};
  t.direct_latency = {150, 160, 200, 155};
  t.direct = "bare";
  const std::string timing =
      R"({"load_ms":212.0,"first_ms":3.5,"batch":1,"latency_us":{"p50":160.25,"p90":171.0,"p99":230.5,"mean":163.5},)"
      R"("direct_latency_us":{"p50":150.0,"p90":160.0,"p99":200.0,"mean":155.0},"direct":"bare"})";
  EXPECT_EQ(timing_json(t), timing);
  EXPECT_EQ(job_line(job, {0, std::nullopt, 0.5, t}),
            R"({"id":"m/aoti/b1","index":0,"exit":0,"error":null,"seconds":0.5,"timing":)" + timing + "}");
  EXPECT_EQ(nlohmann::json::parse(timing_json(t, 2)), nlohmann::json::parse(timing));
}

TEST(Jobs, TimingSamplesFollowTheOtherKeys) {
  Job job;
  job.id = "m/aoti/b1";
  Timing t;
  t.load_ms = 212;
  t.first_ms = 3.5;
  t.batch = 1;
  t.latency = {160.25, 171, 230.5, 163.5};
  t.direct_latency = {150, 160, 200, 155};
  t.direct = "bare";
  t.samples = TimingSamples{{160.25, 171.5, 150.125}, {150, 140.5, 160.75}, 2};
  const std::string timing =
      R"({"load_ms":212.0,"first_ms":3.5,"batch":1,"latency_us":{"p50":160.25,"p90":171.0,"p99":230.5,"mean":163.5},)"
      R"("direct_latency_us":{"p50":150.0,"p90":160.0,"p99":200.0,"mean":155.0},"direct":"bare",)"
      R"("samples_us":{"latency":[160.25,171.5,150.125],"direct":[150.0,140.5,160.75],"blocks":2}})";
  EXPECT_EQ(timing_json(t), timing);
  EXPECT_EQ(job_line(job, {0, std::nullopt, 0.5, t}),
            R"({"id":"m/aoti/b1","index":0,"exit":0,"error":null,"seconds":0.5,"timing":)" + timing + "}");
  EXPECT_EQ(nlohmann::json::parse(timing_json(t, 2)), nlohmann::json::parse(timing));
  // A sample keeps every bit of its double through the JSON text.
  t.samples = TimingSamples{{0.1 + 0.2, 1.0 / 3.0}, {1e-3, 123456.789012345}, 1};
  const nlohmann::json back = nlohmann::json::parse(timing_json(t))["samples_us"];
  EXPECT_EQ(back["latency"].get<std::vector<double>>(), t.samples->latency);
  EXPECT_EQ(back["direct"].get<std::vector<double>>(), t.samples->direct);
}

TEST(Jobs, ReadJobsNeedsTheFile) {
  const testing::TempDir dir;
  EXPECT_THROW(read_jobs(dir / "missing.jsonl"), InputError);
  testing::write_file(dir / "j.jsonl", R"({"model": "m", "inputs": {"x": "x.npy"}})");
  const std::vector<Job> jobs = read_jobs(dir / "j.jsonl");
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].request.inputs.bindings[0].file, dir.path() / "x.npy");
}

}  // namespace
}  // namespace deploykit::cli
