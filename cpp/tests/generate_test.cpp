// Text generation's decoding without a runtime (generate.hpp; in the sanitizer build): the
// argmax loop, UTF-8, what makes a character model, the prompt's checks, and the window, on a
// fake model call. tests/generate_cli_test.cpp runs it on chargpt_torch through the CLI.
#include "deploykit/generate.hpp"

#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "deploykit/errors.hpp"

namespace deploykit {
namespace {

using nlohmann::json;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

std::int64_t argmax(std::vector<float> logits) { return greedy_argmax(logits); }

TEST(GreedyArgmax, PicksTheLargest) {
  EXPECT_EQ(argmax({0.5f, 3.0f, -1.0f, 2.9f}), 1);
  EXPECT_EQ(argmax({-3.0f, -2.0f, -1.0f}), 2);
  EXPECT_EQ(argmax({1.0f, kInf, 1e30f}), 1);
  EXPECT_EQ(argmax({-kInf, -1e30f}), 1);
  EXPECT_EQ(argmax({7.0f}), 0);
  EXPECT_EQ(argmax({}), 0);
}

TEST(GreedyArgmax, TiesKeepTheLowestId) {
  EXPECT_EQ(argmax({2.0f, 2.0f, 2.0f}), 0);
  EXPECT_EQ(argmax({1.0f, 5.0f, 3.0f, 5.0f, 5.0f}), 1);
  EXPECT_EQ(argmax({-0.0f, 0.0f}), 0);  // -0 == +0: a tie
  EXPECT_EQ(argmax({0.0f, -0.0f}), 0);
  EXPECT_EQ(argmax({1.0f, kInf, kInf}), 1);
}

TEST(GreedyArgmax, ANanNeverWinsAfterIndexZero) {
  EXPECT_EQ(argmax({1.0f, kNaN, 0.5f}), 0);
  EXPECT_EQ(argmax({1.0f, kNaN, 2.0f}), 2);
  EXPECT_EQ(argmax({-kInf, kNaN}), 0);
  EXPECT_EQ(argmax({0.0f, 1.0f, kNaN, kNaN, 3.0f, kNaN}), 4);
  EXPECT_EQ(argmax({0.0f, -kNaN, 1.0f}), 2);  // the sign of a NaN changes nothing
}

// The contract's loop compares logits[i] > logits[best]: with a NaN at index 0 every comparison
// is false, so 0 stays best (exactly what every client's loop gives; no NaN skipping).
TEST(GreedyArgmax, ANanAtIndexZeroIsNeverBeaten) {
  EXPECT_EQ(argmax({kNaN, 1.0f, 2.0f}), 0);
  EXPECT_EQ(argmax({kNaN, kInf}), 0);
  EXPECT_EQ(argmax({kNaN, kNaN}), 0);
}

TEST(Utf8, RoundTripsOneToFourByteCodePoints) {
  const std::string text = "a\t\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\x7F\xC2\x80\xF4\x8F\xBF\xBF";  // a \t é € 😀 DEL
  const std::u32string decoded = utf8_decode(text);
  EXPECT_EQ(decoded, (std::u32string{U'a', U'\t', 0xE9, 0x20AC, 0x1F600, 0x7F, 0x80, 0x10FFFF}));
  EXPECT_EQ(utf8_encode(decoded), text);
  EXPECT_EQ(utf8_decode(""), U"");
}

TEST(Utf8, RefusesMalformedBytesNamingTheOffset) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"ab\x80", "a stray continuation byte at byte 2"}, {"\xFF", "an invalid byte at byte 0"},
      {"x\xC3", "a truncated sequence at byte 1"},       {"\xE2\x82x", "a truncated sequence at byte 0"},
      {"\xC0\x80", "an overlong form at byte 0"},        {"\xE0\x80\xAF", "an overlong form at byte 0"},
      {"\xED\xA0\x80", "a surrogate at byte 0"},         {"\xF4\x90\x80\x80", "a value over U+10FFFF at byte 0"},
  };
  for (const auto& [bytes, why] : cases) {
    try {
      (void)utf8_decode(bytes);
      ADD_FAILURE() << why << ": accepted";
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()), "not valid UTF-8 (" + why + ")");
    }
  }
}

