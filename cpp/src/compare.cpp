#include "deploykit/compare.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <vector>

namespace deploykit {
namespace {

// The data is processed in blocks small enough to stay in L1 cache, so memory
// is read once however often a block is revisited. Each block first goes
// through a branch-free integer loop (ULP distance plus a "saw Inf or NaN"
// flag). Blocks without Inf/NaN, the normal case, then go through a
// branch-free double loop; the rare block with Inf/NaN takes the exact scalar
// path instead. The argmax of |a-b| is found by re-scanning a block only when
// its maximum beats the running one.
constexpr std::size_t kBlock = 2048;

constexpr std::uint32_t kExponentMask = 0x7f800000u;
constexpr std::uint32_t kMantissaMask = 0x007fffffu;
constexpr double kInf = std::numeric_limits<double>::infinity();

inline std::uint32_t bits_of(float x) { return std::bit_cast<std::uint32_t>(x); }

// Bit tests instead of std::isnan & co. stay exact under any FP flags.
inline bool is_nonfinite(std::uint32_t u) { return (u & kExponentMask) == kExponentMask; }
inline bool is_nan(std::uint32_t u) { return is_nonfinite(u) && (u & kMantissaMask) != 0; }
inline bool is_inf(std::uint32_t u) { return is_nonfinite(u) && (u & kMantissaMask) == 0; }

// Sets bit 31 exactly when the exponent is all ones (Inf or NaN).
inline std::uint32_t nonfinite_flag(std::uint32_t u) { return (u & kExponentMask) + 0x00800000u; }

// Maps IEEE float bits onto integers monotonically: ..., -denorm_min -> -1,
// -0 and +0 -> 0, denorm_min -> 1, ... (sign-magnitude to two's complement).
inline std::int32_t ordered(std::uint32_t u) {
  const std::uint32_t sign = static_cast<std::uint32_t>(static_cast<std::int32_t>(u) >> 31);
  return static_cast<std::int32_t>((u ^ (sign & 0x7fffffffu)) - sign);
}

// |ordered(a) - ordered(b)|; at most 2 * 0x7f7fffff for finite values, so it
// fits in uint32.
inline std::uint32_t ulp_distance(std::uint32_t ua, std::uint32_t ub) {
  const std::int32_t oa = ordered(ua);
  const std::int32_t ob = ordered(ub);
  const auto xa = static_cast<std::uint32_t>(oa);
  const auto xb = static_cast<std::uint32_t>(ob);
  return oa > ob ? xa - xb : xb - xa;
}

// Statistics of one finite pair. Shared by the vectorized and the exact path
// so both produce bit-identical numbers.
struct PairStats {
  double abs_diff;
  double rel_diff;
  double needed_atol;  // smallest atol that lets this pair pass
  bool fails;
};

inline PairStats pair_stats(float ref, float cand, double atol, double rtol) {
  const double b = ref;
  // In double so that e.g. 3e38 - (-3e38) does not overflow.
  const double d = std::fabs(static_cast<double>(cand) - b);
  const double abs_b = std::fabs(b);
  const bool outside_rtol = d > rtol * abs_b;
  // d / 0 = +inf for d > 0, and 0 vs 0 has relative error 0 (not 0/0). The
  // select feeds the divisor rather than the quotient so the loop stays
  // branch-free.
  const double rel = d / (d == 0.0 ? 1.0 : abs_b);
  return {d, rel, outside_rtol ? d : 0.0, static_cast<bool>(outside_rtol & (d > atol))};
}

struct BlockStats {
  double max_abs = 0.0;
  double max_rel = 0.0;
  double min_passing_atol = 0.0;
  std::uint32_t max_ulp = 0;
  std::int64_t mismatches = 0;
};

// The two loops below are written for the auto-vectorizer: `omp simd`
// (-fopenmp-simd, no OpenMP runtime) permits per-lane accumulators for the
// reductions, which is exact here because max and integer-valued sums do not
// depend on the order and the inputs hold no NaN. They are split by lane width
// (32-bit integers vs double) because GCC does not vectorize the mix.

// Max ULP distance of a block; returns false if any value is Inf or NaN.
bool scan_bits(const float* ref, const float* cand, std::size_t n, std::uint32_t& max_ulp_out) {
  std::uint32_t max_ulp = 0;
  std::uint32_t nonfinite = 0;
#pragma omp simd reduction(max : max_ulp) reduction(| : nonfinite)
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t ub = bits_of(ref[i]);
    const std::uint32_t ua = bits_of(cand[i]);
    nonfinite |= nonfinite_flag(ua) | nonfinite_flag(ub);
    const std::uint32_t ulp = ulp_distance(ua, ub);
    max_ulp = ulp > max_ulp ? ulp : max_ulp;
  }
  max_ulp_out = max_ulp;
  return (nonfinite & 0x80000000u) == 0;
}

// Floating-point statistics of an all-finite block.
void finite_stats(const float* ref, const float* cand, std::size_t n, double atol, double rtol, BlockStats& out) {
  double max_abs = 0.0;
  double max_rel = 0.0;
  double max_needed = 0.0;
  double fails = 0.0;  // counted in double to keep one lane width; exact below 2^53
#pragma omp simd reduction(max : max_abs, max_rel, max_needed) reduction(+ : fails)
  for (std::size_t i = 0; i < n; ++i) {
    const PairStats s = pair_stats(ref[i], cand[i], atol, rtol);
    max_abs = s.abs_diff > max_abs ? s.abs_diff : max_abs;
    max_rel = s.rel_diff > max_rel ? s.rel_diff : max_rel;
    max_needed = s.needed_atol > max_needed ? s.needed_atol : max_needed;
    fails += s.fails ? 1.0 : 0.0;
  }
  out.max_abs = max_abs;
  out.max_rel = max_rel;
  out.min_passing_atol = max_needed;
  out.mismatches = static_cast<std::int64_t>(fails);
}

// First index in an all-finite block whose |a-b| equals `target`.
std::size_t first_index_of(const float* ref, const float* cand, std::size_t n, double target) {
  for (std::size_t i = 0; i < n; ++i) {
    if (pair_stats(ref[i], cand[i], 0.0, 0.0).abs_diff == target) return i;
  }
  return 0;  // unreachable: target came from this block
}

// Running totals over the whole input.
struct Totals {
  BlockStats finite;
  std::int64_t worst_finite = 0;
  std::int64_t first_nonfinite_mismatch = -1;
  std::int64_t nonfinite_mismatches = 0;
  bool nan_match = true;
  bool inf_match = true;
};

// Exact element-by-element path for blocks that contain NaN or Inf.
void exact_block(const float* ref, const float* cand, std::size_t n, std::int64_t offset, double atol, double rtol,
                 Totals& t) {
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t ub = bits_of(ref[i]);
    const std::uint32_t ua = bits_of(cand[i]);
    const auto index = offset + static_cast<std::int64_t>(i);
    if (!is_nonfinite(ua) && !is_nonfinite(ub)) {
      const PairStats s = pair_stats(ref[i], cand[i], atol, rtol);
      if (s.abs_diff > t.finite.max_abs) {
        t.finite.max_abs = s.abs_diff;
        t.worst_finite = index;
      }
      t.finite.max_rel = std::max(t.finite.max_rel, s.rel_diff);
      t.finite.min_passing_atol = std::max(t.finite.min_passing_atol, s.needed_atol);
      t.finite.max_ulp = std::max(t.finite.max_ulp, ulp_distance(ua, ub));
      t.finite.mismatches += s.fails ? 1 : 0;
      continue;
    }
    const bool nan_a = is_nan(ua);
    const bool nan_b = is_nan(ub);
    const bool inf_a = is_inf(ua);
    const bool inf_b = is_inf(ub);
    if (nan_a != nan_b) t.nan_match = false;
    // Equal bits for two infinities means the same sign.
    const bool same_inf = inf_a && inf_b && ua == ub;
    if (inf_a != inf_b || (inf_a && inf_b && !same_inf)) t.inf_match = false;
    if ((nan_a && nan_b) || same_inf) continue;  // equal, excluded from the stats
    ++t.nonfinite_mismatches;
    if (t.first_nonfinite_mismatch < 0) t.first_nonfinite_mismatch = index;
  }
}

