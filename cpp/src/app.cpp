// The demo CLI's runs: one call (flags) or many (--jobs), each manifest -> checked
// inputs -> model -> outputs, --check, --timing; and --generate (greedy text generation).
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <sstream>
#include <utility>

#include "deploykit/checks.hpp"
#include "deploykit/cli.hpp"
#include "deploykit/errors.hpp"
#include "deploykit/generate.hpp"
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

// After the first call: `warmup` untimed calls, then `n` timed predict calls, with `direct`
// interleaved in blocks (cli::interleave) with as many timed bare runtime calls
// (Model::direct_call) on the same inputs, whose samples the timing then keeps as well.
// --timing and timed --jobs lines both come here.
Timing time_calls(const Model& model, const Prepared& p, std::int64_t n, std::int64_t warmup, bool direct) {
  Timing t;
  t.batch = batch_of(p);
  std::optional<DirectCall> bare;
  if (direct) bare = model.direct_call(p.inputs);
  Interleaved runs =
      interleave([&] { (void)model.predict(p.inputs); }, bare ? bare->run : std::function<void()>{}, n, warmup);
  t.latency = summarize(runs.a);
  if (bare) {
    t.direct_latency = summarize(runs.b);
    t.direct = bare->description;
    t.samples = TimingSamples{std::move(runs.a), std::move(runs.b), interleave_blocks(n)};
  }
  return t;
}

void write_timing(const std::filesystem::path& path, const Timing& timing) {
  std::ofstream out(path);
  out << timing_json(timing, 2) << '\n';
  out.close();
  if (!out) throw InputError("timing " + path.string() + ": cannot write file");
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

  if (o.repeat || o.timing) {  // --timing alone is one timed call; the bare call only with --timing
    const std::int64_t n = o.repeat.value_or(1);
    Timing t = time_calls(model, p, n, o.warmup, o.timing.has_value());
    t.load_ms = load_ms;
    t.first_ms = first_ms;
    if (o.timing) write_timing(*o.timing, t);
    if (o.verbose) {
      err << "latency over " << n << " runs after " << o.warmup << " warm-ups: p50 " << t.latency.p50 << " us, p99 "
          << t.latency.p99 << " us\n";
      if (o.timing) err << "direct latency (" << t.direct << "): p50 " << t.direct_latency.p50 << " us\n";
    }
  }
  return finish(p, outputs, out);
}

// --generate: the model must be a character model and the prompt in its vocabulary (checked
// before the load, "--generate: ..." errors); then TextGenerator on the loaded model, each step
// one Model::predict. stdout gets exactly the prompt and the generated characters.
int run_generate(const Options& o, std::ostream& out, std::ostream& err) {
  const Manifest manifest = Manifest::read(o.manifest);
  const ModelEntry& entry = manifest.model(o.request.model);
  const Generation& g = *o.generate;
  try {
    (void)CharacterModel::of(entry).encode(g.prompt);
  } catch (const InputError& e) {
    throw InputError(std::string("--generate: ") + e.what());
  }
  const Format format = choose_format(entry, o.request.format);
  const std::string cell = entry.id + "/" + std::string(format_name(format));

  auto start = Clock::now();
  const Model model = Model::load(manifest, entry.id, format);
  if (o.verbose) err << "loaded " << cell << " in " << ms_since(start) << " ms\n";
  start = Clock::now();
  const std::string text = TextGenerator(model).generate(g.prompt, g.tokens);
  if (o.verbose) err << "generated " << g.tokens << " tokens with " << cell << " in " << ms_since(start) << " ms\n";
  out << text << std::flush;
  return kOk;
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
  struct Loaded {
    const Model& model;
    double load_ms;  // this process's load of it (the timing's load_ms of every job on it)
  };

  ModelCache(const Manifest& manifest, bool verbose, std::ostream& err)
      : manifest_(manifest), verbose_(verbose), err_(err) {}

  Loaded get(const std::string& id, Format format) {
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
      entry.load_ms = ms_since(start);
      entry.error = error.value_or("");
      if (verbose_ && entry.model)
        err_ << "loaded " << id << "/" << format_name(format) << " in " << entry.load_ms << " ms\n";
      it = models_.emplace(key, std::move(entry)).first;
    }
    if (!it->second.model) {
      if (it->second.exit == kBadInput) throw InputError(it->second.error);
      throw ModelError(it->second.error);
    }
    return {*it->second.model, it->second.load_ms};
  }

 private:
  struct Entry {
    std::optional<Model> model;
    double load_ms = 0;
    int exit = kOk;
    std::string error;
  };
  const Manifest& manifest_;
  bool verbose_;
  std::ostream& err_;
  std::map<std::pair<std::string, Format>, Entry> models_;
};

// One job: the first call (outputs written and checked), then, for a timed job that passed,
// the timed calls (time_calls, as --timing). A job that fails carries no timing.
int run_job(const Manifest& manifest, ModelCache& cache, const Job& job, JobResult& result, std::ostream& checks) {
  const Prepared p = prepare(manifest, job.request);
  const ModelCache::Loaded loaded = cache.get(p.entry->id, p.format);
  const auto start = Clock::now();
  const TensorMap outputs = loaded.model.predict(p.inputs);
  const double first_ms = ms_since(start);
  const int exit = finish(p, outputs, checks);
  if (exit != kOk || !job.repeat) return exit;
  Timing t = time_calls(loaded.model, p, *job.repeat, job.warmup, true);
  t.load_ms = loaded.load_ms;
  t.first_ms = first_ms;
  result.timing = std::move(t);
  return exit;
}

int run_jobs(const Options& o, std::ostream& out, std::ostream& err) {
  const Manifest manifest = Manifest::read(o.manifest);
  const std::vector<Job> jobs = read_jobs(*o.jobs);  // a malformed line stops everything here
  ModelCache cache(manifest, o.verbose, err);
  int first_failure = kOk;
  for (const Job& job : jobs) {
    const auto start = Clock::now();
    JobResult result;
    std::ostringstream checks;
    result.exit = guarded([&] { return run_job(manifest, cache, job, result, checks); }, result.error);
    if (result.exit != kOk) result.timing.reset();
    result.seconds = ms_since(start) / 1000.0;
    if (result.exit == kCheckFailed) {  // the first failing check line is the job's error
      std::istringstream lines(checks.str());
      for (std::string line; std::getline(lines, line);)
        if (line.find(": FAIL") != std::string::npos && !result.error) result.error = line;
    }
    if (o.verbose) {
      err << checks.str();
      if (result.error) err << "job " << job.index << ": error: " << *result.error << '\n';
      if (result.timing)
        err << "job " << job.index << ": latency p50 " << result.timing->latency.p50 << " us, direct p50 "
            << result.timing->direct_latency.p50 << " us\n";
    }
    out << job_line(job, result) << '\n' << std::flush;
    if (first_failure == kOk) first_failure = result.exit;
  }
  return first_failure;
}

}  // namespace

int run(const Options& o, std::ostream& out, std::ostream& err) {
  if (o.generate) return run_generate(o, out, err);
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
            out << "deploykit-cpp " DEPLOYKIT_VERSION " (" << libtorch_version() << ")\n";
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