TEST(Utf8, NamesCodePoints) {
  EXPECT_EQ(code_point_name(U'\t'), "U+0009");
  EXPECT_EQ(code_point_name(0xE9), "U+00E9");
  EXPECT_EQ(code_point_name(0xFFFF), "U+FFFF");
  EXPECT_EQ(code_point_name(0x1F600), "U+1F600");
}

// A character model's manifest entry: vocabulary "ab\té€" (5 code points), input tokens int64
// [batch, seq], output logits float32 [batch, seq, 5], seq up to 4; `edit` changes it.
ModelEntry entry_of(const std::function<void(json&)>& edit = {}) {
  json m = {{"id", "tiny"},
            {"vocabulary", "ab\t\xC3\xA9\xE2\x82\xAC"},
            {"inputs", {{{"name", "tokens"}, {"dtype", "int64"}, {"shape", {"batch", "seq"}}}}},
            {"outputs", {{{"name", "logits"}, {"dtype", "float32"}, {"shape", {"batch", "seq", 5}}}}},
            {"dims", {{"batch", {{"min", 1}}}, {"seq", {{"min", 1}, {"max", 4}}}}},
            {"artifacts", json::array()}};
  if (edit) edit(m);
  const json doc = {{"schema_version", 2}, {"models", {m}}};
  return Manifest::parse(doc.dump(), ".").models().front();
}

