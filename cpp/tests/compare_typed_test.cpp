// compare() over every contract dtype: float16 in float16 ULPs, integers and bool exactly,
// and the buffer-protocol dtype dispatch the Python extension uses.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "deploykit/compare.hpp"

namespace deploykit {
namespace {

template <typename T>
Tensor tensor(DType d, std::vector<T> v) {
  return Tensor::of(d, {static_cast<std::int64_t>(v.size())}, std::span<const T>(v));
}

TEST(CompareTyped, Float16CountsUlpsInFloat16) {
  // 1.0, 1.0 + 1 ulp, -0.0; candidate off by 2 ulps at index 1.
  const Tensor ref = tensor<std::uint16_t>(DType::kFloat16, {0x3c00, 0x3c01, 0x8000});
  const Tensor cand = tensor<std::uint16_t>(DType::kFloat16, {0x3c00, 0x3c03, 0x0000});
  const CompareResult r = compare(ref, cand, 0.0, 0.0);
  EXPECT_EQ(r.max_ulp, 2u);
  EXPECT_DOUBLE_EQ(r.max_abs, 2 * std::ldexp(1.0, -10));
  EXPECT_EQ(r.mismatches, 1);
  EXPECT_EQ(r.worst_index, 1);
  EXPECT_TRUE(compare(ref, cand, 0.002, 0.0).passed);
}

TEST(CompareTyped, Float16NonFiniteRules) {
  const Tensor ref = tensor<std::uint16_t>(DType::kFloat16, {0x7e00, 0x7c00, 0x3c00});
  EXPECT_TRUE(compare(ref, ref, 0.0, 0.0).passed);
  const Tensor cand = tensor<std::uint16_t>(DType::kFloat16, {0x7e00, 0xfc00, 0x3c00});
  const CompareResult r = compare(ref, cand, 1.0, 1.0);
  EXPECT_FALSE(r.passed);
  EXPECT_FALSE(r.inf_match);
  EXPECT_EQ(r.nonfinite_mismatches, 1);
  EXPECT_EQ(r.max_ulp, 0u);
}

TEST(CompareTyped, IntegersAreExactWhateverTheTolerance) {
  const Tensor a = tensor<std::int64_t>(DType::kInt64, {5, std::numeric_limits<std::int64_t>::min(), 0});
  const Tensor b = tensor<std::int64_t>(DType::kInt64, {5, std::numeric_limits<std::int64_t>::max(), 1});
  const CompareResult r = compare(a, b, 1e30, 1e30);
  EXPECT_FALSE(r.passed);
  EXPECT_EQ(r.mismatches, 2);
  EXPECT_EQ(r.count, 3);
  EXPECT_DOUBLE_EQ(r.max_abs, std::ldexp(1.0, 64));  // no overflow
  EXPECT_EQ(r.worst_index, 1);
  EXPECT_EQ(r.max_ulp, 0u);
  EXPECT_DOUBLE_EQ(r.min_passing_atol, r.max_abs);
  EXPECT_TRUE(compare(a, a, 0.0, 0.0).passed);

  const Tensor i = tensor<std::int32_t>(DType::kInt32, {1, -2});
  const Tensor j = tensor<std::int32_t>(DType::kInt32, {1, 2});
  EXPECT_DOUBLE_EQ(compare(i, j, 0, 0).max_abs, 4.0);
  EXPECT_DOUBLE_EQ(compare(i, j, 0, 0).max_rel, 2.0);
}

TEST(CompareTyped, BoolAndUint8) {
  const Tensor t = tensor<std::uint8_t>(DType::kBool, {1, 0, 1});
  const Tensor f = tensor<std::uint8_t>(DType::kBool, {1, 1, 1});
  EXPECT_EQ(compare(t, f, 0, 0).mismatches, 1);
  EXPECT_EQ(compare(t, f, 0, 0).worst_index, 1);
  const Tensor u = tensor<std::uint8_t>(DType::kUInt8, {0, 255});
  const Tensor v = tensor<std::uint8_t>(DType::kUInt8, {255, 255});
  EXPECT_DOUBLE_EQ(compare(u, v, 0, 0).max_abs, 255.0);
}

TEST(CompareTyped, RejectsDtypeAndShapeMismatches) {
  const Tensor a(DType::kFloat32, {2, 3});
  EXPECT_THROW(compare(a, Tensor(DType::kFloat32, {3, 2}), 0, 0), std::invalid_argument);
  EXPECT_THROW(compare(a, Tensor(DType::kInt32, {2, 3}), 0, 0), std::invalid_argument);
  EXPECT_THROW(compare(Tensor(DType::kInt32, {2}), Tensor(DType::kInt32, {2}), -1, 0), std::invalid_argument);
}

TEST(CompareTyped, BufferFormatsMapToContractDtypes) {
  const std::ptrdiff_t shape[] = {2};
  const auto view = [&](const char* format, std::ptrdiff_t itemsize) {
    return BufferView{nullptr, format, itemsize, shape, {}};
  };
  EXPECT_EQ(dtype_of(view("f", 4), "x"), DType::kFloat32);
  EXPECT_EQ(dtype_of(view("<f", 4), "x"), DType::kFloat32);
  EXPECT_EQ(dtype_of(view("e", 2), "x"), DType::kFloat16);
  EXPECT_EQ(dtype_of(view("i", 4), "x"), DType::kInt32);
  EXPECT_EQ(dtype_of(view("l", 8), "x"), DType::kInt64);
  EXPECT_EQ(dtype_of(view("q", 8), "x"), DType::kInt64);
  EXPECT_EQ(dtype_of(view("B", 1), "x"), DType::kUInt8);
  EXPECT_EQ(dtype_of(view("?", 1), "x"), DType::kBool);
  EXPECT_THROW(dtype_of(view("d", 8), "x"), dtype_error);
  EXPECT_THROW(dtype_of(view(">f", 4), "x"), dtype_error);
  EXPECT_THROW(dtype_of(view("b", 1), "x"), dtype_error);  // int8
  EXPECT_THROW(dtype_of(view("H", 2), "x"), dtype_error);  // uint16

  const std::int32_t a[] = {1, 2}, b[] = {1, 3};
  const BufferView ra{a, "i", 4, shape, {}}, rb{b, "i", 4, shape, {}};
  EXPECT_EQ(compare(ra, rb, 0.0, 0.0).mismatches, 1);
  const float fa[] = {1, 2};
  EXPECT_THROW(compare(ra, BufferView{fa, "f", 4, shape, {}}, 0.0, 0.0), dtype_error);
}

}  // namespace
}  // namespace deploykit
