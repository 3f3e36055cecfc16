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

// The timed calls' own samples, in microseconds and in call order, from which the
// percentiles are computed: the timing's "samples_us" (docs/contract.md), kept only when
// the bare call is timed, so that bench can bootstrap over the interleaved blocks.
// Block k (from 0) holds the `latency.size() / blocks` entries that follow the earlier
// blocks, plus one when k < `latency.size() % blocks` (the remainder goes to the first
// blocks; see interleave), in both lists alike.
struct TimingSamples {
  std::vector<double> latency;  // predict, one per timed call
  std::vector<double> direct;   // the bare runtime call, as many
  std::int64_t blocks = 0;      // how many interleaved blocks the calls ran in
};

// What --timing writes and a timed --jobs line carries as "timing" (docs/contract.md).
struct Timing {
  double load_ms = 0;                    // loading the (model, format): sha256 check + load
  double first_ms = 0;                   // the first predict call
  std::int64_t batch = 0;                // dim 0 of the model's first input (1 for a scalar)
  LatencySummary latency;                // predict
  LatencySummary direct_latency;         // the bare runtime call (Model::direct_call)
  std::string direct;                    // one line: what the bare call is
  std::optional<TimingSamples> samples;  // with the bare call timed: "samples_us"
};

// Per-call microseconds of `a` and `b`, `n` calls each, after `warmup` untimed
// calls of each (alternating a, b). The timed calls run in interleave_blocks(n,
// rounds) alternating blocks (block k has n / blocks calls, plus one when
// k < n % blocks; a then b, then b then a, ...) so that machine noise hits both
// alike. An empty `b` is skipped (its samples stay empty).
struct Interleaved {
  std::vector<double> a, b;
};
inline constexpr std::int64_t kInterleaveRounds = 10;
Interleaved interleave(const std::function<void()>& a, const std::function<void()>& b, std::int64_t n,
                       std::int64_t warmup = 0, std::int64_t rounds = kInterleaveRounds);

// How many blocks interleave splits `n` timed calls into: min(rounds, n), at least 1
// (0 when n <= 0: nothing is timed).
std::int64_t interleave_blocks(std::int64_t n, std::int64_t rounds = kInterleaveRounds) noexcept;

// Parses, runs and reports errors as one "error: ..." line on `err`; returns
// the exit code. Never throws.
int main(std::span<const std::string> args, std::ostream& out, std::ostream& err);

// Runs parsed options (used by main). Throws InputError / ModelError.
int run(const Options& options, std::ostream& out, std::ostream& err);

}  // namespace deploykit::cli
