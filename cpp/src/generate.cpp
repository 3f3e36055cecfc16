// Greedy text generation (docs/contract.md, "Text generation"): UTF-8, the vocabulary, the
// argmax loop and the window. No LibTorch here (the sanitizer build covers it); the Model-bound
// constructor is in generate_model.cpp.
#include "deploykit/generate.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "deploykit/errors.hpp"

namespace deploykit {
namespace {

[[noreturn]] void bad_utf8(const char* what, std::size_t at) {
  throw InputError(std::string("not valid UTF-8 (") + what + " at byte " + std::to_string(at) + ")");
}

[[noreturn]] void not_a_character_model(const ModelEntry& entry, const std::string& why) {
  throw InputError("model " + entry.id + " is not a character model (" + why + ")");
}

// A UTF-8 lead byte: its sequence's length (0: not a lead byte), its payload bits, and the least
// code point that needs that length (a smaller one is an overlong form).
struct Lead {
  std::size_t length;
  char32_t bits, min;
};
Lead lead_of(unsigned char b) {
  if ((b & 0xE0) == 0xC0) return {2, b & 0x1Fu, 0x80};
  if ((b & 0xF0) == 0xE0) return {3, b & 0x0Fu, 0x800};
  if ((b & 0xF8) == 0xF0) return {4, b & 0x07u, 0x10000};
  return {0, 0, 0};
}

bool is_integer(DType d) { return d == DType::kInt64 || d == DType::kInt32 || d == DType::kUInt8; }

// A [1, ids.size()] tensor of token ids in `dtype` (CharacterModel::of made sure every
// vocabulary id fits it).
Tensor token_tensor(DType dtype, std::span<const std::int64_t> ids) {
  Tensor t(dtype, {1, static_cast<std::int64_t>(ids.size())});
  switch (dtype) {
    case DType::kInt64:
      std::copy(ids.begin(), ids.end(), t.view<std::int64_t>().begin());
      break;
    case DType::kInt32:
      std::transform(ids.begin(), ids.end(), t.view<std::int32_t>().begin(),
                     [](std::int64_t id) { return static_cast<std::int32_t>(id); });
      break;
    default:  // kUInt8
      std::transform(ids.begin(), ids.end(), t.view<std::uint8_t>().begin(),
                     [](std::int64_t id) { return static_cast<std::uint8_t>(id); });
      break;
  }
  return t;
}

}  // namespace

std::u32string utf8_decode(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      out.push_back(lead);
      ++i;
      continue;
    }
    const Lead l = lead_of(lead);
    if (l.length == 0) bad_utf8((lead & 0xC0) == 0x80 ? "a stray continuation byte" : "an invalid byte", i);
    char32_t c = l.bits;
    for (std::size_t k = 1; k < l.length; ++k) {
      if (i + k >= text.size() || (static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80)
        bad_utf8("a truncated sequence", i);
      c = (c << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    }
    if (c < l.min) bad_utf8("an overlong form", i);
    if (c >= 0xD800 && c <= 0xDFFF) bad_utf8("a surrogate", i);
    if (c > 0x10FFFF) bad_utf8("a value over U+10FFFF", i);
    out.push_back(c);
    i += l.length;
  }
  return out;
}

std::string utf8_encode(std::u32string_view code_points) {
  std::string out;
  out.reserve(code_points.size());
  for (const char32_t c : code_points) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

std::string code_point_name(char32_t c) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "U+%04X", static_cast<unsigned>(c));
  return buffer;
}

std::int64_t greedy_argmax(std::span<const float> logits) noexcept {
  std::size_t best = 0;
  for (std::size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[best]) best = i;
  return static_cast<std::int64_t>(best);
}

CharacterModel CharacterModel::of(const ModelEntry& entry) {
  CharacterModel m;
  m.id_ = entry.id;
  if (!entry.vocabulary) not_a_character_model(entry, "no vocabulary");
  try {
    m.vocabulary_ = utf8_decode(*entry.vocabulary);
  } catch (const InputError& e) {
    not_a_character_model(entry, std::string("its vocabulary is ") + e.what());
  }
  if (m.vocabulary_.empty()) not_a_character_model(entry, "its vocabulary is empty");
  const auto size = static_cast<std::int64_t>(m.vocabulary_.size());

  if (entry.inputs.size() != 1)
    not_a_character_model(entry, "it has " + std::to_string(entry.inputs.size()) + " inputs, not one");
  m.input_ = entry.inputs.front();
  const std::string in = "input " + m.input_.name;
  if (!is_integer(m.input_.dtype))
    not_a_character_model(entry, in + " is " + std::string(dtype_name(m.input_.dtype)) + ", not an integer dtype");
  if (m.input_.shape.size() != 2)
    not_a_character_model(entry, in + " has rank " + std::to_string(m.input_.shape.size()) + ", not 2 [batch, seq]");
  if (m.input_.dtype == DType::kUInt8 && size > 256)
    not_a_character_model(entry, in + " is uint8, too narrow for " + std::to_string(size) + " token ids");

  if (entry.outputs.size() != 1)
    not_a_character_model(entry, "it has " + std::to_string(entry.outputs.size()) + " outputs, not one");
  m.output_ = entry.outputs.front();
  const std::string out = "output " + m.output_.name;
  if (!is_float(m.output_.dtype))
    not_a_character_model(entry, out + " is " + std::string(dtype_name(m.output_.dtype)) + ", not a float dtype");
  if (m.output_.shape.size() != 3)
    not_a_character_model(entry, out + " has rank " + std::to_string(m.output_.shape.size()) + ", not 3");
  const Dim& last = m.output_.shape.back();
  if (last.dynamic() || last.size != size)
    not_a_character_model(entry, "the last dim of " + out + " is " +
                                     (last.dynamic() ? last.name : std::to_string(last.size)) +
                                     ", not the vocabulary's length " + std::to_string(size));

  const Dim& seq = m.input_.shape[1];
  m.window_ = seq.dynamic() ? entry.range_of(seq.name).max : std::optional<std::int64_t>(seq.size);
  if (m.window_ && *m.window_ < 1)
    not_a_character_model(entry, in + "'s seq dim takes no token (max " + std::to_string(*m.window_) + ")");

  for (std::size_t id = 0; id < m.vocabulary_.size(); ++id)
    m.ids_.emplace(m.vocabulary_[id], static_cast<std::int64_t>(id));  // a repeated code point keeps its first id
  return m;
}

