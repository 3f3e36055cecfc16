#include "deploykit/npy.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <span>

#include <gtest/gtest.h>

#include "deploykit/errors.hpp"
#include "test_util.hpp"

namespace deploykit {
namespace {

using testing::bytes_of;
using testing::TempDir;

// A .npy file with a hand-written header (version 1.0, 2.0 or 3.0) and raw data.
std::vector<std::byte> npy(std::string_view header, std::size_t data_bytes, int major = 1) {
  std::string h(header);
  const std::size_t prefix = major == 1 ? 10 : 12;  // versions 2.0 and 3.0: a 4-byte length
  h.append((64 - (prefix + h.size() + 1) % 64) % 64, ' ');
  h.push_back('\n');
  std::string out = "\x93NUMPY";
  out.push_back(static_cast<char>(major));
  out.push_back('\0');
  const std::size_t n = h.size();
  out.push_back(static_cast<char>(n & 0xff));
  out.push_back(static_cast<char>((n >> 8) & 0xff));
  if (major >= 2) out.append(2, '\0');
  out += h;
  std::vector<std::byte> bytes = bytes_of(out);
  for (std::size_t i = 0; i < data_bytes; ++i) bytes.push_back(static_cast<std::byte>(i));
  return bytes;
}

constexpr std::string_view kGood = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";

void expect_rejected(const std::vector<std::byte>& bytes, std::string_view why) {
  try {
    parse_npy(bytes, "x.npy");
    FAIL() << "accepted a file that should be rejected (" << why << ")";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "message spans lines";
  }
}

TEST(Npy, RoundTripKeepsShapeAndBits) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> v{1.5f, -0.0f, nan, inf, -inf, std::numeric_limits<float>::denorm_min()};
  const Tensor t = Tensor::of({2, 3}, std::span<const float>(v));
  const Tensor back = parse_npy(encode_npy(t), "mem");
  EXPECT_EQ(back.dtype, DType::kFloat32);
  EXPECT_EQ(back.shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(back.data, t.data);  // bit for bit, NaN included
}

TEST(Npy, EveryDtypeRoundTripsAtRanks0To8) {
  for (const DType d : {DType::kFloat32, DType::kFloat16, DType::kInt32, DType::kInt64, DType::kUInt8, DType::kBool}) {
    for (std::size_t rank = 0; rank <= kMaxRank; ++rank) {
      std::vector<std::int64_t> shape(rank, 1);
      if (rank > 0) shape.front() = 3;
      Tensor t(d, shape);
      for (std::size_t i = 0; i < t.data.size(); ++i)
        t.data[i] = static_cast<std::byte>(d == DType::kBool ? i % 2 : i * 7);
      const Tensor back = parse_npy(encode_npy(t), "mem");
      EXPECT_EQ(back, t) << dtype_name(d) << " rank " << rank;
    }
  }
}

TEST(Npy, RoundTripThroughAFile) {
  const TempDir dir;
  const std::vector<std::int64_t> v{1, -2, 3};
  const Tensor t = Tensor::of(DType::kInt64, {3}, std::span<const std::int64_t>(v));
  write_npy(dir / "a.npy", t);
  EXPECT_EQ(read_npy(dir / "a.npy"), t);
}

TEST(Npy, EncodedHeaderIsNumpyCompatible) {
  const std::vector<std::byte> b = encode_npy(Tensor(DType::kFloat32, {1, 2}));
  const std::size_t header_len = std::to_integer<std::size_t>(b[8]) | (std::to_integer<std::size_t>(b[9]) << 8);
  EXPECT_EQ((10 + header_len) % 64, 0u);  // data aligned as NumPy writes it
  const std::string header(reinterpret_cast<const char*>(b.data()) + 10, header_len);
  EXPECT_EQ(header.back(), '\n');
  EXPECT_EQ(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", 0), 0u);
  const auto header_of = [](const Tensor& t) {
    const std::vector<std::byte> e = encode_npy(t);
    return std::string(reinterpret_cast<const char*>(e.data()) + 10, 60);
  };
  EXPECT_EQ(header_of(Tensor(DType::kBool, {3})).rfind("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", 0),
            0u);
  EXPECT_EQ(header_of(Tensor(DType::kUInt8, {})).rfind("{'descr': '|u1', 'fortran_order': False, 'shape': (), }", 0),
            0u);
  EXPECT_EQ(header_of(Tensor(DType::kFloat16, {2})).rfind("{'descr': '<f2'", 0), 0u);
}

TEST(Npy, EmptyBatchRoundTrips) {
  const Tensor back = parse_npy(encode_npy(Tensor(DType::kFloat32, {0, 10})), "mem");
  EXPECT_EQ(back.shape, (std::vector<std::int64_t>{0, 10}));
  EXPECT_TRUE(back.data.empty());
}

TEST(Npy, AcceptsVersions2And3AndKeyOrderAndDoubleQuotes) {
  EXPECT_EQ(parse_npy(npy(kGood, 24, 2), "v2").shape.front(), 2);
  EXPECT_EQ(parse_npy(npy(kGood, 24, 3), "v3").shape.front(), 2);
  const Tensor m = parse_npy(npy("{\"shape\": (2,3), \"fortran_order\": False, \"descr\": \"<f4\"}", 24), "x");
  EXPECT_EQ(m.shape, (std::vector<std::int64_t>{2, 3}));
}

TEST(Npy, AcceptsLittleEndianSpellingsOfBytes) {
  EXPECT_EQ(parse_npy(npy("{'descr': '<u1', 'fortran_order': False, 'shape': (2,), }", 2), "u").dtype, DType::kUInt8);
  EXPECT_EQ(parse_npy(npy("{'descr': '<b1', 'fortran_order': False, 'shape': (1,), }", 1), "b").dtype, DType::kBool);
}

TEST(Npy, RejectsBoolBytesOtherThan0And1) {
  std::vector<std::byte> b = npy("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", 0);
  for (int v : {1, 0, 2}) b.push_back(static_cast<std::byte>(v));
  expect_rejected(b, "bool element 2 is 2");
}

TEST(Npy, RejectsOtherDtypes) {
  expect_rejected(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", 48), "dtype '<f8'");
  expect_rejected(npy("{'descr': '<u2', 'fortran_order': False, 'shape': (2, 3), }", 12), "dtype '<u2'");
  expect_rejected(npy("{'descr': '|i1', 'fortran_order': False, 'shape': (2, 3), }", 6), "dtype '|i1'");
  expect_rejected(npy("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", 16), "dtype '|O'");
}

TEST(Npy, RejectsBigEndian) {
  expect_rejected(npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", 24), "dtype '>f4'");
  expect_rejected(npy("{'descr': '>i8', 'fortran_order': False, 'shape': (2, 3), }", 48), "dtype '>i8'");
}

TEST(Npy, RejectsFortranOrder) {
  expect_rejected(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24), "fortran_order True");
}

TEST(Npy, RejectsRanksOver8) {
  expect_rejected(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1), }", 4),
                  "rank over 8");
}

TEST(Npy, RejectsTruncatedData) { expect_rejected(npy(kGood, 20), "needs 24 data bytes, the file has 20"); }

TEST(Npy, RejectsAHeaderThatLies) {
  expect_rejected(npy(kGood, 28), "needs 24 data bytes, the file has 28");  // trailing bytes
  expect_rejected(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }", 24), "needs 48");
}

TEST(Npy, RejectsOverflowingShape) {
  expect_rejected(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", 0), "too large");
  expect_rejected(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 4), }", 0),
                  "too large");
}

TEST(Npy, RejectsBadMagicVersionAndTruncatedHeader) {
  expect_rejected(bytes_of("PK\x03\x04 not numpy"), "bad magic");
  std::vector<std::byte> v4 = npy(kGood, 24);
  v4[6] = std::byte{4};
  expect_rejected(v4, "version 4.0");
  std::vector<std::byte> cut = npy(kGood, 0);
  cut.resize(30);
  expect_rejected(cut, "truncated .npy header");
  expect_rejected(bytes_of("\x93NUMPY\x01"), "bad magic");
  expect_rejected({}, "empty");
}

TEST(Npy, RejectsMalformedHeaders) {
  expect_rejected(npy("{'descr': '<f4', 'shape': (2, 3), }", 24), "lacks");
  expect_rejected(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", 24),
                  "unexpected header key");
  expect_rejected(npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}", 24), "duplicate");
  expect_rejected(npy("{'descr': '<f4', 'fortran_order': Fals, 'shape': (2, 3)}", 24), "True or False");
  expect_rejected(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}", 24), "negative dimension");
  expect_rejected(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)} x", 24), "trailing");
  expect_rejected(npy("{'descr: '<f4', 'fortran_order': False, 'shape': (2, 3)}", 24), "malformed");
  expect_rejected(npy("['descr', '<f4']", 24), "expected '{'");
}

