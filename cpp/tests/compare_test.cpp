#include "deploykit/compare.hpp"

#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

namespace {

using deploykit::compare;
using deploykit::CompareResult;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kDenormMin = std::numeric_limits<float>::denorm_min();
constexpr float kMax = std::numeric_limits<float>::max();
constexpr double kInfD = std::numeric_limits<double>::infinity();

CompareResult run(const std::vector<float>& ref, const std::vector<float>& cand, double atol = 0.0, double rtol = 0.0) {
  return compare(std::span<const float>(ref), std::span<const float>(cand), atol, rtol);
}

TEST(Compare, EmptyInput) {
  const CompareResult r = run({}, {});
  EXPECT_EQ(r.count, 0);
  EXPECT_EQ(r.mismatches, 0);
  EXPECT_EQ(r.worst_index, -1);
  EXPECT_EQ(r.max_abs, 0.0);
  EXPECT_EQ(r.max_ulp, 0u);
  EXPECT_TRUE(r.passed);
  EXPECT_TRUE(r.nan_match);
  EXPECT_TRUE(r.inf_match);
}

TEST(Compare, IdenticalInputsPassWithZeroTolerance) {
  const std::vector<float> v = {1.0f, -2.5f, 0.0f, 3e38f};
  const CompareResult r = run(v, v);
  EXPECT_TRUE(r.passed);
  EXPECT_EQ(r.count, 4);
  EXPECT_EQ(r.max_abs, 0.0);
  EXPECT_EQ(r.max_rel, 0.0);
  EXPECT_EQ(r.min_passing_atol, 0.0);
  EXPECT_EQ(r.worst_index, 0);
}

TEST(Compare, ToleranceRule) {
  // |a-b| = 0.5 everywhere; |b| = 1, 10, 100.
  const std::vector<float> ref = {1.0f, 10.0f, 100.0f};
  const std::vector<float> cand = {1.5f, 10.5f, 100.5f};
  EXPECT_EQ(run(ref, cand, 0.5, 0.0).mismatches, 0);   // |a-b| <= atol
  EXPECT_EQ(run(ref, cand, 0.0, 0.05).mismatches, 1);  // only |b| = 1 exceeds rtol*|b|
  const CompareResult r = run(ref, cand, 0.1, 0.01);
  EXPECT_EQ(r.mismatches, 2);
  EXPECT_DOUBLE_EQ(r.max_abs, 0.5);
  EXPECT_DOUBLE_EQ(r.max_rel, 0.5);
  EXPECT_EQ(r.worst_index, 0);  // first of the tied maxima
  EXPECT_DOUBLE_EQ(r.min_passing_atol, 0.5);
  // The pair at |b| = 100 is inside rtol, so it needs no atol at all.
  EXPECT_DOUBLE_EQ(run({100.0f}, {100.5f}, 0.0, 0.01).min_passing_atol, 0.0);
  // min_passing_atol is exactly the boundary: it passes, anything smaller fails.
  EXPECT_TRUE(run(ref, cand, r.min_passing_atol, 0.01).passed);
  EXPECT_FALSE(run(ref, cand, std::nextafter(r.min_passing_atol, 0.0), 0.01).passed);
}

TEST(Compare, WorstIndexIsArgmaxOfAbsDiff) {
  std::vector<float> ref(10000, 1.0f);
  std::vector<float> cand = ref;
  cand[7777] = 1.25f;
  cand[9000] = 1.25f;  // tie: the first one wins
  cand[123] = 1.125f;
  const CompareResult r = run(ref, cand);
  EXPECT_EQ(r.worst_index, 7777);
  EXPECT_EQ(r.mismatches, 3);
  EXPECT_DOUBLE_EQ(r.max_abs, 0.25);
}

TEST(Compare, NaNSamePositionsIsEqual) {
  const CompareResult r = run({kNaN, 1.0f}, {kNaN, 1.0f});
  EXPECT_TRUE(r.passed);
  EXPECT_TRUE(r.nan_match);
  EXPECT_EQ(r.nonfinite_mismatches, 0);
  EXPECT_EQ(r.min_passing_atol, 0.0);
}

TEST(Compare, NaNOnOneSideIsANonFiniteMismatch) {
  const CompareResult r = run({1.0f, 2.0f, 3.0f}, {1.0f, kNaN, 4.0f}, 0.0, 0.0);
  EXPECT_FALSE(r.passed);
  EXPECT_FALSE(r.nan_match);
  EXPECT_TRUE(r.inf_match);
  EXPECT_EQ(r.nonfinite_mismatches, 1);
  EXPECT_EQ(r.mismatches, 2);
  EXPECT_EQ(r.worst_index, 1);       // the non-finite mismatch beats the larger finite diff
  EXPECT_DOUBLE_EQ(r.max_abs, 1.0);  // NaN excluded from the statistics
  EXPECT_EQ(r.min_passing_atol, kInfD);
}

TEST(Compare, InfinitiesMustMatchWithSign) {
  EXPECT_TRUE(run({kInf, -kInf}, {kInf, -kInf}).passed);
  const CompareResult opposite = run({kInf}, {-kInf});
  EXPECT_FALSE(opposite.passed);
  EXPECT_FALSE(opposite.inf_match);
  EXPECT_TRUE(opposite.nan_match);
  EXPECT_EQ(opposite.nonfinite_mismatches, 1);
  const CompareResult finite = run({1.0f, kInf}, {1.0f, kMax}, 1e300, 0.0);
  EXPECT_FALSE(finite.passed);  // no tolerance excuses Inf vs finite
  EXPECT_FALSE(finite.inf_match);
  EXPECT_EQ(finite.worst_index, 1);
  EXPECT_EQ(finite.max_abs, 0.0);
  const CompareResult nan_vs_inf = run({kInf}, {kNaN});
  EXPECT_FALSE(nan_vs_inf.nan_match);
  EXPECT_FALSE(nan_vs_inf.inf_match);
}

TEST(Compare, SignedZerosAndDenormals) {
  const CompareResult zeros = run({0.0f}, {-0.0f});
  EXPECT_TRUE(zeros.passed);
  EXPECT_EQ(zeros.max_ulp, 0u);
  EXPECT_EQ(zeros.max_rel, 0.0);

  const CompareResult denorm = run({0.0f}, {kDenormMin});
  EXPECT_EQ(denorm.max_ulp, 1u);
  EXPECT_EQ(denorm.max_rel, kInfD);  // b == 0, a != 0
  EXPECT_EQ(denorm.mismatches, 1);
  EXPECT_EQ(run({-kDenormMin}, {kDenormMin}).max_ulp, 2u);
}

TEST(Compare, HugeValuesDoNotOverflow) {
  const CompareResult r = run({-3e38f}, {3e38f});
  EXPECT_DOUBLE_EQ(r.max_abs, 2.0 * static_cast<double>(3e38f));
  EXPECT_TRUE(std::isfinite(r.max_abs));
  EXPECT_DOUBLE_EQ(r.max_rel, 2.0);
  // Opposite signs: the sum of both distances to zero (2 * 0x7f7fffff at most).
  EXPECT_EQ(run({-kMax}, {kMax}).max_ulp, 2u * 0x7f7fffffu);
  EXPECT_EQ(run({kMax}, {std::nextafter(kMax, 0.0f)}).max_ulp, 1u);
}

TEST(Compare, NonFiniteBlockKeepsFiniteStatistics) {
  // A NaN in one block must not disturb statistics gathered in the others.
  std::vector<float> ref(20000, 2.0f);
  std::vector<float> cand = ref;
  cand[15] = 2.5f;
  ref[5000] = kNaN;
  cand[5000] = kNaN;
  cand[5001] = 2.75f;  // same block as the NaN
  cand[19999] = 1.0f;
  const CompareResult r = run(ref, cand, 0.0, 0.0);
  EXPECT_EQ(r.mismatches, 3);
  EXPECT_EQ(r.nonfinite_mismatches, 0);
  EXPECT_DOUBLE_EQ(r.max_abs, 1.0);
  EXPECT_EQ(r.worst_index, 19999);
  EXPECT_DOUBLE_EQ(r.min_passing_atol, 1.0);
}

TEST(Compare, RejectsBadArguments) {
  const std::vector<float> one = {1.0f};
  const std::vector<float> two = {1.0f, 2.0f};
  EXPECT_THROW(run(one, two), std::invalid_argument);
  EXPECT_THROW(run(one, one, -1.0, 0.0), std::invalid_argument);
  EXPECT_THROW(run(one, one, 0.0, std::nan("")), std::invalid_argument);
  EXPECT_THROW(run(one, one, kInfD, 0.0), std::invalid_argument);
}

TEST(BufferView, AcceptsCContiguousFloat32) {
  const std::vector<float> data(6, 1.0f);
  const std::vector<std::ptrdiff_t> shape = {2, 3};
  const std::vector<std::ptrdiff_t> strides = {12, 4};
  const deploykit::BufferView view{data.data(), "f", 4, shape, strides};
  const std::span<const float> span = deploykit::as_float32_span(view, "x");
  EXPECT_EQ(span.data(), data.data());  // zero-copy
  EXPECT_EQ(span.size(), 6u);
  // Axes of extent 1 may carry any stride.
  const std::vector<std::ptrdiff_t> shape1 = {1, 6};
  const std::vector<std::ptrdiff_t> strides1 = {999, 4};
  EXPECT_EQ(deploykit::as_float32_span({data.data(), "<f", 4, shape1, strides1}, "x").size(), 6u);
}

TEST(BufferView, RejectsWrongTypeLayoutAndShape) {
  const std::vector<float> data(6, 1.0f);
  const std::vector<std::ptrdiff_t> shape = {2, 3};
  const std::vector<std::ptrdiff_t> strided = {24, 8};
  const std::vector<std::ptrdiff_t> contiguous = {12, 4};
  const std::vector<std::ptrdiff_t> other_shape = {3, 2};
  const std::vector<std::ptrdiff_t> other_strides = {8, 4};
  EXPECT_THROW(deploykit::as_float32_span({data.data(), "d", 8, shape, contiguous}, "x"), deploykit::dtype_error);
  EXPECT_THROW(deploykit::as_float32_span({data.data(), ">f", 4, shape, contiguous}, "x"), deploykit::dtype_error);
  EXPECT_THROW(deploykit::as_float32_span({data.data(), "f", 4, shape, strided}, "x"), std::invalid_argument);
  const deploykit::BufferView a{data.data(), "f", 4, shape, contiguous};
  const deploykit::BufferView b{data.data(), "f", 4, other_shape, other_strides};
  EXPECT_THROW(compare(a, b, 0.0, 0.0), std::invalid_argument);
  EXPECT_TRUE(compare(a, a, 0.0, 0.0).passed);
}

}  // namespace
