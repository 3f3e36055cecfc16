// Version skew through the built CLI (DEPLOYKIT_CLI_BINARY, build/cpp/bin/deploykit-cpp): a
// temporary copy of the test export's manifest (DEPLOYKIT_TEST_MANIFEST), with min_runtime set
// on one artifact, beside symlinks to the export's model folders. One call, --check, --jobs.
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include "deploykit/manifest.hpp"
#include "deploykit/model.hpp"
#include "deploykit/runtime_version.hpp"
#include "test_util.hpp"

namespace deploykit {
namespace {

using nlohmann::json;

constexpr const char* kFormat = "torchscript-script";  // the quickest to load

std::filesystem::path manifest_path() { return testing::test_manifest_path(); }

// The first model of the test export with a torchscript-script artifact.
const ModelEntry& torch_model() {
  static const Manifest manifest = Manifest::read(manifest_path());
  for (const ModelEntry& m : manifest.models())
    if (m.find_artifact(kFormat) != nullptr) return m;
  throw std::runtime_error("no torchscript-script artifact in the test manifest");
}

// The torch version the client compares, read as Model::load reads it (not hard-coded here).
std::string client_torch() { return Version::of_runtime(torch_runtime().version).value().str(); }

// The test export with torch_model()'s `format` artifact's fields updated by `fields`, in a
// temporary folder: manifest.json rewritten, everything else a symlink into the export.
class SkewedExport {
 public:
  explicit SkewedExport(const json& fields, const std::string& format = kFormat) {
    const std::filesystem::path source = manifest_path();
    for (const auto& e : std::filesystem::directory_iterator(source.parent_path()))
      if (e.path().filename() != "manifest.json")
        std::filesystem::create_symlink(std::filesystem::absolute(e.path()), dir_.path() / e.path().filename());
    json doc = json::parse(testing::read_file(source));
    bool found = false;
    for (json& m : doc["models"])
      if (m["id"] == torch_model().id)
        for (json& a : m["artifacts"])
          if (a["format"] == format) {
            a.update(fields);
            found = true;
          }
    if (!found) throw std::runtime_error("no " + format + " artifact of " + torch_model().id);
    testing::write_file(manifest(), doc.dump(2));
  }
  std::filesystem::path manifest() const { return dir_ / "manifest.json"; }
  const testing::TempDir& dir() const { return dir_; }

