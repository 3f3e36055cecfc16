// deploykit::Model against the golden vectors of the test export named by
// DEPLOYKIT_TEST_MANIFEST (`make test-fixtures`; the Makefile exports it).
// Every torch model in that manifest is run, in each format.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <thread>

#include "deploykit/compare.hpp"
#include "deploykit/errors.hpp"
#include "deploykit/model.hpp"
#include "deploykit/sha256.hpp"
#include "test_util.hpp"

namespace deploykit {
namespace {

const Manifest& test_manifest() {
  static const Manifest manifest = [] {
    const char* path = std::getenv("DEPLOYKIT_TEST_MANIFEST");
    if (path == nullptr || *path == '\0')
      throw std::runtime_error("DEPLOYKIT_TEST_MANIFEST is not set: run these tests through `make test-cpp`");
    return Manifest::read(path);
  }();
  return manifest;
}

// The manifest's models that have an artifact of `format`.
std::vector<const ModelEntry*> models_with(Format format) {
  std::vector<const ModelEntry*> out;
  for (const ModelEntry& m : test_manifest().models())
    if (m.find_artifact(format_name(format)) != nullptr) out.push_back(&m);
  return out;
}

Matrix first_rows(const Matrix& m, std::int64_t rows) {
  return {rows, m.cols, std::vector<float>(m.values.begin(), m.values.begin() + rows * m.cols)};
}

void expect_matches(const Matrix& expected, const Matrix& got, const Tolerance& tol, const std::string& what) {
  ASSERT_EQ(got.rows, expected.rows) << what;
  ASSERT_EQ(got.cols, expected.cols) << what;
  const CompareResult r = compare(std::span<const float>(expected.values), std::span<const float>(got.values),
                                  tol.atol, tol.rtol);
  EXPECT_TRUE(r.passed) << what << ": " << to_string(r);
}

class ModelFormat : public ::testing::TestWithParam<Format> {};

TEST_P(ModelFormat, MatchesGoldenAtBatch1And7AndTheGoldenBatch) {
  const auto models = models_with(GetParam());
  ASSERT_FALSE(models.empty()) << "no model in the test manifest has a " << format_name(GetParam()) << " artifact";
  for (const ModelEntry* entry : models) {
    const Model model = Model::load(test_manifest(), entry->id, GetParam());
    EXPECT_EQ(model.input_width(), entry->input_width);
    const Matrix input = read_npy(entry->golden.input);
    const Matrix expected = read_npy(entry->golden.expected);
    const Tolerance tol = entry->find_artifact(format_name(GetParam()))->tolerance;
    ASSERT_GE(input.rows, 7);
    for (const std::int64_t rows : {std::int64_t{1}, std::int64_t{7}, input.rows}) {
      const std::string what = entry->id + "/" + std::string(format_name(GetParam())) + " batch " + std::to_string(rows);
      expect_matches(first_rows(expected, rows), model.predict(first_rows(input, rows)), tol, what);
    }
  }
}

TEST_P(ModelFormat, NaNAndInfPropagateLikeTheReference) {
  for (const ModelEntry* entry : models_with(GetParam())) {
    ASSERT_TRUE(entry->golden.special_input.has_value()) << entry->id;
    const Model model = Model::load(test_manifest(), entry->id, GetParam());
    const Matrix input = read_npy(*entry->golden.special_input);
    bool has_nonfinite = false;
    for (float v : input.values) has_nonfinite |= !std::isfinite(v);
    ASSERT_TRUE(has_nonfinite) << "the special golden set should contain NaN/Inf";
    const Matrix got = model.predict(input);
    const Matrix expected = read_npy(*entry->golden.special_expected);
    // compare() requires NaN at the same places and equal infinities.
    expect_matches(expected, got, entry->find_artifact(format_name(GetParam()))->tolerance,
                   entry->id + " special values");
  }
}

TEST_P(ModelFormat, ConcurrentPredictGivesTheSameResults) {
  const ModelEntry* entry = models_with(GetParam()).front();
  const Model model = Model::load(test_manifest(), entry->id, GetParam());
  const Matrix input = read_npy(entry->golden.input);
  const Matrix reference = model.predict(input);
  constexpr int kThreads = 4, kCalls = 25;
  std::vector<int> mismatches(kThreads, 0);
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < kCalls; ++i)
          if (model.predict(input).values != reference.values) ++mismatches[t];
      });
  }
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

TEST_P(ModelFormat, RejectsAWrongInputWidth) {
  const ModelEntry* entry = models_with(GetParam()).front();
  const Model model = Model::load(test_manifest(), entry->id, GetParam());
  const Matrix wrong{2, entry->input_width + 1, std::vector<float>(2 * (entry->input_width + 1))};
  EXPECT_THROW(model.predict(wrong), InputError);
}

