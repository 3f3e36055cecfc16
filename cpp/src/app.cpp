// The demo CLI's run: manifest -> model -> batch -> output, --check, --timing.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "deploykit/cli.hpp"
#include "deploykit/compare.hpp"
#include "deploykit/errors.hpp"
#include "deploykit/manifest.hpp"
#include "deploykit/model.hpp"
#include "deploykit/npy.hpp"

namespace deploykit::cli {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// --format, or the one format of this client the model has.
Format choose_format(const ModelEntry& entry, const std::optional<std::string>& requested) {
  std::string supported;
  for (Format f : supported_formats()) supported += (supported.empty() ? "" : ", ") + std::string(format_name(f));
  if (requested) {
    const std::optional<Format> f = parse_format(*requested);
    if (!f) throw InputError("format '" + *requested + "': not run by the C++ client (it runs " + supported + ")");
    if (entry.find_artifact(*requested) == nullptr)
      throw InputError("model '" + entry.id + "': the manifest lists no " + *requested + " artifact");
    return *f;
  }
  std::vector<Format> present;
  for (Format f : supported_formats())
    if (entry.find_artifact(format_name(f)) != nullptr) present.push_back(f);
  if (present.empty()) throw InputError("model '" + entry.id + "': no artifact the C++ client runs (" + supported + ")");
  if (present.size() > 1) {
    std::string names;
    for (Format f : present) names += (names.empty() ? "" : ", ") + std::string(format_name(f));
    throw InputError("model '" + entry.id + "': --format is ambiguous, choose one of " + names);
  }
  return present.front();
}

std::string shape(const Matrix& m) {
  std::string s = "(";  // appended piecewise: GCC 12 warns falsely (-Wrestrict) on "(" + std::to_string(...)
  s += std::to_string(m.rows);
  s += ", ";
  s += std::to_string(m.cols);
  s += ")";
  return s;
}

std::string sci(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

nlohmann::json percentiles(const LatencySummary& s) {
  return {{"p50", s.p50}, {"p90", s.p90}, {"p99", s.p99}, {"mean", s.mean}};
}

void write_timing(const std::filesystem::path& path, double load_ms, double first_ms, std::int64_t batch,
                  const LatencySummary& s, const LatencySummary& direct, const std::string& direct_what) {
  const nlohmann::json doc = {
      {"load_ms", load_ms},
      {"first_ms", first_ms},
      {"batch", batch},
      {"latency_us", percentiles(s)},
      {"direct_latency_us", percentiles(direct)},
      {"direct", direct_what},
  };
  std::ofstream out(path);
  out << doc.dump(2) << '\n';
  out.close();
  if (!out) throw InputError("timing " + path.string() + ": cannot write file");
}

}  // namespace

int run(const Options& o, std::ostream& out, std::ostream& err) {
  const Manifest manifest = Manifest::read(o.manifest);
  const ModelEntry& entry = manifest.model(o.model);
  const Format format = choose_format(entry, o.format);
  const Artifact& artifact = *entry.find_artifact(format_name(format));
  const std::string cell = entry.id + "/" + std::string(format_name(format));

  // Bad input is reported before the (slow) model load.
  const Matrix input = read_npy(o.input);
  if (input.cols != entry.input_width)
    throw InputError(o.input.string() + ": expected " + std::to_string(entry.input_width) + " features per row (" +
                     entry.id + "), got shape " + shape(input));
  std::optional<Matrix> expected;
  if (o.check) {
    expected = read_npy(*o.check);
    if (expected->rows != input.rows || expected->cols != entry.output_width)
      throw InputError(o.check->string() + ": expected shape (" + std::to_string(input.rows) + ", " +
                       std::to_string(entry.output_width) + "), got " + shape(*expected));
  }

  auto start = Clock::now();
  const Model model = Model::load(manifest, entry.id, format);
  const double load_ms = ms_since(start);
  if (o.verbose) err << "loaded " << cell << " from " << artifact.path.string() << " in " << load_ms << " ms\n";

  start = Clock::now();
  const Matrix output = model.predict(input);
  const double first_ms = ms_since(start);
  write_npy(o.output, output);
  if (o.verbose) err << "ran " << shape(input) << " -> " << shape(output) << " in " << first_ms << " ms\n";

  if (o.repeat || o.timing) {
    // With --timing, the bare runtime call (Model::direct_call) is timed too, in blocks
    // alternating with predict's (cli::interleave), over the same batch.
    const std::int64_t n = o.repeat.value_or(1);
    std::optional<DirectCall> direct;
    if (o.timing) direct = model.direct_call(input);
    const Interleaved t = interleave([&] { model.predict(input); }, direct ? direct->run : std::function<void()>{},
                                     n, o.warmup);
    const LatencySummary s = summarize(t.a);
    if (o.timing) write_timing(*o.timing, load_ms, first_ms, input.rows, s, summarize(t.b), direct->description);
    if (o.verbose) {
      err << "latency over " << n << " runs after " << o.warmup << " warm-ups: p50 " << s.p50 << " us, p99 " << s.p99
          << " us\n";
      if (direct) err << "direct latency (" << direct->description << "): p50 " << summarize(t.b).p50 << " us\n";
    }
  }

  if (!expected) return kOk;
  const Tolerance tol = artifact.tolerance;
  const CompareResult r = compare(std::span<const float>(expected->values), std::span<const float>(output.values),
                                  tol.atol, tol.rtol);
  out << "check " << cell << ": " << (r.passed ? "pass" : "FAIL") << " max_abs=" << sci(r.max_abs);
  if (!r.passed)
    out << " mismatches=" << r.mismatches << "/" << r.count << " worst_index=" << r.worst_index
        << (r.nan_match ? "" : " nan_mismatch") << (r.inf_match ? "" : " inf_mismatch");
  out << " (atol " << sci(tol.atol) << " rtol " << sci(tol.rtol) << ")\n";
  return r.passed ? kOk : kCheckFailed;
}

int main(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    err << usage();
    return kBadInput;
  }
  try {
    const Parsed parsed = parse_args(args);
    switch (parsed.action) {
      case Action::kHelp:
        out << usage();
        return kOk;
      case Action::kVersion:
        out << "deploykit-cpp 0.1.0 (" << libtorch_version() << ")\n";
        return kOk;
      case Action::kRun:
        return run(parsed.options, out, err);
    }
  } catch (const InputError& e) {
    err << "error: " << e.what() << '\n';
    return kBadInput;
  } catch (const ModelError& e) {
    err << "error: " << e.what() << '\n';
    return kModelFailed;
  } catch (const std::exception& e) {  // e.g. std::bad_alloc: still one line, never an abort
    err << "error: unexpected: " << e.what() << '\n';
    return kModelFailed;
  }
  return kModelFailed;
}

}  // namespace deploykit::cli
