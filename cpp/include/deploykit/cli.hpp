// The common client command line (docs/contract.md, "The client command line"):
// argument parsing (CLI11), the run of one call or of a --jobs file, mapped to exit codes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "deploykit/request.hpp"

namespace deploykit::cli {

enum ExitCode : int { kOk = 0, kCheckFailed = 1, kBadInput = 2, kModelFailed = 3 };

// --generate PROMPT --tokens N (docs/contract.md, "Text generation"; generate.hpp).
inline constexpr std::int64_t kMaxTokens = 10000;
struct Generation {
  std::string prompt;       // as given (UTF-8); checked against the model's vocabulary when it runs
  std::int64_t tokens = 0;  // 0 to kMaxTokens
};

struct Options {
  std::filesystem::path manifest;
  Request request;  // --model, --format, --input*, --output*, --check*
  std::optional<Generation> generate;
  std::optional<std::filesystem::path> jobs;
  std::optional<std::filesystem::path> timing;
  std::optional<std::int64_t> repeat;  // timed runs (--timing alone means 1)
  std::int64_t warmup = 0;             // untimed runs before them
  bool verbose = false;
};

enum class Action { kRun, kHelp, kVersion };

struct Parsed {
  Action action = Action::kRun;
  Options options;
};

// Parses argv without the program name. Throws InputError ("usage: ...") for
// unknown flags, missing required flags, bad values, --jobs mixed with the flags
// of a single call, or --generate mixed with the flags of a tensor call or --jobs.
Parsed parse_args(std::span<const std::string> args);

// --tokens N: a decimal integer from 0 to kMaxTokens. Throws InputError
// "--tokens: expected an integer from 0 to 10000, got <text>".
std::int64_t parse_tokens(std::string_view text);

// The usage text (flags and exit codes).
std::string usage();

// p50/p90/p99 (linear interpolation, as numpy.percentile) and mean.
struct LatencySummary {
  double p50 = 0, p90 = 0, p99 = 0, mean = 0;
};
LatencySummary summarize(std::vector<double> samples);

// What --timing writes and a timed --jobs line carries as "timing" (docs/contract.md).
struct Timing {
  double load_ms = 0;             // loading the (model, format): sha256 check + load
  double first_ms = 0;            // the first predict call
  std::int64_t batch = 0;         // dim 0 of the model's first input (1 for a scalar)
  LatencySummary latency;         // predict
  LatencySummary direct_latency;  // the bare runtime call (Model::direct_call)
  std::string direct;             // one line: what the bare call is
};

// Per-call microseconds of `a` and `b`, `n` calls each, after `warmup` untimed
// calls of each (alternating a, b). The timed calls run in `rounds` alternating
// blocks (min(rounds, n) blocks whose sizes differ by at most one; a then b,
// then b then a, ...) so that machine noise hits both alike. An empty `b` is
// skipped (its samples stay empty).
struct Interleaved {
  std::vector<double> a, b;
};
Interleaved interleave(const std::function<void()>& a, const std::function<void()>& b, std::int64_t n,
                       std::int64_t warmup = 0, std::int64_t rounds = 10);

// Parses, runs and reports errors as one "error: ..." line on `err`; returns
// the exit code. Never throws.
int main(std::span<const std::string> args, std::ostream& out, std::ostream& err);

// Runs parsed options (used by main). Throws InputError / ModelError.
int run(const Options& options, std::ostream& out, std::ostream& err);

}  // namespace deploykit::cli
