// The demo CLI's runs: one call (flags) or many (--jobs), each manifest -> checked
// inputs -> model -> outputs, --check, --timing.
#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "deploykit/checks.hpp"
#include "deploykit/cli.hpp"
#include "deploykit/errors.hpp"
#include "deploykit/jobs.hpp"
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
    if (!f) throw InputError("format " + *requested + ": not run by the C++ client (it runs " + supported + ")");
    if (entry.find_artifact(*requested) == nullptr)
      throw InputError("model " + entry.id + ": the manifest lists no " + *requested + " artifact");
    return *f;
  }
  std::vector<Format> present;
  for (Format f : supported_formats())
    if (entry.find_artifact(format_name(f)) != nullptr) present.push_back(f);
  if (present.empty()) throw InputError("model " + entry.id + ": no artifact the C++ client runs (" + supported + ")");
  if (present.size() > 1) {
    std::string names;
    for (Format f : present) names += (names.empty() ? "" : ", ") + std::string(format_name(f));
    throw InputError("model " + entry.id + ": --format is ambiguous, choose one of " + names);
  }
  return present.front();
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

// A call's files, read and checked against the model's specs before any model loads.
struct Prepared {
  const ModelEntry* entry = nullptr;
  Format format{};
  const Artifact* artifact = nullptr;
  TensorMap inputs;
  std::map<std::string, std::filesystem::path> outputs;
  TensorMap expected;
};

Prepared prepare(const Manifest& manifest, const Request& r) {
  Prepared p;
  p.entry = &manifest.model(r.model);
  p.format = choose_format(*p.entry, r.format);
  p.artifact = p.entry->find_artifact(format_name(p.format));
  p.inputs = read_tensors(resolve_inputs(*p.entry, r.inputs));
  (void)check_inputs(*p.entry, p.inputs, p.artifact);
  p.outputs = resolve_outputs(*p.entry, r.outputs, "output");
  p.expected = read_tensors(resolve_outputs(*p.entry, r.checks, "check"));
  return p;
}

// Writes the requested outputs and prints one check line per checked output; the exit code.
int finish(const Prepared& p, const TensorMap& outputs, std::ostream& out) {
  for (const auto& [name, path] : p.outputs) {
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
    write_npy(path, outputs.find(name)->second);
  }
  bool passed = true;
  for (const TensorSpec& spec : p.entry->outputs) {  // in the model's output order
    const auto expected = p.expected.find(spec.name);
    if (expected != p.expected.end())
      passed &= check_output(spec.name, expected->second, outputs.find(spec.name)->second,
                             p.artifact->tolerance_for(spec.name), out);
  }
  return passed ? kOk : kCheckFailed;
}

std::int64_t batch_of(const Prepared& p) {
  const Tensor& first = p.inputs.find(p.entry->inputs.front().name)->second;
  return first.shape.empty() ? 1 : first.shape.front();
}

int run_single(const Options& o, std::ostream& out, std::ostream& err) {
  const Manifest manifest = Manifest::read(o.manifest);
  const Prepared p = prepare(manifest, o.request);  // bad input is reported before the (slow) load
  const std::string cell = p.entry->id + "/" + std::string(format_name(p.format));

  auto start = Clock::now();
  const Model model = Model::load(manifest, p.entry->id, p.format);
  const double load_ms = ms_since(start);
  if (o.verbose) err << "loaded " << cell << " from " << p.artifact->path.string() << " in " << load_ms << " ms\n";

  start = Clock::now();
  const TensorMap outputs = model.predict(p.inputs);
  const double first_ms = ms_since(start);
  if (o.verbose) err << "ran " << cell << " in " << first_ms << " ms\n";

  if (o.repeat || o.timing) {
    // With --timing, the bare runtime call (Model::direct_call) is timed too, in blocks
    // alternating with predict's (cli::interleave), over the same inputs.
    const std::int64_t n = o.repeat.value_or(1);
    std::optional<DirectCall> direct;
    if (o.timing) direct = model.direct_call(p.inputs);
    const Interleaved t = interleave([&] { (void)model.predict(p.inputs); },
                                     direct ? direct->run : std::function<void()>{}, n, o.warmup);
    const LatencySummary s = summarize(t.a);
    if (o.timing) write_timing(*o.timing, load_ms, first_ms, batch_of(p), s, summarize(t.b), direct->description);
    if (o.verbose) {
      err << "latency over " << n << " runs after " << o.warmup << " warm-ups: p50 " << s.p50 << " us, p99 " << s.p99
          << " us\n";
      if (direct) err << "direct latency (" << direct->description << "): p50 " << summarize(t.b).p50 << " us\n";
    }
  }
  return finish(p, outputs, out);
}

