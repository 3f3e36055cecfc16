// File integrity: sha256 via OpenSSL's EVP interface.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace deploykit {

// Lower-case hex sha256 of `data`.
std::string sha256_hex(std::span<const std::byte> data);

// Lower-case hex sha256 of a regular file's bytes, read in chunks.
// Throws ModelError if it cannot be read.
std::string sha256_file(const std::filesystem::path& path);

// Refuses (ModelError) unless `path` is a regular file, not a symlink, whose
// size is `expected_bytes` (when >= 0) and whose sha256 is `expected_hex`
// (compared case-insensitively). `what` names the artifact in the message.
void verify_file(const std::filesystem::path& path, std::string_view expected_hex, std::int64_t expected_bytes,
                 std::string_view what);

}  // namespace deploykit
