#include "deploykit/sha256.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <memory>
#include <system_error>

#include <openssl/evp.h>

#include "deploykit/errors.hpp"

namespace deploykit {
namespace {

struct DigestDeleter {
  void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};

// Incremental sha256 over an owned EVP context.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1)
      throw std::runtime_error("sha256: OpenSSL EVP initialisation failed");
  }
  void update(std::span<const std::byte> data) {
    if (EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) != 1)
      throw std::runtime_error("sha256: OpenSSL EVP update failed");
  }
  std::string hex() {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx_.get(), digest.data(), &len) != 1)
      throw std::runtime_error("sha256: OpenSSL EVP final failed");
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * len);
    for (unsigned int i = 0; i < len; ++i) {
      out.push_back(kHex[digest[i] >> 4]);
      out.push_back(kHex[digest[i] & 0xf]);
    }
    return out;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, DigestDeleter> ctx_;
};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace

std::string sha256_hex(std::span<const std::byte> data) {
  Sha256 h;
  h.update(data);
  return h.hex();
}

std::string sha256_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelError(path.string() + ": cannot open file");
  Sha256 h;
  std::array<char, 1 << 16> buffer{};
  while (in) {
    in.read(buffer.data(), buffer.size());
    h.update(std::as_bytes(std::span(buffer.data(), static_cast<std::size_t>(in.gcount()))));
  }
  if (in.bad()) throw ModelError(path.string() + ": read error");
  return h.hex();
}

void verify_file(const std::filesystem::path& path, std::string_view expected_hex, std::int64_t expected_bytes,
                 std::string_view what) {
  const std::string prefix = std::string(what) + ": ";
  std::error_code ec;
  const auto status = std::filesystem::symlink_status(path, ec);
  if (ec || !std::filesystem::exists(status)) throw ModelError(prefix + "missing file " + path.string());
  if (std::filesystem::is_symlink(status)) throw ModelError(prefix + "refusing a symlink: " + path.string());
  if (!std::filesystem::is_regular_file(status)) throw ModelError(prefix + "not a regular file: " + path.string());
  if (expected_bytes >= 0) {
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) throw ModelError(prefix + "cannot stat " + path.string());
    if (static_cast<std::int64_t>(size) != expected_bytes)
      throw ModelError(prefix + "size mismatch for " + path.string() + " (manifest " + std::to_string(expected_bytes) +
                       " bytes, file " + std::to_string(size) + ")");
  }
  const std::string actual = sha256_file(path);
  if (actual != lower(expected_hex))
    throw ModelError(prefix + "sha256 mismatch for " + path.string() + " (manifest " + std::string(expected_hex) +
                     ", file " + actual + ")");
}

}  // namespace deploykit
