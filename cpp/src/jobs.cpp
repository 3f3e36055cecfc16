#include "deploykit/jobs.hpp"

#include <fstream>
#include <iterator>
#include <limits>

#include <nlohmann/json.hpp>

#include "deploykit/errors.hpp"

namespace deploykit::cli {
namespace {

using nlohmann::json;

class LineReader {
 public:
  LineReader(std::string origin, std::size_t line, std::filesystem::path dir)
      : origin_(std::move(origin)), line_(line), dir_(std::move(dir)) {}

  [[noreturn]] void fail(const std::string& why) const {
    throw InputError("jobs " + origin_ + " line " + std::to_string(line_) + ": " + why);
  }

  std::string string(const json& v, const std::string& key) const {
    if (!v.is_string() || v.get_ref<const std::string&>().empty()) fail("'" + key + "' must be a non-empty string");
    return v.get<std::string>();
  }

  // An optional integer >= `min` (null counts as absent); a float, bool or string fails.
  std::optional<std::int64_t> integer(const json& job, const std::string& key, std::int64_t min) const {
    const auto it = job.find(key);
    if (it == job.end() || it->is_null()) return std::nullopt;
    const bool fits =
        it->is_number_integer() &&
        (!it->is_number_unsigned() ||
         it->get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()));
    if (!fits || it->get<std::int64_t>() < min) fail("'" + key + "' must be an integer >= " + std::to_string(min));
    return it->get<std::int64_t>();
  }

  // {"name": "path", ...} -> bindings (paths relative to the jobs file's folder).
  Files files(const json& job, const std::string& key, bool required) const {
    Files f;
    const auto it = job.find(key);
    if (it == job.end() || it->is_null()) {
      if (required) fail("missing '" + key + "'");
      return f;
    }
    if (!it->is_object()) fail("'" + key + "' must be an object {name: path}");
    if (required && it->empty()) fail("'" + key + "' is empty");
    for (const auto& [name, value] : it->items()) {
      if (name.empty()) fail("'" + key + "' has an empty tensor name");
      const std::filesystem::path path(string(value, key + "." + name));
      f.bindings.push_back({name, path.is_absolute() ? path : dir_ / path});
    }
    return f;
  }

 private:
  std::string origin_;
  std::size_t line_;
  std::filesystem::path dir_;
};

}  // namespace

std::vector<Job> parse_jobs(std::string_view text, const std::filesystem::path& dir, std::string_view origin) {
  std::vector<Job> jobs;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t end = std::min(text.find('\n', pos), text.size());
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const LineReader r(std::string(origin), line_no, dir);
    json job;
    try {
      job = json::parse(line);
    } catch (const json::parse_error& e) {
      r.fail(std::string("not JSON: ") + e.what());
    }
    if (!job.is_object()) r.fail("expected a JSON object");
    Job j;
    j.index = jobs.size();
    if (job.contains("id") && !job["id"].is_null()) {
      if (!job["id"].is_string()) r.fail("'id' must be a string");
      j.id = job["id"].get<std::string>();
    }
    if (!job.contains("model")) r.fail("missing 'model'");
    j.request.model = r.string(job["model"], "model");
    if (job.contains("format") && !job["format"].is_null()) j.request.format = r.string(job["format"], "format");
    j.request.inputs = r.files(job, "inputs", true);
    j.request.outputs = r.files(job, "outputs", false);
    j.request.checks = r.files(job, "check", false);
    j.repeat = r.integer(job, "repeat", 1);
    const std::optional<std::int64_t> warmup = r.integer(job, "warmup", 0);
    if (warmup && !j.repeat) r.fail("'warmup' is only valid with 'repeat'");
    j.warmup = warmup.value_or(0);
    jobs.push_back(std::move(j));
  }
  return jobs;
}

std::vector<Job> read_jobs(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw InputError("jobs " + path.string() + ": no such file");
  std::ifstream in(path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in && !in.eof()) throw InputError("jobs " + path.string() + ": read error");
  const std::filesystem::path dir = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
  return parse_jobs(text, dir, path.string());
}

namespace {

nlohmann::ordered_json percentiles(const LatencySummary& s) {
  return {{"p50", s.p50}, {"p90", s.p90}, {"p99", s.p99}, {"mean", s.mean}};
}

nlohmann::ordered_json timing_object(const Timing& t) {
  nlohmann::ordered_json object = {
      {"load_ms", t.load_ms},
      {"first_ms", t.first_ms},
      {"batch", t.batch},
      {"latency_us", percentiles(t.latency)},
      {"direct_latency_us", percentiles(t.direct_latency)},
      {"direct", t.direct},
  };
  if (t.samples)
    object["samples_us"] = {
        {"latency", t.samples->latency}, {"direct", t.samples->direct}, {"blocks", t.samples->blocks}};
  return object;
}

}  // namespace

std::string timing_json(const Timing& timing, int indent) {
  return timing_object(timing).dump(indent, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string job_line(const Job& job, const JobResult& result) {
  nlohmann::ordered_json line = {
      {"id", job.id ? nlohmann::ordered_json(*job.id) : nlohmann::ordered_json(nullptr)},
      {"index", job.index},
      {"exit", result.exit},
      {"error", result.error ? nlohmann::ordered_json(*result.error) : nlohmann::ordered_json(nullptr)},
      {"seconds", result.seconds},
  };
  if (result.timing) line["timing"] = timing_object(*result.timing);
  return line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace deploykit::cli
