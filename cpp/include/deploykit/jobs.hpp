// --jobs FILE (docs/contract.md, "Many jobs in one process"): JSON lines, one call each,
// read and validated whole before any job runs; one JSON result line per job.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "deploykit/request.hpp"

namespace deploykit::cli {

struct Job {
  std::optional<std::string> id;  // echoed back
  std::size_t index = 0;          // among the file's jobs, from 0
  Request request;
};

// Parses the jobs text; relative paths resolve against `dir`. Throws InputError
// "jobs <origin> line <n>: <why>" for a malformed line (not JSON, not an object, a
// missing model or inputs, a field of the wrong type).
std::vector<Job> parse_jobs(std::string_view text, const std::filesystem::path& dir, std::string_view origin);

// Reads and parses a jobs file (InputError for a missing one).
std::vector<Job> read_jobs(const std::filesystem::path& path);

struct JobResult {
  int exit = 0;
  std::optional<std::string> error;  // the one-line message, without "error: "
  double seconds = 0.0;
};

// {"id": ..., "index": ..., "exit": ..., "error": ..., "seconds": ...} on one line.
std::string job_line(const Job& job, const JobResult& result);

}  // namespace deploykit::cli
