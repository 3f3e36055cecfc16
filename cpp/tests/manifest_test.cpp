#include "deploykit/manifest.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "deploykit/errors.hpp"
#include "test_util.hpp"

namespace deploykit {
namespace {

using nlohmann::json;

json valid() {
  return json::parse(R"({
    "schema_version": 2,
    "future_field": {"ignored": true},
    "models": [{
      "id": "m",
      "inputs":  [{"name": "tokens", "dtype": "int64", "shape": ["batch", "seq"], "range": [0, 95]},
                  {"name": "mask", "dtype": "bool", "shape": ["batch", "seq"]}],
      "outputs": [{"name": "logits", "dtype": "float32", "shape": ["batch", "seq", 5]},
                  {"name": "embedding", "dtype": "float16", "shape": ["batch", 4]}],
      "dims": {"batch": {"min": 1}, "seq": {"min": 1, "max": 64}},
      "golden": [{"name": "golden", "rows": 2,
                  "inputs": {"tokens": "m/golden/golden/tokens.npy", "mask": "m/golden/golden/mask.npy"},
                  "expected": {"logits": "m/golden/golden/expected/logits.npy"}}],
      "artifacts": [{
        "format": "aoti", "path": "m/aoti/model.pt2", "via": ["torch", "aoti"],
        "sha256": "fe841f390f5ecaee1089895e5eb38e54ab0ee8bc5127861747c807086ba9c3d1",
        "bytes": 12, "tolerance": {"atol": 1e-5, "rtol": 1e-4, "outputs": {"embedding": {"atol": 1e-3, "rtol": 0}}}
      }, {
        "format": "tfjs-graph", "path": "m/tfjs",
        "sha256": "fe841f390f5ecaee1089895e5eb38e54ab0ee8bc5127861747c807086ba9c3d1",
        "tolerance": {"atol": 1e-5, "rtol": 1e-4},
        "input_keys": {"tokens": "t", "mask": "m"}, "output_keys": {"logits": "l", "embedding": "e"},
        "boundary_dtypes": {"tokens": "int32", "mask": "int32", "embedding": "float32"}
      }]
    }]
  })");
}

json& model0(json& d) { return d["models"][0]; }

// Parsing `doc` fails with an InputError whose one-line message contains `why`.
void expect_error(const std::string& text, std::string_view why) {
  try {
    Manifest::parse(text, "/models");
    FAIL() << "accepted a bad manifest (" << why << ")";
  } catch (const VersionError& e) {
    FAIL() << "a VersionError (exit 3) instead of an InputError: " << e.what();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
  }
}

TEST(Manifest, ParsesTensorSpecsDimsGoldenSetsAndArtifacts) {
  const Manifest m = Manifest::parse(valid().dump(), "/models");
  ASSERT_EQ(m.models().size(), 1u);
  const ModelEntry& e = m.model("m");
  ASSERT_EQ(e.inputs.size(), 2u);
  EXPECT_EQ(e.inputs[0].name, "tokens");
  EXPECT_EQ(e.inputs[0].dtype, DType::kInt64);
  EXPECT_EQ(e.inputs[0].shape, (std::vector<Dim>{{0, "batch"}, {0, "seq"}}));
  EXPECT_EQ(e.inputs[0].range, (std::pair<std::int64_t, std::int64_t>{0, 95}));
  EXPECT_EQ(e.inputs[1].dtype, DType::kBool);
  EXPECT_EQ(e.outputs[0].shape, (std::vector<Dim>{{0, "batch"}, {0, "seq"}, {5, ""}}));
  EXPECT_EQ(e.outputs[1].dtype, DType::kFloat16);
  EXPECT_EQ(e.input_names(), "tokens, mask");
  EXPECT_EQ(e.range_of("seq").min, 1);
  EXPECT_EQ(e.range_of("seq").max, 64);
  EXPECT_FALSE(e.range_of("batch").max.has_value());
  const GoldenSet* g = e.find_golden("golden");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->rows, 2);
  EXPECT_EQ(g->inputs.at("mask"), std::filesystem::path("/models/m/golden/golden/mask.npy"));
  EXPECT_EQ(e.find_golden("special"), nullptr);
  const Artifact* a = e.find_artifact("aoti");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->path, std::filesystem::path("/models/m/aoti/model.pt2"));
  EXPECT_EQ(a->bytes, 12);
  EXPECT_EQ(a->via, (std::vector<std::string>{"torch", "aoti"}));
  EXPECT_DOUBLE_EQ(a->tolerance_for("logits").atol, 1e-5);
  EXPECT_DOUBLE_EQ(a->tolerance_for("embedding").atol, 1e-3);
  EXPECT_DOUBLE_EQ(a->tolerance_for("embedding").rtol, 0.0);
  EXPECT_TRUE(a->input_keys.empty());
  const Artifact* tfjs = e.find_artifact("tfjs-graph");
  ASSERT_NE(tfjs, nullptr);
  EXPECT_EQ(tfjs->bytes, -1);
  EXPECT_EQ(tfjs->input_keys.at("tokens"), "t");
  EXPECT_EQ(tfjs->boundary_dtypes.at("tokens"), DType::kInt32);
  EXPECT_EQ(tfjs->boundary_dtypes.at("embedding"), DType::kFloat32);
  EXPECT_EQ(e.find_artifact("onnx"), nullptr);
}

