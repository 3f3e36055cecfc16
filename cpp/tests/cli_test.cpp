// Argument parsing and statistics of the demo CLI (no model is loaded here;
// tests/test_cpp_client.py drives the built binary end to end).
#include "deploykit/cli.hpp"

#include <gtest/gtest.h>

#include "deploykit/errors.hpp"

namespace deploykit::cli {
namespace {

const std::vector<std::string> kRequired = {"--manifest", "m.json", "--model", "mlp_torch", "--input", "in.npy"};

std::vector<std::string> with(std::vector<std::string> extra) {
  std::vector<std::string> args = kRequired;
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

TEST(Cli, ParsesEveryFlag) {
  const Parsed p = parse_args(with({"--format", "aoti", "--output", "out.npy", "--check", "e.npy", "--repeat", "5",
                                    "--warmup", "2", "--timing", "t.json", "--verbose"}));
  ASSERT_EQ(p.action, Action::kRun);
  const Options& o = p.options;
  EXPECT_EQ(o.manifest, "m.json");
  EXPECT_EQ(o.request.model, "mlp_torch");
  EXPECT_EQ(o.request.format, "aoti");
  EXPECT_EQ(o.request.inputs, (Files{{{"", "in.npy"}}, std::nullopt}));
  EXPECT_EQ(o.request.outputs, (Files{{{"", "out.npy"}}, std::nullopt}));
  EXPECT_EQ(o.request.checks, (Files{{{"", "e.npy"}}, std::nullopt}));
  EXPECT_EQ(o.timing, std::filesystem::path("t.json"));
  EXPECT_EQ(o.repeat, 5);
  EXPECT_EQ(o.warmup, 2);
  EXPECT_TRUE(o.verbose);
  EXPECT_FALSE(o.jobs);
}

TEST(Cli, RepeatedNamedBindingsSplitAtTheFirstEquals) {
  const Options o =
      parse_args(std::vector<std::string>{"--manifest", "m.json", "--model", "m", "--input", "tokens=a.npy", "--input",
                                          "mask=dir/x=y.npy", "--output", "logits=l.npy", "--check", "logits=e.npy"})
          .options;
  EXPECT_EQ(o.request.inputs.bindings, (std::vector<Binding>{{"tokens", "a.npy"}, {"mask", "dir/x=y.npy"}}));
  EXPECT_EQ(o.request.outputs.bindings, (std::vector<Binding>{{"logits", "l.npy"}}));
  EXPECT_EQ(o.request.checks.bindings, (std::vector<Binding>{{"logits", "e.npy"}}));
}

TEST(Cli, ParsesTheFolderFlags) {
  const Options o = parse_args(std::vector<std::string>{"--manifest", "m.json", "--model", "m", "--input-dir", "g",
                                                        "--output-dir", "o", "--check-dir", "g/expected"})
                        .options;
  EXPECT_EQ(o.request.inputs, (Files{{}, "g"}));
  EXPECT_EQ(o.request.outputs, (Files{{}, "o"}));
  EXPECT_EQ(o.request.checks, (Files{{}, "g/expected"}));
}

TEST(Cli, ParsesJobs) {
  const Options o =
      parse_args(std::vector<std::string>{"--manifest", "m.json", "--jobs", "j.jsonl", "--verbose"}).options;
  EXPECT_EQ(o.jobs, std::filesystem::path("j.jsonl"));
  EXPECT_TRUE(o.verbose);
}

TEST(Cli, OptionalFlagsDefaultToUnset) {
  const Options o = parse_args(kRequired).options;
  EXPECT_FALSE(o.request.format);
  EXPECT_TRUE(o.request.outputs.empty());
  EXPECT_TRUE(o.request.checks.empty());
  EXPECT_FALSE(o.timing);
  EXPECT_FALSE(o.repeat);
  EXPECT_EQ(o.warmup, 0);
  EXPECT_FALSE(o.verbose);
}

TEST(Cli, HelpAndVersionStandAlone) {
  EXPECT_EQ(parse_args(std::vector<std::string>{"--help"}).action, Action::kHelp);
  EXPECT_EQ(parse_args(std::vector<std::string>{"--version"}).action, Action::kVersion);
}

void expect_usage_error(const std::vector<std::string>& args, std::string_view why) {
  try {
    parse_args(args);
    FAIL() << "accepted (" << why << ")";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("usage: ", 0), 0u) << msg;
    EXPECT_NE(msg.find(why), std::string::npos) << msg;
  }
}

TEST(Cli, RejectsBadArguments) {
  expect_usage_error({"--model", "x"}, "--manifest");
  expect_usage_error({"--manifest", "m.json", "--input", "x.npy"}, "--model is required");
  expect_usage_error({"--manifest", "m.json", "--model", "x"}, "--input or --input-dir is required");
  expect_usage_error(with({"--bogus"}), "--bogus");
  expect_usage_error(with({"--repeat", "0"}), "--repeat");
  expect_usage_error(with({"--repeat", "many"}), "--repeat");
  expect_usage_error(with({"--warmup", "-1"}), "--warmup");
  expect_usage_error(with({"--check"}), "--check");
  expect_usage_error(with({"--input-dir", "d"}), "--input and --input-dir exclude each other");
  expect_usage_error(with({"--output", "a.npy", "--output-dir", "d"}), "exclude each other");
  expect_usage_error(with({"--output", "logits="}), "empty file name");
  expect_usage_error(with({"--jobs", "j.jsonl"}), "--model does not apply");
}

TEST(Cli, ParsesGenerate) {
  const Options o =
      parse_args(std::vector<std::string>{"--manifest", "m.json", "--model", "chargpt_torch", "--format", "aoti",
                                          "--generate", "def __init__(self, ", "--tokens", "40", "--verbose"})
          .options;
  ASSERT_TRUE(o.generate);
  EXPECT_EQ(o.generate->prompt, "def __init__(self, ");
  EXPECT_EQ(o.generate->tokens, 40);
  EXPECT_EQ(o.request.model, "chargpt_torch");
  EXPECT_EQ(o.request.format, "aoti");
  EXPECT_TRUE(o.request.inputs.empty());
  EXPECT_TRUE(o.verbose);
  EXPECT_FALSE(parse_args(kRequired).options.generate);
  // A prompt that starts with '-' goes as --generate=PROMPT; an empty one is parsed (refused when it runs).
  EXPECT_EQ(parse_args(std::vector<std::string>{"--manifest", "m", "--model", "c", "--generate=-x", "--tokens", "1"})
                .options.generate->prompt,
            "-x");
  EXPECT_EQ(parse_args(std::vector<std::string>{"--manifest", "m", "--model", "c", "--generate", "", "--tokens", "1"})
                .options.generate->prompt,
            "");
}

TEST(Cli, GenerateRefusesTheFlagsOfOtherRuns) {
  const std::vector<std::string> base = {"--manifest", "m.json", "--model", "c", "--generate", "ab", "--tokens", "2"};
  for (const std::vector<std::string>& extra : std::vector<std::vector<std::string>>{{"--input", "x.npy"},
                                                                                     {"--input-dir", "d"},
                                                                                     {"--output", "y.npy"},
                                                                                     {"--output-dir", "o"},
                                                                                     {"--check", "e.npy"},
                                                                                     {"--check-dir", "e"},
                                                                                     {"--repeat", "2"},
                                                                                     {"--warmup", "1"},
                                                                                     {"--timing", "t.json"},
                                                                                     {"--jobs", "j.jsonl"}}) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    expect_usage_error(args, "--generate cannot be combined with " + extra[0]);
  }
  expect_usage_error({"--manifest", "m", "--model", "c", "--generate", "ab"}, "--generate needs --tokens N");
  expect_usage_error(with({"--tokens", "3"}), "--tokens only applies to --generate");
  expect_usage_error({"--manifest", "m", "--generate", "ab", "--tokens", "1"}, "--model is required");
}

TEST(Cli, TokensAreAnIntegerFrom0To10000) {
  EXPECT_EQ(parse_tokens("0"), 0);
  EXPECT_EQ(parse_tokens("40"), 40);
  EXPECT_EQ(parse_tokens("007"), 7);
  EXPECT_EQ(parse_tokens("10000"), 10000);
  EXPECT_EQ(parse_tokens("+5"), 5);  // as Python's int(), Go's Atoi, Java's parseInt
  EXPECT_EQ(parse_tokens("-0"), 0);
  for (const char* bad : {"-1", "10001", "", "abc", "1.5", "1e3", "++5", "+-5", " 5", "5 ", "0x10",
                          "9223372036854775808", "-9223372036854775809", "99999999999999999999"}) {
    try {
      (void)parse_tokens(bad);
      ADD_FAILURE() << bad << ": accepted";
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()), "--tokens: expected an integer from 0 to 10000, got '" + std::string(bad) + "'");
    }
  }
}

