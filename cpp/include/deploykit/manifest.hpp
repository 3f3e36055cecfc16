// The parts of models/manifest.json (docs/contract.md, "Manifest") the C++ client reads,
// schema_version 2. Unknown fields are ignored. A schema_version other than 2 is a
// VersionError (exit 3); any malformed field or spec (unknown dtype, rank over 8, a bad
// dim or name, duplicates, dims min > max, key maps or boundary casts naming unknown
// tensors, a path that leaves the manifest's folder, a min_runtime version that is not
// MAJOR[.MINOR[.PATCH]]) is an InputError (exit 2).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "deploykit/tensor.hpp"

namespace deploykit {

inline constexpr int kSchemaVersion = 2;

// One item of a shape: a fixed size (name empty) or a named dynamic dim.
struct Dim {
  std::int64_t size = 0;
  std::string name;
  bool dynamic() const noexcept { return !name.empty(); }
  friend bool operator==(const Dim&, const Dim&) = default;
};

struct TensorSpec {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<Dim> shape;
  // The valid values of an integer input, inclusive (documentation; never checked).
  std::optional<std::pair<std::int64_t, std::int64_t>> range;
};

// The inclusive range of a dynamic dim; max unset means unbounded.
struct DimRange {
  std::int64_t min = 0;
  std::optional<std::int64_t> max;
};

struct Tolerance {
  double atol = 0.0;
  double rtol = 0.0;
};

struct Artifact {
  std::string format;          // e.g. "torchscript-script"
  std::filesystem::path path;  // resolved against the manifest's folder
  std::string sha256;          // hex
  std::int64_t bytes = -1;     // -1 when the manifest does not say
  Tolerance tolerance;         // every float output unless overridden below
  std::map<std::string, Tolerance, std::less<>> output_tolerance;
  std::map<std::string, std::string, std::less<>> input_keys;  // model name -> artifact key
  std::map<std::string, std::string, std::less<>> output_keys;
  std::map<std::string, DType, std::less<>> boundary_dtypes;  // tensor name -> runtime dtype
  std::vector<std::string> via;
  // Runtime family -> the oldest version known to load it ("torch" -> "2.13.0"), each
  // MAJOR[.MINOR[.PATCH]]; families this client does not run are kept and ignored.
  std::map<std::string, std::string, std::less<>> min_runtime;

  // The tolerance of one output (its override, else the artifact's).
  Tolerance tolerance_for(std::string_view output) const;
};

struct GoldenSet {
  std::string name;
  std::int64_t rows = 0;
  std::map<std::string, std::filesystem::path, std::less<>> inputs;  // resolved paths
  std::map<std::string, std::filesystem::path, std::less<>> expected;
};

struct ModelEntry {
  std::string id;
  std::vector<TensorSpec> inputs;  // the model's positional order
  std::vector<TensorSpec> outputs;
  std::map<std::string, DimRange, std::less<>> dims;
  std::vector<GoldenSet> golden;
  std::vector<Artifact> artifacts;
  // A character model's vocabulary, UTF-8: token id i is its i-th code point (generate.hpp).
  // Unset when the manifest gives none (or gives something other than a string).
  std::optional<std::string> vocabulary;

  // The artifact of that format / the golden set of that name / the input spec, or nullptr.
  const Artifact* find_artifact(std::string_view format) const;
  const GoldenSet* find_golden(std::string_view name) const;
  const TensorSpec* find_input(std::string_view name) const;
  // The range of a dynamic dim ({0, unbounded} when `dims` does not name it).
  DimRange range_of(std::string_view dim) const;
  // "tokens, mask" / "logits, embedding".
  std::string input_names() const;
  std::string output_names() const;
};

class Manifest {
 public:
  // Reads and validates a manifest file. Throws InputError or VersionError.
  static Manifest read(const std::filesystem::path& path);
  // Parses manifest text; relative paths resolve against `dir`; `origin` names the text
  // in errors. Throws InputError or VersionError.
  static Manifest parse(std::string_view text, const std::filesystem::path& dir, std::string_view origin = "(text)");

  const std::filesystem::path& dir() const noexcept { return dir_; }
  const std::vector<ModelEntry>& models() const noexcept { return models_; }
  // The model with that id; throws InputError listing the known ids.
  const ModelEntry& model(std::string_view id) const;

 private:
  std::filesystem::path dir_;
  std::vector<ModelEntry> models_;
};

}  // namespace deploykit