TEST(Manifest, UnknownModelListsKnownIds) {
  const Manifest m = Manifest::parse(valid().dump(), "/models");
  try {
    (void)m.model("nope");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("known: m"), std::string::npos) << e.what();
  }
}

TEST(Manifest, RejectsInvalidJson) { expect_error("{\"schema_version\": 2, ", "invalid JSON"); }

TEST(Manifest, OtherSchemaVersionsAreVersionErrors) {
  json d = valid();
  for (const json& v : {json(1), json(3), json("2"), json(2.5)}) {
    d["schema_version"] = v;
    try {
      Manifest::parse(d.dump(), "/models", "models/manifest.json");
      FAIL() << v;
    } catch (const VersionError& e) {
      EXPECT_EQ(std::string(e.what()),
                "models/manifest.json: schema_version " + v.dump() + " is not supported (this client reads 2)");
    }
  }
  d.erase("schema_version");
  EXPECT_THROW(Manifest::parse(d.dump(), "/models"), VersionError);
}

TEST(Manifest, RejectsMissingAndMistypedFields) {
  json d = valid();
  model0(d).erase("id");
  expect_error(d.dump(), "missing field 'id'");

  d = valid();
  model0(d)["artifacts"][0].erase("sha256");
  expect_error(d.dump(), "missing field 'sha256'");

  d = valid();
  model0(d)["artifacts"][0]["sha256"] = "abc";
  expect_error(d.dump(), "64 hex digits");

  d = valid();
  model0(d)["artifacts"][0]["tolerance"]["atol"] = "small";
  expect_error(d.dump(), "atol: expected a number");

  d = valid();
  model0(d)["artifacts"][0]["bytes"] = -3;
  expect_error(d.dump(), "bytes: expected an integer");

  d = valid();
  d["models"] = json::object();
  expect_error(d.dump(), "models: expected an array");

  d = valid();
  model0(d)["golden"] = 3;
  expect_error(d.dump(), "golden: expected an array");

  d = valid();
  model0(d)["golden"][0]["inputs"]["extra"] = "m/x.npy";
  expect_error(d.dump(), "names tensor 'extra'");
}