TEST(Cli, UsageMentionsEveryFlagAndExitCodes) {
  const std::string u = usage();
  for (const char* flag :
       {"--manifest", "--model", "--format", "--input", "--input-dir", "--output", "--output-dir", "--check",
        "--check-dir", "--jobs", "--repeat", "--warmup", "--timing", "--generate", "--tokens", "--verbose", "--help"})
    EXPECT_NE(u.find(flag), std::string::npos) << flag;
  EXPECT_NE(u.find("Exit codes"), std::string::npos);
}

TEST(Cli, SummarizeMatchesNumpyLinearPercentiles) {
  // numpy.percentile([1..100], [50, 90, 99]) == [50.5, 90.1, 99.01]
  std::vector<double> v;
  for (int i = 100; i >= 1; --i) v.push_back(i);
  const LatencySummary s = summarize(v);
  EXPECT_DOUBLE_EQ(s.p50, 50.5);
  EXPECT_NEAR(s.p90, 90.1, 1e-12);
  EXPECT_NEAR(s.p99, 99.01, 1e-12);
  EXPECT_DOUBLE_EQ(s.mean, 50.5);
  EXPECT_DOUBLE_EQ(summarize({7}).p99, 7);
}

TEST(Cli, InterleaveTimesBothInAlternatingBlocks) {
  std::string order;
  const Interleaved t = interleave([&] { order += 'a'; }, [&] { order += 'b'; }, 5, 2, 2);
  // 2 warm-ups each (ab ab), then blocks of 3 and 2: a-first, then b-first.
  EXPECT_EQ(order,
            "abab"
            "aaabbb"
            "bbaa");
  ASSERT_EQ(t.a.size(), 5u);
  ASSERT_EQ(t.b.size(), 5u);
  for (double us : t.a) EXPECT_GE(us, 0);
  order.clear();
  EXPECT_EQ(interleave([&] { order += 'a'; }, {}, 3, 1).b.size(), 0u);  // no b: only a, in ten blocks at most
  EXPECT_EQ(order, "aaaa");
  order.clear();
  EXPECT_EQ(interleave([&] { order += 'a'; }, [&] { order += 'b'; }, 3).a.size(), 3u);  // rounds > n: n blocks of 1
  EXPECT_EQ(order, "abbaab");
}

