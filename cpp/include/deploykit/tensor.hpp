// deploykit::Tensor: one named value of the contract (docs/contract.md, "Tensor specs"):
// a dtype, a shape of rank 0-8 and the little-endian C-order element bytes. Kept apart
// from the .npy reader (npy.hpp) and from any runtime.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace deploykit {

enum class DType { kFloat32, kFloat16, kInt32, kInt64, kUInt8, kBool };

inline constexpr std::size_t kMaxRank = 8;

// "float32", "float16", "int32", "int64", "uint8", "bool".
std::string_view dtype_name(DType dtype) noexcept;
// The inverse of dtype_name; nullopt for anything else.
std::optional<DType> parse_dtype(std::string_view name) noexcept;
// Bytes per element: 4, 2, 4, 8, 1, 1.
std::size_t dtype_size(DType dtype) noexcept;
bool is_float(DType dtype) noexcept;

// IEEE binary16 bits <-> float (round to nearest even; NaN stays NaN).
float half_to_float(std::uint16_t bits) noexcept;
std::uint16_t float_to_half(float value) noexcept;

// The C++ element type of each dtype (float16 is held as its raw bits, bool as uint8 0/1).
// Kept as a one-line-per-dtype table, unformatted.
// clang-format off
template <DType D> struct Element;
template <> struct Element<DType::kFloat32> { using type = float; };
template <> struct Element<DType::kFloat16> { using type = std::uint16_t; };
template <> struct Element<DType::kInt32> { using type = std::int32_t; };
template <> struct Element<DType::kInt64> { using type = std::int64_t; };
template <> struct Element<DType::kUInt8> { using type = std::uint8_t; };
template <> struct Element<DType::kBool> { using type = std::uint8_t; };
// clang-format on

// The element count of `shape` (1 for rank 0). Throws std::invalid_argument for a
// negative dim or an overflow.
std::int64_t element_count(std::span<const std::int64_t> shape);
// "(2, 3)", "()", "(4,)".
std::string shape_string(std::span<const std::int64_t> shape);

struct Tensor {
  DType dtype = DType::kFloat32;
  std::vector<std::int64_t> shape;
  std::vector<std::byte> data;  // element_count(shape) * dtype_size(dtype) bytes

  Tensor() = default;
  // Zero-filled.
  Tensor(DType d, std::vector<std::int64_t> s);
  // Copies `values`; their type must be Element<d>::type-sized. Throws std::invalid_argument
  // if the count does not match the shape.
  template <typename T>
  static Tensor of(DType d, std::vector<std::int64_t> s, std::span<const T> values) {
    Tensor t(d, std::move(s));
    if (sizeof(T) != dtype_size(d) || values.size_bytes() != t.data.size())
      throw std::invalid_argument("Tensor::of: values do not match the dtype and shape");
    const auto bytes = std::as_bytes(values);
    std::copy(bytes.begin(), bytes.end(), t.data.begin());
    return t;
  }
  static Tensor of(std::vector<std::int64_t> s, std::span<const float> values) {
    return of(DType::kFloat32, std::move(s), values);
  }

  std::int64_t numel() const { return element_count(shape); }
  std::size_t rank() const noexcept { return shape.size(); }

  // Typed views; throw std::invalid_argument if T's size differs from the dtype's.
  template <typename T>
  std::span<const T> view() const {
    check_view(sizeof(T));
    return {reinterpret_cast<const T*>(data.data()), data.size() / sizeof(T)};
  }
  template <typename T>
  std::span<T> view() {
    check_view(sizeof(T));
    return {reinterpret_cast<T*>(data.data()), data.size() / sizeof(T)};
  }
  // Element i as a double (float16 decoded, bool 0/1).
  double at(std::size_t i) const;

  friend bool operator==(const Tensor&, const Tensor&) = default;

 private:
  void check_view(std::size_t element_size) const;
};

// Tensors by name (inputs or outputs of one call).
using TensorMap = std::map<std::string, Tensor, std::less<>>;

}  // namespace deploykit
