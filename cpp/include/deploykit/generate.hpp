// Greedy text generation with a character model (docs/contract.md, "Text generation:
// `--generate PROMPT --tokens N`"): the same decoding in every client, so that every runtime
// of one model continues one prompt with the same text.
//
//   const auto model = deploykit::Model::load(manifest, "chargpt_torch", deploykit::Format::kAoti);
//   const deploykit::TextGenerator generator(model);
//   std::string text = generator.generate("def __init__(self, ", 40);  // the prompt + 40 characters
//
// Everything here but TextGenerator(const Model&) is free of LibTorch (deploykit_core, so the
// sanitizer build covers it): UTF-8, the vocabulary, the argmax loop and the window. A model
// call is any function from inputs to outputs; TextGenerator(const Model&) binds
// Model::predict (defined in deploykit_model, src/generate_model.cpp), so every input check
// and boundary cast of a normal call applies to each step.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "deploykit/manifest.hpp"
#include "deploykit/tensor.hpp"

namespace deploykit {

class Model;

// The code points of UTF-8 `text`. Throws InputError "not valid UTF-8 (<what> at byte <i>)"
// for a truncated sequence, a stray continuation byte, an overlong form, a surrogate or a
// value over U+10FFFF.
std::u32string utf8_decode(std::string_view text);
// The UTF-8 bytes of `code_points` (each a Unicode scalar value).
std::string utf8_encode(std::u32string_view code_points);
// "U+0009", "U+00E9", "U+1F600": at least four upper-case hex digits.
std::string code_point_name(char32_t c);

// The contract's argmax, exactly: best = 0, then for i from 1 to V - 1, if logits[i] >
// logits[best], best = i. Ties keep the lowest id and a NaN at i >= 1 never wins; a NaN at
// index 0 is never beaten (every comparison with it is false), so the loop returns 0 then.
// An empty span returns 0.
std::int64_t greedy_argmax(std::span<const float> logits) noexcept;

// The manifest side of a model --generate can run, checked: a `vocabulary` (token id i is
// its i-th code point), one integer input of rank 2 ([batch, seq]), one float output of rank
// 3 whose last dim is the vocabulary's length. Holds copies, not references to the entry.
class CharacterModel {
 public:
  // Throws InputError "model <id> is not a character model (<what is missing>)".
  static CharacterModel of(const ModelEntry& entry);

  const std::string& id() const noexcept { return id_; }
  const TensorSpec& input() const noexcept { return input_; }
  const TensorSpec& output() const noexcept { return output_; }
  // The most token ids one call takes: the max of the input's seq dim (its size if fixed);
  // nullopt without a max (the whole text goes in every call).
  std::optional<std::int64_t> window() const noexcept { return window_; }
  const std::u32string& vocabulary() const noexcept { return vocabulary_; }

  // The token ids of UTF-8 `text`, one per code point (a code point listed twice in the
  // vocabulary maps to its first id). Throws InputError "the prompt is empty", "the prompt is
  // not valid UTF-8 (...)" or "character U+0009 at position 3 is not in the vocabulary of <id>"
  // (position in code points from 0).
  std::vector<std::int64_t> encode(std::string_view text) const;
  // The UTF-8 text of token ids (each in [0, vocabulary length)).
  std::string decode(std::span<const std::int64_t> ids) const;

 private:
  std::string id_;
  TensorSpec input_, output_;
  std::optional<std::int64_t> window_;
  std::u32string vocabulary_;
  std::unordered_map<char32_t, std::int64_t> ids_;
};

// Greedy decoding over one model call per generated token. Not thread safe by itself; the
// call it wraps decides (Model::predict may run from several threads).
class TextGenerator {
 public:
  // One model call: inputs by name -> outputs by name.
  using Call = std::function<TensorMap(const TensorMap&)>;

  TextGenerator(CharacterModel model, Call call);
  // On a loaded model, through Model::predict; `model` must outlive the generator. Throws
  // InputError as CharacterModel::of. Defined in the deploykit_model library.
  explicit TextGenerator(const Model& model);

  const CharacterModel& model() const noexcept { return model_; }

  // The token the model picks after `ids` (not empty, each a vocabulary id): one call on
  // their last min(window, size) ids as a [1, length] input of the input's dtype, the argmax
  // of the logits at the last position. Throws InputError from the call's input checks,
  // ModelError from the runtime or for logits not shaped [1, length, V].
  std::int64_t next(std::span<const std::int64_t> ids) const;

  // `prompt` followed by `tokens` generated characters, UTF-8 (`tokens` calls). Throws
  // InputError for a prompt encode() refuses or a negative `tokens`, else as next().
  std::string generate(std::string_view prompt, std::int64_t tokens) const;

 private:
  CharacterModel model_;
  Call call_;
};

}  // namespace deploykit