bool is_valid_tolerance(double x) { return std::isfinite(x) && x >= 0.0; }

std::string format_double(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", x);
  return buf;
}

std::string buffer_shape_string(std::span<const std::ptrdiff_t> shape) {
  std::string s = "(";
  for (std::size_t k = 0; k < shape.size(); ++k) {
    if (k > 0) s += ", ";
    s += std::to_string(shape[k]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

// The struct-module code of a buffer format without a native or little-endian prefix
// ("f", "<f", "=f" -> 'f'); '\0' for a big-endian or compound format.
char format_code(std::string_view format) {
  static_assert(std::endian::native == std::endian::little);
  if (format.size() == 2 && (format[0] == '@' || format[0] == '=' || format[0] == '<')) format.remove_prefix(1);
  return format.size() == 1 ? format[0] : '\0';
}

// Half-precision ULP distance over finite pairs, via the same monotonic mapping.
std::uint64_t max_half_ulp(std::span<const std::uint16_t> ref, std::span<const std::uint16_t> cand) {
  const auto ordered16 = [](std::uint16_t u) -> std::int32_t { return (u & 0x8000u) ? -(u & 0x7fff) : u; };
  std::uint64_t max_ulp = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    if ((ref[i] & 0x7c00u) == 0x7c00u || (cand[i] & 0x7c00u) == 0x7c00u) continue;
    const std::int32_t d = ordered16(ref[i]) - ordered16(cand[i]);
    max_ulp = std::max<std::uint64_t>(max_ulp, static_cast<std::uint64_t>(d < 0 ? -d : d));
  }
  return max_ulp;
}

// Exact comparison of integer (or bool) elements.
template <typename T>
CompareResult compare_exact(std::span<const std::byte> ref_bytes, std::span<const std::byte> cand_bytes) {
  const std::size_t n = ref_bytes.size() / sizeof(T);
  CompareResult r;
  r.count = static_cast<std::int64_t>(n);
  if (n == 0) return r;
  r.worst_index = 0;
  for (std::size_t i = 0; i < n; ++i) {
    T a, b;
    std::memcpy(&b, ref_bytes.data() + i * sizeof(T), sizeof(T));
    std::memcpy(&a, cand_bytes.data() + i * sizeof(T), sizeof(T));
    if (a == b) continue;
    ++r.mismatches;
    // In double: an int64 difference can exceed int64's range.
    const double d = std::fabs(static_cast<double>(a) - static_cast<double>(b));
    const double rel = b == 0 ? kInf : d / std::fabs(static_cast<double>(b));
    if (d > r.max_abs) {
      r.max_abs = d;
      r.worst_index = static_cast<std::int64_t>(i);
    }
    r.max_rel = std::max(r.max_rel, rel);
  }
  r.min_passing_atol = r.max_abs;
  r.passed = r.mismatches == 0;
  return r;
}

}  // namespace

CompareResult compare(std::span<const float> reference, std::span<const float> candidate, double atol, double rtol) {
  if (reference.size() != candidate.size()) {
    throw std::invalid_argument("compare: size mismatch: reference has " + std::to_string(reference.size()) +
                                " elements, candidate has " + std::to_string(candidate.size()));
  }
  if (!is_valid_tolerance(atol) || !is_valid_tolerance(rtol)) {
    throw std::invalid_argument("compare: atol and rtol must be finite and >= 0, got atol=" + format_double(atol) +
                                ", rtol=" + format_double(rtol));
  }

  CompareResult result;
  const std::size_t n = reference.size();
  result.count = static_cast<std::int64_t>(n);
  if (n == 0) return result;

  Totals t;
  for (std::size_t start = 0; start < n; start += kBlock) {
    const std::size_t len = std::min(kBlock, n - start);
    const float* ref = reference.data() + start;
    const float* cand = candidate.data() + start;
    BlockStats b;
    if (!scan_bits(ref, cand, len, b.max_ulp)) {
      exact_block(ref, cand, len, static_cast<std::int64_t>(start), atol, rtol, t);
      continue;
    }
    finite_stats(ref, cand, len, atol, rtol, b);
    if (b.max_abs > t.finite.max_abs) {
      t.finite.max_abs = b.max_abs;
      t.worst_finite = static_cast<std::int64_t>(start + first_index_of(ref, cand, len, b.max_abs));
    }
    t.finite.max_rel = std::max(t.finite.max_rel, b.max_rel);
    t.finite.min_passing_atol = std::max(t.finite.min_passing_atol, b.min_passing_atol);
    t.finite.max_ulp = std::max(t.finite.max_ulp, b.max_ulp);
    t.finite.mismatches += b.mismatches;
  }

  const bool any_nonfinite_mismatch = t.nonfinite_mismatches > 0;
  result.mismatches = t.finite.mismatches + t.nonfinite_mismatches;
  result.nonfinite_mismatches = t.nonfinite_mismatches;
  result.max_abs = t.finite.max_abs;
  result.max_rel = t.finite.max_rel;
  result.max_ulp = t.finite.max_ulp;
  result.min_passing_atol = any_nonfinite_mismatch ? kInf : t.finite.min_passing_atol;
  result.worst_index = any_nonfinite_mismatch ? t.first_nonfinite_mismatch : t.worst_finite;
  result.nan_match = t.nan_match;
  result.inf_match = t.inf_match;
  result.passed = result.mismatches == 0;
  return result;
}

std::string to_string(const CompareResult& r) {
  const auto boolean = [](bool b) { return b ? "True" : "False"; };
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "CompareResult(passed=%s, count=%lld, mismatches=%lld, nonfinite_mismatches=%lld, "
                "max_abs=%.9g, max_rel=%.9g, max_ulp=%llu, min_passing_atol=%.9g, "
                "worst_index=%lld, nan_match=%s, inf_match=%s)",
                boolean(r.passed), static_cast<long long>(r.count), static_cast<long long>(r.mismatches),
                static_cast<long long>(r.nonfinite_mismatches), r.max_abs, r.max_rel,
                static_cast<unsigned long long>(r.max_ulp), r.min_passing_atol, static_cast<long long>(r.worst_index),
                boolean(r.nan_match), boolean(r.inf_match));
  return buf;
}