 private:
  testing::TempDir dir_;
};

std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct CliRun {
  int exit = -1;
  std::string out, err;
  std::vector<std::string> err_lines() const {
    std::vector<std::string> lines;
    std::istringstream in(err);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
};

// Runs the built binary with `args`; its stdout and stderr go through files in `scratch`.
CliRun run_binary(const std::vector<std::string>& args, const testing::TempDir& scratch) {
  std::string command = quoted(DEPLOYKIT_CLI_BINARY);
  for (const std::string& a : args) command.append(" ").append(quoted(a));  // (" " + s: GCC 12 -Wrestrict noise)
  command.append(" >").append(quoted((scratch / "stdout").string()));
  command.append(" 2>").append(quoted((scratch / "stderr").string()));
  const int status = std::system(command.c_str());
  CliRun r;
  r.exit = WIFEXITED(status) ? WEXITSTATUS(status) : -1;  // -1: a signal, never expected
  r.out = testing::read_file(scratch / "stdout");
  r.err = testing::read_file(scratch / "stderr");
  return r;
}

// One call on the golden set, its outputs checked.
CliRun run_golden(const SkewedExport& e) {
  const ModelEntry& m = torch_model();
  const GoldenSet& set = *m.find_golden("golden");
  const std::filesystem::path folder = set.inputs.begin()->second.parent_path();
  return run_binary({"--manifest", e.manifest().string(), "--model", m.id, "--format", kFormat, "--input-dir",
                     folder.string(), "--check-dir", (folder / "expected").string()},
                    e.dir());
}

std::string refusal(const std::string& required) {
  return torch_model().id + "/" + kFormat + ": built for torch >= " + required + ", this client runs torch " +
         client_torch();
}

TEST(VersionSkewCli, VersionNamesTheLibTorchTheCheckUses) {
  const testing::TempDir scratch;
  const CliRun r = run_binary({"--version"}, scratch);
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_NE(r.out.find("(libtorch " + torch_runtime().version + ")"), std::string::npos) << r.out;
}

TEST(VersionSkewCli, NewerTorchRequiredExits3WithOneLineNamingBothVersions) {
  const CliRun r = run_golden(SkewedExport(json{{"min_runtime", {{"torch", "99.0.0"}}}}));
  EXPECT_EQ(r.exit, 3) << r.err;
  EXPECT_EQ(r.out, "");  // nothing ran, nothing checked
  const std::vector<std::string> lines = r.err_lines();
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(lines[0], "error: " + refusal("99.0.0"));
  EXPECT_NE(lines[0].find("99.0.0"), std::string::npos);
  EXPECT_NE(lines[0].find("torch " + client_torch()), std::string::npos);
}

TEST(VersionSkewCli, TheCheckComesBeforeTheSha256Check) {
  const CliRun r =
      run_golden(SkewedExport(json{{"min_runtime", {{"torch", "99.0.0"}}}, {"sha256", std::string(64, '0')}}));
  EXPECT_EQ(r.exit, 3) << r.err;
  EXPECT_EQ(r.err, "error: " + refusal("99.0.0") + "\n");
}

TEST(VersionSkewCli, OlderTorchRequiredRunsAndPassesItsChecks) {
  for (const json& entries : {json{{"torch", "1.0.0"}}, json{{"torch", client_torch()}},
                              json{{"tensorflow", "99.0.0"}, {"tfjs", "99"}, {"onnxruntime", "99.1"}}}) {
    const CliRun r = run_golden(SkewedExport(json{{"min_runtime", entries}}));
    EXPECT_EQ(r.exit, 0) << entries << ": " << r.err;
    EXPECT_EQ(r.err, "") << entries;
    for (const TensorSpec& out : torch_model().outputs)
      EXPECT_NE(r.out.find("check " + out.name + ": pass"), std::string::npos) << entries << ": " << r.out;
  }
}

TEST(VersionSkewCli, MalformedMinRuntimeExits2NamingModelFormatAndFamily) {
  const CliRun r = run_golden(SkewedExport(json{{"min_runtime", {{"torch", "2.x"}}}}));
  EXPECT_EQ(r.exit, 2) << r.err;
  const std::vector<std::string> lines = r.err_lines();
  ASSERT_EQ(lines.size(), 1u) << r.err;
  EXPECT_EQ(lines[0].rfind("error: manifest ", 0), 0u) << lines[0];
  for (const std::string& part : {"model " + torch_model().id, std::string("(") + kFormat + ")",
                                  std::string(".min_runtime.torch: expected a version"), std::string("\"2.x\"")})
    EXPECT_NE(lines[0].find(part), std::string::npos) << part << " in " << lines[0];
}

// --jobs reports the refusal as it reports a sha256 mismatch: that job's line has exit 3 and the
// message, the other jobs run, and the process exits with the first failure's code.
TEST(VersionSkewCli, JobsReportTheRefusalPerJobAndRunTheOthers) {
  const SkewedExport e(json{{"min_runtime", {{"torch", "99.0.0"}}}});
  const ModelEntry& m = torch_model();
  const GoldenSet& set = *m.find_golden("golden");
  std::string text;
  for (const char* format : {kFormat, "torchscript-trace", kFormat}) {
    json job = {{"model", m.id}, {"format", format}, {"inputs", json::object()}, {"check", json::object()}};
    for (const auto& [name, path] : set.inputs) job["inputs"][name] = path.string();
    for (const auto& [name, path] : set.expected) job["check"][name] = path.string();
    text += job.dump() + "\n";
  }
  testing::write_file(e.dir() / "jobs.jsonl", text);
  const CliRun r =
      run_binary({"--manifest", e.manifest().string(), "--jobs", (e.dir() / "jobs.jsonl").string()}, e.dir());
  EXPECT_EQ(r.exit, 3) << r.err << r.out;
  EXPECT_EQ(r.err, "");
  std::vector<json> lines;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  ASSERT_EQ(lines.size(), 3u) << r.out;
  for (std::size_t i : {0u, 2u}) {
    EXPECT_EQ(lines[i]["exit"], 3) << lines[i];
    EXPECT_EQ(lines[i]["error"], refusal("99.0.0")) << lines[i];
  }
  EXPECT_EQ(lines[1]["exit"], 0) << lines[1];
  EXPECT_TRUE(lines[1]["error"].is_null()) << lines[1];
}

}  // namespace
}  // namespace deploykit
