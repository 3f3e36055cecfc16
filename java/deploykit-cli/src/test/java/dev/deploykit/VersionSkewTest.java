package dev.deploykit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The version-skew guard (docs/contract.md, "Version skew"): parsing and comparing versions, the
 * manifest's {@code min_runtime} validation (exit 2), and a runtime older than an artifact's {@code
 * min_runtime.tensorflow} refused with exit 3 in the library, the in-process CLI, {@code --jobs}
 * and the real launcher.
 */
class VersionSkewTest {
  private static final Path M = Fixtures.TEST_MANIFEST;
  private static final Path LAUNCHER = Fixtures.REPO.resolve("bin/deploykit-java");
  private static final String MODEL = "mlp_keras";
  private static final String WHAT = MODEL + "/" + Model.FORMAT;

  @TempDir Path tmp;

  // ---- parse and compare ----

  @Test
  void comparesNumericallyPerComponent() {
    assertEquals(0, VersionSkew.compare("2.18.0", "2.18.0"));
    assertTrue(VersionSkew.compare("2.18.0", "2.19.0") < 0);
    assertTrue(VersionSkew.compare("2.19.0", "2.18.0") > 0);
    assertTrue(VersionSkew.compare("2.18.0", "2.18.1") < 0);
    assertTrue(VersionSkew.compare("3.0.0", "2.99.99") > 0);
    assertTrue(VersionSkew.compare("2.9.0", "2.10.0") < 0, "numeric, not as text");
    assertTrue(VersionSkew.compare("10", "9.9.9") > 0);
    // missing components are 0
    assertEquals(0, VersionSkew.compare("2", "2.0.0"));
    assertEquals(0, VersionSkew.compare("2.19", "2.19.0"));
    assertTrue(VersionSkew.compare("2.18.0", "2.19") < 0);
    assertTrue(VersionSkew.compare("2.19.1", "2.19") > 0);
    assertTrue(VersionSkew.compare("2.18.0", "2") > 0);
    assertTrue(VersionSkew.compare("1.99.99", "2") < 0);
    assertTrue(VersionSkew.compare("99999999999999999999", "99999999999999999998") > 0);
  }

  @Test
  void readsTheRuntimeVersionUpToItsFirstOtherCharacter() {
    assertEquals("2.13.0", VersionSkew.numericPrefix("2.13.0+cu130"));
    assertEquals("2.18.0", VersionSkew.numericPrefix("2.18.0"));
    assertEquals("2.19.0", VersionSkew.numericPrefix("2.19.0-rc1"));
    assertEquals("2.20", VersionSkew.numericPrefix("2.20.dev20250101"));
    assertEquals("2", VersionSkew.numericPrefix("2"));
    assertEquals("", VersionSkew.numericPrefix("unknown"));
    assertEquals(0, VersionSkew.compare(VersionSkew.numericPrefix("2.13.0+cu130"), "2.13"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"2", "2.19", "2.18.0", "0", "10.20.30", "007.1"})
  void validVersions(String v) {
    assertTrue(VersionSkew.valid(v), v);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "2.",
        ".2",
        "2..0",
        "1.2.3.4",
        "v2",
        "2.x",
        " 2",
        "2 ",
        "-1",
        "2.19.0-rc1",
        "2.13.0+cu130"
      })
  void malformedVersions(String v) {
    assertFalse(VersionSkew.valid(v), v);
  }

  @Test
  void checkRefusesOnlyAnOlderRuntime() {
    String binding = "TF Java 1.1.0";
    // equal, newer, older families and no entry: no refusal
    VersionSkew.check(WHAT, Map.of("tensorflow", "2.18.0"), "2.18.0", binding);
    VersionSkew.check(WHAT, Map.of("tensorflow", "2.18"), "2.18.0", binding);
    VersionSkew.check(WHAT, Map.of("tensorflow", "2"), "2.18.0", binding);
    VersionSkew.check(WHAT, Map.of("tensorflow", "2.13.0"), "2.13.0+cu130", binding);
    VersionSkew.check(WHAT, Map.of("tensorflow", "1.0.0"), "2.18.0", binding);
    VersionSkew.check(
        WHAT, Map.of("torch", "99.0.0", "onnxruntime", "99", "jax", "0.4"), "2.18.0", null);
    VersionSkew.check(WHAT, Map.of(), "2.18.0", binding);

    DeploykitException e =
        assertThrows(
            DeploykitException.class,
            () -> VersionSkew.check(WHAT, Map.of("tensorflow", "2.19"), "2.18.0", binding));
    assertEquals(DeploykitException.LOAD_FAILED, e.exitCode());
    assertEquals(
        WHAT + ": built for tensorflow >= 2.19, this client runs tensorflow 2.18.0 (TF Java 1.1.0)",
        e.getMessage());
    e =
        assertThrows(
            DeploykitException.class,
            () -> VersionSkew.check(WHAT, Map.of("tensorflow", "2.14"), "2.13.0+cu130", null));
    assertEquals(
        WHAT + ": built for tensorflow >= 2.14, this client runs tensorflow 2.13.0",
        e.getMessage());
  }

