// Argument parsing and timing statistics of the demo CLI: no LibTorch here, so
// the sanitizer build covers it.
#include "deploykit/cli.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <numeric>

#include <CLI/CLI.hpp>

#include "deploykit/errors.hpp"

namespace deploykit::cli {
namespace {

constexpr const char* kExitCodes =
    "Exit codes: 0 ok; 1 --check mismatch; 2 usage or bad input (missing file, unknown or missing\n"
    "input name, wrong dtype/rank/dim, malformed .npy or manifest, unknown model or format,\n"
    "boundary-cast overflow); 3 the model failed to load or its integrity check, or the\n"
    "manifest's schema_version is not 2.\n";

// The parser and the Options it fills; rebuilt per call (CLI11 apps are stateful).
struct Parser {
  CLI::App app{"Runs a deploykit TorchScript or AOTInductor artifact with LibTorch.", "deploykit-cpp"};
  Options o;
  std::string manifest, format, input_dir, output_dir, check_dir, timing, jobs, prompt, tokens;
  std::vector<std::string> inputs, outputs, checks;
  std::int64_t repeat = 0;
  bool version = false;  // handled before parsing; declared so --help lists it

  Parser() {
    app.set_help_flag("-h,--help", "Print this help and exit");
    app.footer(kExitCodes);
    app.add_option("--manifest", manifest, "models/manifest.json")->required()->type_name("PATH");
    app.add_option("--model", o.request.model, "model id in the manifest, e.g. mlp_torch")->type_name("ID");
    app.add_option("--format", format, "torchscript-script | torchscript-trace | aoti")->type_name("FORMAT");
    app.add_option("--input", inputs, "NAME=FILE (repeatable), or FILE for a one-input model")
        ->type_name("NAME=FILE")
        ->allow_extra_args(false);
    app.add_option("--input-dir", input_dir, "read DIR/<name>.npy for every model input")->type_name("DIR");
    app.add_option("--output", outputs, "NAME=FILE (repeatable), or FILE for a one-output model")
        ->type_name("NAME=FILE")
        ->allow_extra_args(false);
    app.add_option("--output-dir", output_dir, "write DIR/<name>.npy for every output")->type_name("DIR");
    app.add_option("--check", checks, "NAME=FILE (repeatable), or FILE: compare within the artifact's tolerance")
        ->type_name("NAME=FILE")
        ->allow_extra_args(false);
    app.add_option("--check-dir", check_dir, "compare every output with DIR/<name>.npy")->type_name("DIR");
    app.add_option("--jobs", jobs, "run the JSON lines of FILE in one process (one JSON line per job)")
        ->type_name("FILE");
    app.add_option("--repeat", repeat, "timed runs of the call")->check(CLI::PositiveNumber)->type_name("N");
    app.add_option("--warmup", o.warmup, "untimed runs before the timed ones")
        ->check(CLI::NonNegativeNumber)
        ->type_name("K");
    app.add_option("--timing", timing, "write load_ms, first_ms, batch and latency_us percentiles as JSON")
        ->type_name("PATH");
    app.add_option("--generate", prompt, "continue PROMPT with a character model (greedy; needs --tokens)")
        ->type_name("PROMPT");
    app.add_option("--tokens", tokens, "with --generate: how many characters to generate (0 to 10000)")->type_name("N");
    app.add_flag("--verbose", o.verbose, "progress on stderr");
    app.add_flag("--version", version, "print the version and exit");
  }

  bool given(const char* flag) const { return app.count(flag) > 0; }
};

[[noreturn]] void usage_error(const std::string& why) { throw InputError("usage: " + why + " (see --help)"); }

Files files_of(const Parser& p, const std::vector<std::string>& bindings, const char* dir_flag, const std::string& dir,
               const char* flag) {
  Files f;
  for (const std::string& b : bindings) {
    Binding binding = parse_binding(b);
    if (binding.file.empty()) usage_error(std::string(flag) + " " + b + ": empty file name");
    f.bindings.push_back(std::move(binding));
  }
  if (p.given(dir_flag)) {
    if (!f.bindings.empty()) usage_error(std::string(flag) + " and " + dir_flag + " exclude each other");
    f.dir = dir;
  }
  return f;
}

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
    usage_error(e.what());
  }
  Options& o = p.o;
  o.manifest = p.manifest;
  Request& r = o.request;
  r.inputs = files_of(p, p.inputs, "--input-dir", p.input_dir, "--input");
  r.outputs = files_of(p, p.outputs, "--output-dir", p.output_dir, "--output");
  r.checks = files_of(p, p.checks, "--check-dir", p.check_dir, "--check");
  if (p.given("--format")) r.format = p.format;
  if (p.given("--timing")) o.timing = p.timing;
  if (p.given("--repeat")) o.repeat = p.repeat;
  if (p.given("--generate")) {
    for (const char* flag : {"--input", "--input-dir", "--output", "--output-dir", "--check", "--check-dir", "--repeat",
                             "--warmup", "--timing", "--jobs"})
      if (p.given(flag)) usage_error(std::string("--generate cannot be combined with ") + flag);
    if (!p.given("--model")) usage_error("--model is required");
    if (!p.given("--tokens")) usage_error("--generate needs --tokens N");
    o.generate = Generation{p.prompt, parse_tokens(p.tokens)};
  } else if (p.given("--tokens")) {
    usage_error("--tokens only applies to --generate");
  } else if (p.given("--jobs")) {
    for (const char* flag : {"--model", "--format", "--input", "--input-dir", "--output", "--output-dir", "--check",
                             "--check-dir", "--repeat", "--warmup", "--timing"})
      if (p.given(flag)) usage_error(std::string("--jobs runs the calls its file lists; ") + flag + " does not apply");
    o.jobs = p.jobs;
  } else {
    if (!p.given("--model")) usage_error("--model is required");
    if (r.inputs.empty()) usage_error("--input or --input-dir is required");
  }
  return {Action::kRun, std::move(p.o)};
}

std::int64_t parse_tokens(std::string_view text) {
  // Optional sign, then decimal digits only (no space, fraction, exponent or hex).
  const std::string_view number = text.starts_with('+') ? text.substr(1) : text;
  const std::string_view digits = number.starts_with('-') ? number.substr(1) : number;
  std::int64_t n = -1;
  if (!digits.empty() && digits.find_first_not_of("0123456789") == std::string_view::npos) {
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), n);
    if (ec != std::errc() || end != number.data() + number.size()) n = -1;  // out of int64's range
  }
  if (n < 0 || n > kMaxTokens)
    throw InputError("--tokens: expected an integer from 0 to " + std::to_string(kMaxTokens) + ", got '" +
                     std::string(text) + "'");
  return n;
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

std::int64_t interleave_blocks(std::int64_t n, std::int64_t rounds) noexcept {
  return n <= 0 ? 0 : std::clamp<std::int64_t>(rounds, 1, n);
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
  rounds = interleave_blocks(n, rounds);
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
