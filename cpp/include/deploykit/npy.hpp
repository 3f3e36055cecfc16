// A strict reader and writer for the one tensor file the contract allows
// (DESIGN.md, "Tensor files"): NumPy .npy format 1.0 or 2.0, dtype '<f4', C
// order, two dimensions (rows, features). Anything else is rejected with an
// InputError: another dtype, big-endian data, fortran_order True, another rank,
// a header that is malformed or lies about the data length, trailing bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace deploykit {

// A row-major float32 matrix that owns its values.
struct Matrix {
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::vector<float> values;  // rows * cols, row-major
};

// A non-owning row-major float32 matrix; values.size() must be rows * cols.
struct MatrixView {
  std::span<const float> values;
  std::int64_t rows = 0;
  std::int64_t cols = 0;

  MatrixView() = default;
  MatrixView(std::span<const float> v, std::int64_t r, std::int64_t c) : values(v), rows(r), cols(c) {}
  MatrixView(const Matrix& m) : values(m.values), rows(m.rows), cols(m.cols) {}  // NOLINT: implicit on purpose
};

// Parses the bytes of a .npy file. `name` (e.g. the file path) prefixes errors.
// Throws InputError.
Matrix parse_npy(std::span<const std::byte> bytes, std::string_view name);

// Reads and parses a .npy file. Throws InputError (also for a missing file).
Matrix read_npy(const std::filesystem::path& path);

// The bytes of a format 1.0 .npy file holding `m` as '<f4', C order; the header
// is padded so the data starts at a multiple of 64 bytes, as NumPy does.
// Throws std::invalid_argument if m.values.size() != rows * cols.
std::vector<std::byte> encode_npy(MatrixView m);

// Writes encode_npy(m) to `path`. Throws InputError if the file cannot be written.
void write_npy(const std::filesystem::path& path, MatrixView m);

}  // namespace deploykit
