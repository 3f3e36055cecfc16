// deploykit::Model against the golden vectors of the test export named by
// DEPLOYKIT_TEST_MANIFEST (`make test-fixtures`; the Makefile exports it).
// Every torch model in that manifest is run, in each format.
#include "deploykit/model.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "deploykit/compare.hpp"
#include "deploykit/errors.hpp"
#include "deploykit/npy.hpp"
#include "deploykit/runtime_version.hpp"
#include "deploykit/sha256.hpp"
#include "test_util.hpp"

namespace deploykit {
namespace {

const Manifest& test_manifest() {
  static const Manifest manifest = Manifest::read(testing::test_manifest_path());
  return manifest;
}

// Whether the model's `special` golden set is marked `"values": "finite"` (its NaN/Inf behaviour is
// implementation-defined, docs/contract.md): read from the manifest's JSON, which the library skips.
bool special_set_is_finite(const std::string& model_id) {
  std::ifstream in(testing::test_manifest_path());
  const nlohmann::json doc = nlohmann::json::parse(in);
  for (const auto& model : doc.at("models")) {
    if (model.at("id") != model_id) continue;
    for (const auto& set : model.at("golden"))
      if (set.at("name") == "special") return set.value("values", "") == "finite";
  }
  return false;
}

// The manifest's models that have an artifact of `format`.
std::vector<const ModelEntry*> models_with(Format format) {
  std::vector<const ModelEntry*> out;
  for (const ModelEntry& m : test_manifest().models())
    if (m.find_artifact(format_name(format)) != nullptr) out.push_back(&m);
  return out;
}

// The first `rows` rows (dim 0) of a tensor.
Tensor first_rows(const Tensor& t, std::int64_t rows) {
  Tensor out = t;
  if (t.shape.empty()) return out;
  const std::size_t row_bytes = t.shape[0] == 0 ? 0 : t.data.size() / static_cast<std::size_t>(t.shape[0]);
  out.shape[0] = rows;
  out.data.resize(row_bytes * static_cast<std::size_t>(rows));
  return out;
}

TensorMap first_rows(const TensorMap& m, std::int64_t rows) {
  TensorMap out;
  for (const auto& [name, t] : m) out.emplace(name, first_rows(t, rows));
  return out;
}

// Rows [start, start + rows) (dim 0) of every tensor.
TensorMap row_range(const TensorMap& m, std::int64_t start, std::int64_t rows) {
  TensorMap out;
  for (const auto& [name, t] : m) {
    Tensor r = first_rows(t, rows);
    const std::size_t row_bytes = t.data.size() / static_cast<std::size_t>(t.shape[0]);
    std::copy_n(t.data.begin() + static_cast<std::ptrdiff_t>(row_bytes * static_cast<std::size_t>(start)),
                row_bytes * static_cast<std::size_t>(rows), r.data.begin());
    out.emplace(name, std::move(r));
  }
  return out;
}

// Every output equals its expected tensor within the artifact's tolerance for it.
void expect_matches(const TensorMap& expected, const TensorMap& got, const Artifact& artifact,
                    const std::string& what) {
  ASSERT_EQ(got.size(), expected.size()) << what;
  for (const auto& [name, want] : expected) {
    const auto it = got.find(name);
    ASSERT_NE(it, got.end()) << what << ": no output " << name;
    ASSERT_EQ(it->second.dtype, want.dtype) << what << " " << name;
    ASSERT_EQ(it->second.shape, want.shape) << what << " " << name;
    const Tolerance tol = artifact.tolerance_for(name);
    const CompareResult r = compare(want, it->second, tol.atol, tol.rtol);
    EXPECT_TRUE(r.passed) << what << " " << name << ": " << to_string(r);
  }
}

TensorMap read_all(const std::map<std::string, std::filesystem::path, std::less<>>& files) {
  TensorMap out;
  for (const auto& [name, path] : files) out.emplace(name, read_npy(path));
  return out;
}

const GoldenSet& golden_set(const ModelEntry& entry, std::string_view name) {
  const GoldenSet* set = entry.find_golden(name);
  if (set == nullptr) throw std::runtime_error(entry.id + " has no golden set " + std::string(name));
  return *set;
}

class ModelFormat : public ::testing::TestWithParam<Format> {};

TEST_P(ModelFormat, MatchesEveryGoldenSetPerOutputAtBatch1And7AndWhole) {
  const auto models = models_with(GetParam());
  ASSERT_FALSE(models.empty()) << "no model in the test manifest has a " << format_name(GetParam()) << " artifact";
  for (const ModelEntry* entry : models) {
    const Model model = Model::load(test_manifest(), entry->id, GetParam());
    const Artifact& artifact = *entry->find_artifact(format_name(GetParam()));
    ASSERT_NE(entry->find_golden("golden"), nullptr) << entry->id;
    for (const GoldenSet& set : entry->golden) {
      const TensorMap inputs = read_all(set.inputs);
      const TensorMap expected = read_all(set.expected);
      ASSERT_EQ(inputs.size(), entry->inputs.size()) << entry->id << "/" << set.name;
      ASSERT_EQ(expected.size(), entry->outputs.size()) << entry->id << "/" << set.name;
      for (const std::int64_t rows : {std::int64_t{1}, std::int64_t{7}, set.rows}) {
        if (rows > set.rows) continue;
        const std::string what =
            entry->id + "/" + std::string(format_name(GetParam())) + "/" + set.name + " batch " + std::to_string(rows);
        expect_matches(first_rows(expected, rows), model.predict(first_rows(inputs, rows)), artifact, what);
      }
    }
  }
}

TEST_P(ModelFormat, SpecialSetHoldsNonFiniteValuesThatPropagateLikeTheReference) {
  for (const ModelEntry* entry : models_with(GetParam())) {
    const bool float_input =
        std::any_of(entry->inputs.begin(), entry->inputs.end(), [](const TensorSpec& s) { return is_float(s.dtype); });
    if (!float_input) continue;  // only models with a float input have a special set
    const GoldenSet& set = golden_set(*entry, "special");
    const TensorMap inputs = read_all(set.inputs);
    bool has_nonfinite = false;
    for (const auto& [name, t] : inputs)
      if (is_float(t.dtype))
        for (std::size_t i = 0; i < static_cast<std::size_t>(t.numel()); ++i) has_nonfinite |= !std::isfinite(t.at(i));
    if (special_set_is_finite(entry->id))
      ASSERT_FALSE(has_nonfinite) << entry->id << ": a special set marked finite holds no NaN/Inf";
    else
      ASSERT_TRUE(has_nonfinite) << entry->id << ": the special golden set should contain NaN/Inf";
    const Model model = Model::load(test_manifest(), entry->id, GetParam());
    // compare() requires NaN at the same places and equal infinities.
    expect_matches(read_all(set.expected), model.predict(inputs), *entry->find_artifact(format_name(GetParam())),
                   entry->id + " special values");
  }
}

TEST_P(ModelFormat, ConcurrentPredictGivesTheSameResults) {
  const ModelEntry* entry = models_with(GetParam()).front();
  const Model model = Model::load(test_manifest(), entry->id, GetParam());
  const TensorMap inputs = read_all(golden_set(*entry, "golden").inputs);
  const TensorMap reference = model.predict(inputs);
  constexpr int kThreads = 4, kCalls = 25;
  std::vector<int> mismatches(kThreads, 0);
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < kCalls; ++i)
          if (model.predict(inputs) != reference) ++mismatches[t];
      });
  }
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