CompareResult compare(DType dtype, std::span<const std::byte> reference, std::span<const std::byte> candidate,
                      double atol, double rtol) {
  const std::size_t size = dtype_size(dtype);
  if (reference.size() != candidate.size() || reference.size() % size != 0) {
    throw std::invalid_argument("compare: size mismatch: reference has " + std::to_string(reference.size()) +
                                " bytes, candidate has " + std::to_string(candidate.size()) + " (" +
                                std::string(dtype_name(dtype)) + ")");
  }
  const auto typed = [](std::span<const std::byte> b, auto element) {
    using T = decltype(element);
    return std::span<const T>(reinterpret_cast<const T*>(b.data()), b.size() / sizeof(T));
  };
  switch (dtype) {
    case DType::kFloat32:
      return compare(typed(reference, float{}), typed(candidate, float{}), atol, rtol);
    case DType::kFloat16: {
      const auto ref16 = typed(reference, std::uint16_t{});
      const auto cand16 = typed(candidate, std::uint16_t{});
      std::vector<float> ref(ref16.size()), cand(cand16.size());
      std::transform(ref16.begin(), ref16.end(), ref.begin(), half_to_float);
      std::transform(cand16.begin(), cand16.end(), cand.begin(), half_to_float);
      CompareResult r = compare(std::span<const float>(ref), std::span<const float>(cand), atol, rtol);
      r.max_ulp = max_half_ulp(ref16, cand16);
      return r;
    }
    default:
      break;
  }
  if (!is_valid_tolerance(atol) || !is_valid_tolerance(rtol)) {
    throw std::invalid_argument("compare: atol and rtol must be finite and >= 0, got atol=" + format_double(atol) +
                                ", rtol=" + format_double(rtol));
  }
  switch (dtype) {
    case DType::kInt32:
      return compare_exact<std::int32_t>(reference, candidate);
    case DType::kInt64:
      return compare_exact<std::int64_t>(reference, candidate);
    default:
      return compare_exact<std::uint8_t>(reference, candidate);
  }
}

