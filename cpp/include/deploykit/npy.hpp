// A strict reader and writer of the contract's tensor files (docs/contract.md, "Tensor
// files: .npy"): NumPy format 1.0/2.0/3.0, the descrs <f4 <f2 <i4 <i8 |u1 |b1 (and <u1,
// <b1), C order, rank 0-8, any dim including 0. Anything else is an InputError: another
// dtype, big-endian data, Fortran order, a malformed header, a data length that differs
// from the shape, a bool byte other than 0 or 1.
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>
#include <string_view>
#include <vector>

#include "deploykit/tensor.hpp"

namespace deploykit {

// Parses the bytes of a .npy file. `name` (e.g. the file path) prefixes errors.
Tensor parse_npy(std::span<const std::byte> bytes, std::string_view name);

// Reads and parses a .npy file. Throws InputError (also for a missing file).
Tensor read_npy(const std::filesystem::path& path);

// The bytes of a format 1.0 .npy file holding `t` with the table's descr; the header is
// padded so the data starts at a multiple of 64 bytes, as NumPy does. Throws
// std::invalid_argument if the data do not match the dtype and shape.
std::vector<std::byte> encode_npy(const Tensor& t);

// Writes encode_npy(t) to `path`. Throws InputError if the file cannot be written.
void write_npy(const std::filesystem::path& path, const Tensor& t);

}  // namespace deploykit
