// The contract's input checks and boundary casts (checks.hpp), each message.
#include "deploykit/checks.hpp"

#include <limits>

#include <gtest/gtest.h>

#include "deploykit/errors.hpp"

namespace deploykit {
namespace {

ModelEntry two_inputs() {
  ModelEntry m;
  m.id = "m";
  m.inputs = {{"tokens", DType::kInt64, {{0, "batch"}, {0, "seq"}}, std::nullopt},
              {"mask", DType::kFloat32, {{0, "batch"}, {0, "seq"}}, std::nullopt},
              {"scale", DType::kFloat16, {}, std::nullopt},
              {"image", DType::kUInt8, {{0, "batch"}, {3, ""}}, std::nullopt}};
  m.outputs = {{"logits", DType::kFloat32, {{0, "batch"}, {0, "seq"}, {5, ""}}, std::nullopt},
               {"flags", DType::kBool, {{0, "batch"}}, std::nullopt}};
  m.dims = {{"batch", {1, std::nullopt}}, {"seq", {1, 64}}};
  return m;
}

TensorMap good(std::int64_t batch = 2, std::int64_t seq = 5) {
  TensorMap t;
  t.emplace("tokens", Tensor(DType::kInt64, {batch, seq}));
  t.emplace("mask", Tensor(DType::kFloat32, {batch, seq}));
  t.emplace("scale", Tensor(DType::kFloat16, {}));
  t.emplace("image", Tensor(DType::kUInt8, {batch, 3}));
  return t;
}

void expect_refused(const TensorMap& inputs, const std::string& message, const Artifact* artifact = nullptr) {
  try {
    check_inputs(two_inputs(), inputs, artifact);
    FAIL() << "accepted (" << message << ")";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), message);
  }
}

TEST(Checks, AcceptsAValidCallAndBindsItsDims) {
  const DimBindings bound = check_inputs(two_inputs(), good(3, 64));
  EXPECT_EQ(bound, (DimBindings{{"batch", 3}, {"seq", 64}}));
}

TEST(Checks, NamesComeFirst) {
  TensorMap t = good();
  t.emplace("extra", Tensor(DType::kFloat32, {}));
  t.erase("mask");  // the unknown name is reported before the missing one
  expect_refused(t, "input extra: unknown input \"extra\" (model inputs: tokens, mask, scale, image)");
  t.erase("extra");
  expect_refused(t, "input mask: missing (model inputs: tokens, mask, scale, image)");
}

TEST(Checks, DtypeRankAndFixedDims) {
  TensorMap t = good();
  t.at("tokens") = Tensor(DType::kInt32, {2, 5});
  expect_refused(t, "input tokens: expected int64, got int32");
  t = good();
  t.at("tokens") = Tensor(DType::kInt64, {5});
  expect_refused(t, "input tokens: rank is 1, expected 2 (shape (5,))");
  t = good();
  t.at("scale") = Tensor(DType::kFloat16, {1});
  expect_refused(t, "input scale: rank is 1, expected 0 (shape (1,))");
  t = good();
  t.at("image") = Tensor(DType::kUInt8, {2, 4});
  expect_refused(t, "input image: dim 1 is 4, expected 3");
}

TEST(Checks, DynamicDimsStayInRangeAndAgree) {
  expect_refused(good(2, 65), "input tokens: dim 1 (seq) is 65, outside [1, 64]");
  expect_refused(good(2, 0), "input tokens: dim 1 (seq) is 0, outside [1, 64]");
  expect_refused(good(0, 5), "input tokens: dim 0 (batch) is 0, outside [1, inf]");
  TensorMap t = good();
  t.at("mask") = Tensor(DType::kFloat32, {3, 5});
  expect_refused(t, "input mask: dim 0 (batch) is 3, but input tokens has 2");
  t = good();
  t.at("image") = Tensor(DType::kUInt8, {4, 3});
  expect_refused(t, "input image: dim 0 (batch) is 4, but input tokens has 2");
}

TEST(Checks, ABadInputIsReportedBeforeTheCheckOfALaterStep) {
  TensorMap t = good(2, 80);                      // step 5 fails for tokens ...
  t.at("image") = Tensor(DType::kUInt8, {2, 4});  // ... but step 4 fails first
  expect_refused(t, "input image: dim 1 is 4, expected 3");
}