CompareResult compare(const Tensor& reference, const Tensor& candidate, double atol, double rtol) {
  if (reference.dtype != candidate.dtype)
    throw std::invalid_argument("compare: dtype mismatch: reference " + std::string(dtype_name(reference.dtype)) +
                                " vs candidate " + std::string(dtype_name(candidate.dtype)));
  if (reference.shape != candidate.shape)
    throw std::invalid_argument("compare: shape mismatch: reference " + shape_string(reference.shape) +
                                " vs candidate " + shape_string(candidate.shape));
  return compare(reference.dtype, reference.data, candidate.data, atol, rtol);
}

DType dtype_of(const BufferView& buffer, std::string_view name) {
  const char code = format_code(buffer.format);
  const std::ptrdiff_t size = buffer.itemsize;
  std::optional<DType> d;
  if (code == 'f' && size == 4) d = DType::kFloat32;
  if (code == 'e' && size == 2) d = DType::kFloat16;
  if ((code == 'i' || code == 'l' || code == 'q') && size == 4) d = DType::kInt32;
  if ((code == 'i' || code == 'l' || code == 'q') && size == 8) d = DType::kInt64;
  if (code == 'B' && size == 1) d = DType::kUInt8;
  if (code == '?' && size == 1) d = DType::kBool;
  if (!d) {
    throw dtype_error(std::string(name) +
                      ": expected float32, float16, int32, int64, uint8 or bool data (native "
                      "byte order), got buffer format '" +
                      std::string(buffer.format) + "' with itemsize " + std::to_string(size) +
                      "; convert with numpy.ascontiguousarray(x, dtype=numpy.float32)");
  }
  return *d;
}

