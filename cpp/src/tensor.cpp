#include "deploykit/tensor.hpp"

#include <array>
#include <bit>
#include <cstring>
#include <limits>

namespace deploykit {
namespace {

static_assert(std::endian::native == std::endian::little, "tensor bytes are little-endian");
static_assert(sizeof(float) == 4 && std::numeric_limits<float>::is_iec559);

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  std::size_t size;
};

constexpr std::array kDTypes{
    DTypeInfo{DType::kFloat32, "float32", 4}, DTypeInfo{DType::kFloat16, "float16", 2},
    DTypeInfo{DType::kInt32, "int32", 4},     DTypeInfo{DType::kInt64, "int64", 8},
    DTypeInfo{DType::kUInt8, "uint8", 1},     DTypeInfo{DType::kBool, "bool", 1},
};

const DTypeInfo& info(DType dtype) noexcept { return kDTypes[static_cast<std::size_t>(dtype)]; }

}  // namespace

std::string_view dtype_name(DType dtype) noexcept { return info(dtype).name; }
std::size_t dtype_size(DType dtype) noexcept { return info(dtype).size; }
bool is_float(DType dtype) noexcept { return dtype == DType::kFloat32 || dtype == DType::kFloat16; }

std::optional<DType> parse_dtype(std::string_view name) noexcept {
  for (const DTypeInfo& d : kDTypes)
    if (d.name == name) return d.dtype;
  return std::nullopt;
}

float half_to_float(std::uint16_t h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu;
  std::uint32_t mantissa = h & 0x3ffu;
  std::uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // Inf or NaN (payload kept)
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;  // +-0
  } else {        // subnormal: normalize
    std::uint32_t e = 113;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --e;
    }
    bits = sign | (e << 23) | ((mantissa & 0x3ffu) << 13);
  }
  return std::bit_cast<float>(bits);
}

std::uint16_t float_to_half(float value) noexcept {
  const std::uint32_t f = std::bit_cast<std::uint32_t>(value);
  const auto sign = static_cast<std::uint16_t>((f >> 16) & 0x8000u);
  const std::uint32_t abs = f & 0x7fffffffu;
  if (abs >= 0x7f800000u)  // Inf or NaN
    return static_cast<std::uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));
  if (abs >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // rounds past 65504
  if (abs < 0x38800000u) {               // below the smallest normal half: subnormal or zero
    if (abs < 0x33000000u) return sign;  // under half of the smallest subnormal
    const std::uint32_t e = abs >> 23;
    const std::uint32_t m = (abs & 0x7fffffu) | 0x800000u;
    const std::uint32_t shift = 126 - e;  // 14..24 + 0
    const std::uint32_t half_mant = m >> shift;
    const std::uint32_t rest = m & ((1u << shift) - 1);
    const std::uint32_t halfway = 1u << (shift - 1);
    const std::uint32_t rounded = half_mant + ((rest > halfway || (rest == halfway && (half_mant & 1u))) ? 1u : 0u);
    return static_cast<std::uint16_t>(sign | rounded);
  }
  // Normal: rebias the exponent, round the mantissa to 10 bits (nearest even).
  const std::uint32_t rebiased = abs - 0x38000000u;  // exponent - 112
  const std::uint32_t half_bits = rebiased >> 13;
  const std::uint32_t rest = rebiased & 0x1fffu;
  const std::uint32_t rounded = half_bits + ((rest > 0x1000u || (rest == 0x1000u && (half_bits & 1u))) ? 1u : 0u);
  return static_cast<std::uint16_t>(sign | rounded);
}

std::int64_t element_count(std::span<const std::int64_t> shape) {
  std::int64_t n = 1;
  for (const std::int64_t d : shape) {
    if (d < 0) throw std::invalid_argument("negative dim in shape " + shape_string(shape));
    if (d != 0 && n > std::numeric_limits<std::int64_t>::max() / 8 / d)
      throw std::invalid_argument("shape " + shape_string(shape) + " is too large");
    n *= d;
  }
  return n;
}

std::string shape_string(std::span<const std::int64_t> shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  s += ")";
  return s;
}

Tensor::Tensor(DType d, std::vector<std::int64_t> s)
    : dtype(d), shape(std::move(s)), data(static_cast<std::size_t>(element_count(shape)) * dtype_size(d)) {}

void Tensor::check_view(std::size_t element_size) const {
  if (element_size != dtype_size(dtype))
    throw std::invalid_argument("Tensor::view: element size " + std::to_string(element_size) + " does not match " +
                                std::string(dtype_name(dtype)));
}

double Tensor::at(std::size_t i) const {
  const std::byte* p = data.data() + i * dtype_size(dtype);
  const auto load = [p]<typename T>(T) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
  };
  switch (dtype) {
    case DType::kFloat32:
      return load(float{});
    case DType::kFloat16:
      return half_to_float(load(std::uint16_t{}));
    case DType::kInt32:
      return load(std::int32_t{});
    case DType::kInt64:
      return static_cast<double>(load(std::int64_t{}));
    case DType::kUInt8:
    case DType::kBool:
      return load(std::uint8_t{});
  }
  return 0.0;
}

}  // namespace deploykit
