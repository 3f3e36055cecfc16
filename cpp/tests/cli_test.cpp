// Argument parsing and statistics of the demo CLI (no model is loaded here;
// tests/test_cpp_client.py drives the built binary end to end).
#include <gtest/gtest.h>

#include "deploykit/cli.hpp"
#include "deploykit/errors.hpp"

namespace deploykit::cli {
namespace {

const std::vector<std::string> kRequired = {"--manifest", "m.json", "--model", "mlp_torch",
                                            "--input",    "in.npy", "--output", "out.npy"};

std::vector<std::string> with(std::vector<std::string> extra) {
  std::vector<std::string> args = kRequired;
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

TEST(Cli, ParsesEveryFlag) {
  const Parsed p = parse_args(with({"--format", "aoti", "--check", "e.npy", "--repeat", "5", "--warmup", "2",
                                    "--timing", "t.json", "--verbose"}));
  ASSERT_EQ(p.action, Action::kRun);
  const Options& o = p.options;
  EXPECT_EQ(o.manifest, "m.json");
  EXPECT_EQ(o.model, "mlp_torch");
  EXPECT_EQ(o.format, "aoti");
  EXPECT_EQ(o.input, "in.npy");
  EXPECT_EQ(o.output, "out.npy");
  EXPECT_EQ(o.check, std::filesystem::path("e.npy"));
  EXPECT_EQ(o.timing, std::filesystem::path("t.json"));
  EXPECT_EQ(o.repeat, 5);
  EXPECT_EQ(o.warmup, 2);
  EXPECT_TRUE(o.verbose);
}

TEST(Cli, OptionalFlagsDefaultToUnset) {
  const Options o = parse_args(kRequired).options;
  EXPECT_FALSE(o.format);
  EXPECT_FALSE(o.check);
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
  expect_usage_error(with({"--bogus"}), "--bogus");
  expect_usage_error(with({"--repeat", "0"}), "--repeat");
  expect_usage_error(with({"--repeat", "many"}), "--repeat");
  expect_usage_error(with({"--warmup", "-1"}), "--warmup");
  expect_usage_error(with({"--check"}), "--check");
}

TEST(Cli, UsageMentionsEveryFlagAndExitCodes) {
  const std::string u = usage();
  for (const char* flag : {"--manifest", "--model", "--format", "--input", "--output", "--check", "--repeat",
                           "--warmup", "--timing", "--verbose", "--help"})
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
  EXPECT_EQ(order, "abab" "aaabbb" "bbaa");
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

}  // namespace
}  // namespace deploykit::cli
