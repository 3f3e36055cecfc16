#include "deploykit/runtime_version.hpp"

#include <algorithm>

#include "deploykit/errors.hpp"

namespace deploykit {

std::optional<Version> Version::of_groups(std::string_view text, std::size_t max_groups) {
  Version v;
  v.text_ = std::string(text);
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = std::min(text.find('.', start), text.size());
    std::string_view group = text.substr(start, dot - start);
    if (group.empty() || v.parts_.size() == max_groups) return std::nullopt;
    if (!std::all_of(group.begin(), group.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
    while (!group.empty() && group.front() == '0') group.remove_prefix(1);
    v.parts_.emplace_back(group);
    if (dot == text.size()) return v;
    start = dot + 1;
  }
}

std::optional<Version> Version::parse(std::string_view text) { return of_groups(text, 3); }

std::optional<Version> Version::of_runtime(std::string_view text) {
  text = text.substr(0, text.find_first_not_of("0123456789."));
  // A pre-release suffix after a dot ("2.14.0.dev1") leaves a trailing dot: not a component.
  while (!text.empty() && text.back() == '.') text.remove_suffix(1);
  return of_groups(text, text.size());
}

std::strong_ordering operator<=>(const Version& a, const Version& b) noexcept {
  const std::size_t n = std::max(a.parts_.size(), b.parts_.size());
  for (std::size_t i = 0; i < n; ++i) {
    const std::string_view x = i < a.parts_.size() ? std::string_view(a.parts_[i]) : std::string_view();
    const std::string_view y = i < b.parts_.size() ? std::string_view(b.parts_[i]) : std::string_view();
    // Without leading zeros, the longer number is the larger; equal lengths compare as text.
    if (const auto c = x.size() <=> y.size(); c != 0) return c;
    if (const auto c = x.compare(y) <=> 0; c != 0) return c;
  }
  return std::strong_ordering::equal;
}

void check_min_runtime(std::string_view model_id, const Artifact& artifact, const Runtime& runtime) {
  const auto entry = artifact.min_runtime.find(runtime.family);
  if (entry == artifact.min_runtime.end()) return;
  const std::string cell = std::string(model_id) + "/" + artifact.format;
  const std::optional<Version> required = Version::parse(entry->second);
  if (!required)
    throw InputError(cell + ": min_runtime." + runtime.family + " \"" + entry->second + "\" is not a version");
  const std::optional<Version> have = Version::of_runtime(runtime.version);
  if (!have)
    throw ModelError(cell + ": built for " + runtime.family + " >= " + entry->second + ", this client's " +
                     runtime.family + " version \"" + runtime.version + "\" cannot be read");
  if (*have >= *required) return;
  throw ModelError(cell + ": built for " + runtime.family + " >= " + entry->second + ", this client runs " +
                   runtime.family + " " + have->str() + (runtime.binding.empty() ? "" : " (" + runtime.binding + ")"));
}

}  // namespace deploykit