TEST_P(ModelFormat, DirectCallRunsTheBareRuntimeAndChecksTheInput) {
  const ModelEntry* entry = models_with(GetParam()).front();
  const Model model = Model::load(test_manifest(), entry->id, GetParam());
  const Matrix input = read_npy(entry->golden.input);
  const DirectCall direct = model.direct_call(input);
  ASSERT_TRUE(direct.run);
  EXPECT_NE(direct.description.find(GetParam() == Format::kAoti ? "AOTIModelPackageLoader::run" : "Module::forward"),
            std::string::npos)
      << direct.description;
  EXPECT_EQ(direct.description.find('\n'), std::string::npos);
  for (int i = 0; i < 3; ++i) direct.run();
  const Matrix wrong{2, entry->input_width + 1, std::vector<float>(2 * (entry->input_width + 1))};
  EXPECT_THROW((void)model.direct_call(wrong), InputError);
}

TEST_P(ModelFormat, LoadsByPathWithoutAManifest) {
  const ModelEntry* entry = models_with(GetParam()).front();
  const Model model = Model::load(entry->find_artifact(format_name(GetParam()))->path, GetParam());
  EXPECT_FALSE(model.input_width().has_value());
  const Matrix input = read_npy(entry->golden.input);
  expect_matches(read_npy(entry->golden.expected), model.predict(input),
                 entry->find_artifact(format_name(GetParam()))->tolerance, entry->id + " by path");
}

INSTANTIATE_TEST_SUITE_P(Torch, ModelFormat, ::testing::ValuesIn(supported_formats().begin(), supported_formats().end()),
                         [](const auto& info) {
                           std::string name(format_name(info.param));
                           std::erase(name, '-');
                           return name;
                         });

// A copy of one torch model's artifact in a temp folder with its own manifest,
// so tests can corrupt it without touching the shared export.
class CorruptArtifact : public ::testing::Test {
 protected:
  void SetUp() override {
    entry_ = models_with(Format::kTorchScriptScript).front();
    const Artifact& a = *entry_->find_artifact("torchscript-script");
    std::filesystem::create_directories(dir_ / "m");
    std::filesystem::copy_file(a.path, dir_ / "m" / "model.pt");
  }

  // Writes a manifest for the copy, with the given sha256 (default: the file's).
  Manifest manifest(std::optional<std::string> sha = std::nullopt) const {
    const std::filesystem::path file = dir_ / "m" / "model.pt";
    const std::string text = R"({"schema_version": 1, "models": [{"id": "m",
      "inputs": [{"dtype": "float32", "shape": [-1, )" + std::to_string(entry_->input_width) + R"(]}],
      "outputs": [{"dtype": "float32", "shape": [-1, )" + std::to_string(entry_->output_width) + R"(]}],
      "golden": {"input": "i.npy", "expected": "e.npy"},
      "artifacts": [{"format": "torchscript-script", "path": "m/model.pt", "sha256": ")" +
                             sha.value_or(sha256_file(file)) + R"(", "tolerance": {"atol": 0, "rtol": 0}}]}]})";
    return Manifest::parse(text, dir_.path());
  }

  void flip_bytes(std::size_t from, std::size_t count) const {
    std::string bytes = testing::read_file(dir_ / "m" / "model.pt");
    for (std::size_t i = from; i < from + count && i < bytes.size(); ++i) bytes[i] = static_cast<char>(~bytes[i]);
    testing::write_file(dir_ / "m" / "model.pt", bytes);
  }

  testing::TempDir dir_;
  const ModelEntry* entry_ = nullptr;
};

TEST_F(CorruptArtifact, Sha256MismatchIsRefusedBeforeLoading) {
  const Manifest m = manifest();  // hash of the intact file
  flip_bytes(100, 1);
  try {
    Model::load(m, "m", Format::kTorchScriptScript);
    FAIL() << "loaded a file whose sha256 does not match";
  } catch (const ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("sha256 mismatch"), std::string::npos) << e.what();
  }
}

TEST_F(CorruptArtifact, TruncatedFileWithMatchingHashFailsToLoadCleanly) {
  std::string bytes = testing::read_file(dir_ / "m" / "model.pt");
  testing::write_file(dir_ / "m" / "model.pt", bytes.substr(0, bytes.size() / 2));
  try {
    Model::load(manifest(), "m", Format::kTorchScriptScript);
    FAIL() << "loaded a truncated file";
  } catch (const ModelError& e) {
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
  }
}

TEST_F(CorruptArtifact, FlippedBytesWithMatchingHashFailToLoadCleanly) {
  flip_bytes(0, 64);  // the zip's local header
  EXPECT_THROW(Model::load(manifest(), "m", Format::kTorchScriptScript), ModelError);
}

TEST_F(CorruptArtifact, UnknownModelAndMissingFormatAreInputErrors) {
  EXPECT_THROW(Model::load(manifest(), "nope", Format::kTorchScriptScript), InputError);
  EXPECT_THROW(Model::load(manifest(), "m", Format::kAoti), InputError);
}

TEST(ModelLoad, MissingFileIsAModelError) {
  EXPECT_THROW(Model::load("/nonexistent/deploykit/model.pt", Format::kTorchScriptTrace), ModelError);
  EXPECT_THROW(Model::load("/nonexistent/deploykit/model.pt2", Format::kAoti), ModelError);
}

TEST(ModelFormats, NamesRoundTrip) {
  for (Format f : supported_formats()) EXPECT_EQ(parse_format(format_name(f)), f);
  EXPECT_FALSE(parse_format("onnx").has_value());
}

}  // namespace
}  // namespace deploykit