TEST(Checks, BoundaryCastsMustFit) {
  Artifact a;
  a.boundary_dtypes = {{"tokens", DType::kInt32}, {"scale", DType::kFloat32}};
  TensorMap t = good();
  auto values = t.at("tokens").view<std::int64_t>();
  values[3] = std::numeric_limits<std::int32_t>::max();
  values[4] = std::numeric_limits<std::int32_t>::min();
  EXPECT_NO_THROW(check_inputs(two_inputs(), t, &a));
  values[5] = std::int64_t{1} << 31;
  expect_refused(t, "input tokens: value 2147483648 at index 5 does not fit int32", &a);
  EXPECT_NO_THROW(check_inputs(two_inputs(), t));  // no cast, no limit
  values[5] = -3000000000;
  expect_refused(t, "input tokens: value -3000000000 at index 5 does not fit int32", &a);
}

TEST(Checks, CastsConvertValues) {
  const std::vector<std::int64_t> v{-7, 0, 2147483647};
  const Tensor i64 = Tensor::of(DType::kInt64, {3}, std::span<const std::int64_t>(v));
  const Tensor i32 = cast_tensor(i64, DType::kInt32, "x");
  EXPECT_EQ(std::vector<std::int32_t>(i32.view<std::int32_t>().begin(), i32.view<std::int32_t>().end()),
            (std::vector<std::int32_t>{-7, 0, 2147483647}));
  EXPECT_EQ(cast_tensor(i32, DType::kInt64, "x"), i64);

  const std::vector<std::uint8_t> b{1, 0, 1};
  const Tensor flags = Tensor::of(DType::kBool, {3}, std::span<const std::uint8_t>(b));
  const Tensor widened = cast_tensor(flags, DType::kInt32, "x");
  EXPECT_EQ(cast_tensor(widened, DType::kBool, "x"), flags);
  const std::vector<std::int32_t> two{0, 2};
  EXPECT_THROW(cast_tensor(Tensor::of(DType::kInt32, {2}, std::span<const std::int32_t>(two)), DType::kBool, "y"),
               InputError);
  const std::vector<std::int32_t> big{255, 256};
  EXPECT_THROW(cast_tensor(Tensor::of(DType::kInt32, {2}, std::span<const std::int32_t>(big)), DType::kUInt8, "z"),
               InputError);

  const std::vector<std::uint16_t> h{0x3c00, 0xfc00, 0x0001};
  const Tensor f16 = Tensor::of(DType::kFloat16, {3}, std::span<const std::uint16_t>(h));
  const Tensor f32 = cast_tensor(f16, DType::kFloat32, "x");
  EXPECT_EQ(f32.view<float>()[0], 1.0f);
  EXPECT_EQ(f32.view<float>()[1], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(cast_tensor(f32, DType::kFloat16, "x"), f16);
  EXPECT_THROW(cast_tensor(f32, DType::kInt32, "x"), InputError);
}

TEST(Checks, OutputsMustMatchTheirSpecsAndTheInputsDims) {
  const ModelEntry m = two_inputs();
  const DimBindings bound{{"batch", 2}, {"seq", 5}};
  TensorMap out;
  out.emplace("logits", Tensor(DType::kFloat32, {2, 5, 5}));
  out.emplace("flags", Tensor(DType::kBool, {2}));
  EXPECT_NO_THROW(check_outputs(m, out, bound, "predict x"));
  out.at("flags") = Tensor(DType::kBool, {3});
  EXPECT_THROW(check_outputs(m, out, bound, "predict x"), ModelError);
  out.at("flags") = Tensor(DType::kUInt8, {2});
  EXPECT_THROW(check_outputs(m, out, bound, "predict x"), ModelError);
  out.at("flags") = Tensor(DType::kBool, {2});
  out.at("logits") = Tensor(DType::kFloat32, {2, 5, 4});
  try {
    check_outputs(m, out, bound, "predict x");
    FAIL();
  } catch (const ModelError& e) {
    EXPECT_EQ(std::string(e.what()), "predict x: output logits: dim 2 is 4, expected 5");
  }
}

}  // namespace
}  // namespace deploykit
