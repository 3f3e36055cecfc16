#include "deploykit/manifest.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <set>

#include <nlohmann/json.hpp>

#include "deploykit/errors.hpp"
#include "deploykit/runtime_version.hpp"

namespace deploykit {
namespace {

using nlohmann::json;

// Formats whose runtime addresses tensors by key: they must map every model tensor.
constexpr std::string_view kKeyedFormats[] = {"onnx", "saved-model", "tflite", "tfjs-graph"};

bool is_identifier(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool is_allowed_cast(DType from, DType to) {
  if (to == DType::kInt32) return from == DType::kInt64 || from == DType::kBool || from == DType::kUInt8;
  return from == DType::kFloat16 && to == DType::kFloat32;
}

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

  std::int64_t integer(const json& v, const std::string& where, std::int64_t min) const {
    if (!v.is_number_integer() || v.get<std::int64_t>() < min)
      fail(where, "expected an integer >= " + std::to_string(min) + ", got " + v.dump());
    return v.get<std::int64_t>();
  }

  const json& array(const json& obj, const std::string& key, const std::string& where) const {
    const json& v = field(obj, key, where);
    if (!v.is_array()) fail(where + "." + key, "expected an array");
    return v;
  }

  const json& object(const json& obj, const std::string& key, const std::string& where) const {
    const json& v = field(obj, key, where);
    if (!v.is_object()) fail(where + "." + key, "expected an object");
    return v;
  }

  // A relative '/'-separated path that stays inside the manifest's folder.
  std::filesystem::path path(const json& v, const std::string& where, const std::filesystem::path& dir) const {
    if (!v.is_string() || v.get_ref<const std::string&>().empty()) fail(where, "expected a non-empty string");
    const std::string text = v.get<std::string>();
    const std::filesystem::path rel(text);
    if (rel.is_absolute() || text.find('\\') != std::string::npos) fail(where, "expected a relative '/' path");
    for (const auto& part : rel)
      if (part == "..") fail(where, "path leaves the manifest's folder: " + text);
    return dir / rel;
  }

  DType dtype(const json& spec, const std::string& where) const {
    const std::string name = string(spec, "dtype", where);
    const auto d = parse_dtype(name);
    if (!d) fail(where, "unknown dtype '" + name + "' (float32, float16, int32, int64, uint8, bool)");
    return *d;
  }

 private:
  std::string origin_;
};

std::vector<TensorSpec> parse_specs(const Reader& r, const json& model, const std::string& key, const std::string& at) {
  const json& list = r.array(model, key, at);
  if (list.empty()) r.fail(at + " " + key, "expected at least one tensor");
  std::vector<TensorSpec> specs;
  const std::string kind = key == "inputs" ? "input" : "output";
  for (std::size_t i = 0; i < list.size(); ++i) {
    const json& s = list[i];
    TensorSpec spec;
    spec.name = r.string(s, "name", at + " " + kind + " #" + std::to_string(i));
    const std::string w = at + " " + kind + " " + spec.name;
    if (!is_identifier(spec.name)) r.fail(w, "name is not an identifier ([A-Za-z_][A-Za-z0-9_]*)");
    for (const TensorSpec& other : specs)
      if (other.name == spec.name) r.fail(w, "duplicate " + kind + " name");
    spec.dtype = r.dtype(s, w);
    const json& shape = r.array(s, "shape", w);
    if (shape.size() > kMaxRank) r.fail(w, "rank " + std::to_string(shape.size()) + " is over 8");
    for (const json& d : shape) {
      if (d.is_string()) {
        const std::string name = d.get<std::string>();
        if (!is_identifier(name)) r.fail(w, "dim name '" + name + "' is not an identifier");
        spec.shape.push_back({0, name});
      } else if (d.is_number_integer() && d.get<std::int64_t>() >= 0) {
        spec.shape.push_back({d.get<std::int64_t>(), ""});
      } else {
        r.fail(w, "dim " + d.dump() + " is neither an integer >= 0 nor a dim name");
      }
    }
    const auto range = s.find("range");
    if (range != s.end() && range->is_array() && range->size() == 2 && (*range)[0].is_number_integer() &&
        (*range)[1].is_number_integer())
      spec.range = std::pair{(*range)[0].get<std::int64_t>(), (*range)[1].get<std::int64_t>()};
    specs.push_back(std::move(spec));
  }
  return specs;
}

std::map<std::string, DimRange, std::less<>> parse_dims(const Reader& r, const json& model, const ModelEntry& entry,
                                                        const std::string& at) {
  std::map<std::string, DimRange, std::less<>> dims;
  if (!model.contains("dims")) return dims;
  const json& table = r.object(model, "dims", at);
  std::set<std::string, std::less<>> used;
  for (const auto* specs : {&entry.inputs, &entry.outputs})
    for (const TensorSpec& s : *specs)
      for (const Dim& d : s.shape)
        if (d.dynamic()) used.insert(d.name);
  for (const auto& [name, value] : table.items()) {
    const std::string w = at + " dims." + name;
    if (!used.contains(name)) r.fail(w, "no input or output shape uses this dim");
    if (!value.is_object()) r.fail(w, "expected an object");
    DimRange range;
    if (value.contains("min")) range.min = r.integer(value["min"], w + ".min", 0);
    if (value.contains("max") && !value["max"].is_null()) range.max = r.integer(value["max"], w + ".max", 0);
    if (range.max && range.min > *range.max)
      r.fail(w, "min " + std::to_string(range.min) + " > max " + std::to_string(*range.max));
    dims.emplace(name, range);
  }
  return dims;
}

bool names_tensor(const std::vector<TensorSpec>& specs, std::string_view name) {
  return std::any_of(specs.begin(), specs.end(), [&](const TensorSpec& s) { return s.name == name; });
}

std::map<std::string, std::string, std::less<>> parse_keys(const Reader& r, const json& a, const std::string& key,
                                                           const std::vector<TensorSpec>& specs, bool required,
                                                           const std::string& aw) {
  std::map<std::string, std::string, std::less<>> keys;
  if (!a.contains(key)) {
    if (required) r.fail(aw, "missing field '" + key + "'");
    return keys;
  }
  const json& map = r.object(a, key, aw);
  for (const auto& [name, value] : map.items()) {
    if (!names_tensor(specs, name))
      r.fail(aw + "." + key, "names tensor '" + name + "', which the model does not have");
    if (!value.is_string() || value.get_ref<const std::string&>().empty())
      r.fail(aw + "." + key + "." + name, "expected a non-empty string");
    keys.emplace(name, value.get<std::string>());
  }
  for (const TensorSpec& s : specs)
    if (!keys.contains(s.name) && !keys.empty()) r.fail(aw + "." + key, "lacks tensor '" + s.name + "'");
  if (required && keys.size() != specs.size()) r.fail(aw + "." + key, "must map every model tensor");
  return keys;
}

Artifact parse_artifact(const Reader& r, const json& a, const ModelEntry& entry, const std::string& aw,
                        const std::filesystem::path& dir) {
  Artifact art;
  art.format = r.string(a, "format", aw);
  const std::string w = aw + " (" + art.format + ")";
  art.path = r.path(r.field(a, "path", w), w + ".path", dir);
  art.sha256 = r.string(a, "sha256", w);
  if (art.sha256.size() != 64 || art.sha256.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
    r.fail(w + ".sha256", "expected 64 hex digits");
  if (a.contains("bytes")) art.bytes = r.integer(a["bytes"], w + ".bytes", 0);
  const json& tol = r.object(a, "tolerance", w);
  art.tolerance = {r.number(tol, "atol", w + ".tolerance"), r.number(tol, "rtol", w + ".tolerance")};
  if (tol.contains("outputs")) {
    for (const auto& [name, t] : r.object(tol, "outputs", w + ".tolerance").items()) {
      if (!names_tensor(entry.outputs, name)) r.fail(w + ".tolerance.outputs", "names unknown output '" + name + "'");
      art.output_tolerance.emplace(name, Tolerance{r.number(t, "atol", w + ".tolerance.outputs." + name),
                                                   r.number(t, "rtol", w + ".tolerance.outputs." + name)});
    }
  }
  const bool keyed =
      std::find(std::begin(kKeyedFormats), std::end(kKeyedFormats), art.format) != std::end(kKeyedFormats);
  art.input_keys = parse_keys(r, a, "input_keys", entry.inputs, keyed, w);
  art.output_keys = parse_keys(r, a, "output_keys", entry.outputs, keyed, w);
  if (a.contains("boundary_dtypes")) {
    for (const auto& [name, value] : r.object(a, "boundary_dtypes", w).items()) {
      const TensorSpec* spec = nullptr;
      for (const auto* specs : {&entry.inputs, &entry.outputs})
        for (const TensorSpec& s : *specs)
          if (s.name == name) spec = &s;
      const std::string bw = w + ".boundary_dtypes." + name;
      if (spec == nullptr) r.fail(bw, "names a tensor the model does not have");
      const auto to = value.is_string() ? parse_dtype(value.get<std::string>()) : std::nullopt;
      if (!to) r.fail(bw, "unknown dtype " + value.dump());
      if (!is_allowed_cast(spec->dtype, *to))
        r.fail(bw, std::string(dtype_name(spec->dtype)) + " -> " + std::string(dtype_name(*to)) +
                       " is not an allowed boundary cast");
      art.boundary_dtypes.emplace(name, *to);
    }
  }
  if (a.contains("via")) {
    const json& via = r.array(a, "via", w);
    for (const json& v : via) {
      if (!v.is_string()) r.fail(w + ".via", "expected a list of strings");
      art.via.push_back(v.get<std::string>());
    }
  }
  if (a.contains("min_runtime")) {
    for (const auto& [family, version] : r.object(a, "min_runtime", w).items()) {
      if (!version.is_string() || !Version::parse(version.get_ref<const std::string&>()))
        r.fail(w + ".min_runtime." + family,
               "expected a version MAJOR[.MINOR[.PATCH]] (digits), got " + version.dump());
      art.min_runtime.emplace(family, version.get<std::string>());
    }
  }
  return art;
}

GoldenSet parse_golden(const Reader& r, const json& g, const ModelEntry& entry, const std::string& gw,
                       const std::filesystem::path& dir) {
  GoldenSet set;
  set.name = r.string(g, "name", gw);
  const std::string w = gw + " '" + set.name + "'";
  set.rows = r.integer(r.field(g, "rows", w), w + ".rows", 0);
  for (const auto& [key, specs, files] :
       {std::tuple{"inputs", &entry.inputs, &set.inputs}, std::tuple{"expected", &entry.outputs, &set.expected}}) {
    for (const auto& [name, value] : r.object(g, key, w).items()) {
      if (!names_tensor(*specs, name))
        r.fail(w + "." + key, "names tensor '" + name + "', which the model does not have");
      files->emplace(name, r.path(value, w + "." + key + "." + name, dir));
    }
  }
  return set;
}

ModelEntry parse_model(const Reader& r, const json& m, const std::string& where, const std::filesystem::path& dir) {
  ModelEntry entry;
  entry.id = r.string(m, "id", where);
  const std::string at = "model " + entry.id;
  entry.inputs = parse_specs(r, m, "inputs", at);
  entry.outputs = parse_specs(r, m, "outputs", at);
  entry.dims = parse_dims(r, m, entry, at);
  if (const auto vocabulary = m.find("vocabulary"); vocabulary != m.end() && vocabulary->is_string())
    entry.vocabulary = vocabulary->get<std::string>();
  if (m.contains("golden")) {
    const json& golden = r.array(m, "golden", at);
    for (std::size_t i = 0; i < golden.size(); ++i)
      entry.golden.push_back(parse_golden(r, golden[i], entry, at + " golden[" + std::to_string(i) + "]", dir));
  }
  const json& artifacts = r.array(m, "artifacts", at);
  for (std::size_t i = 0; i < artifacts.size(); ++i)
    entry.artifacts.push_back(
        parse_artifact(r, artifacts[i], entry, at + " artifacts[" + std::to_string(i) + "]", dir));
  return entry;
}

std::string join_names(const std::vector<TensorSpec>& specs) {
  std::string s;
  for (const TensorSpec& t : specs) s += (s.empty() ? "" : ", ") + t.name;
  return s;
}

}  // namespace

Tolerance Artifact::tolerance_for(std::string_view output) const {
  const auto it = output_tolerance.find(output);
  return it == output_tolerance.end() ? tolerance : it->second;
}

const Artifact* ModelEntry::find_artifact(std::string_view format) const {
  for (const Artifact& a : artifacts)
    if (a.format == format) return &a;
  return nullptr;
}

const GoldenSet* ModelEntry::find_golden(std::string_view name) const {
  for (const GoldenSet& g : golden)
    if (g.name == name) return &g;
  return nullptr;
}

const TensorSpec* ModelEntry::find_input(std::string_view name) const {
  for (const TensorSpec& s : inputs)
    if (s.name == name) return &s;
  return nullptr;
}

DimRange ModelEntry::range_of(std::string_view dim) const {
  const auto it = dims.find(dim);
  return it == dims.end() ? DimRange{} : it->second;
}

std::string ModelEntry::input_names() const { return join_names(inputs); }
std::string ModelEntry::output_names() const { return join_names(outputs); }

Manifest Manifest::parse(std::string_view text, const std::filesystem::path& dir, std::string_view origin) {
  const Reader r{std::string(origin)};
  try {
    json doc;
    try {
      doc = json::parse(text);
    } catch (const json::parse_error& e) {
      r.fail("invalid JSON", e.what());
    }
    if (!doc.is_object()) r.fail("top level", "expected an object");
    const auto version = doc.find("schema_version");
    if (version == doc.end() || !version->is_number_integer() || version->get<std::int64_t>() != kSchemaVersion)
      throw VersionError(std::string(origin) + ": schema_version " +
                         (version == doc.end() ? std::string("(missing)") : version->dump()) +
                         " is not supported (this client reads " + std::to_string(kSchemaVersion) + ")");
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
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw InputError("manifest " + path.string() + ": no such file");
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
  throw InputError("model " + std::string(id) + ": not in the manifest (known: " + known + ")");
}

}  // namespace deploykit