  // ---- the manifest's min_runtime ----

  @Test
  void manifestKeepsEveryFamilyAndTreatsAbsentAsNoCheck() throws IOException {
    Manifest plain =
        Manifest.read(copyManifest(tmp.resolve("plain"), VersionSkewTest::removeMinRuntime));
    assertEquals(Map.of(), Model.artifactOf(plain.model(MODEL)).minRuntime());

    Manifest m =
        Manifest.read(
            copyManifest(
                tmp.resolve("families"),
                doc -> {
                  JsonObject min = new JsonObject();
                  min.addProperty("tensorflow", "2.18.0");
                  min.addProperty("torch", "2.13");
                  min.addProperty("some_future_runtime", "7");
                  Fixtures.savedModelArtifact(doc, MODEL).add("min_runtime", min);
                }));
    assertEquals(
        Map.of("tensorflow", "2.18.0", "torch", "2.13", "some_future_runtime", "7"),
        Model.artifactOf(m.model(MODEL)).minRuntime());
  }

  /** A malformed value, under any family, is exit 2 naming the model, format and family. */
  @Test
  void malformedMinRuntimeIsExitTwo() throws IOException {
    List<JsonElement> bad =
        List.of(
            new JsonPrimitive("2.x"),
            new JsonPrimitive(""),
            new JsonPrimitive("1.2.3.4"),
            new JsonPrimitive("2.19.0-rc1"),
            new JsonPrimitive("v2"),
            new JsonPrimitive(2),
            new JsonPrimitive(2.19),
            JsonNull.INSTANCE,
            new JsonArray());
    int n = 0;
    for (String family : List.of("tensorflow", "torch", "some_future_runtime")) {
      for (JsonElement value : bad) {
        Path manifest =
            copyManifest(
                tmp.resolve("bad" + n++),
                doc -> {
                  JsonObject min = new JsonObject();
                  min.add(family, value);
                  Fixtures.savedModelArtifact(doc, MODEL).add("min_runtime", min);
                });
        String where = "model " + MODEL + ": artifact saved-model: min_runtime." + family;
        DeploykitException e =
            assertThrows(DeploykitException.class, () -> Manifest.read(manifest), value::toString);
        assertEquals(DeploykitException.BAD_INPUT, e.exitCode(), e.getMessage());
        assertTrue(e.getMessage().contains(where), e.getMessage());

        // The CLI: exit 2, one "error: manifest ...: model ...: artifact ...: min_runtime.<family>"
        CliFixtures.Run run = CliFixtures.cli(goldenArgs(manifest));
        assertEquals(2, run.code(), run.toString());
        assertEquals("", run.out());
        assertEquals(1, run.err().lines().count(), run.err());
        assertTrue(run.err().startsWith("error: manifest " + manifest + ": " + where), run.err());
      }
    }
    // min_runtime itself must be an object
    Path notObject =
        copyManifest(
            tmp.resolve("not-object"),
            doc -> Fixtures.savedModelArtifact(doc, MODEL).addProperty("min_runtime", "2.18.0"));
    DeploykitException e = assertThrows(DeploykitException.class, () -> Manifest.read(notObject));
    assertEquals(DeploykitException.BAD_INPUT, e.exitCode());
    assertTrue(
        e.getMessage().contains("model " + MODEL + ": artifact saved-model: min_runtime"),
        e.getMessage());
  }

  // ---- the guard in the library, the in-process CLI and --jobs ----