TEST(Npy, MissingFileIsAnInputError) { EXPECT_THROW(read_npy("/nonexistent/deploykit/x.npy"), InputError); }

TEST(Npy, EncodeRejectsInconsistentTensors) {
  Tensor t(DType::kFloat32, {2, 3});
  t.data.resize(20);
  EXPECT_THROW(encode_npy(t), std::invalid_argument);
  const std::vector<float> v(5);
  EXPECT_THROW(Tensor::of({2, 3}, std::span<const float>(v)), std::invalid_argument);
}

TEST(Tensor, Float16ConversionIsExactAndRoundsToNearestEven) {
  EXPECT_EQ(half_to_float(0x3c00), 1.0f);
  EXPECT_EQ(half_to_float(0xc000), -2.0f);
  EXPECT_EQ(half_to_float(0x7bff), 65504.0f);
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_TRUE(std::isnan(half_to_float(0x7e00)));
  EXPECT_EQ(half_to_float(0xfc00), -std::numeric_limits<float>::infinity());
  for (std::uint32_t h = 0; h < 0x10000; ++h) {  // every finite half survives the round trip
    if ((h & 0x7c00) == 0x7c00) continue;
    ASSERT_EQ(float_to_half(half_to_float(static_cast<std::uint16_t>(h))), h) << h;
  }
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie -> even
  EXPECT_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(float_to_half(65520.0f), 0x7c00);  // rounds past the largest half
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -26)), 0x0000);
  EXPECT_EQ((float_to_half(std::numeric_limits<float>::quiet_NaN()) & 0x7c00), 0x7c00);
}

}  // namespace
}  // namespace deploykit
