// The parts of models/manifest.json (DESIGN.md, "Manifest") the C++ client
// reads. Unknown fields are ignored; missing or mistyped required fields, a
// schema_version other than 1, or a path that leaves the manifest's folder are
// InputErrors.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace deploykit {

struct Tolerance {
  double atol = 0.0;
  double rtol = 0.0;
};

struct Artifact {
  std::string format;          // e.g. "torchscript-script"
  std::filesystem::path path;  // resolved against the manifest's folder
  std::string sha256;          // hex
  std::int64_t bytes = -1;     // -1 when the manifest does not say
  Tolerance tolerance;
};

struct Golden {
  std::filesystem::path input;  // resolved against the manifest's folder
  std::filesystem::path expected;
  std::optional<std::filesystem::path> special_input;  // NaN/Inf/denormal rows
  std::optional<std::filesystem::path> special_expected;
};

struct ModelEntry {
  std::string id;
  std::int64_t input_width = 0;   // inputs[0].shape == [-1, input_width]
  std::int64_t output_width = 0;  // outputs[0].shape == [-1, output_width]
  Golden golden;
  std::vector<Artifact> artifacts;

  // The artifact of that format, or nullptr.
  const Artifact* find_artifact(std::string_view format) const;
};

class Manifest {
 public:
  // Reads and validates a manifest file. Throws InputError.
  static Manifest read(const std::filesystem::path& path);
  // Parses manifest text; relative paths resolve against `dir`; `origin` names
  // the text in errors. Throws InputError.
  static Manifest parse(std::string_view text, const std::filesystem::path& dir,
                        std::string_view origin = "(text)");

  const std::filesystem::path& dir() const noexcept { return dir_; }
  const std::vector<ModelEntry>& models() const noexcept { return models_; }
  // The model with that id; throws InputError listing the known ids.
  const ModelEntry& model(std::string_view id) const;

 private:
  std::filesystem::path dir_;
  std::vector<ModelEntry> models_;
};

}  // namespace deploykit
