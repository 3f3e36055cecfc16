#include "deploykit/manifest.hpp"

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "deploykit/errors.hpp"

namespace deploykit {
namespace {

using nlohmann::json;

constexpr int kSchemaVersion = 1;

// Field access that names the JSON path in every error.
class Reader {
 public:
  explicit Reader(std::string origin) : origin_(std::move(origin)) {}

  [[noreturn]] void fail(const std::string& where, const std::string& why) const {
    throw InputError("manifest " + origin_ + ": " + where + ": " + why);
  }

  const json& field(const json& obj, const std::string& key, const std::string& where) const {
    if (!obj.is_object()) fail(where, "expected an object");
    const auto it = obj.find(key);
    if (it == obj.end()) fail(where, "missing field '" + key + "'");
    return *it;
  }

  std::string string(const json& obj, const std::string& key, const std::string& where) const {
    const json& v = field(obj, key, where);
    if (!v.is_string() || v.get_ref<const std::string&>().empty())
      fail(where + "." + key, "expected a non-empty string");
    return v.get<std::string>();
  }

  double number(const json& obj, const std::string& key, const std::string& where) const {
    const json& v = field(obj, key, where);
    if (!v.is_number() || v.get<double>() < 0) fail(where + "." + key, "expected a number >= 0");
    return v.get<double>();
  }

  const json& array(const json& obj, const std::string& key, const std::string& where) const {
    const json& v = field(obj, key, where);
    if (!v.is_array()) fail(where + "." + key, "expected an array");
    return v;
  }

  // A relative '/'-separated path that stays inside the manifest's folder.
  std::filesystem::path path(const json& obj, const std::string& key, const std::string& where,
                             const std::filesystem::path& dir) const {
    const std::string text = string(obj, key, where);
    const std::filesystem::path rel(text);
    if (rel.is_absolute() || text.find('\\') != std::string::npos) fail(where + "." + key, "expected a relative '/' path");
    for (const auto& part : rel)
      if (part == "..") fail(where + "." + key, "path leaves the manifest's folder: " + text);
    return dir / rel;
  }

  // [-1, width] with width > 0: the batch dimension is dynamic.
  std::int64_t width(const json& model, const std::string& key, const std::string& where) const {
    const json& specs = array(model, key, where);
    if (specs.empty()) fail(where + "." + key, "expected at least one tensor");
    const std::string w = where + "." + key + "[0]";
    if (string(specs[0], "dtype", w) != "float32") fail(w + ".dtype", "only float32 is supported");
    const json& shape = array(specs[0], "shape", w);
    if (shape.size() != 2 || !shape[1].is_number_integer() || shape[1].get<std::int64_t>() <= 0)
      fail(w + ".shape", "expected [-1, width] with width > 0, got " + shape.dump());
    return shape[1].get<std::int64_t>();
  }

 private:
  std::string origin_;
};

ModelEntry parse_model(const Reader& r, const json& m, const std::string& where, const std::filesystem::path& dir) {
  ModelEntry entry;
  entry.id = r.string(m, "id", where);
  const std::string at = "model '" + entry.id + "'";
  entry.input_width = r.width(m, "inputs", at);
  entry.output_width = r.width(m, "outputs", at);

  const json& golden = r.field(m, "golden", at);
  entry.golden.input = r.path(golden, "input", at + ".golden", dir);
  entry.golden.expected = r.path(golden, "expected", at + ".golden", dir);
  if (golden.contains("special_input") && golden.contains("special_expected")) {
    entry.golden.special_input = r.path(golden, "special_input", at + ".golden", dir);
    entry.golden.special_expected = r.path(golden, "special_expected", at + ".golden", dir);
  }

  const json& artifacts = r.array(m, "artifacts", at);
  for (std::size_t i = 0; i < artifacts.size(); ++i) {
    const json& a = artifacts[i];
    const std::string aw = at + ".artifacts[" + std::to_string(i) + "]";
    Artifact art;
    art.format = r.string(a, "format", aw);
    art.path = r.path(a, "path", aw, dir);
    art.sha256 = r.string(a, "sha256", aw);
    if (art.sha256.size() != 64 || art.sha256.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
      r.fail(aw + ".sha256", "expected 64 hex digits");
    if (a.contains("bytes")) {
      if (!a["bytes"].is_number_integer() || a["bytes"].get<std::int64_t>() < 0)
        r.fail(aw + ".bytes", "expected an integer >= 0");
      art.bytes = a["bytes"].get<std::int64_t>();
    }
    const json& tol = r.field(a, "tolerance", aw);
    art.tolerance = {r.number(tol, "atol", aw + ".tolerance"), r.number(tol, "rtol", aw + ".tolerance")};
    entry.artifacts.push_back(std::move(art));
  }
  return entry;
}

}  // namespace

const Artifact* ModelEntry::find_artifact(std::string_view format) const {
  for (const Artifact& a : artifacts)
    if (a.format == format) return &a;
  return nullptr;
}

Manifest Manifest::parse(std::string_view text, const std::filesystem::path& dir, std::string_view origin) {
  const Reader r{std::string(origin)};
  try {
    json doc;
    try {
      doc = json::parse(text);
    } catch (const json::parse_error& e) {
      r.fail("invalid JSON", e.what());
    }
    const json& version = r.field(doc, "schema_version", "top level");
    if (!version.is_number_integer() || version.get<std::int64_t>() != kSchemaVersion)
      r.fail("schema_version", "expected " + std::to_string(kSchemaVersion) + ", got " + version.dump());
    Manifest manifest;
    manifest.dir_ = dir;
    const json& models = r.array(doc, "models", "top level");
    for (std::size_t i = 0; i < models.size(); ++i) {
      ModelEntry entry = parse_model(r, models[i], "models[" + std::to_string(i) + "]", dir);
      for (const ModelEntry& other : manifest.models_)
        if (other.id == entry.id) r.fail("models[" + std::to_string(i) + "]", "duplicate model id '" + entry.id + "'");
      manifest.models_.push_back(std::move(entry));
    }
    return manifest;
  } catch (const json::exception& e) {  // a type error the Reader's checks did not pre-empt
    r.fail("invalid field", e.what());
  }
}

Manifest Manifest::read(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("manifest " + path.string() + ": cannot open file");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw InputError("manifest " + path.string() + ": read error");
  const std::filesystem::path dir = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
  return parse(text, dir, path.string());
}

const ModelEntry& Manifest::model(std::string_view id) const {
  std::string known;
  for (const ModelEntry& m : models_) {
    if (m.id == id) return m;
    known += (known.empty() ? "" : ", ") + m.id;
  }
  throw InputError("model '" + std::string(id) + "': not in the manifest (known: " + known + ")");
}

}  // namespace deploykit
