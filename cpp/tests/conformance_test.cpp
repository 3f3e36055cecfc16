// The language-neutral conformance fixtures (testdata/conformance/verdicts.json): every
// npy file, manifest and input-check call must get exactly its verdict.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "deploykit/checks.hpp"
#include "deploykit/errors.hpp"
#include "deploykit/manifest.hpp"
#include "deploykit/npy.hpp"
#include "deploykit/sha256.hpp"

namespace deploykit {
namespace {

using nlohmann::json;

const std::filesystem::path kDir = DEPLOYKIT_CONFORMANCE_DIR;

const json& verdicts() {
  static const json doc = [] {
    std::ifstream in(kDir / "verdicts.json");
    if (!in) throw std::runtime_error("cannot read " + (kDir / "verdicts.json").string());
    return json::parse(in);
  }();
  return doc;
}

std::string why(const json& v) { return v.value("why", std::string("")); }

TEST(Conformance, CoversEveryKind) {
  EXPECT_EQ(verdicts().at("version"), 1);
  EXPECT_GE(verdicts().at("npy").size(), 40u);
  EXPECT_GE(verdicts().at("manifests").size(), 20u);
  EXPECT_GE(verdicts().at("calls").size(), 10u);
}

TEST(Conformance, NpyVerdicts) {
  for (const json& v : verdicts().at("npy")) {
    const std::string file = v.at("file");
    SCOPED_TRACE(file + " (" + why(v) + ")");
    if (v.at("valid").get<bool>()) {
      const Tensor t = read_npy(kDir / file);
      EXPECT_EQ(dtype_name(t.dtype), v.at("dtype").get<std::string>());
      EXPECT_EQ(t.shape, v.at("shape").get<std::vector<std::int64_t>>());
      EXPECT_EQ(sha256_hex(t.data), v.at("data_sha256").get<std::string>());
      EXPECT_EQ(parse_npy(encode_npy(t), "re-encoded"), t);  // the writer's file reads back the same
    } else {
      try {
        (void)read_npy(kDir / file);
        ADD_FAILURE() << "accepted";
      } catch (const InputError& e) {
        const std::string msg = e.what();
        EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
        EXPECT_EQ(msg.rfind((kDir / file).string(), 0), 0u) << "the message names the file: " << msg;
      }
    }
  }
}

// The spec as the fixtures write it: {"name", "dtype", "shape"} (range and unknown fields aside).
json spec_json(const TensorSpec& s) {
  json shape = json::array();
  for (const Dim& d : s.shape) shape.push_back(d.dynamic() ? json(d.name) : json(d.size));
  return {{"name", s.name}, {"dtype", std::string(dtype_name(s.dtype))}, {"shape", shape}};
}

json expected_specs(const json& list) {
  json out = json::array();
  for (const json& s : list)
    out.push_back({{"name", s.at("name")}, {"dtype", s.at("dtype")}, {"shape", s.at("shape")}});
  return out;
}

TEST(Conformance, ManifestVerdicts) {
  for (const json& v : verdicts().at("manifests")) {
    const std::string file = v.at("file");
    SCOPED_TRACE(file + " (" + why(v) + ")");
    if (v.at("valid").get<bool>()) {
      const Manifest m = Manifest::read(kDir / file);
      const json& models = v.at("models");
      ASSERT_EQ(m.models().size(), models.size());
      for (std::size_t i = 0; i < models.size(); ++i) {
        const ModelEntry& e = m.models()[i];
        EXPECT_EQ(e.id, models[i].at("id").get<std::string>());
        json inputs = json::array(), outputs = json::array();
        for (const TensorSpec& s : e.inputs) inputs.push_back(spec_json(s));
        for (const TensorSpec& s : e.outputs) outputs.push_back(spec_json(s));
        EXPECT_EQ(inputs, expected_specs(models[i].at("inputs")));
        EXPECT_EQ(outputs, expected_specs(models[i].at("outputs")));
        const json dims = models[i].value("dims", json::object());
        EXPECT_EQ(e.dims.size(), dims.size());
        for (const auto& [name, range] : dims.items()) {
          EXPECT_EQ(e.range_of(name).min, range.value("min", std::int64_t{0})) << name;
          if (range.contains("max"))
            EXPECT_EQ(e.range_of(name).max, range.at("max").get<std::int64_t>()) << name;
          else
            EXPECT_FALSE(e.range_of(name).max.has_value()) << name;
        }
      }
      continue;
    }
    const int exit = v.at("exit");
    try {
      (void)Manifest::read(kDir / file);
      ADD_FAILURE() << "accepted";
    } catch (const VersionError& e) {
      EXPECT_EQ(exit, 3) << e.what();
      EXPECT_NE(std::string(e.what()).find("is not supported (this client reads 2)"), std::string::npos) << e.what();
    } catch (const InputError& e) {
      EXPECT_EQ(exit, 2) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
  }
}

TEST(Conformance, CallVerdicts) {
  for (const json& v : verdicts().at("calls")) {
    const std::string format = v.value("format", std::string(""));
    SCOPED_TRACE(v.at("manifest").get<std::string>() + " " + v.at("model").get<std::string>() + " " + format + " (" +
                 why(v) + ")");
    const Manifest m = Manifest::read(kDir / v.at("manifest").get<std::string>());
    const ModelEntry& model = m.model(v.at("model").get<std::string>());
    const Artifact* artifact = nullptr;
    if (!format.empty()) {
      artifact = model.find_artifact(format);
      ASSERT_NE(artifact, nullptr) << "the fixture's manifest lists no " << format << " artifact";
    }
    TensorMap inputs;
    for (const auto& [name, file] : v.at("inputs").items())
      inputs.emplace(name, read_npy(kDir / file.get<std::string>()));
    if (v.at("valid").get<bool>()) {
      EXPECT_NO_THROW(check_inputs(model, inputs, artifact));
      continue;
    }
    ASSERT_EQ(v.at("exit"), 2);
    try {
      check_inputs(model, inputs, artifact);
      ADD_FAILURE() << "accepted";
    } catch (const InputError& e) {
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind("input ", 0), 0u) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  }
}

}  // namespace
}  // namespace deploykit
