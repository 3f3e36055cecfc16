// --jobs FILE (docs/contract.md, "Many jobs in one process"): JSON lines, one call each,
// read and validated whole before any job runs; one JSON result line per job.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "deploykit/cli.hpp"
#include "deploykit/request.hpp"

namespace deploykit::cli {

struct Job {
  std::optional<std::string> id;  // echoed back
  std::size_t index = 0;          // among the file's jobs, from 0
  Request request;
  // A timed job (docs/contract.md, "Timed jobs"): after the first call, `warmup` untimed
  // calls, then `repeat` timed predict calls interleaved with as many bare runtime calls.
  std::optional<std::int64_t> repeat;
  std::int64_t warmup = 0;
};

// Parses the jobs text; relative paths resolve against `dir`. Throws InputError
// "jobs <origin> line <n>: <why>" for a malformed line (not JSON, not an object, a
// missing model or inputs, a field of the wrong type, a `repeat` that is not an integer
// >= 1, a `warmup` that is not an integer >= 0 or comes without `repeat`). A null optional
// field counts as absent.
std::vector<Job> parse_jobs(std::string_view text, const std::filesystem::path& dir, std::string_view origin);

// Reads and parses a jobs file (InputError for a missing one).
std::vector<Job> read_jobs(const std::filesystem::path& path);

struct JobResult {
  int exit = 0;
  std::optional<std::string> error;  // the one-line message, without "error: "
  double seconds = 0.0;
  std::optional<Timing> timing;  // a timed job that exited 0; otherwise no "timing" key
};

// {"id": ..., "index": ..., "exit": ..., "error": ..., "seconds": ...[, "timing": {...}]} on one line.
std::string job_line(const Job& job, const JobResult& result);

// The timing object, {"load_ms", "first_ms", "batch", "latency_us": {"p50", "p90", "p99",
// "mean"}, "direct_latency_us": {...}, "direct"}, and, when it has samples, "samples_us":
// {"latency": [...], "direct": [...], "blocks": B} (TimingSamples); `indent` as nlohmann's
// dump (-1: one line).
std::string timing_json(const Timing& timing, int indent = -1);

}  // namespace deploykit::cli
