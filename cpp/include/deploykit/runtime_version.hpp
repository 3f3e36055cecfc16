// Version skew (docs/contract.md, "Version skew"): the versions of an artifact's
// `min_runtime` entries, and the check a client makes before it hashes or loads an artifact.
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "deploykit/manifest.hpp"

namespace deploykit {

// A dotted version, compared numerically component by component, a missing component
// counting as 0 (2.19 == 2.19.0 < 2.19.1 < 10). Components are kept as digit strings, so
// no component is too large to compare.
class Version {
 public:
  // A manifest's version: 1 to 3 dot-separated groups of digits ("2", "2.19", "2.13.0");
  // nullopt for anything else ("", "2.", "2.x", "v2", "2.13.0.1", "2.13.0+cu130").
  static std::optional<Version> parse(std::string_view text);
  // A runtime's own version string, read up to its first character that is neither a digit
  // nor a dot ("2.13.0+cu130" -> 2.13.0, "2.14.0.dev20260101" -> 2.14.0); nullopt when that
  // leaves no version ("", "dev", ".1", "1..2").
  static std::optional<Version> of_runtime(std::string_view text);

  // The version as read: "2.19", "2.13.0" (of "2.13.0+cu130").
  const std::string& str() const noexcept { return text_; }

  friend std::strong_ordering operator<=>(const Version& a, const Version& b) noexcept;
  friend bool operator==(const Version& a, const Version& b) noexcept { return (a <=> b) == 0; }

 private:
  Version() = default;
  static std::optional<Version> of_groups(std::string_view text, std::size_t max_groups);

  std::vector<std::string> parts_;  // digits without leading zeros; "" is 0
  std::string text_;
};

// The runtime a client runs an artifact with, as the skew check and its message name it.
struct Runtime {
  std::string family;   // a min_runtime family: "torch", "tensorflow", "tfjs", "onnxruntime"
  std::string version;  // the runtime's own version string, e.g. "2.13.0+cu130"
  std::string binding;  // optional, e.g. "TF Java 1.1.0": appended as " (<binding>)"
};

// Throws ModelError (exit 3) when `artifact` needs a newer `runtime` than this one:
//   "<model>/<format>: built for torch >= 2.14.0, this client runs torch 2.13.0"
// Entries for other families are ignored; an artifact without one is not checked. Throws
// ModelError too when an entry applies but `runtime.version` holds no version, and
// InputError when the entry itself is not a version (Manifest::parse refuses those).
void check_min_runtime(std::string_view model_id, const Artifact& artifact, const Runtime& runtime);

}  // namespace deploykit
