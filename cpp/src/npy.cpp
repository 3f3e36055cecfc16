#include "deploykit/npy.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <stdexcept>

#include "deploykit/errors.hpp"

namespace deploykit {
namespace {

static_assert(std::endian::native == std::endian::little, "the .npy reader/writer copies little-endian data");

constexpr std::string_view kMagic = "\x93NUMPY";

[[noreturn]] void fail(std::string_view name, std::string_view why) {
  throw InputError(std::string(name) + ": " + std::string(why));
}

// The header is a Python dict literal, e.g.
//   {'descr': '<f4', 'fortran_order': False, 'shape': (64, 10), }
// This parser accepts exactly that grammar: string keys, and values that are a
// string, True/False, or a tuple of non-negative integers.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, std::string_view name) : text_(text), name_(name) {}

  struct Header {
    std::string descr;
    bool fortran_order = false;
    std::vector<std::int64_t> shape;
  };

  Header parse() {
    Header h;
    bool seen_descr = false, seen_fortran = false, seen_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        once(seen_descr, key);
        h.descr = string_literal();
      } else if (key == "fortran_order") {
        once(seen_fortran, key);
        h.fortran_order = boolean();
      } else if (key == "shape") {
        once(seen_shape, key);
        h.shape = tuple();
      } else {
        bad("unexpected header key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') bad("expected ',' or '}'");
    }
    ++pos_;  // '}'
    skip_space();
    if (pos_ != text_.size()) bad("trailing characters after the header dict");
    if (!seen_descr || !seen_fortran || !seen_shape) bad("header lacks one of 'descr', 'fortran_order', 'shape'");
    return h;
  }

 private:
  [[noreturn]] void bad(const std::string& why) const { fail(name_, "malformed .npy header: " + why); }

  void once(bool& seen, const std::string& key) const {
    if (seen) bad("duplicate key '" + key + "'");
    seen = true;
  }

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\t')) ++pos_;
  }

  void expect(char c) {
    skip_space();
    if (peek() != c) bad(std::string("expected '") + c + "'");
    ++pos_;
  }

  std::string string_literal() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') bad("expected a string");
    const std::size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) bad("unterminated string");
    std::string s(text_.substr(pos_ + 1, end - pos_ - 1));
    if (s.find('\\') != std::string::npos) bad("escapes in strings are not supported");
    pos_ = end + 1;
    return s;
  }

  bool boolean() {
    skip_space();
    for (const auto& [word, value] : {std::pair{std::string_view("True"), true}, {"False", false}}) {
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return value;
      }
    }
    bad("expected True or False");
  }

  std::int64_t integer() {
    skip_space();
    if (peek() == '-') bad("negative dimension in 'shape'");
    if (peek() < '0' || peek() > '9') bad("expected a non-negative integer in 'shape'");
    std::int64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      const int digit = peek() - '0';
      if (v > (std::numeric_limits<std::int64_t>::max() - digit) / 10) bad("dimension too large");
      v = v * 10 + digit;
      ++pos_;
    }
    return v;
  }

  std::vector<std::int64_t> tuple() {
    std::vector<std::int64_t> dims;
    expect('(');
    while (true) {
      skip_space();
      if (peek() == ')') break;
      if (dims.size() == kMaxRank) bad("rank over " + std::to_string(kMaxRank));
      dims.push_back(integer());
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != ')') bad("expected ',' or ')' in 'shape'");
    }
    ++pos_;  // ')'
    return dims;
  }

  std::string_view text_;
  std::string_view name_;
  std::size_t pos_ = 0;
};

std::uint32_t little_endian(std::span<const std::byte> b) {
  std::uint32_t v = 0;
  for (std::size_t i = b.size(); i-- > 0;) v = (v << 8) | std::to_integer<std::uint32_t>(b[i]);
  return v;
}

// The contract's descrs: the six of the table plus '<u1' and '<b1'.
std::optional<DType> dtype_of_descr(std::string_view descr) {
  if (descr == "<f4") return DType::kFloat32;
  if (descr == "<f2") return DType::kFloat16;
  if (descr == "<i4") return DType::kInt32;
  if (descr == "<i8") return DType::kInt64;
  if (descr == "|u1" || descr == "<u1") return DType::kUInt8;
  if (descr == "|b1" || descr == "<b1") return DType::kBool;
  return std::nullopt;
}