std::string refusal(const ModelEntry& entry) {
  try {
    (void)CharacterModel::of(entry);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(CharacterModel, ReadsTheVocabularyAndTheWindow) {
  const CharacterModel m = CharacterModel::of(entry_of());
  EXPECT_EQ(m.id(), "tiny");
  EXPECT_EQ(m.vocabulary(), (std::u32string{U'a', U'b', U'\t', 0xE9, 0x20AC}));
  EXPECT_EQ(m.input().name, "tokens");
  EXPECT_EQ(m.output().name, "logits");
  EXPECT_EQ(m.window(), 4);
  EXPECT_EQ(CharacterModel::of(entry_of([](json& m) { m["dims"]["seq"].erase("max"); })).window(), std::nullopt);
  EXPECT_EQ(CharacterModel::of(entry_of([](json& m) {
              m["inputs"][0]["shape"] = {1, 3};
              m["outputs"][0]["shape"] = {1, 3, 5};
              m["dims"] = json::object();
            })).window(),
            3);
  for (const char* dtype : {"int32", "uint8"})
    EXPECT_EQ(CharacterModel::of(entry_of([&](json& m) { m["inputs"][0]["dtype"] = dtype; })).input().dtype,
              parse_dtype(dtype));
  EXPECT_EQ(CharacterModel::of(entry_of([](json& m) { m["outputs"][0]["dtype"] = "float16"; })).output().dtype,
            DType::kFloat16);
}

TEST(CharacterModel, RefusesEveryOtherModelSayingWhatIsMissing) {
  const std::string head = "model tiny is not a character model (";
  const json mask = {{"name", "mask"}, {"dtype", "float32"}, {"shape", {"batch", "seq"}}};
  const std::vector<std::pair<std::function<void(json&)>, std::string>> cases = {
      {[](json& m) { m.erase("vocabulary"); }, "no vocabulary"},
      {[](json& m) {
         m["vocabulary"] = json::array({"a", "b"});
       },
       "no vocabulary"},
      {[](json& m) { m["vocabulary"] = ""; }, "its vocabulary is empty"},
      {[&](json& m) { m["inputs"].push_back(mask); }, "it has 2 inputs, not one"},
      {[](json& m) { m["inputs"][0]["dtype"] = "float32"; }, "input tokens is float32, not an integer dtype"},
      {[](json& m) { m["inputs"][0]["dtype"] = "bool"; }, "input tokens is bool, not an integer dtype"},
      {[](json& m) {
         m["inputs"][0]["shape"] = {"batch", "seq", 1};
       },
       "input tokens has rank 3, not 2 [batch, seq]"},
      {[&](json& m) { m["outputs"].push_back(mask); }, "it has 2 outputs, not one"},
      {[](json& m) { m["outputs"][0]["dtype"] = "int32"; }, "output logits is int32, not a float dtype"},
      {[](json& m) {
         m["outputs"][0]["shape"] = {"batch", 5};
       },
       "output logits has rank 2, not 3"},
      {[](json& m) {
         m["outputs"][0]["shape"] = {"batch", "seq", 4};
       },
       "the last dim of output logits is 4, not the vocabulary's length 5"},
      {[](json& m) {
         m["outputs"][0]["shape"] = {"batch", "seq", "seq"};
       },
       "the last dim of output logits is seq, not the vocabulary's length 5"},
      {[](json& m) {
         m["dims"]["seq"] = {{"max", 0}};
       },
       "input tokens's seq dim takes no token (max 0)"},
      {[](json& m) {
         m["inputs"][0]["dtype"] = "uint8";
         m["vocabulary"] = std::string(300, 'x');
         m["outputs"][0]["shape"] = {"batch", "seq", 300};
       },
       "input tokens is uint8, too narrow for 300 token ids"},
  };
  for (const auto& [edit, why] : cases) EXPECT_EQ(refusal(entry_of(edit)), head + why + ")");
}

TEST(CharacterModel, EncodesCodePointsNotBytes) {
  const CharacterModel m = CharacterModel::of(entry_of());
  EXPECT_EQ(m.encode("ab\xE2\x82\xAC\xC3\xA9\t"), (std::vector<std::int64_t>{0, 1, 4, 3, 2}));
  EXPECT_EQ(m.decode(std::vector<std::int64_t>{4, 3, 0, 2}),
            "\xE2\x82\xAC\xC3\xA9"
            "a\t");
  EXPECT_THROW((void)m.decode(std::vector<std::int64_t>{5}), InputError);
  EXPECT_EQ(CharacterModel::of(entry_of([](json& m) { m["vocabulary"] = "abab\t"; })).encode("ba"),
            (std::vector<std::int64_t>{1, 0}));  // a repeated code point keeps its first id
}

TEST(CharacterModel, RefusesAPromptNamingTheCodePointAndItsPosition) {
  const CharacterModel m = CharacterModel::of(entry_of());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "the prompt is empty"},
      {"a\xC3\xA9z", "character U+007A at position 2 is not in the vocabulary of tiny"},  // position 2, byte 3
      {"\xE2\x82\xAC\xF0\x9F\x98\x80", "character U+1F600 at position 1 is not in the vocabulary of tiny"},
      {"ab\n", "character U+000A at position 2 is not in the vocabulary of tiny"},
      {"ab\xC3", "the prompt is not valid UTF-8 (a truncated sequence at byte 2)"},
  };
  for (const auto& [prompt, why] : cases) {
    try {
      (void)m.encode(prompt);
      ADD_FAILURE() << why << ": accepted";
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()), why);
    }
  }
}

// A fake model call over the 5-token vocabulary: its logits at every position favour (id + 1) % 5
// of the id there, and it records each call's input.
struct FakeCall {
  std::vector<Tensor> inputs;
  DType out = DType::kFloat32;
  TensorMap operator()(const TensorMap& in) {
    const Tensor& t = in.at("tokens");
    inputs.push_back(t);
    const std::int64_t length = t.shape.at(1);
    Tensor logits(out, {1, length, 5});
    for (std::int64_t p = 0; p < length; ++p) {
      const auto id = static_cast<std::int64_t>(t.at(static_cast<std::size_t>(p)));
      for (std::int64_t v = 0; v < 5; ++v) {
        const float value = v == (id + 1) % 5 ? 1.0f : -static_cast<float>(v);
        const auto i = static_cast<std::size_t>(p * 5 + v);
        if (out == DType::kFloat32)
          logits.view<float>()[i] = value;
        else
          logits.view<std::uint16_t>()[i] = float_to_half(value);
      }
    }
    TensorMap result;
    result.emplace("logits", std::move(logits));
    return result;
  }
};

std::vector<std::int64_t> ids_of(const Tensor& t) {
  std::vector<std::int64_t> ids;
  for (std::int64_t i = 0; i < t.numel(); ++i)
    ids.push_back(static_cast<std::int64_t>(t.at(static_cast<std::size_t>(i))));
  return ids;
}