namespace {

// The buffer's bytes after checking that it is C-contiguous.
std::span<const std::byte> contiguous_bytes(const BufferView& buffer, std::string_view name) {
  const std::string who(name);
  if (!buffer.strides.empty() && buffer.strides.size() != buffer.shape.size()) {
    throw std::invalid_argument(who + ": buffer has " + std::to_string(buffer.shape.size()) + " dimensions but " +
                                std::to_string(buffer.strides.size()) + " strides");
  }
  std::size_t count = 1;
  for (const std::ptrdiff_t extent : buffer.shape) {
    if (extent < 0) throw std::invalid_argument(who + ": negative extent in buffer shape");
    count *= static_cast<std::size_t>(extent);
  }
  // Empty buffers have no layout to check; strides of extent-1 axes are free.
  if (count > 0 && !buffer.strides.empty()) {
    std::ptrdiff_t expected = buffer.itemsize;
    for (std::size_t k = buffer.shape.size(); k-- > 0;) {
      if (buffer.shape[k] != 1 && buffer.strides[k] != expected) {
        throw std::invalid_argument(who + ": buffer is not C-contiguous (shape " + buffer_shape_string(buffer.shape) +
                                    ", strides " + buffer_shape_string(buffer.strides) +
                                    " bytes); pass numpy.ascontiguousarray(x)");
      }
      expected *= buffer.shape[k];
    }
  }
  return {static_cast<const std::byte*>(buffer.data), count * static_cast<std::size_t>(buffer.itemsize)};
}

}  // namespace

std::span<const float> as_float32_span(const BufferView& buffer, std::string_view name) {
  if (dtype_of(buffer, name) != DType::kFloat32)
    throw dtype_error(std::string(name) + ": expected float32 data (buffer format 'f'), got format '" +
                      std::string(buffer.format) + "'");
  const std::span<const std::byte> bytes = contiguous_bytes(buffer, name);
  return {reinterpret_cast<const float*>(bytes.data()), bytes.size() / sizeof(float)};
}

CompareResult compare(const BufferView& reference, const BufferView& candidate, double atol, double rtol) {
  const DType dtype = dtype_of(reference, "reference");
  if (dtype_of(candidate, "candidate") != dtype)
    throw dtype_error("compare: dtype mismatch: reference is " + std::string(dtype_name(dtype)) + ", candidate is " +
                      std::string(dtype_name(dtype_of(candidate, "candidate"))));
  const std::span<const std::byte> ref = contiguous_bytes(reference, "reference");
  const std::span<const std::byte> cand = contiguous_bytes(candidate, "candidate");
  if (!std::ranges::equal(reference.shape, candidate.shape)) {
    throw std::invalid_argument("compare: shape mismatch: reference " + buffer_shape_string(reference.shape) +
                                " vs candidate " + buffer_shape_string(candidate.shape));
  }
  return compare(dtype, ref, cand, atol, rtol);
}

}  // namespace deploykit
