#include "deploykit/sha256.hpp"

#include <gtest/gtest.h>

#include "deploykit/errors.hpp"
#include "test_util.hpp"

namespace deploykit {
namespace {

using testing::TempDir;
using testing::write_file;

constexpr std::string_view kAbcHash = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";  // FIPS 180-2

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(testing::bytes_of("abc")), kAbcHash);
  EXPECT_EQ(sha256_hex({}), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256, FileHashMatchesInMemoryHashAcrossChunks) {
  const TempDir dir;
  std::string big(200'000, 'x');  // several read chunks
  for (std::size_t i = 0; i < big.size(); i += 7) big[i] = static_cast<char>(i);
  write_file(dir / "big", big);
  EXPECT_EQ(sha256_file(dir / "big"), sha256_hex(testing::bytes_of(big)));
}

TEST(Sha256, VerifyAcceptsAMatchCaseInsensitively) {
  const TempDir dir;
  write_file(dir / "a", "abc");
  std::string upper(kAbcHash);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_NO_THROW(verify_file(dir / "a", upper, 3, "a"));
  EXPECT_NO_THROW(verify_file(dir / "a", kAbcHash, -1, "a"));
}

void expect_refused(const std::filesystem::path& p, std::string_view hash, std::int64_t bytes, std::string_view why) {
  try {
    verify_file(p, hash, bytes, "artifact");
    FAIL() << "accepted (" << why << ")";
  } catch (const ModelError& e) {
    EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
  }
}

TEST(Sha256, VerifyRefusesMismatchSizeMissingAndSymlinks) {
  const TempDir dir;
  write_file(dir / "a", "abd");
  expect_refused(dir / "a", kAbcHash, 3, "sha256 mismatch");
  expect_refused(dir / "a", kAbcHash, 4, "size mismatch");
  expect_refused(dir / "missing", kAbcHash, 3, "missing file");
  write_file(dir / "b", "abc");
  std::filesystem::create_symlink(dir / "b", dir / "link");
  expect_refused(dir / "link", kAbcHash, 3, "symlink");
  expect_refused(dir.path(), kAbcHash, 3, "not a regular file");
}

}  // namespace
}  // namespace deploykit
