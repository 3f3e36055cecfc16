// The contract's input checks (docs/contract.md, "Input checks") and boundary casts,
// done before any runtime call: an AOTInductor .pt2 runs a wrongly shaped input without
// complaint, so these checks are what keep wrong numbers out.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "deploykit/manifest.hpp"
#include "deploykit/tensor.hpp"

namespace deploykit {

// The size a dynamic dim name took in one call.
struct DimBinding {
  std::string dim;
  std::int64_t size = 0;
  friend bool operator==(const DimBinding&, const DimBinding&) = default;
};
// Every dynamic dim of a call, in the order the inputs first name them (a flat list: a
// model has a few; no per-call tree nodes on predict's path).
using DimBindings = std::vector<DimBinding>;
// The binding of `dim`, or nullptr.
const DimBinding* find_dim(const DimBindings& bound, std::string_view dim) noexcept;

// Checks a call's inputs against `model`'s specs, in the contract's order: every input
// given once and no unknown name; dtype; rank; fixed dims; dynamic dims inside their
// range and the same size wherever the name appears; then, with an artifact, that every
// value fits its boundary cast. Throws InputError "input <name>: <expected, given>".
DimBindings check_inputs(const ModelEntry& model, const TensorMap& inputs, const Artifact* artifact = nullptr);

// The same checks for Model::predict, allocating nothing for a usual model: the bindings go
// to `bound` (cleared first, its capacity reused) and, when `ordered` has one slot per model
// input, each input's tensor in the model's order to `ordered`.
void check_inputs(const ModelEntry& model, const TensorMap& inputs, const Artifact* artifact, DimBindings& bound,
                  std::span<const Tensor*> ordered = {});

// Checks a runtime's outputs against the specs (dtype, rank, fixed dims, dims bound by
// the inputs); `origin` prefixes the message. Throws ModelError.
void check_outputs(const ModelEntry& model, const TensorMap& outputs, const DimBindings& bound,
                   std::string_view origin);

// check_outputs for one output, as it is made (Model::predict): a dynamic dim must equal its
// size in `bound`; one that `bound` lacks (no input names it) is added, bound by this output.
void check_output(const TensorSpec& spec, const Tensor& t, DimBindings& bound, std::string_view origin);

// Casts `t` to `to`, one of the contract's boundary casts (int64/bool/uint8 -> int32,
// float16 -> float32) or their inverses. Throws InputError "<what>: value <v> at index
// <i> does not fit <to>" for a value outside the target range (the caller names the tensor).
Tensor cast_tensor(const Tensor& t, DType to, std::string_view what);

}  // namespace deploykit