TEST(Manifest, RejectsMalformedSpecsNamingModelAndTensor) {
  const auto with = [](auto edit) {
    json d = valid();
    edit(model0(d));
    return d.dump();
  };
  expect_error(with([](json& m) { m["inputs"][0]["dtype"] = "float64"; }),
               "model m input tokens: unknown dtype 'float64'");
  expect_error(with([](json& m) {
                 m["inputs"][1]["shape"] = json::array({1, 1, 1, 1, 1, 1, 1, 1, 1});
               }),
               "model m input mask: rank 9 is over 8");
  expect_error(with([](json& m) { m["outputs"][1]["shape"][1] = -1; }), "model m output embedding: dim -1");
  expect_error(with([](json& m) { m["outputs"][1]["shape"][1] = 2.5; }), "model m output embedding: dim 2.5");
  expect_error(with([](json& m) { m["inputs"][1]["shape"][1] = "seq len"; }), "dim name 'seq len'");
  expect_error(with([](json& m) { m["inputs"][1]["name"] = "mask-1"; }), "input mask-1: name is not an identifier");
  expect_error(with([](json& m) { m["inputs"][1]["name"] = "tokens"; }), "input tokens: duplicate input name");
  expect_error(with([](json& m) { m["outputs"][1]["name"] = "logits"; }), "output logits: duplicate output name");
  expect_error(with([](json& m) { m["dims"]["seq"] = {{"min", 9}, {"max", 4}}; }), "dims.seq: min 9 > max 4");
  expect_error(with([](json& m) { m["dims"]["width"] = {{"min", 1}}; }), "dims.width: no input or output shape");
  expect_error(with([](json& m) { m["dims"]["seq"]["min"] = -1; }), "dims.seq.min: expected an integer >= 0");
  expect_error(with([](json& m) { m["inputs"] = json::array(); }), "at least one tensor");
  expect_error(with([](json& m) { m["artifacts"][1]["input_keys"].erase("mask"); }), "lacks tensor 'mask'");
  expect_error(with([](json& m) { m["artifacts"][1].erase("output_keys"); }), "missing field 'output_keys'");
  expect_error(with([](json& m) { m["artifacts"][1]["output_keys"]["probs"] = "p"; }), "names tensor 'probs'");
  expect_error(with([](json& m) { m["artifacts"][1]["boundary_dtypes"]["ids"] = "int32"; }),
               "boundary_dtypes.ids: names a tensor the model does not have");
  expect_error(with([](json& m) { m["artifacts"][1]["boundary_dtypes"]["tokens"] = "float32"; }),
               "int64 -> float32 is not an allowed boundary cast");
  expect_error(with([](json& m) { m["artifacts"][1]["boundary_dtypes"]["logits"] = "float16"; }),
               "float32 -> float16 is not an allowed boundary cast");
  expect_error(with([](json& m) {
                 m["artifacts"][0]["tolerance"]["outputs"]["probs"] = {{"atol", 0}, {"rtol", 0}};
               }),
               "unknown output 'probs'");
}

TEST(Manifest, AcceptsRank0And8AndFixedZeroDims) {
  json d = valid();
  model0(d)["inputs"][0]["shape"] = json::array();
  model0(d)["inputs"][1]["shape"] = json::array({"batch", "seq", 0, 1, 1, 1, 1, 1});
  const Manifest m = Manifest::parse(d.dump(), "/models");
  EXPECT_TRUE(m.model("m").inputs[0].shape.empty());
  EXPECT_EQ(m.model("m").inputs[1].shape.size(), 8u);
  EXPECT_EQ(m.model("m").inputs[1].shape[2], (Dim{0, ""}));
}

TEST(Manifest, RejectsPathsOutsideItsFolder) {
  json d = valid();
  model0(d)["artifacts"][0]["path"] = "../secret.pt2";
  expect_error(d.dump(), "leaves the manifest's folder");
  model0(d)["artifacts"][0]["path"] = "/etc/passwd";
  expect_error(d.dump(), "relative");
  d = valid();
  model0(d)["golden"][0]["expected"]["logits"] = "m/../../x.npy";
  expect_error(d.dump(), "leaves the manifest's folder");
}

TEST(Manifest, RejectsDuplicateIds) {
  json d = valid();
  d["models"].push_back(model0(d));
  expect_error(d.dump(), "duplicate model id 'm'");
}

TEST(Manifest, ReadNamesTheFileAndResolvesBesideIt) {
  const testing::TempDir dir;
  testing::write_file(dir / "manifest.json", valid().dump());
  const Manifest m = Manifest::read(dir / "manifest.json");
  EXPECT_EQ(m.model("m").artifacts[0].path, dir.path() / "m/aoti/model.pt2");
  EXPECT_THROW(Manifest::read(dir / "missing.json"), InputError);
  testing::write_file(dir / "bad.json", "[]");
  try {
    Manifest::read(dir / "bad.json");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.json"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace deploykit