std::vector<std::int64_t> CharacterModel::encode(std::string_view text) const {
  if (text.empty()) throw InputError("the prompt is empty");
  std::u32string code_points;
  try {
    code_points = utf8_decode(text);
  } catch (const InputError& e) {
    throw InputError(std::string("the prompt is ") + e.what());
  }
  std::vector<std::int64_t> ids;
  ids.reserve(code_points.size());
  for (std::size_t position = 0; position < code_points.size(); ++position) {
    const auto it = ids_.find(code_points[position]);
    if (it == ids_.end())
      throw InputError("character " + code_point_name(code_points[position]) + " at position " +
                       std::to_string(position) + " is not in the vocabulary of " + id_);
    ids.push_back(it->second);
  }
  return ids;
}

std::string CharacterModel::decode(std::span<const std::int64_t> ids) const {
  std::u32string code_points;
  code_points.reserve(ids.size());
  for (const std::int64_t id : ids) {
    if (id < 0 || id >= static_cast<std::int64_t>(vocabulary_.size()))
      throw InputError("token id " + std::to_string(id) + " is outside the vocabulary of " + id_);
    code_points.push_back(vocabulary_[static_cast<std::size_t>(id)]);
  }
  return utf8_encode(code_points);
}

TextGenerator::TextGenerator(CharacterModel model, Call call) : model_(std::move(model)), call_(std::move(call)) {}

std::int64_t TextGenerator::next(std::span<const std::int64_t> ids) const {
  if (ids.empty()) throw InputError("model " + model_.id() + ": no token to continue");
  const std::size_t length =
      model_.window() ? std::min(ids.size(), static_cast<std::size_t>(*model_.window())) : ids.size();
  TensorMap inputs;
  inputs.emplace(model_.input().name, token_tensor(model_.input().dtype, ids.last(length)));
  const TensorMap outputs = call_(inputs);

  const std::string& name = model_.output().name;
  const auto it = outputs.find(name);
  if (it == outputs.end()) throw ModelError("model " + model_.id() + ": the call returned no output " + name);
  const Tensor& logits = it->second;
  const auto v = static_cast<std::int64_t>(model_.vocabulary().size());
  const std::vector<std::int64_t> expected{1, static_cast<std::int64_t>(length), v};
  if (logits.shape != expected || !is_float(logits.dtype) || logits.dtype != model_.output().dtype)
    throw ModelError("model " + model_.id() + ": output " + name + " is " + std::string(dtype_name(logits.dtype)) +
                     " " + shape_string(logits.shape) + ", expected " + std::string(dtype_name(model_.output().dtype)) +
                     " " + shape_string(expected));
  const auto offset = static_cast<std::size_t>((static_cast<std::int64_t>(length) - 1) * v);
  if (logits.dtype == DType::kFloat32) return greedy_argmax(logits.view<float>().subspan(offset));
  std::vector<float> row(static_cast<std::size_t>(v));  // float16: decoded, which keeps every order and NaN
  const auto halves = logits.view<std::uint16_t>().subspan(offset);
  std::transform(halves.begin(), halves.end(), row.begin(), half_to_float);
  return greedy_argmax(row);
}

std::string TextGenerator::generate(std::string_view prompt, std::int64_t tokens) const {
  if (tokens < 0) throw InputError("the number of tokens is " + std::to_string(tokens) + ", not >= 0");
  std::vector<std::int64_t> ids = model_.encode(prompt);
  const std::size_t prompt_length = ids.size();
  ids.reserve(prompt_length + static_cast<std::size_t>(tokens));
  for (std::int64_t i = 0; i < tokens; ++i) ids.push_back(next(ids));
  return std::string(prompt) + model_.decode(std::span<const std::int64_t>(ids).subspan(prompt_length));
}

}  // namespace deploykit