  /** The refusal comes before the sha256 check: a wrong sha256 is not what is reported. */
  @Test
  void libraryRefusesBeforeHashing() throws IOException {
    Path manifest =
        linkedCopy(
            tmp.resolve("lib"),
            doc -> {
              JsonObject a = Fixtures.savedModelArtifact(doc, MODEL);
              a.add("min_runtime", tensorflow("99.0.0"));
              a.addProperty("sha256", "0".repeat(64));
            });
    DeploykitException e =
        assertThrows(DeploykitException.class, () -> Model.load(manifest, MODEL).close());
    assertEquals(DeploykitException.LOAD_FAILED, e.exitCode());
    assertEquals(refusal("99.0.0"), "error: " + e.getMessage());
  }

  /** Entries for families this client does not run, and an older tensorflow, load and run. */
  @Test
  void libraryLoadsWhenTheRuntimeIsNewEnough() throws IOException {
    Path manifest =
        linkedCopy(
            tmp.resolve("ok"),
            doc -> {
              JsonObject min = tensorflow(VersionSkew.numericPrefix(Versions.tensorflow()));
              min.addProperty("torch", "99.0.0");
              min.addProperty("onnxruntime", "99");
              min.addProperty("tfjs", "99.1");
              Fixtures.savedModelArtifact(doc, MODEL).add("min_runtime", min);
            });
    try (Model model = Model.load(manifest, MODEL)) {
      Map<String, Tensor> y = model.predict(Fixtures.goldenInputs(M, MODEL, "golden"));
      assertEquals(model.entry().outputNames(), List.copyOf(y.keySet()));
    }
  }

  @Test
  void cliAndJobsReportTheRefusal() throws IOException {
    Path manifest =
        linkedCopy(
            tmp.resolve("cli"),
            doc -> Fixtures.savedModelArtifact(doc, MODEL).add("min_runtime", tensorflow("99")));
    CliFixtures.Run run = CliFixtures.cli(goldenArgs(manifest));
    assertEquals(3, run.code(), run.toString());
    assertEquals("", run.out());
    assertEquals(refusal("99") + "\n", run.err().replace(System.lineSeparator(), "\n"));

    // --jobs: the refused model's job is exit 3 with the message, as a sha256 mismatch is; the
    // other model's job still runs, and the process exits with the first non-zero code.
    Path jobs = tmp.resolve("jobs.jsonl");
    Files.writeString(
        jobs, jobLine(manifest, MODEL, "a") + "\n" + jobLine(manifest, "wide_keras", "b") + "\n");
    CliFixtures.Run j =
        CliFixtures.cli("--manifest", manifest.toString(), "--jobs", jobs.toString());
    assertEquals(3, j.code(), j.toString());
    assertEquals("", j.err());
    List<JsonObject> lines =
        j.out().lines().map(l -> JsonParser.parseString(l).getAsJsonObject()).toList();
    assertEquals(2, lines.size(), j.out());
    assertEquals("a", lines.get(0).get("id").getAsString());
    assertEquals(3, lines.get(0).get("exit").getAsInt());
    assertEquals(
        refusal("99").substring("error: ".length()), lines.get(0).get("error").getAsString());
    assertEquals("b", lines.get(1).get("id").getAsString());
    assertEquals(0, lines.get(1).get("exit").getAsInt(), j.out());
    assertTrue(lines.get(1).get("error").isJsonNull());
  }

  // ---- end to end: the built CLI through bin/deploykit-java ----

  @Test
  void launcherRefusesANewerRuntimeAndRunsAnOlderOne() throws Exception {
    Path newer =
        linkedCopy(
            tmp.resolve("newer"),
            doc ->
                Fixtures.savedModelArtifact(doc, MODEL).add("min_runtime", tensorflow("99.0.0")));
    Proc p = launch(goldenArgs(newer));
    assertEquals(3, p.code(), p.toString());
    assertEquals("", p.out());
    List<String> lines = p.err().lines().toList();
    assertEquals(1, lines.size(), p.err());
    String have = VersionSkew.numericPrefix(Versions.tensorflow());
    assertTrue(lines.get(0).contains("99.0.0") && lines.get(0).contains(have), p.err());
    assertEquals(refusal("99.0.0"), lines.get(0));

    Path older =
        linkedCopy(
            tmp.resolve("older"),
            doc -> Fixtures.savedModelArtifact(doc, MODEL).add("min_runtime", tensorflow("1.0.0")));
    Proc ok = launch(goldenArgs(older));
    assertEquals(0, ok.code(), ok.toString());
    assertTrue(ok.out().startsWith("check output: pass max_abs="), ok.out());
    assertEquals("", ok.err());
  }