std::string_view descr_of(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return "<f4";
    case DType::kFloat16:
      return "<f2";
    case DType::kInt32:
      return "<i4";
    case DType::kInt64:
      return "<i8";
    case DType::kUInt8:
      return "|u1";
    case DType::kBool:
      return "|b1";
  }
  return "";
}

}  // namespace

Tensor parse_npy(std::span<const std::byte> bytes, std::string_view name) {
  const auto text_at = [&](std::size_t offset, std::size_t n) {
    return std::string_view(reinterpret_cast<const char*>(bytes.data()) + offset, n);
  };
  if (bytes.empty()) fail(name, "not a .npy file (empty)");
  if (bytes.size() < kMagic.size() + 2 || text_at(0, kMagic.size()) != kMagic)
    fail(name, "not a .npy file (bad magic)");
  const auto major = std::to_integer<int>(bytes[6]);
  const auto minor = std::to_integer<int>(bytes[7]);
  if (major < 1 || major > 3 || minor != 0)
    fail(name, "unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                   " (1.0, 2.0 and 3.0 are)");
  const std::size_t length_size = major == 1 ? 2 : 4;
  const std::size_t prefix = 8 + length_size;
  if (bytes.size() < prefix) fail(name, "truncated .npy header");
  const std::size_t header_len = little_endian(bytes.subspan(8, length_size));
  if (bytes.size() - prefix < header_len) fail(name, "truncated .npy header");

  const auto header = HeaderParser(text_at(prefix, header_len), name).parse();
  const std::optional<DType> dtype = dtype_of_descr(header.descr);
  if (!dtype)
    fail(name,
         "dtype '" + header.descr + "' is not supported (expected one of <f4 <f2 <i4 <i8 |u1 |b1, little-endian)");
  if (header.fortran_order) fail(name, "fortran_order True is not supported (expected C order)");

  std::int64_t count = 0;
  try {
    count = element_count(header.shape);
  } catch (const std::invalid_argument& e) {
    fail(name, e.what());
  }
  const std::size_t want = static_cast<std::size_t>(count) * dtype_size(*dtype);
  const std::size_t data_len = bytes.size() - prefix - header_len;
  if (data_len != want)
    fail(name, "header shape " + shape_string(header.shape) + " of " + std::string(dtype_name(*dtype)) + " needs " +
                   std::to_string(want) + " data bytes, the file has " + std::to_string(data_len));

  Tensor t(*dtype, header.shape);
  if (want != 0) std::memcpy(t.data.data(), bytes.data() + prefix + header_len, want);
  if (*dtype == DType::kBool) {
    for (std::size_t i = 0; i < t.data.size(); ++i)
      if (std::to_integer<unsigned>(t.data[i]) > 1)
        fail(name, "bool element " + std::to_string(i) + " is " + std::to_string(std::to_integer<unsigned>(t.data[i])) +
                       " (expected 0 or 1)");
  }
  return t;
}

Tensor read_npy(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail(path.string(), "no such file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.string(), "cannot open file");
  std::vector<char> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail(path.string(), "read error");
  return parse_npy(std::as_bytes(std::span(raw)), path.string());
}

std::vector<std::byte> encode_npy(const Tensor& t) {
  if (t.shape.size() > kMaxRank || t.data.size() != static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype))
    throw std::invalid_argument("encode_npy: data do not match the dtype and shape");
  std::string header = "{'descr': '" + std::string(descr_of(t.dtype)) +
                       "', 'fortran_order': False, 'shape': " + shape_string(t.shape) + ", }";
  // magic (6) + version (2) + length (2) + header + '\n', padded to 64 bytes.
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');

  std::vector<std::byte> out;
  out.reserve(10 + header.size() + t.data.size());
  const auto put = [&out](std::string_view s) {
    for (char c : s) out.push_back(static_cast<std::byte>(c));
  };
  put(kMagic);
  out.push_back(std::byte{1});
  out.push_back(std::byte{0});
  out.push_back(static_cast<std::byte>(header.size() & 0xff));
  out.push_back(static_cast<std::byte>(header.size() >> 8));
  put(header);
  out.insert(out.end(), t.data.begin(), t.data.end());
  return out;
}

void write_npy(const std::filesystem::path& path, const Tensor& t) {
  const std::vector<std::byte> bytes = encode_npy(t);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail(path.string(), "cannot open file for writing");
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) fail(path.string(), "write error");
}

}  // namespace deploykit