// Runs `fn`, mapping the error classes to exit codes; the message goes to `error`.
template <typename Fn>
int guarded(Fn&& fn, std::optional<std::string>& error) {
  try {
    return fn();
  } catch (const InputError& e) {
    error = e.what();
    return kBadInput;
  } catch (const ModelError& e) {
    error = e.what();
    return kModelFailed;
  } catch (const std::filesystem::filesystem_error& e) {
    error = std::string("file system: ") + e.what();
    return kBadInput;
  } catch (const std::exception& e) {  // e.g. std::bad_alloc: still one line, never an abort
    error = std::string("unexpected: ") + e.what();
    return kModelFailed;
  }
}

// Each (model, format) loads once; a failed load is remembered and reported for every job.
class ModelCache {
 public:
  ModelCache(const Manifest& manifest, bool verbose, std::ostream& err)
      : manifest_(manifest), verbose_(verbose), err_(err) {}

  const Model& get(const std::string& id, Format format) {
    const auto key = std::pair{id, format};
    auto it = models_.find(key);
    if (it == models_.end()) {
      Entry entry;
      std::optional<std::string> error;
      const auto start = Clock::now();
      entry.exit = guarded(
          [&] {
            entry.model.emplace(Model::load(manifest_, id, format));
            return kOk;
          },
          error);
      entry.error = error.value_or("");
      if (verbose_ && entry.model)
        err_ << "loaded " << id << "/" << format_name(format) << " in " << ms_since(start) << " ms\n";
      it = models_.emplace(key, std::move(entry)).first;
    }
    if (!it->second.model) {
      if (it->second.exit == kBadInput) throw InputError(it->second.error);
      throw ModelError(it->second.error);
    }
    return *it->second.model;
  }

 private:
  struct Entry {
    std::optional<Model> model;
    int exit = kOk;
    std::string error;
  };
  const Manifest& manifest_;
  bool verbose_;
  std::ostream& err_;
  std::map<std::pair<std::string, Format>, Entry> models_;
};

int run_jobs(const Options& o, std::ostream& out, std::ostream& err) {
  const Manifest manifest = Manifest::read(o.manifest);
  const std::vector<Job> jobs = read_jobs(*o.jobs);  // a malformed line stops everything here
  ModelCache cache(manifest, o.verbose, err);
  int first_failure = kOk;
  for (const Job& job : jobs) {
    const auto start = Clock::now();
    JobResult result;
    std::ostringstream checks;
    result.exit = guarded(
        [&] {
          const Prepared p = prepare(manifest, job.request);
          const Model& model = cache.get(p.entry->id, p.format);
          return finish(p, model.predict(p.inputs), checks);
        },
        result.error);
    result.seconds = ms_since(start) / 1000.0;
    if (result.exit == kCheckFailed) {  // the first failing check line is the job's error
      std::istringstream lines(checks.str());
      for (std::string line; std::getline(lines, line);)
        if (line.find(": FAIL") != std::string::npos && !result.error) result.error = line;
    }
    if (o.verbose) {
      err << checks.str();
      if (result.error) err << "job " << job.index << ": error: " << *result.error << '\n';
    }
    out << job_line(job, result) << '\n' << std::flush;
    if (first_failure == kOk) first_failure = result.exit;
  }
  return first_failure;
}

}  // namespace

int run(const Options& o, std::ostream& out, std::ostream& err) {
  return o.jobs ? run_jobs(o, out, err) : run_single(o, out, err);
}

int main(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    err << usage();
    return kBadInput;
  }
  std::optional<std::string> error;
  const int code = guarded(
      [&] {
        const Parsed parsed = parse_args(args);
        switch (parsed.action) {
          case Action::kHelp:
            out << usage();
            return static_cast<int>(kOk);
          case Action::kVersion:
            out << "deploykit-cpp 0.2.0 (" << libtorch_version() << ")\n";
            return static_cast<int>(kOk);
          case Action::kRun:
            break;
        }
        return run(parsed.options, out, err);
      },
      error);
  if (error) err << "error: " << *error << '\n';
  return code;
}

}  // namespace deploykit::cli