  // ---- helpers ----

  /** The expected refusal line for {@link #MODEL} against the TensorFlow this JVM runs. */
  private static String refusal(String required) {
    return "error: "
        + WHAT
        + ": built for tensorflow >= "
        + required
        + ", this client runs tensorflow "
        + VersionSkew.numericPrefix(Versions.tensorflow())
        + " (TF Java "
        + Versions.tensorflowJava()
        + ")";
  }

  private static JsonObject tensorflow(String version) {
    JsonObject min = new JsonObject();
    min.addProperty("tensorflow", version);
    return min;
  }

  /** Removes every artifact's min_runtime, so the case holds whatever the export writes. */
  private static void removeMinRuntime(JsonObject doc) {
    for (JsonElement m : doc.getAsJsonArray("models")) {
      for (JsonElement a : m.getAsJsonObject().getAsJsonArray("artifacts")) {
        a.getAsJsonObject().remove("min_runtime");
      }
    }
  }

  /** --input-dir/--check-dir on the golden set of {@link #MODEL}, beside {@code manifest}. */
  private static String[] goldenArgs(Path manifest) {
    return new String[] {
      "--manifest",
      manifest.toString(),
      "--model",
      MODEL,
      "--input-dir",
      Fixtures.goldenDir(manifest, MODEL, "golden").toString(),
      "--check-dir",
      Fixtures.expectedDir(manifest, MODEL, "golden").toString()
    };
  }

  private static String jobLine(Path manifest, String model, String id) {
    JsonObject job = new JsonObject();
    job.addProperty("id", id);
    job.addProperty("model", model);
    JsonObject inputs = new JsonObject();
    JsonObject check = new JsonObject();
    Path golden = Fixtures.goldenDir(manifest, model, "golden");
    inputs.addProperty("input", golden.resolve("input.npy").toString());
    check.addProperty("output", golden.resolve("expected/output.npy").toString());
    job.add("inputs", inputs);
    job.add("check", check);
    return job.toString();
  }

  /** The test export's manifest, edited, written alone into {@code dir} (for parse-only cases). */
  private static Path copyManifest(Path dir, Consumer<JsonObject> edit) throws IOException {
    Files.createDirectories(dir);
    JsonObject doc = JsonParser.parseString(Files.readString(M)).getAsJsonObject();
    edit.accept(doc);
    return Files.writeString(dir.resolve("manifest.json"), doc.toString());
  }

  /**
   * A runnable copy of the test export in {@code dir}: the edited manifest, symlinks to the
   * export's folders (the model folders; the artifact itself is then no link, which the hash
   * allows) and copies of its files (the deny-list is read without following links).
   */
  private static Path linkedCopy(Path dir, Consumer<JsonObject> edit) throws IOException {
    Path manifest = copyManifest(dir, edit);
    try (Stream<Path> entries = Files.list(M.getParent())) {
      for (Path p : entries.toList()) {
        Path target = dir.resolve(p.getFileName().toString());
        if (Files.isDirectory(p)) {
          Files.createSymbolicLink(target, p.toAbsolutePath());
        } else if (!Files.exists(target)) {
          Files.copy(p, target);
        }
      }
    }
    return manifest;
  }

  record Proc(int code, String out, String err) {}

  private static Proc launch(String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of(LAUNCHER.toString()));
    cmd.addAll(List.of(args));
    Process p =
        new ProcessBuilder(cmd)
            .directory(Path.of(System.getProperty("java.io.tmpdir")).toFile())
            .redirectErrorStream(false)
            .start();
    p.getOutputStream().close();
    byte[] out = p.getInputStream().readAllBytes();
    byte[] err = p.getErrorStream().readAllBytes();
    assertTrue(p.waitFor(120, TimeUnit.SECONDS));
    return new Proc(
        p.exitValue(),
        new String(out, StandardCharsets.UTF_8),
        new String(err, StandardCharsets.UTF_8));
  }
}
