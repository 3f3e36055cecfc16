// One call of the client command line, as flags or as a --jobs line (docs/contract.md,
// "The client command line"): which tensor files go in, which outputs are written and
// which are checked. Resolving names and files against a model's specs, reading them,
// and the per-output check lines live here, without LibTorch.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "deploykit/compare.hpp"
#include "deploykit/manifest.hpp"
#include "deploykit/tensor.hpp"

namespace deploykit::cli {

// NAME=FILE, or a bare FILE (name empty) for a one-tensor model.
struct Binding {
  std::string name;
  std::filesystem::path file;
  friend bool operator==(const Binding&, const Binding&) = default;
};

// Splits "NAME=FILE" at the first '='; no '=' means a bare FILE.
Binding parse_binding(const std::string& text);

// Files of one kind of tensor: bindings or a folder holding <name>.npy (not both).
struct Files {
  std::vector<Binding> bindings;
  std::optional<std::filesystem::path> dir;
  bool empty() const noexcept { return bindings.empty() && !dir; }
  friend bool operator==(const Files&, const Files&) = default;
};

struct Request {
  std::string model;
  std::optional<std::string> format;  // default: the one torch format the model has
  Files inputs;
  Files outputs;
  Files checks;
};

// Name -> file for every model input (`inputs` must name each input once; a bare file
// is the sole input; a folder gives <dir>/<name>.npy). Throws InputError with the
// contract's messages ("input x: unknown input ...", "input mask: missing ...").
std::map<std::string, std::filesystem::path> resolve_inputs(const ModelEntry& model, const Files& inputs);

// Name -> file for the outputs to write or check (a subset; a folder means all of them).
// `kind` ("output" or "check") names the flag in errors. Throws InputError.
std::map<std::string, std::filesystem::path> resolve_outputs(const ModelEntry& model, const Files& files,
                                                             const std::string& kind);

// Reads every resolved file (InputError for a missing or malformed one).
TensorMap read_tensors(const std::map<std::string, std::filesystem::path>& files);

// Compares one output with its expected tensor under `tol` and prints
// "check <name>: pass|FAIL max_abs=<x> mismatches=<n>/<count> ..." on `out`. A dtype or
// shape difference is a failure. Returns whether it passed.
bool check_output(const std::string& name, const Tensor& expected, const Tensor& got, const Tolerance& tol,
                  std::ostream& out);

}  // namespace deploykit::cli