// predict keeps its input views between calls and re-points them (model.cpp, StatePool):
// every call must still see its own bytes and shape, whatever ran before or alongside.
TEST_P(ModelFormat, EachCallSeesItsOwnInputsWhateverRanBeforeOrAlongside) {
  for (const ModelEntry* entry : models_with(GetParam())) {
    const Model model = Model::load(test_manifest(), entry->id, GetParam());
    const GoldenSet& set = golden_set(*entry, "golden");
    const TensorMap inputs = read_all(set.inputs), expected = read_all(set.expected);
    const Artifact& artifact = *entry->find_artifact(format_name(GetParam()));
    const std::int64_t n = set.rows;
    const std::vector<std::pair<std::int64_t, std::int64_t>> ranges = {
        {0, n}, {n - 1, 1}, {0, 1}, {1, std::min<std::int64_t>(7, n - 1)}, {0, n}, {n / 2, 1}};
    for (const auto& [start, rows] : ranges) {
      auto call = std::make_unique<TensorMap>(row_range(inputs, start, rows));  // freed after the call
      const TensorMap got = model.predict(*call);
      call.reset();
      expect_matches(row_range(expected, start, rows), got, artifact,
                     entry->id + " rows " + std::to_string(start) + "+" + std::to_string(rows));
    }
    std::vector<TensorMap> reference;
    for (const auto& [start, rows] : ranges) reference.push_back(model.predict(row_range(inputs, start, rows)));
    std::vector<int> mismatches(ranges.size(), 0);
    {
      std::vector<std::jthread> threads;
      for (std::size_t t = 0; t < ranges.size(); ++t)
        threads.emplace_back([&, t] {
          const TensorMap mine = row_range(inputs, ranges[t].first, ranges[t].second);
          for (int i = 0; i < 20; ++i)
            if (model.predict(mine) != reference[t]) ++mismatches[t];
        });
    }
    for (std::size_t t = 0; t < ranges.size(); ++t) EXPECT_EQ(mismatches[t], 0) << entry->id << " thread " << t;
  }
}

