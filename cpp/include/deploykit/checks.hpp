// The contract's input checks (docs/contract.md, "Input checks") and boundary casts,
// done before any runtime call: an AOTInductor .pt2 runs a wrongly shaped input without
// complaint, so these checks are what keep wrong numbers out.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "deploykit/manifest.hpp"
#include "deploykit/tensor.hpp"

namespace deploykit {

// The size each dynamic dim name took in one call.
using DimBindings = std::map<std::string, std::int64_t, std::less<>>;

// Checks a call's inputs against `model`'s specs, in the contract's order: every input
// given once and no unknown name; dtype; rank; fixed dims; dynamic dims inside their
// range and the same size wherever the name appears; then, with an artifact, that every
// value fits its boundary cast. Throws InputError "input <name>: <expected, given>".
DimBindings check_inputs(const ModelEntry& model, const TensorMap& inputs, const Artifact* artifact = nullptr);

// Checks a runtime's outputs against the specs (dtype, rank, fixed dims, dims bound by
// the inputs); `origin` prefixes the message. Throws ModelError.
void check_outputs(const ModelEntry& model, const TensorMap& outputs, const DimBindings& bound,
                   std::string_view origin);

// Casts `t` to `to`, one of the contract's boundary casts (int64/bool/uint8 -> int32,
// float16 -> float32) or their inverses. Throws InputError "<what>: value <v> at index
// <i> does not fit <to>" for a value outside the target range (the caller names the tensor).
Tensor cast_tensor(const Tensor& t, DType to, std::string_view what);

}  // namespace deploykit
