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

static_assert(std::endian::native == std::endian::little,
              "the .npy reader/writer copies '<f4' data as native floats");
static_assert(sizeof(float) == 4 && std::numeric_limits<float>::is_iec559);

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
    if (!seen_descr || !seen_fortran || !seen_shape)
      bad("header lacks one of 'descr', 'fortran_order', 'shape'");
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

}  // namespace

Matrix parse_npy(std::span<const std::byte> bytes, std::string_view name) {
  const auto text_at = [&](std::size_t offset, std::size_t n) {
    return std::string_view(reinterpret_cast<const char*>(bytes.data()) + offset, n);
  };
  if (bytes.size() < kMagic.size() + 2 || text_at(0, kMagic.size()) != kMagic)
    fail(name, "not a .npy file (bad magic)");
  const auto major = std::to_integer<int>(bytes[6]);
  const auto minor = std::to_integer<int>(bytes[7]);
  if ((major != 1 && major != 2) || minor != 0)
    fail(name, "unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                   " (1.0 and 2.0 are)");
  const std::size_t length_size = major == 1 ? 2 : 4;
  const std::size_t prefix = 8 + length_size;
  if (bytes.size() < prefix) fail(name, "truncated .npy header");
  const std::size_t header_len = little_endian(bytes.subspan(8, length_size));
  if (bytes.size() - prefix < header_len) fail(name, "truncated .npy header");

  const auto header = HeaderParser(text_at(prefix, header_len), name).parse();
  if (header.descr != "<f4")
    fail(name, "dtype '" + header.descr + "' is not supported (expected little-endian float32 '<f4')");
  if (header.fortran_order) fail(name, "fortran_order True is not supported (expected C order)");
  if (header.shape.size() != 2)
    fail(name, "expected a 2-D array (rows, features), got " + std::to_string(header.shape.size()) + " dimensions");

  const auto [rows, cols] = std::pair{header.shape[0], header.shape[1]};
  const auto max_elements = static_cast<std::int64_t>(std::numeric_limits<std::int64_t>::max() / sizeof(float));
  if (cols != 0 && rows > max_elements / cols) fail(name, "shape is too large");
  const auto count = static_cast<std::size_t>(rows * cols);
  const std::size_t data_len = bytes.size() - prefix - header_len;
  if (data_len != count * sizeof(float))
    fail(name, "header shape (" + std::to_string(rows) + ", " + std::to_string(cols) + ") needs " +
                   std::to_string(count * sizeof(float)) + " data bytes, the file has " + std::to_string(data_len));

  Matrix m{rows, cols, std::vector<float>(count)};
  if (count != 0) std::memcpy(m.values.data(), bytes.data() + prefix + header_len, data_len);
  return m;
}

Matrix read_npy(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.string(), "cannot open file");
  std::vector<char> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail(path.string(), "read error");
  return parse_npy(std::as_bytes(std::span(raw)), path.string());
}

std::vector<std::byte> encode_npy(MatrixView m) {
  if (m.rows < 0 || m.cols < 0 || m.values.size() != static_cast<std::size_t>(m.rows * m.cols))
    throw std::invalid_argument("encode_npy: values do not match the shape");
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(m.rows) + ", " +
                       std::to_string(m.cols) + "), }";
  // magic (6) + version (2) + length (2) + header + '\n', padded to 64 bytes.
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');

  std::vector<std::byte> out;
  out.reserve(10 + header.size() + m.values.size_bytes());
  const auto put = [&out](std::string_view s) {
    for (char c : s) out.push_back(static_cast<std::byte>(c));
  };
  put(kMagic);
  out.push_back(std::byte{1});
  out.push_back(std::byte{0});
  out.push_back(static_cast<std::byte>(header.size() & 0xff));
  out.push_back(static_cast<std::byte>(header.size() >> 8));
  put(header);
  const auto data = std::as_bytes(m.values);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

void write_npy(const std::filesystem::path& path, MatrixView m) {
  const std::vector<std::byte> bytes = encode_npy(m);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail(path.string(), "cannot open file for writing");
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) fail(path.string(), "write error");
}

}  // namespace deploykit