TEST(Cli, InterleaveBlocksIsRoundsClampedToTheCalls) {
  EXPECT_EQ(interleave_blocks(5, 2), 2);
  EXPECT_EQ(interleave_blocks(3), 3);  // rounds > n: n blocks of 1
  EXPECT_EQ(interleave_blocks(200), kInterleaveRounds);
  EXPECT_EQ(interleave_blocks(7, 0), 1);
  EXPECT_EQ(interleave_blocks(0), 0);  // nothing timed, no blocks
  EXPECT_EQ(interleave_blocks(-1), 0);
}

// The block sizes that TimingSamples documents (and bench's bootstrap relies on): block k
// has n / blocks calls, plus one for the first n % blocks blocks; both series alike.
TEST(Cli, InterleaveGivesTheRemainderToTheFirstBlocks) {
  std::string order;
  const Interleaved t = interleave([&] { order += 'a'; }, [&] { order += 'b'; }, 23);  // 10 blocks: 3 x 3, 7 x 2
  EXPECT_EQ(interleave_blocks(23), 10);
  EXPECT_EQ(t.a.size(), 23u);
  EXPECT_EQ(t.b.size(), 23u);
  EXPECT_EQ(order,
            "aaabbb"
            "bbbaaa"
            "aaabbb"
            "bbaa"
            "aabb"
            "bbaa"
            "aabb"
            "bbaa"
            "aabb"
            "bbaa");
}

}  // namespace
}  // namespace deploykit::cli
