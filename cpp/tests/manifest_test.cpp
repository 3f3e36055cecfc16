#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "deploykit/errors.hpp"
#include "deploykit/manifest.hpp"
#include "test_util.hpp"

namespace deploykit {
namespace {

using nlohmann::json;

json valid() {
  return json::parse(R"({
    "schema_version": 1,
    "future_field": {"ignored": true},
    "models": [{
      "id": "m",
      "inputs":  [{"name": "input",  "dtype": "float32", "shape": [-1, 10]}],
      "outputs": [{"name": "output", "dtype": "float32", "shape": [-1, 1]}],
      "golden": {"input": "m/golden/input.npy", "expected": "m/golden/expected.npy"},
      "artifacts": [{
        "format": "aoti", "path": "m/aoti/model.pt2",
        "sha256": "fe841f390f5ecaee1089895e5eb38e54ab0ee8bc5127861747c807086ba9c3d1",
        "bytes": 12, "tolerance": {"atol": 1e-5, "rtol": 1e-4}
      }]
    }]
  })");
}

// Parsing `doc` fails with an InputError whose one-line message contains `why`.
void expect_error(const std::string& text, std::string_view why) {
  try {
    Manifest::parse(text, "/models");
    FAIL() << "accepted a bad manifest (" << why << ")";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
  }
}

TEST(Manifest, ParsesTheFieldsTheClientUses) {
  const Manifest m = Manifest::parse(valid().dump(), "/models");
  ASSERT_EQ(m.models().size(), 1u);
  const ModelEntry& e = m.model("m");
  EXPECT_EQ(e.input_width, 10);
  EXPECT_EQ(e.output_width, 1);
  EXPECT_EQ(e.golden.input, std::filesystem::path("/models/m/golden/input.npy"));
  EXPECT_FALSE(e.golden.special_input.has_value());
  const Artifact* a = e.find_artifact("aoti");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->path, std::filesystem::path("/models/m/aoti/model.pt2"));
  EXPECT_EQ(a->bytes, 12);
  EXPECT_DOUBLE_EQ(a->tolerance.atol, 1e-5);
  EXPECT_DOUBLE_EQ(a->tolerance.rtol, 1e-4);
  EXPECT_EQ(e.find_artifact("onnx"), nullptr);
}

TEST(Manifest, UnknownModelListsKnownIds) {
  const Manifest m = Manifest::parse(valid().dump(), "/models");
  try {
    m.model("nope");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("known: m"), std::string::npos) << e.what();
  }
}

TEST(Manifest, RejectsInvalidJson) { expect_error("{\"schema_version\": 1, ", "invalid JSON"); }

TEST(Manifest, RejectsOtherSchemaVersions) {
  json d = valid();
  d["schema_version"] = 2;
  expect_error(d.dump(), "schema_version");
  d.erase("schema_version");
  expect_error(d.dump(), "missing field 'schema_version'");
}

TEST(Manifest, RejectsMissingAndMistypedFields) {
  json d = valid();
  d["models"][0].erase("id");
  expect_error(d.dump(), "missing field 'id'");

  d = valid();
  d["models"][0]["artifacts"][0].erase("sha256");
  expect_error(d.dump(), "missing field 'sha256'");

  d = valid();
  d["models"][0]["artifacts"][0]["sha256"] = "abc";
  expect_error(d.dump(), "64 hex digits");

  d = valid();
  d["models"][0]["artifacts"][0]["tolerance"]["atol"] = "small";
  expect_error(d.dump(), "atol: expected a number");

  d = valid();
  d["models"][0]["artifacts"][0]["bytes"] = -3;
  expect_error(d.dump(), "bytes: expected an integer");

  d = valid();
  d["models"] = json::object();
  expect_error(d.dump(), "models: expected an array");

  d = valid();
  d["models"][0]["golden"] = 3;
  expect_error(d.dump(), "expected an object");
}

TEST(Manifest, RejectsBadShapesAndDtypes) {
  json d = valid();
  d["models"][0]["inputs"][0]["shape"] = {-1, 10, 3};
  expect_error(d.dump(), "expected [-1, width]");
  d = valid();
  d["models"][0]["outputs"][0]["shape"] = {-1, 0};
  expect_error(d.dump(), "expected [-1, width]");
  d = valid();
  d["models"][0]["inputs"][0]["dtype"] = "float64";
  expect_error(d.dump(), "only float32");
  d = valid();
  d["models"][0]["inputs"] = json::array();
  expect_error(d.dump(), "at least one tensor");
}

TEST(Manifest, RejectsPathsOutsideItsFolder) {
  json d = valid();
  d["models"][0]["artifacts"][0]["path"] = "../secret.pt2";
  expect_error(d.dump(), "leaves the manifest's folder");
  d["models"][0]["artifacts"][0]["path"] = "/etc/passwd";
  expect_error(d.dump(), "relative");
}

TEST(Manifest, RejectsDuplicateIds) {
  json d = valid();
  d["models"].push_back(d["models"][0]);
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