TEST(TextGenerator, SlidesTheWindowOneCallPerToken) {
  FakeCall fake;
  const TextGenerator g(CharacterModel::of(entry_of()), [&](const TensorMap& in) { return fake(in); });
  // a b \t é € a b: each next id is the last one + 1 (mod 5).
  EXPECT_EQ(g.generate("ab", 5),
            "ab\t\xC3\xA9\xE2\x82\xAC"
            "ab");
  ASSERT_EQ(fake.inputs.size(), 5u);
  const std::vector<std::vector<std::int64_t>> windows = {{0, 1}, {0, 1, 2}, {0, 1, 2, 3}, {1, 2, 3, 4}, {2, 3, 4, 0}};
  for (std::size_t i = 0; i < windows.size(); ++i) {
    EXPECT_EQ(fake.inputs[i].dtype, DType::kInt64);
    EXPECT_EQ(fake.inputs[i].shape, (std::vector<std::int64_t>{1, static_cast<std::int64_t>(windows[i].size())}));
    EXPECT_EQ(ids_of(fake.inputs[i]), windows[i]) << "call " << i;
  }
}

TEST(TextGenerator, WithoutAMaxTheWholeTextGoesIn) {
  FakeCall fake;
  const TextGenerator g(CharacterModel::of(entry_of([](json& m) { m["dims"]["seq"].erase("max"); })),
                        [&](const TensorMap& in) { return fake(in); });
  EXPECT_EQ(g.generate("\xE2\x82\xAC", 6),
            "\xE2\x82\xAC"
            "ab\t\xC3\xA9\xE2\x82\xAC"
            "a");
  ASSERT_EQ(fake.inputs.size(), 6u);
  for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(fake.inputs[i].shape[1], static_cast<std::int64_t>(i + 1));
}

TEST(TextGenerator, PassesTheInputsDtypeAndReadsFloat16Logits) {
  FakeCall fake;
  fake.out = DType::kFloat16;
  const TextGenerator g(CharacterModel::of(entry_of([](json& m) {
                          m["inputs"][0]["dtype"] = "int32";
                          m["outputs"][0]["dtype"] = "float16";
                        })),
                        [&](const TensorMap& in) { return fake(in); });
  EXPECT_EQ(g.generate("\t", 3),
            "\t\xC3\xA9\xE2\x82\xAC"
            "a");
  ASSERT_EQ(fake.inputs.size(), 3u);
  EXPECT_EQ(fake.inputs[2].dtype, DType::kInt32);
  EXPECT_EQ(ids_of(fake.inputs[2]), (std::vector<std::int64_t>{2, 3, 4}));
}

TEST(TextGenerator, ZeroTokensReturnThePromptWithoutACall) {
  FakeCall fake;
  const TextGenerator g(CharacterModel::of(entry_of()), [&](const TensorMap& in) { return fake(in); });
  EXPECT_EQ(g.generate("b\xC3\xA9", 0), "b\xC3\xA9");
  EXPECT_TRUE(fake.inputs.empty());
  EXPECT_THROW((void)g.generate("b", -1), InputError);
  EXPECT_THROW((void)g.generate("", 1), InputError);
  EXPECT_TRUE(fake.inputs.empty());
}

TEST(TextGenerator, RefusesLogitsOfAnotherShape) {
  const TextGenerator g(CharacterModel::of(entry_of()), [](const TensorMap&) {
    TensorMap out;
    out.emplace("logits", Tensor(DType::kFloat32, {1, 1, 4}));
    return out;
  });
  try {
    (void)g.generate("ab", 1);
    ADD_FAILURE() << "accepted";
  } catch (const ModelError& e) {
    EXPECT_EQ(std::string(e.what()), "model tiny: output logits is float32 (1, 1, 4), expected float32 (1, 2, 5)");
  }
  const TextGenerator none(CharacterModel::of(entry_of()), [](const TensorMap&) { return TensorMap{}; });
  EXPECT_THROW((void)none.generate("ab", 1), ModelError);
}

}  // namespace
}  // namespace deploykit
