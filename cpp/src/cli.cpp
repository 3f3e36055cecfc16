// Argument parsing and timing statistics of the demo CLI: no LibTorch here, so
// the sanitizer build covers it.
#include "deploykit/cli.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "deploykit/errors.hpp"

namespace deploykit::cli {
namespace {

constexpr const char* kExitCodes =
    "Exit codes: 0 ok; 1 --check mismatch; 2 usage or bad input (missing file, wrong shape or\n"
    "dtype, malformed .npy or manifest, unknown model or format); 3 the model failed its\n"
    "integrity check or failed to load or run.\n";

// The parser and the Options it fills; rebuilt per call (CLI11 apps are stateful).
struct Parser {
  CLI::App app{"Runs a deploykit TorchScript or AOTInductor artifact with LibTorch.", "deploykit-cpp"};
  Options o;
  std::string manifest, format, input, output, check, timing;
  std::int64_t repeat = 0;
  bool version = false;  // handled before parsing; declared so --help lists it

  Parser() {
    app.set_help_flag("-h,--help", "Print this help and exit");
    app.footer(kExitCodes);
    app.add_option("--manifest", manifest, "models/manifest.json")->required()->type_name("PATH");
    app.add_option("--model", o.model, "model id in the manifest, e.g. mlp_torch")->required()->type_name("ID");
    app.add_option("--format", format, "torchscript-script | torchscript-trace | aoti")->type_name("FORMAT");
    app.add_option("--input", input, "input .npy, float32 (rows, features)")->required()->type_name("PATH");
    app.add_option("--output", output, "output .npy to write, float32 (rows, outputs)")->required()->type_name("PATH");
    app.add_option("--check", check, "compare the output with this .npy within the artifact's tolerance")
        ->type_name("PATH");
    app.add_option("--repeat", repeat, "timed runs of the batch")->check(CLI::PositiveNumber)->type_name("N");
    app.add_option("--warmup", o.warmup, "untimed runs before the timed ones")
        ->check(CLI::NonNegativeNumber)
        ->type_name("K");
    app.add_option("--timing", timing, "write load_ms, first_ms, batch and latency_us percentiles as JSON")
        ->type_name("PATH");
    app.add_flag("--verbose", o.verbose, "progress on stderr");
    app.add_flag("--version", version, "print the version and exit");
  }
};

}  // namespace

std::string usage() { return Parser().app.help(); }

Parsed parse_args(std::span<const std::string> args) {
  Parser p;
  // --version and --help stand alone: check them before the required flags.
  if (std::find(args.begin(), args.end(), "--version") != args.end()) return {Action::kVersion, {}};
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them in reverse order
  try {
    p.app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    return {Action::kHelp, {}};
  } catch (const CLI::ParseError& e) {
    throw InputError(std::string("usage: ") + e.what() + " (see --help)");
  }
  Options& o = p.o;
  o.manifest = p.manifest;
  o.input = p.input;
  o.output = p.output;
  if (p.app.count("--format") > 0) o.format = p.format;
  if (p.app.count("--check") > 0) o.check = p.check;
  if (p.app.count("--timing") > 0) o.timing = p.timing;
  if (p.app.count("--repeat") > 0) o.repeat = p.repeat;
  return {Action::kRun, std::move(p.o)};
}

LatencySummary summarize(std::vector<double> samples) {
  LatencySummary s;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  const auto at = [&](double q) {
    const double pos = q * static_cast<double>(samples.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(pos));
    const std::size_t hi = std::min(lo + 1, samples.size() - 1);
    return samples[lo] + (samples[hi] - samples[lo]) * (pos - static_cast<double>(lo));
  };
  s.p50 = at(0.50);
  s.p90 = at(0.90);
  s.p99 = at(0.99);
  s.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(samples.size());
  return s;
}

Interleaved interleave(const std::function<void()>& a, const std::function<void()>& b, std::int64_t n,
                       std::int64_t warmup, std::int64_t rounds) {
  using Clock = std::chrono::steady_clock;
  Interleaved t;
  for (std::int64_t i = 0; i < warmup; ++i) {
    a();
    if (b) b();
  }
  if (n <= 0) return t;
  t.a.reserve(static_cast<std::size_t>(n));
  if (b) t.b.reserve(static_cast<std::size_t>(n));
  const auto block = [](const std::function<void()>& fn, std::int64_t calls, std::vector<double>& out) {
    for (std::int64_t i = 0; i < calls; ++i) {
      const auto start = Clock::now();
      fn();
      out.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    }
  };
  rounds = std::clamp<std::int64_t>(rounds, 1, n);
  for (std::int64_t r = 0; r < rounds; ++r) {
    const std::int64_t calls = n / rounds + (r < n % rounds ? 1 : 0);
    if (r % 2 == 0 || !b) {
      block(a, calls, t.a);
      if (b) block(b, calls, t.b);
    } else {
      block(b, calls, t.b);
      block(a, calls, t.a);
    }
  }
  return t;
}

}  // namespace deploykit::cli
