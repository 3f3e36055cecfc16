// Version skew (docs/contract.md): Version's parse and comparison, the manifest's
// min_runtime (malformed: exit 2 naming model, format and family), check_min_runtime.
#include "deploykit/runtime_version.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "deploykit/errors.hpp"
#include "deploykit/manifest.hpp"

namespace deploykit {

// gtest prints a Version as its text.
void PrintTo(const Version& version, std::ostream* os) { *os << version.str(); }

namespace {

using nlohmann::json;

Version v(std::string_view text) {
  const std::optional<Version> parsed = Version::parse(text);
  if (!parsed) throw std::runtime_error("not a version: " + std::string(text));
  return *parsed;
}

Version runtime(std::string_view text) {
  const std::optional<Version> parsed = Version::of_runtime(text);
  if (!parsed) throw std::runtime_error("no runtime version in: " + std::string(text));
  return *parsed;
}

TEST(Version, ParsesOneToThreeDigitGroups) {
  EXPECT_EQ(v("2").str(), "2");
  EXPECT_EQ(v("2.19").str(), "2.19");
  EXPECT_EQ(v("2.13.0").str(), "2.13.0");
  EXPECT_EQ(v("0").str(), "0");
  EXPECT_EQ(v("007.01").str(), "007.01");  // digits; compared as numbers below
}

TEST(Version, RejectsAnythingElse) {
  for (const char* bad : {"", ".", "2.", ".2", "2..1", "2.13.0.1", "2.x", "v2", "2.13.0+cu130", "2.13.0-rc1", " 2",
                          "2 ", "-1", "+2", "2,1", "1e3", "2.13.0 "})
    EXPECT_FALSE(Version::parse(bad).has_value()) << '"' << bad << '"';
}

TEST(Version, ComparesNumericallyWithMissingComponentsAsZero) {
  EXPECT_EQ(v("2.13.0"), v("2.13.0"));  // equal
  EXPECT_EQ(v("2"), v("2.0.0"));
  EXPECT_EQ(v("2.19"), v("2.19.0"));
  EXPECT_LT(v("2.18.0"), v("2.19.0"));  // older
  EXPECT_GT(v("2.19.1"), v("2.19"));    // newer
  EXPECT_LT(v("2"), v("2.0.1"));
  EXPECT_LT(v("2.9"), v("2.10"));  // numbers, not text
  EXPECT_LT(v("9.0.0"), v("10"));
  EXPECT_EQ(v("02.013"), v("2.13.0"));
  EXPECT_GT(v("1.0.99999999999999999999999"), v("1.0.99999999999999999999998"));  // no overflow
  EXPECT_LT(v("99999999999999999999"), v("100000000000000000000"));
}

TEST(Version, RuntimeVersionIsReadUpToItsFirstCharNeitherDigitNorDot) {
  EXPECT_EQ(runtime("2.13.0+cu130").str(), "2.13.0");
  EXPECT_EQ(runtime("2.13.0+cu130"), v("2.13.0"));
  EXPECT_EQ(runtime("2.13.0"), v("2.13.0"));
  EXPECT_EQ(runtime("2.14.0a0+git1234"), v("2.14.0"));
  EXPECT_EQ(runtime("2.14.0.dev20260101").str(), "2.14.0");  // the dot before "dev" is no component
  EXPECT_EQ(runtime("2"), v("2"));
  EXPECT_EQ(runtime("2.19"), v("2.19.0"));
  EXPECT_EQ(runtime("1.2.3.4").str(), "1.2.3.4");  // more components than a manifest may write
  EXPECT_GT(runtime("1.2.3.4"), v("1.2.3"));
  EXPECT_EQ(runtime("1.2.3.0"), v("1.2.3"));
  for (const char* none : {"", "dev", "+cu130", ".1", "1..2", "v2.13.0"})
    EXPECT_FALSE(Version::of_runtime(none).has_value()) << '"' << none << '"';
}

// A one-model manifest whose torchscript-script artifact carries `min_runtime`.
json with_min_runtime(const json& min_runtime) {
  json doc = json::parse(R"({
    "schema_version": 2,
    "models": [{
      "id": "m",
      "inputs":  [{"name": "x", "dtype": "float32", "shape": ["batch", 4]}],
      "outputs": [{"name": "y", "dtype": "float32", "shape": ["batch", 2]}],
      "artifacts": [{
        "format": "torchscript-script", "path": "m/torchscript/scripted.pt",
        "sha256": "fe841f390f5ecaee1089895e5eb38e54ab0ee8bc5127861747c807086ba9c3d1",
        "tolerance": {"atol": 1e-5, "rtol": 1e-4}
      }]
    }]
  })");
  doc["models"][0]["artifacts"][0]["min_runtime"] = min_runtime;
  return doc;
}

TEST(MinRuntime, ManifestKeepsEveryFamilyIncludingUnknownOnes) {
  const json entries = {{"torch", "2.13.0"}, {"onnxruntime", "1.20"}, {"tfjs", "4"}, {"some-future-runtime", "7.1"}};
  const Manifest m = Manifest::parse(with_min_runtime(entries).dump(), "/models");
  const Artifact& a = m.models()[0].artifacts[0];
  EXPECT_EQ(a.min_runtime.size(), 4u);
  EXPECT_EQ(a.min_runtime.at("torch"), "2.13.0");
  EXPECT_EQ(a.min_runtime.at("some-future-runtime"), "7.1");
}

TEST(MinRuntime, AbsentMeansNoEntries) {
  json doc = with_min_runtime(json::object());
  doc["models"][0]["artifacts"][0].erase("min_runtime");
  EXPECT_TRUE(Manifest::parse(doc.dump(), "/models").models()[0].artifacts[0].min_runtime.empty());
}

TEST(MinRuntime, MalformedVersionIsAnInputErrorNamingModelFormatAndFamily) {
  for (const json& bad : {json("2.x"), json("2.13.0+cu130"), json("2.13.0.1"), json(""), json("v2"), json(2),
                          json(2.13), json(nullptr), json::array({"2.13.0"}), json::object()}) {
    for (const std::string family : {"torch", "tfjs", "some-future-runtime"}) {
      try {
        Manifest::parse(with_min_runtime({{family, bad}}).dump(), "/models", "test.json");
        FAIL() << "accepted min_runtime." << family << " = " << bad.dump();
      } catch (const VersionError& e) {
        FAIL() << "a VersionError (exit 3) instead of an InputError: " << e.what();
      } catch (const InputError& e) {
        const std::string what = e.what();
        EXPECT_EQ(what, "manifest test.json: model m artifacts[0] (torchscript-script).min_runtime." + family +
                            ": expected a version MAJOR[.MINOR[.PATCH]] (digits), got " + bad.dump());
      }
    }
  }
  EXPECT_THROW(Manifest::parse(with_min_runtime("2.13.0").dump(), "/models"), InputError);  // not an object
}

Artifact artifact(const json& min_runtime) {
  return Manifest::parse(with_min_runtime(min_runtime).dump(), "/models").models()[0].artifacts[0];
}

std::string refusal(const Artifact& a, const Runtime& rt) {
  try {
    check_min_runtime("m", a, rt);
  } catch (const ModelError& e) {
    return e.what();
  }
  return "";
}

TEST(MinRuntime, CheckRefusesAnOlderRuntimeWithOneLineNamingBothVersions) {
  const Runtime torch{"torch", "2.13.0+cu130", ""};
  EXPECT_EQ(refusal(artifact({{"torch", "2.14.0"}}), torch),
            "m/torchscript-script: built for torch >= 2.14.0, this client runs torch 2.13.0");
  EXPECT_EQ(refusal(artifact({{"torch", "3"}}), torch),
            "m/torchscript-script: built for torch >= 3, this client runs torch 2.13.0");
  EXPECT_EQ(refusal(artifact({{"torch", "2.13.1"}}), torch),
            "m/torchscript-script: built for torch >= 2.13.1, this client runs torch 2.13.0");
  const Runtime tf{"tensorflow", "2.18.0", "TF Java 1.1.0"};
  EXPECT_EQ(refusal(artifact({{"tensorflow", "2.19.0"}}), tf),
            "m/torchscript-script: built for tensorflow >= 2.19.0, this client runs tensorflow 2.18.0 (TF Java 1.1.0)");
}

TEST(MinRuntime, CheckAcceptsAnEqualOrNewerRuntimeAndIgnoresOtherFamilies) {
  const Runtime torch{"torch", "2.13.0+cu130", ""};
  for (const char* ok : {"2.13.0", "2.13", "2", "1.0.0", "2.12.99", "0"})
    EXPECT_NO_THROW(check_min_runtime("m", artifact({{"torch", ok}}), torch)) << ok;
  EXPECT_NO_THROW(check_min_runtime("m", artifact(json::object()), torch));
  EXPECT_NO_THROW(check_min_runtime("m", artifact({{"tensorflow", "99.0.0"}, {"onnxruntime", "99"}}), torch));
  EXPECT_NO_THROW(check_min_runtime("m", artifact({{"tensorflow", "99.0.0"}, {"torch", "2.13"}}), torch));
  EXPECT_THROW(check_min_runtime("m", artifact({{"tfjs", "1"}, {"torch", "99.0.0"}}), torch), ModelError);
}

TEST(MinRuntime, AnUnreadableRuntimeVersionIsRefusedOnlyWhereAnEntryApplies) {
  const Runtime odd{"torch", "unknown", ""};
  EXPECT_NO_THROW(check_min_runtime("m", artifact(json::object()), odd));
  EXPECT_NO_THROW(check_min_runtime("m", artifact({{"tfjs", "1"}}), odd));
  EXPECT_THROW(check_min_runtime("m", artifact({{"torch", "1"}}), odd), ModelError);
}

TEST(MinRuntime, AnEntryBuiltByHandThatIsNoVersionIsAnInputError) {
  Artifact a;
  a.format = "aoti";
  a.min_runtime.emplace("torch", "2.x");
  EXPECT_THROW(check_min_runtime("m", a, Runtime{"torch", "2.13.0", ""}), InputError);
}

}  // namespace
}  // namespace deploykit
