package dev.deploykit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Every verdict of {@code testdata/conformance/verdicts.json}: npy files, manifests and input-check
 * calls.
 */
class ConformanceTest {
  static final Path DIR = Fixtures.REPO.resolve("testdata/conformance");
  static final JsonObject VERDICTS = read();

  private static JsonObject read() {
    try {
      return JsonParser.parseString(Files.readString(DIR.resolve("verdicts.json")))
          .getAsJsonObject();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static List<JsonObject> entries(String key) {
    List<JsonObject> out = new ArrayList<>();
    VERDICTS.getAsJsonArray(key).forEach(e -> out.add(e.getAsJsonObject()));
    return out;
  }

  @Test
  void fixturesCoverEveryKind() {
    assertEquals(1, VERDICTS.get("version").getAsInt());
    assertTrue(
        entries("npy").size() >= 40
            && entries("manifests").size() >= 20
            && entries("calls").size() >= 10);
    assertTrue(entries("npy").stream().anyMatch(e -> !e.get("valid").getAsBoolean()));
  }

  @TestFactory
  Stream<DynamicTest> npyFiles() {
    return entries("npy").stream()
        .map(
            v ->
                DynamicTest.dynamicTest(
                    v.get("file").getAsString(),
                    () -> {
                      Path file = DIR.resolve(v.get("file").getAsString());
                      if (v.get("valid").getAsBoolean()) {
                        Tensor t = Npy.read(file);
                        assertEquals(v.get("dtype").getAsString(), t.dtype().id());
                        assertEquals(longs(v.getAsJsonArray("shape")), longs(t.shape()));
                        assertEquals(v.get("data_sha256").getAsString(), sha256(t.bytes()));
                      } else {
                        DeploykitException e =
                            assertThrows(
                                DeploykitException.class,
                                () -> Npy.read(file),
                                v.get("why").getAsString());
                        assertEquals(2, e.exitCode());
                        assertFalse(e.getMessage().contains("\n"));
                      }
                    }));
  }

  @TestFactory
  Stream<DynamicTest> manifests() {
    return entries("manifests").stream()
        .map(
            v ->
                DynamicTest.dynamicTest(
                    v.get("file").getAsString(),
                    () -> {
                      Path file = DIR.resolve(v.get("file").getAsString());
                      if (v.get("valid").getAsBoolean()) {
                        Manifest m = Manifest.read(file);
                        JsonArray models = v.getAsJsonArray("models");
                        assertEquals(models.size(), m.models().size());
                        for (JsonElement me : models) {
                          JsonObject want = me.getAsJsonObject();
                          Manifest.ModelEntry got = m.model(want.get("id").getAsString());
                          assertSpecs(want.getAsJsonArray("inputs"), got.inputs());
                          assertSpecs(want.getAsJsonArray("outputs"), got.outputs());
                          JsonObject dims =
                              want.has("dims") ? want.getAsJsonObject("dims") : new JsonObject();
                          assertEquals(dims.keySet(), got.dims().keySet());
                          for (String d : dims.keySet()) {
                            JsonObject r = dims.getAsJsonObject(d);
                            assertEquals(
                                r.has("min") ? r.get("min").getAsLong() : 0, got.range(d).min(), d);
                            assertEquals(
                                r.has("max") ? r.get("max").getAsLong() : Long.MAX_VALUE,
                                got.range(d).max(),
                                d);
                          }
                        }
                      } else {
                        DeploykitException e =
                            assertThrows(
                                DeploykitException.class,
                                () -> Manifest.read(file),
                                v.get("why").getAsString());
                        assertEquals(v.get("exit").getAsInt(), e.exitCode(), e.getMessage());
                        assertFalse(e.getMessage().contains("\n"));
                        if (e.exitCode() == 3) {
                          assertTrue(
                              e.getMessage()
                                  .matches(
                                      ".*: schema_version .* is not supported \\(this client reads"
                                          + " 2\\)"),
                              e.getMessage());
                        }
                      }
                    }));
  }

  @TestFactory
  Stream<DynamicTest> calls() {
    List<JsonObject> calls = entries("calls");
    return java.util.stream.IntStream.range(0, calls.size())
        .mapToObj(
            i -> {
              JsonObject v = calls.get(i);
              String name = i + ": " + v.get("why").getAsString();
              return DynamicTest.dynamicTest(
                  name,
                  () -> {
                    Manifest m = Manifest.read(DIR.resolve(v.get("manifest").getAsString()));
                    Manifest.ModelEntry model = m.model(v.get("model").getAsString());
                    Manifest.Artifact artifact =
                        v.has("format")
                            ? model.artifactsOf(v.get("format").getAsString()).get(0)
                            : null;
                    Map<String, Tensor> inputs = new LinkedHashMap<>();
                    for (Map.Entry<String, JsonElement> e :
                        v.getAsJsonObject("inputs").entrySet()) {
                      inputs.put(e.getKey(), Npy.read(DIR.resolve(e.getValue().getAsString())));
                    }
                    if (v.get("valid").getAsBoolean()) {
                      // valid inputs take predict's allocation-free path
                      assertTrue(InputCheck.conforms(model, inputs), "conforms");
                      InputCheck.check(model, artifact, inputs);
                      if (artifact
                          != null) { // the boundary casts themselves succeed and keep the values
                        Map<String, Tensor> cast = InputCheck.toBoundary(model, artifact, inputs);
                        for (TensorSpec spec : model.inputs()) {
                          Tensor before = inputs.get(spec.name());
                          Tensor after = cast.get(spec.name());
                          assertEquals(
                              artifact.boundaryDtypes().getOrDefault(spec.name(), spec.dtype()),
                              after.dtype());
                          for (long k = 0; k < before.size(); k++) {
                            assertEquals(before.getDouble(k), after.getDouble(k));
                          }
                        }
                      }
                    } else {
                      DeploykitException e =
                          assertThrows(
                              DeploykitException.class,
                              () -> InputCheck.check(model, artifact, inputs));
                      assertEquals(v.get("exit").getAsInt(), e.exitCode(), e.getMessage());
                      assertTrue(e.getMessage().startsWith("input "), e.getMessage());
                      // the fast path passes only what fails the one check it leaves out: a
                      // boundary cast that does not fit
                      assertTrue(
                          !InputCheck.conforms(model, inputs)
                              || (artifact != null
                                  && artifact.boundaryDtypes().entrySet().stream()
                                      .anyMatch(
                                          b ->
                                              model.inputs().stream()
                                                  .anyMatch(
                                                      sp ->
                                                          sp.name().equals(b.getKey())
                                                              && sp.dtype() != b.getValue()))),
                          "conforms let through " + e.getMessage());
                    }
                  });
            });
  }

  private static void assertSpecs(JsonArray want, List<TensorSpec> got) {
    assertEquals(want.size(), got.size());
    for (int i = 0; i < want.size(); i++) {
      JsonObject w = want.get(i).getAsJsonObject();
      TensorSpec g = got.get(i);
      assertEquals(w.get("name").getAsString(), g.name());
      assertEquals(w.get("dtype").getAsString(), g.dtype().id());
      List<String> shape = new ArrayList<>();
      w.getAsJsonArray("shape").forEach(d -> shape.add(d.getAsString()));
      assertEquals(shape, g.shape().stream().map(TensorSpec.Dim::toString).toList(), g.name());
    }
  }

  private static List<Long> longs(JsonArray a) {
    List<Long> out = new ArrayList<>();
    a.forEach(e -> out.add(e.getAsLong()));
    return out;
  }

  private static List<Long> longs(long[] a) {
    return java.util.Arrays.stream(a).boxed().toList();
  }

  static String sha256(byte[] bytes) throws NoSuchAlgorithmException {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }
}
