// --generate PROMPT --tokens N (docs/contract.md, "Text generation") end to end on the test
// export named by DEPLOYKIT_TEST_MANIFEST: the exit-2 refusals through cli::main, N = 0, and
// chargpt_torch continuing a prompt past its window through the built binary
// (DEPLOYKIT_CLI_BINARY), every torch format giving the same text.
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sys/wait.h>

#include "deploykit/cli.hpp"
#include "deploykit/generate.hpp"
#include "deploykit/manifest.hpp"
#include "deploykit/model.hpp"
#include "test_util.hpp"

namespace deploykit {
namespace {

constexpr const char* kCharModel = "chargpt_torch";

std::string manifest_path() { return testing::test_manifest_path(); }

const Manifest& test_manifest() {
  static const Manifest manifest = Manifest::read(manifest_path());
  return manifest;
}

const ModelEntry* find_model(std::string_view id) {
  for (const ModelEntry& m : test_manifest().models())
    if (m.id == id) return &m;
  return nullptr;
}

// chargpt_torch's entry, or nullptr (the caller skips, saying why).
const ModelEntry* char_model() { return find_model(kCharModel); }

std::string absent() {
  return std::string(kCharModel) + " is not in the test export " + manifest_path() +
         " (an older export: regenerate it with `make test-fixtures`)";
}

// The torch formats of chargpt_torch that the export has.
std::vector<std::string> char_formats() {
  std::vector<std::string> formats;
  for (Format f : supported_formats())
    if (char_model()->find_artifact(format_name(f)) != nullptr) formats.emplace_back(format_name(f));
  return formats;
}

struct CliRun {
  int exit = -1;
  std::string out, err;
};

CliRun run_cli(std::vector<std::string> args) {
  args.insert(args.begin(), {"--manifest", manifest_path()});
  std::ostringstream out, err;
  CliRun r;
  r.exit = cli::main(args, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The built binary with `args` after --manifest; stdout and stderr through files in `scratch`.
CliRun run_binary(const std::vector<std::string>& args, const testing::TempDir& scratch) {
  std::string command = quoted(DEPLOYKIT_CLI_BINARY);
  command.append(" --manifest ").append(quoted(manifest_path()));
  for (const std::string& a : args) command.append(" ").append(quoted(a));
  command.append(" >").append(quoted((scratch / "stdout").string()));
  command.append(" 2>").append(quoted((scratch / "stderr").string()));
  const int status = std::system(command.c_str());
  CliRun r;
  r.exit = WIFEXITED(status) ? WEXITSTATUS(status) : -1;  // -1: a signal, never expected
  r.out = testing::read_file(scratch / "stdout");
  r.err = testing::read_file(scratch / "stderr");
  return r;
}

void expect_refused(const CliRun& r, const std::string& message, const std::string& what) {
  EXPECT_EQ(r.exit, 2) << what << ": " << r.err;
  EXPECT_EQ(r.out, "") << what;
  EXPECT_EQ(r.err, "error: " + message + "\n") << what;
}

TEST(GenerateCli, AModelWithoutAVocabularyIsNotACharacterModel) {
  expect_refused(run_cli({"--model", "mlp_torch", "--generate", "abc", "--tokens", "3"}),
                 "--generate: model mlp_torch is not a character model (no vocabulary)", "mlp_torch");
  expect_refused(run_cli({"--model", "mlp_torch", "--format", "aoti", "--generate", "abc", "--tokens", "0"}),
                 "--generate: model mlp_torch is not a character model (no vocabulary)", "mlp_torch aoti");
  if (find_model("textcls_keras") != nullptr)  // a vocabulary, but a classifier with two inputs
    expect_refused(run_cli({"--model", "textcls_keras", "--generate", "abc", "--tokens", "3"}),
                   "--generate: model textcls_keras is not a character model (it has 2 inputs, not one)",
                   "textcls_keras");
}

TEST(GenerateCli, APromptOutsideTheVocabularyNamesTheCodePointAndItsPosition) {
  if (char_model() == nullptr) GTEST_SKIP() << absent();
  const std::string id = kCharModel;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"def\tx", "character U+0009 at position 3 is not in the vocabulary of " + id},
      // é is in the vocabulary (2 bytes), € is not: position 2 in code points (byte 3)
      {"\xC3\xA9"
       "a\xE2\x82\xAC",
       "character U+20AC at position 2 is not in the vocabulary of " + id},
      {"", "the prompt is empty"},
      {"ab\xFF", "the prompt is not valid UTF-8 (an invalid byte at byte 2)"},
  };
  for (const auto& [prompt, why] : cases)
    expect_refused(run_cli({"--model", id, "--format", char_formats().at(0), "--generate", prompt, "--tokens", "5"}),
                   "--generate: " + why, why);
}

TEST(GenerateCli, TokensMustBeAnIntegerFrom0To10000) {
  for (const char* n : {"-1", "abc", "10001", "1.5", "1e3", " 5", "99999999999999999999", "-0x1"}) {
    expect_refused(run_cli({"--model", kCharModel, "--generate", "def", "--tokens", n}),
                   "--tokens: expected an integer from 0 to 10000, got '" + std::string(n) + "'", n);
    expect_refused(run_cli({"--model", kCharModel, "--generate", "def", "--tokens=" + std::string(n)}),
                   "--tokens: expected an integer from 0 to 10000, got '" + std::string(n) + "'", n);
  }
  expect_refused(run_cli({"--model", kCharModel, "--generate", "def", "--tokens="}),
                 "usage: --tokens: 1 required N missing (see --help)", "an empty N");  // CLI11's words
}

TEST(GenerateCli, CannotBeCombinedWithTheFlagsOfATensorCallOrJobs) {
  const std::vector<std::vector<std::string>> extras = {
      {"--input", "x.npy"}, {"--input-dir", "d"}, {"--output", "y.npy"}, {"--output-dir", "o"},  {"--check", "e.npy"},
      {"--check-dir", "e"}, {"--repeat", "2"},    {"--warmup", "1"},     {"--timing", "t.json"}, {"--jobs", "j.jsonl"},
  };
  for (const std::vector<std::string>& extra : extras) {
    std::vector<std::string> args = {"--model", kCharModel, "--generate", "def", "--tokens", "3"};
    args.insert(args.end(), extra.begin(), extra.end());
    expect_refused(run_cli(args), "usage: --generate cannot be combined with " + extra[0] + " (see --help)", extra[0]);
  }
  expect_refused(run_cli({"--model", kCharModel, "--generate", "def"}),
                 "usage: --generate needs --tokens N (see --help)", "no --tokens");
  expect_refused(run_cli({"--model", kCharModel, "--tokens", "3", "--input", "x.npy"}),
                 "usage: --tokens only applies to --generate (see --help)", "no --generate");
  expect_refused(run_cli({"--generate", "def", "--tokens", "3"}), "usage: --model is required (see --help)",
                 "no --model");
}

TEST(GenerateCli, ZeroTokensPrintExactlyThePrompt) {
  if (char_model() == nullptr) GTEST_SKIP() << absent();
  for (const std::string& format : char_formats()) {
    for (const std::string prompt : {"def __init__(self, ", "x", "\xC3\xA9t\xC3\xA9 \n"}) {
      const CliRun r = run_cli({"--model", kCharModel, "--format", format, "--generate", prompt, "--tokens", "0"});
      EXPECT_EQ(r.exit, 0) << format << ": " << r.err;
      EXPECT_EQ(r.err, "") << format;
      EXPECT_EQ(r.out, prompt) << format;
    }
  }
}

// ~20 characters of prompt and enough tokens to slide the window (40 with the window of 48).
TEST(GenerateCli, EveryFormatContinuesPastTheWindowWithTheSameText) {
  if (char_model() == nullptr) GTEST_SKIP() << absent();
  const std::vector<std::string> formats = char_formats();
  if (formats.empty()) GTEST_SKIP() << kCharModel << " has no torch artifact in " << manifest_path();
  if (formats.size() < supported_formats().size())
    std::cerr << "note: " << kCharModel << " has only " << formats.size() << " of the C++ client's formats\n";
  const CharacterModel model = CharacterModel::of(*char_model());
  const std::string prompt = "    def __init__(sel";  // 20 code points
  const std::int64_t window = model.window().value_or(48);
  const std::int64_t tokens = std::max<std::int64_t>(40, window + 8 - 20);
  ASSERT_GT(20 + tokens, window);

  const testing::TempDir scratch;
  std::vector<std::pair<std::string, std::string>> texts;
  for (const std::string& format : formats) {
    const CliRun r = run_binary(
        {"--model", kCharModel, "--format", format, "--generate", prompt, "--tokens", std::to_string(tokens)}, scratch);
    ASSERT_EQ(r.exit, 0) << format << ": " << r.err;
    EXPECT_EQ(r.err, "") << format;
    ASSERT_EQ(r.out.rfind(prompt, 0), 0u) << format << ": " << r.out;
    const std::u32string continuation = utf8_decode(r.out.substr(prompt.size()));
    EXPECT_EQ(static_cast<std::int64_t>(continuation.size()), tokens) << format << ": " << r.out;
    for (char32_t c : continuation)
      EXPECT_NE(model.vocabulary().find(c), std::u32string::npos) << format << ": " << code_point_name(c);
    texts.emplace_back(format, r.out);
  }
  for (const auto& [format, text] : texts)
    EXPECT_EQ(text, texts.front().second) << format << " vs " << texts.front().first;
}

// The library on its own: TextGenerator on a loaded Model gives the CLI's text.
TEST(GenerateCli, TextGeneratorOnALoadedModelGivesTheCliText) {
  if (char_model() == nullptr) GTEST_SKIP() << absent();
  const std::string format = char_formats().at(0);
  const Model model = Model::load(test_manifest(), kCharModel, *parse_format(format));
  const TextGenerator generator(model);
  const std::string text = generator.generate("def __init__(self, ", 12);
  const CliRun r =
      run_cli({"--model", kCharModel, "--format", format, "--generate", "def __init__(self, ", "--tokens", "12"});
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out, text);
  const std::vector<std::int64_t> ids = generator.model().encode(text);
  EXPECT_EQ(generator.next(ids), generator.model().encode(generator.generate(text, 1)).back());
}

}  // namespace
}  // namespace deploykit
