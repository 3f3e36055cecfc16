#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "deploykit/errors.hpp"
#include "deploykit/npy.hpp"
#include "test_util.hpp"

namespace deploykit {
namespace {

using testing::bytes_of;
using testing::TempDir;

// A .npy file with a hand-written header (version 1.0 or 2.0) and raw data.
std::vector<std::byte> npy(std::string_view header, std::size_t data_bytes, int major = 1) {
  std::string h(header);
  const std::size_t prefix = major == 1 ? 10 : 12;
  h.append((64 - (prefix + h.size() + 1) % 64) % 64, ' ');
  h.push_back('\n');
  std::string out = "\x93NUMPY";
  out.push_back(static_cast<char>(major));
  out.push_back('\0');
  const std::size_t n = h.size();
  out.push_back(static_cast<char>(n & 0xff));
  out.push_back(static_cast<char>((n >> 8) & 0xff));
  if (major == 2) out.append(2, '\0');
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
  const Matrix m{2, 3, {1.5f, -0.0f, nan, inf, -inf, std::numeric_limits<float>::denorm_min()}};
  const Matrix back = parse_npy(encode_npy(m), "mem");
  ASSERT_EQ(back.rows, 2);
  ASSERT_EQ(back.cols, 3);
  ASSERT_EQ(back.values.size(), 6u);
  EXPECT_EQ(std::memcmp(back.values.data(), m.values.data(), 6 * sizeof(float)), 0);
}

TEST(Npy, RoundTripThroughAFile) {
  const TempDir dir;
  const Matrix m{3, 1, {1, 2, 3}};
  write_npy(dir / "a.npy", m);
  const Matrix back = read_npy(dir / "a.npy");
  EXPECT_EQ(back.rows, 3);
  EXPECT_EQ(back.cols, 1);
  EXPECT_EQ(back.values, m.values);
}

TEST(Npy, EncodedHeaderIsNumpyCompatible) {
  const std::vector<std::byte> b = encode_npy(Matrix{1, 2, {0, 0}});
  const std::size_t header_len = std::to_integer<std::size_t>(b[8]) | (std::to_integer<std::size_t>(b[9]) << 8);
  EXPECT_EQ((10 + header_len) % 64, 0u);  // data aligned as NumPy writes it
  const std::string header(reinterpret_cast<const char*>(b.data()) + 10, header_len);
  EXPECT_EQ(header.back(), '\n');
  EXPECT_EQ(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", 0), 0u);
}

TEST(Npy, EmptyBatchRoundTrips) {
  const Matrix back = parse_npy(encode_npy(Matrix{0, 10, {}}), "mem");
  EXPECT_EQ(back.rows, 0);
  EXPECT_EQ(back.cols, 10);
}

TEST(Npy, AcceptsVersion2AndKeyOrderAndDoubleQuotes) {
  EXPECT_EQ(parse_npy(npy(kGood, 24, 2), "v2").rows, 2);
  const Matrix m = parse_npy(npy("{\"shape\": (2,3), \"fortran_order\": False, \"descr\": \"<f4\"}", 24), "x");
  EXPECT_EQ(m.rows, 2);
  EXPECT_EQ(m.cols, 3);
}

TEST(Npy, RejectsOtherDtypes) {
  expect_rejected(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", 48), "dtype '<f8'");
  expect_rejected(npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", 24), "dtype '<i4'");
  expect_rejected(npy("{'descr': '<f2', 'fortran_order': False, 'shape': (2, 3), }", 12), "dtype '<f2'");
}

TEST(Npy, RejectsBigEndian) {
  expect_rejected(npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", 24), "dtype '>f4'");
}

TEST(Npy, RejectsFortranOrder) {
  expect_rejected(npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24), "fortran_order True");
}

TEST(Npy, RejectsOtherRanks) {
  expect_rejected(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", 24), "2-D");
  expect_rejected(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3), }", 24), "2-D");
  expect_rejected(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4), "2-D");
}

TEST(Npy, RejectsTruncatedData) { expect_rejected(npy(kGood, 20), "needs 24 data bytes, the file has 20"); }

TEST(Npy, RejectsAHeaderThatLies) {
  expect_rejected(npy(kGood, 28), "needs 24 data bytes, the file has 28");  // trailing bytes
  expect_rejected(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3), }", 24), "needs 48");
}

TEST(Npy, RejectsOverflowingShape) {
  expect_rejected(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", 0),
                  "too large");
  expect_rejected(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 4), }", 0),
                  "too large");
}

TEST(Npy, RejectsBadMagicVersionAndTruncatedHeader) {
  expect_rejected(bytes_of("PK\x03\x04 not numpy"), "bad magic");
  std::vector<std::byte> v3 = npy(kGood, 24);
  v3[6] = std::byte{3};
  expect_rejected(v3, "version 3.0");
  std::vector<std::byte> cut = npy(kGood, 0);
  cut.resize(30);
  expect_rejected(cut, "truncated .npy header");
  expect_rejected(bytes_of("\x93NUMPY\x01"), "bad magic");
}

TEST(Npy, RejectsMalformedHeaders) {
  expect_rejected(npy("{'descr': '<f4', 'shape': (2, 3), }", 24), "lacks");
  expect_rejected(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", 24), "unexpected header key");
  expect_rejected(npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}", 24), "duplicate");
  expect_rejected(npy("{'descr': '<f4', 'fortran_order': Fals, 'shape': (2, 3)}", 24), "True or False");
  expect_rejected(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}", 24), "non-negative");
  expect_rejected(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)} x", 24), "trailing");
  expect_rejected(npy("{'descr: '<f4', 'fortran_order': False, 'shape': (2, 3)}", 24), "malformed");
  expect_rejected(npy("['descr', '<f4']", 24), "expected '{'");
}

TEST(Npy, MissingFileIsAnInputError) {
  EXPECT_THROW(read_npy("/nonexistent/deploykit/x.npy"), InputError);
}

TEST(Npy, EncodeRejectsInconsistentViews) {
  const std::vector<float> v(5);
  EXPECT_THROW(encode_npy(MatrixView(v, 2, 3)), std::invalid_argument);
}

}  // namespace
}  // namespace deploykit