std::string input_error(const Model& model, const TensorMap& inputs) {
  try {
    (void)model.predict(inputs);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST_P(ModelFormat, RefusesBadInputsBeforeTheRuntime) {
  for (const ModelEntry* entry : models_with(GetParam())) {
    const Model model = Model::load(test_manifest(), entry->id, GetParam());
    const TensorMap good = read_all(golden_set(*entry, "golden").inputs);
    const TensorSpec& spec = entry->inputs.front();
    const Tensor& first = good.at(spec.name);

    TensorMap t = good;
    t.erase(spec.name);
    EXPECT_EQ(input_error(model, t), "input " + spec.name + ": missing (model inputs: " + entry->input_names() + ")");
    t = good;
    t.emplace("bogus", first);
    EXPECT_EQ(input_error(model, t),
              "input bogus: unknown input \"bogus\" (model inputs: " + entry->input_names() + ")");
    t = good;
    const DType other = spec.dtype == DType::kInt32 ? DType::kInt64 : DType::kInt32;
    t.at(spec.name) = Tensor(other, first.shape);
    EXPECT_EQ(input_error(model, t), "input " + spec.name + ": expected " + std::string(dtype_name(spec.dtype)) +
                                         ", got " + std::string(dtype_name(other)));
    t = good;
    std::vector<std::int64_t> higher = first.shape;
    higher.push_back(1);
    t.at(spec.name) = Tensor(spec.dtype, higher);
    EXPECT_NE(input_error(model, t).find("rank is"), std::string::npos);
    for (std::size_t k = 0; k < spec.shape.size(); ++k) {
      if (spec.shape[k].dynamic()) continue;
      std::vector<std::int64_t> wrong = first.shape;
      ++wrong[k];  // an AOTInductor .pt2 would run this silently
      t = good;
      t.at(spec.name) = Tensor(spec.dtype, wrong);
      EXPECT_EQ(input_error(model, t), "input " + spec.name + ": dim " + std::to_string(k) + " is " +
                                           std::to_string(wrong[k]) + ", expected " +
                                           std::to_string(spec.shape[k].size));
    }
    t = good;
    t.at(spec.name) = first_rows(first, 0);
    if (entry->range_of(spec.shape.front().name).min > 0) {
      EXPECT_NE(input_error(model, t).find("dim 0 (" + spec.shape.front().name + ") is 0, outside"), std::string::npos);
    }
  }
}

TEST_P(ModelFormat, OneInputConvenienceReturnsTheFirstOutput) {
  for (const ModelEntry* entry : models_with(GetParam())) {
    if (entry->inputs.size() != 1) continue;
    const Model model = Model::load(test_manifest(), entry->id, GetParam());
    const GoldenSet& set = golden_set(*entry, "golden");
    const Tensor out = model.predict(read_npy(set.inputs.at(entry->inputs.front().name)));
    const Tensor want = read_npy(set.expected.at(entry->outputs.front().name));
    const Tolerance tol = entry->find_artifact(format_name(GetParam()))->tolerance_for(entry->outputs.front().name);
    EXPECT_TRUE(compare(want, out, tol.atol, tol.rtol).passed) << entry->id;
    EXPECT_EQ(model.input_names(), std::vector<std::string>{entry->inputs.front().name});
    EXPECT_EQ(model.output_names().front(), entry->outputs.front().name);
    EXPECT_EQ(model.entry().id, entry->id);
    EXPECT_EQ(model.format(), GetParam());
  }
}

TEST_P(ModelFormat, DirectCallRunsTheBareRuntimeAndChecksTheInput) {
  const ModelEntry* entry = models_with(GetParam()).front();
  const Model model = Model::load(test_manifest(), entry->id, GetParam());
  const TensorMap inputs = read_all(golden_set(*entry, "golden").inputs);
  const DirectCall direct = model.direct_call(inputs);
  ASSERT_TRUE(direct.run);
  EXPECT_NE(direct.description.find(GetParam() == Format::kAoti ? "AOTIModelPackageLoader::run" : "Module::forward"),
            std::string::npos)
      << direct.description;
  EXPECT_EQ(direct.description.find('\n'), std::string::npos);
  for (int i = 0; i < 3; ++i) direct.run();
  EXPECT_THROW((void)model.direct_call(TensorMap{}), InputError);
}

INSTANTIATE_TEST_SUITE_P(Torch, ModelFormat,
                         ::testing::ValuesIn(supported_formats().begin(), supported_formats().end()),
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

  // Writes a manifest for the copy, with the given sha256 (default: the file's) and
  // min_runtime (default: none).
  Manifest manifest(std::optional<std::string> sha = std::nullopt, std::string path = "m/model.pt",
                    const nlohmann::json& min_runtime = nullptr) const {
    const std::filesystem::path file = dir_ / "m" / "model.pt";
    const auto specs = [](const std::vector<TensorSpec>& list) {
      nlohmann::json out = nlohmann::json::array();
      for (const TensorSpec& s : list) {
        nlohmann::json shape = nlohmann::json::array();
        for (const Dim& d : s.shape) shape.push_back(d.dynamic() ? nlohmann::json(d.name) : nlohmann::json(d.size));
        out.push_back({{"name", s.name}, {"dtype", std::string(dtype_name(s.dtype))}, {"shape", shape}});
      }
      return out;
    };
    nlohmann::json doc = {{"schema_version", 2},
                          {"models",
                           {{{"id", "m"},
                             {"inputs", specs(entry_->inputs)},
                             {"outputs", specs(entry_->outputs)},
                             {"artifacts",
                              {{{"format", "torchscript-script"},
                                {"path", path},
                                {"sha256", sha.value_or(sha256_file(file))},
                                {"tolerance", {{"atol", 0}, {"rtol", 0}}}}}}}}}};
    if (!min_runtime.is_null()) doc["models"][0]["artifacts"][0]["min_runtime"] = min_runtime;
    return Manifest::parse(doc.dump(), dir_.path());
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

TEST_F(CorruptArtifact, MissingFileIsAModelError) {
  EXPECT_THROW(Model::load(manifest(std::string(64, '0'), "m/missing.pt"), "m", Format::kTorchScriptScript),
               ModelError);
}

// Version skew (runtime_version.hpp): the library refuses an artifact built for a newer
// torch than it was built against, before hashing it, with the CLI's one line (exit 3).
TEST_F(CorruptArtifact, NewerMinRuntimeTorchIsRefusedBeforeTheSha256Check) {
  const std::string have = Version::of_runtime(torch_runtime().version).value().str();
  try {
    Model::load(manifest(std::string(64, '0'), "m/model.pt", {{"torch", "99.0.0"}}), "m", Format::kTorchScriptScript);
    FAIL() << "loaded an artifact that needs torch 99.0.0";
  } catch (const ModelError& e) {
    EXPECT_EQ(std::string(e.what()), "m/torchscript-script: built for torch >= 99.0.0, this client runs torch " + have);
  }
}

TEST_F(CorruptArtifact, OlderOrEqualMinRuntimeTorchAndOtherFamiliesLoad) {
  const std::string have = Version::of_runtime(torch_runtime().version).value().str();
  EXPECT_EQ(torch_runtime().family, "torch");
  EXPECT_EQ("libtorch " + torch_runtime().version, libtorch_version());
  for (const nlohmann::json& entries :
       {nlohmann::json{{"torch", "1.0.0"}}, nlohmann::json{{"torch", have}},
        nlohmann::json{{"tensorflow", "99.0.0"}, {"onnxruntime", "99"}, {"tfjs", "99"}}}) {
    const Model model = Model::load(manifest(std::nullopt, "m/model.pt", entries), "m", Format::kTorchScriptScript);
    EXPECT_EQ(model.entry().artifacts[0].min_runtime.size(), entries.size()) << entries;
  }
}

TEST(ModelFormats, NamesRoundTrip) {
  for (Format f : supported_formats()) EXPECT_EQ(parse_format(format_name(f)), f);
  EXPECT_FALSE(parse_format("onnx").has_value());
}

}  // namespace
}  // namespace deploykit
