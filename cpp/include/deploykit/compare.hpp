// Elementwise comparison of a candidate output against a reference.
//
// Semantics (docs/contract.md, "Comparison semantics"); b = reference, a = candidate:
//   - an element fails where |a-b| > atol and |a-b| > rtol*|b|;
//   - NaN must be NaN at the same positions and +Inf/-Inf must match exactly.
//     Such equal non-finite pairs are excluded from the statistics; any other
//     pair with a non-finite side is a "non-finite mismatch".
//   - float16 is compared in float64 like float32, its ULPs counted in float16;
//   - int32 / int64 / uint8 / bool compare exactly (atol and rtol do not apply).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include "deploykit/tensor.hpp"

namespace deploykit {

struct CompareResult {
  // Number of element pairs compared.
  std::int64_t count = 0;
  // Failing elements: finite pairs outside tolerance plus non-finite mismatches.
  std::int64_t mismatches = 0;
  // Pairs where the non-finite values differ (NaN vs number, +Inf vs -Inf, ...).
  std::int64_t nonfinite_mismatches = 0;
  // Over finite pairs only; differences are computed in double.
  double max_abs = 0.0;
  // max |a-b|/|b|; +inf where b == 0 and a != 0, 0 where both are zero.
  double max_rel = 0.0;
  // Distance in units in the last place of the tensor's float format (+0 and -0 are 0
  // apart); 0 for integer and bool tensors.
  std::uint64_t max_ulp = 0;
  // Smallest atol for which every finite pair passes with the given rtol;
  // +inf if there is any non-finite mismatch (max_abs for integer tensors).
  double min_passing_atol = 0.0;
  // The first non-finite mismatch if any, else the first argmax of |a-b| over
  // finite pairs (0 when all differences are 0); -1 only when count == 0.
  std::int64_t worst_index = -1;
  // NaN positions identical on both sides.
  bool nan_match = true;
  // Inf positions and signs identical on both sides.
  bool inf_match = true;
  // mismatches == 0.
  bool passed = true;
};

// Compares two equally long float32 sequences in a single pass.
// Throws std::invalid_argument if the sizes differ or atol/rtol are not
// finite and >= 0.
CompareResult compare(std::span<const float> reference, std::span<const float> candidate, double atol, double rtol);

// Compares two equally long element buffers of one dtype (see the semantics above).
// Throws std::invalid_argument if the byte sizes differ, are not a whole number of
// elements, or atol/rtol are not finite and >= 0.
CompareResult compare(DType dtype, std::span<const std::byte> reference, std::span<const std::byte> candidate,
                      double atol, double rtol);

// compare() over two tensors; throws std::invalid_argument unless dtype and shape match.
CompareResult compare(const Tensor& reference, const Tensor& candidate, double atol, double rtol);

// One-line human-readable summary, e.g. for a Python __repr__.
std::string to_string(const CompareResult& result);

// Thrown when a buffer's element type is not a contract dtype (a Python TypeError).
class dtype_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// A strided N-d buffer as described by the Python buffer protocol (PEP 3118).
// Shape and strides are in elements and bytes respectively.
struct BufferView {
  const void* data = nullptr;
  std::string_view format;
  std::ptrdiff_t itemsize = 0;
  std::span<const std::ptrdiff_t> shape;
  std::span<const std::ptrdiff_t> strides;
};

// Views `buffer` as contiguous float32 without copying. Throws dtype_error
// unless the elements are native-endian float32, and std::invalid_argument
// unless the buffer is C-contiguous. `name` prefixes the error message.
std::span<const float> as_float32_span(const BufferView& buffer, std::string_view name);

// The contract dtype of a buffer (native-endian float32, float16, int32, int64, uint8,
// bool). Throws dtype_error for anything else; `name` prefixes the message.
DType dtype_of(const BufferView& buffer, std::string_view name);

// compare() over two buffers of one contract dtype that must have identical shapes (not
// just sizes); throws dtype_error for another dtype or differing dtypes,
// std::invalid_argument for a buffer that is not C-contiguous or a shape mismatch.
CompareResult compare(const BufferView& reference, const BufferView& candidate, double atol, double rtol);

}  // namespace deploykit
