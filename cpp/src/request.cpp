#include "deploykit/request.hpp"

#include <cstdio>

#include "deploykit/errors.hpp"
#include "deploykit/npy.hpp"

namespace deploykit::cli {
namespace {

std::string sci(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::string names_of(const std::vector<TensorSpec>& specs) {
  std::string s;
  for (const TensorSpec& t : specs) s += (s.empty() ? "" : ", ") + t.name;
  return s;
}

bool has(const std::vector<TensorSpec>& specs, const std::string& name) {
  for (const TensorSpec& s : specs)
    if (s.name == name) return true;
  return false;
}

// Bindings -> name -> file: a bare file is the sole tensor; every name known, given once.
std::map<std::string, std::filesystem::path> bind(const ModelEntry& model, const std::vector<TensorSpec>& specs,
                                                  const std::vector<Binding>& bindings, const std::string& kind,
                                                  const std::string& plural) {
  std::map<std::string, std::filesystem::path> files;
  for (const Binding& b : bindings) {
    std::string name = b.name;
    if (name.empty()) {
      if (specs.size() != 1 || bindings.size() != 1)
        throw InputError(kind + " " + b.file.string() + ": a bare file needs a model with one " + kind + ", " +
                         model.id + " has " + std::to_string(specs.size()) + " (" + names_of(specs) + "); use " +
                         "NAME=FILE");
      name = specs.front().name;
    }
    if (!has(specs, name))
      throw InputError(kind + " " + name + ": unknown " + kind + " \"" + name + "\" (model " + plural + ": " +
                       names_of(specs) + ")");
    if (!files.emplace(name, b.file).second) throw InputError(kind + " " + name + ": given more than once");
  }
  return files;
}

std::map<std::string, std::filesystem::path> from_dir(const std::vector<TensorSpec>& specs,
                                                      const std::filesystem::path& dir) {
  std::map<std::string, std::filesystem::path> files;
  for (const TensorSpec& s : specs) files.emplace(s.name, dir / (s.name + ".npy"));
  return files;
}

}  // namespace

Binding parse_binding(const std::string& text) {
  const std::size_t eq = text.find('=');
  if (eq == std::string::npos) return {"", text};
  return {text.substr(0, eq), text.substr(eq + 1)};
}

std::map<std::string, std::filesystem::path> resolve_inputs(const ModelEntry& model, const Files& inputs) {
  if (inputs.dir) return from_dir(model.inputs, *inputs.dir);
  auto files = bind(model, model.inputs, inputs.bindings, "input", "inputs");
  for (const TensorSpec& s : model.inputs)
    if (!files.contains(s.name))
      throw InputError("input " + s.name + ": missing (model inputs: " + names_of(model.inputs) + ")");
  return files;
}

std::map<std::string, std::filesystem::path> resolve_outputs(const ModelEntry& model, const Files& files,
                                                             const std::string& kind) {
  if (files.dir) return from_dir(model.outputs, *files.dir);
  return bind(model, model.outputs, files.bindings, kind, "outputs");
}

TensorMap read_tensors(const std::map<std::string, std::filesystem::path>& files) {
  TensorMap tensors;
  for (const auto& [name, path] : files) tensors.emplace(name, read_npy(path));
  return tensors;
}

bool check_output(const std::string& name, const Tensor& expected, const Tensor& got, const Tolerance& tol,
                  std::ostream& out) {
  out << "check " << name << ": ";
  if (expected.dtype != got.dtype || expected.shape != got.shape) {
    out << "FAIL max_abs=nan mismatches=" << got.numel() << "/" << got.numel() << " output " << dtype_name(got.dtype)
        << " " << shape_string(got.shape) << " differs from the expected " << dtype_name(expected.dtype) << " "
        << shape_string(expected.shape) << "\n";
    return false;
  }
  const CompareResult r = compare(expected, got, tol.atol, tol.rtol);
  out << (r.passed ? "pass" : "FAIL") << " max_abs=" << sci(r.max_abs) << " mismatches=" << r.mismatches << "/"
      << r.count;
  if (!r.passed)
    out << " worst_index=" << r.worst_index << (r.nan_match ? "" : " nan_mismatch")
        << (r.inf_match ? "" : " inf_mismatch");
  if (is_float(got.dtype))
    out << " (atol " << sci(tol.atol) << " rtol " << sci(tol.rtol) << ")\n";
  else
    out << " (exact)\n";
  return r.passed;
}

}  // namespace deploykit::cli
