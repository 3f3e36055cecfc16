package dev.deploykit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The common command line, in-process: exit codes and one-line messages for every failure. */
class CliTest {
  private static final Path M = Fixtures.TEST_MANIFEST;
  @TempDir Path tmp;

  private static String[] args(Path manifest, String model, Path input, String... more) {
    List<String> a =
        new ArrayList<>(
            List.of(
                "--manifest", manifest.toString(), "--model", model, "--input", input.toString()));
    a.addAll(Arrays.asList(more));
    return a.toArray(String[]::new);
  }

  /** The golden set's one input file of a one-input model. */
  private static Path in(String model) {
    return Fixtures.goldenDir(M, model, "golden").resolve("input.npy");
  }

  private static Path expected(String model) {
    return Fixtures.expectedDir(M, model, "golden").resolve("output.npy");
  }

  /**
   * Exit code {@code code}, nothing on stdout, exactly one {@code error: what: why} line on stderr.
   */
  private static CliFixtures.Run assertError(int code, String fragment, CliFixtures.Run run) {
    assertEquals(code, run.code(), run.toString());
    assertEquals("", run.out());
    List<String> lines = run.err().lines().toList();
    assertEquals(1, lines.size(), run.err());
    assertTrue(lines.get(0).startsWith("error: ") && lines.get(0).contains(fragment), run.err());
    return run;
  }

  @Test
  void usage() {
    CliFixtures.Run none = CliFixtures.cli();
    assertEquals(2, none.code());
    assertTrue(none.err().contains("Usage: deploykit-java"), none.err());
    CliFixtures.Run help = CliFixtures.cli("--help");
    assertEquals(0, help.code());
    assertTrue(help.out().contains("--allow-unsafe-ops"), help.out());
    assertError(
        2,
        "Unknown option: '--bogus'",
        CliFixtures.cli(args(M, "mlp_keras", in("mlp_keras"), "--output", "o.npy", "--bogus")));
    assertError(2, "Missing required option", CliFixtures.cli("--model", "mlp_keras"));
    assertError(2, "give --model", CliFixtures.cli("--manifest", M.toString()));
    assertError(
        2, "give --input", CliFixtures.cli("--manifest", M.toString(), "--model", "mlp_keras"));
    assertError(
        2,
        "--repeat must be",
        CliFixtures.cli(
            args(M, "mlp_keras", in("mlp_keras"), "--timing", "t.json", "--repeat", "0")));
  }

  @Test
  void checkPassesAndWritesTheOutput() throws IOException {
    Path out = tmp.resolve("out.npy");
    CliFixtures.Run run =
        CliFixtures.cli(
            args(
                M,
                "mlp_keras",
                in("mlp_keras"),
                "--format",
                "saved-model",
                "--output",
                out.toString(),
                "--check",
                expected("mlp_keras").toString()));
    assertEquals(0, run.code(), run.toString());
    assertTrue(
        run.out()
            .matches(
                "check output: pass max_abs=\\S+ mismatches=0/64 \\(atol 1e-05 rtol 0.0001\\)\\R"),
        run.out());
    assertEquals("", run.err());
    try (Model model = Model.load(M, "mlp_keras")) {
      assertArrayEquals(
          model.predict(Map.of("input", Npy.read(in("mlp_keras")))).get("output").bytes(),
          Npy.read(out).bytes());
    }
  }

  @Test
  void namedFilesAndFoldersAreTheSameRun() throws IOException {
    Path dir = tmp.resolve("outs");
    CliFixtures.Run run =
        CliFixtures.cli(
            "--manifest",
            M.toString(),
            "--model",
            "wide_keras",
            "--input-dir",
            Fixtures.goldenDir(M, "wide_keras", "golden").toString(),
            "--output-dir",
            dir.toString(),
            "--check-dir",
            Fixtures.expectedDir(M, "wide_keras", "golden").toString());
    assertEquals(0, run.code(), run.toString());
    assertTrue(run.out().startsWith("check output: pass "), run.out());
    Path named = tmp.resolve("named.npy");
    run =
        CliFixtures.cli(
            "--manifest",
            M.toString(),
            "--model",
            "wide_keras",
            "--input",
            "input=" + Fixtures.goldenDir(M, "wide_keras", "golden").resolve("input.npy"),
            "--output",
            "output=" + named,
            "--check",
            "output=" + Fixtures.expectedDir(M, "wide_keras", "golden").resolve("output.npy"));
    assertEquals(0, run.code(), run.toString());
    assertArrayEquals(Files.readAllBytes(dir.resolve("output.npy")), Files.readAllBytes(named));
    CliFixtures.Run none = CliFixtures.cli(args(M, "wide_keras", in("wide_keras")));
    assertEquals(0, none.code(), none.toString());
    assertEquals("", none.out());
  }

  @ParameterizedTest
  @ValueSource(strings = {"mlp_keras", "wide_keras"})
  void checkOfTheSpecialValues(String id) {
    CliFixtures.Run run =
        CliFixtures.cli(
            "--manifest",
            M.toString(),
            "--model",
            id,
            "--input-dir",
            Fixtures.goldenDir(M, id, "special").toString(),
            "--check-dir",
            Fixtures.expectedDir(M, id, "special").toString());
    assertEquals(0, run.code(), run.toString());
  }

  @Test
  void checkMismatchExitsOne() throws IOException {
    Tensor expected = Npy.read(expected("mlp_keras"));
    float[] wrong = expected.toFloats();
    wrong[5] += 0.01f;
    wrong[9] = Float.NaN;
    Path bad = tmp.resolve("wrong.npy");
    Npy.write(bad, Tensor.ofFloats(expected.shape(), wrong));
    CliFixtures.Run run =
        CliFixtures.cli(args(M, "mlp_keras", in("mlp_keras"), "--check", bad.toString()));
    assertEquals(1, run.code(), run.toString());
    assertTrue(
        run.out()
            .startsWith(
                "check output: FAIL max_abs=0.01 mismatches=2/64 (atol 1e-05 rtol 0.0001, worst"
                    + " index 9)"),
        run.out());

    // a reference of another shape or dtype is a failed check, not a crash
    Npy.write(bad, Tensor.ofFloats(new long[] {64, 2}, new float[128]));
    run = CliFixtures.cli(args(M, "mlp_keras", in("mlp_keras"), "--check", "output=" + bad));
    assertEquals(1, run.code(), run.toString());
    assertTrue(
        run.out()
            .startsWith(
                "check output: FAIL max_abs=nan mismatches=64/64 (got float32 (64, 1), expected"
                    + " float32 (64, 2))"),
        run.out());
    Npy.write(bad, Tensor.ofInts(new long[] {64, 1}, new int[64]));
    assertEquals(
        1,
        CliFixtures.cli(args(M, "mlp_keras", in("mlp_keras"), "--check", bad.toString())).code());
  }

  @Test
  void timingFile() throws IOException {
    Path t = tmp.resolve("timing.json");
    CliFixtures.Run run =
        CliFixtures.cli(
            args(
                M,
                "mlp_keras",
                in("mlp_keras"),
                "--repeat",
                "20",
                "--warmup",
                "3",
                "--timing",
                t.toString()));
    assertEquals(0, run.code(), run.toString());
    JsonObject doc = JsonParser.parseString(Files.readString(t)).getAsJsonObject();
    assertTrue(doc.get("load_ms").getAsDouble() > 0);
    assertTrue(doc.get("first_ms").getAsDouble() > 0);
    assertEquals(64, doc.get("batch").getAsInt());
    JsonObject lat = doc.getAsJsonObject("latency_us");
    for (String k : new String[] {"p50", "p90", "p99", "mean"}) {
      assertTrue(lat.get(k).getAsDouble() > 0, k);
    }
    assertTrue(lat.get("p50").getAsDouble() <= lat.get("p99").getAsDouble());
    CliFixtures.assertSamples(doc, 20, t.toString());
  }

  @Test
  void timingFileHasTheBareSessionCall() throws IOException {
    Path t = tmp.resolve("timing-direct.json");
    Path one = tmp.resolve("one.npy");
    Npy.write(one, Fixtures.head(Npy.read(in("mlp_keras")), 1));
    CliFixtures.Run run =
        CliFixtures.cli(
            args(M, "mlp_keras", one, "--repeat", "25", "--warmup", "2", "--timing", t.toString()));
    assertEquals(0, run.code(), run.toString());
    JsonObject doc = JsonParser.parseString(Files.readString(t)).getAsJsonObject();
    assertEquals(1, doc.get("batch").getAsInt());
    JsonObject direct = doc.getAsJsonObject("direct_latency_us");
    for (String k : new String[] {"p50", "p90", "p99", "mean"}) {
      double v = direct.get(k).getAsDouble();
      assertTrue(v > 0 && Double.isFinite(v), k + " = " + v);
    }
    assertTrue(direct.get("p50").getAsDouble() <= direct.get("p99").getAsDouble());
    String line = doc.get("direct").getAsString();
    assertTrue(!line.isBlank() && !line.contains("\n"), line);
    CliFixtures.assertSamples(doc, 25, t.toString());
  }

  @Test
  void badInputsExitTwo() throws IOException {
    String o = tmp.resolve("o.npy").toString();
    assertError(
        2,
        "no such file",
        CliFixtures.cli(args(M, "mlp_keras", tmp.resolve("missing.npy"), "--output", o)));
    assertError(
        2,
        "no such file",
        CliFixtures.cli(
            args(tmp.resolve("none.json"), "mlp_keras", in("mlp_keras"), "--output", o)));
    assertError(
        2, "not in", CliFixtures.cli(args(M, "no_such_model", in("mlp_keras"), "--output", o)));
    // every exported model now has a saved-model artifact: drop mlp_torch's from a copy
    Path noSavedModel =
        Fixtures.copyModel(
            M,
            "mlp_torch",
            tmp.resolve("no-saved-model"),
            doc -> {
              for (JsonElement m : doc.getAsJsonArray("models")) {
                if (m.getAsJsonObject().get("id").getAsString().equals("mlp_torch")) {
                  m.getAsJsonObject()
                      .getAsJsonArray("artifacts")
                      .remove(Fixtures.savedModelArtifact(doc, "mlp_torch"));
                }
              }
            });
    assertError(
        2,
        "has no saved-model artifact",
        CliFixtures.cli(args(noSavedModel, "mlp_torch", in("mlp_torch"), "--output", o)));
    assertError(
        2,
        "only saved-model",
        CliFixtures.cli(args(M, "mlp_keras", in("mlp_keras"), "--format", "onnx", "--output", o)));
    // wrong shape: wide_keras's 256-wide rows into the 10-wide mlp
    assertError(
        2,
        "error: input input: dim 1 is 256, expected 10",
        CliFixtures.cli(args(M, "mlp_keras", in("wide_keras"), "--output", o)));
    assertError(
        2,
        "unknown input \"x\" (model inputs: input)",
        CliFixtures.cli(args(M, "mlp_keras", Path.of("x=" + in("mlp_keras")))));
    assertError(
        2,
        "unknown output \"y\"",
        CliFixtures.cli(args(M, "mlp_keras", in("mlp_keras"), "--output", "y=" + o)));
    assertError(
        2,
        "given twice",
        CliFixtures.cli(
            args(M, "mlp_keras", in("mlp_keras"), "--input", in("mlp_keras").toString())));
    assertError(
        2,
        "no such file",
        CliFixtures.cli(
            "--manifest", M.toString(), "--model", "mlp_keras", "--input-dir", tmp.toString()));
    Path ints = tmp.resolve("ints.npy");
    Npy.write(ints, Tensor.ofInts(new long[] {2, 10}, new int[20]));
    assertError(
        2,
        "error: input input: expected float32, got int32",
        CliFixtures.cli(args(M, "mlp_keras", ints)));

    Path f8 = tmp.resolve("f8.npy");
    Files.write(
        f8, NpyTest.npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 10), }", 20));
    assertError(2, "dtype '<f8'", CliFixtures.cli(args(M, "mlp_keras", f8, "--output", o)));

    byte[] golden = Files.readAllBytes(in("mlp_keras"));
    Path truncated = tmp.resolve("truncated.npy");
    Files.write(truncated, Arrays.copyOf(golden, golden.length - 100));
    assertError(2, "data bytes", CliFixtures.cli(args(M, "mlp_keras", truncated, "--output", o)));

    Path broken = tmp.resolve("broken.json");
    Files.writeString(broken, "{\"schema_version\": 2, \"models\": [");
    assertError(
        2, "not JSON", CliFixtures.cli(args(broken, "mlp_keras", in("mlp_keras"), "--output", o)));
    Files.writeString(broken, "{\"schema_version\": 2, \"models\": [{\"id\": \"x\"}]}");
    assertError(
        2,
        "model x: 'inputs' is not a list",
        CliFixtures.cli(args(broken, "x", in("mlp_keras"), "--output", o)));
    Files.writeString(broken, "{\"models\": []}");
    assertError(
        3,
        "schema_version (missing) is not supported (this client reads 2)",
        CliFixtures.cli(args(broken, "x", in("mlp_keras"))));
  }

  @Test
  void integrityFailuresExitThree() throws IOException {
    // sha256 in the manifest does not match the files
    Path a =
        Fixtures.copyModel(
            M,
            "mlp_keras",
            tmp.resolve("a"),
            doc ->
                Fixtures.savedModelArtifact(doc, "mlp_keras")
                    .addProperty("sha256", "0".repeat(64)));
    assertError(
        3,
        "sha256 mismatch",
        CliFixtures.cli(
            args(a, "mlp_keras", in("mlp_keras"), "--output", tmp.resolve("o.npy").toString())));

    // the artifact folder is missing
    Path b = Fixtures.copyModel(M, "mlp_keras", tmp.resolve("b"), doc -> {});
    deleteTree(tmp.resolve("b/mlp_keras/saved_model"));
    assertError(
        3,
        "is missing",
        CliFixtures.cli(
            args(b, "mlp_keras", in("mlp_keras"), "--output", tmp.resolve("o.npy").toString())));
  }

  @Test
  void corruptedVariablesAreRefusedByHashThenByTheLoader() throws IOException {
    Path dir = tmp.resolve("c");
    Path manifest = Fixtures.copyModel(M, "wide_keras", dir, doc -> {});
    Path data = dir.resolve("wide_keras/saved_model/variables/variables.data-00000-of-00001");
    byte[] bytes = Files.readAllBytes(data);
    for (int i = 0; i < 64; i++) {
      bytes[bytes.length / 2 + i] ^= (byte) 0x5a;
    }
    Files.write(data, bytes);
    String[] run =
        args(manifest, "wide_keras", in("wide_keras"), "--output", tmp.resolve("o.npy").toString());
    assertError(3, "sha256 mismatch", CliFixtures.cli(run));

    // The manifest's sha256 updated to match: the integrity check passes, TF's restore must fail
    // cleanly.
    String sha = Hashing.artifactSha256(dir.resolve("wide_keras/saved_model"));
    Path rehashed =
        Fixtures.copyModel(
            manifest,
            "wide_keras",
            tmp.resolve("d"),
            doc -> Fixtures.savedModelArtifact(doc, "wide_keras").addProperty("sha256", sha));
    assertError(
        3,
        "TensorFlow could not load the SavedModel",
        CliFixtures.cli(
            args(
                rehashed,
                "wide_keras",
                in("wide_keras"),
                "--output",
                tmp.resolve("o.npy").toString())));
  }

  @Test
  void corruptedGraphIsRefusedCleanly() throws IOException {
    Path dir = tmp.resolve("g");
    Path manifest = Fixtures.copyModel(M, "mlp_keras", dir, doc -> {});
    Path pb = dir.resolve("mlp_keras/saved_model/saved_model.pb");
    byte[] bytes = Files.readAllBytes(pb);
    Files.write(pb, Arrays.copyOf(bytes, bytes.length / 3));
    String sha = Hashing.artifactSha256(dir.resolve("mlp_keras/saved_model"));
    Path rehashed =
        Fixtures.copyModel(
            manifest,
            "mlp_keras",
            tmp.resolve("h"),
            doc -> Fixtures.savedModelArtifact(doc, "mlp_keras").addProperty("sha256", sha));
    assertError(
        3,
        "saved_model.pb",
        CliFixtures.cli(
            args(
                rehashed,
                "mlp_keras",
                in("mlp_keras"),
                "--output",
                tmp.resolve("o.npy").toString())));
  }

  /**
   * Bit flips anywhere in the SavedModel, with the manifest's sha256 updated: a clean exit, never a
   * crash.
   */
  @Test
  void randomBitFlipsWithMatchingHashFailCleanly() throws IOException {
    String[] files = {
      "saved_model.pb", "variables/variables.index", "variables/variables.data-00000-of-00001"
    };
    Random random = new Random(20261125);
    for (int trial = 0; trial < 12; trial++) {
      Path dir = tmp.resolve("flip" + trial);
      Path base = Fixtures.copyModel(M, "mlp_keras", dir, doc -> {});
      Path file = dir.resolve("mlp_keras/saved_model").resolve(files[trial % files.length]);
      byte[] bytes = Files.readAllBytes(file);
      for (int i = 0, n = 1 + random.nextInt(16); i < n; i++) {
        bytes[random.nextInt(bytes.length)] ^= (byte) (1 << random.nextInt(8));
      }
      Files.write(file, bytes);
      String sha = Hashing.artifactSha256(dir.resolve("mlp_keras/saved_model"));
      Path manifest =
          Fixtures.copyModel(
              base,
              "mlp_keras",
              tmp.resolve("flipped" + trial),
              doc -> Fixtures.savedModelArtifact(doc, "mlp_keras").addProperty("sha256", sha));
      CliFixtures.Run run =
          CliFixtures.cli(
              args(
                  manifest,
                  "mlp_keras",
                  in("mlp_keras"),
                  "--check",
                  expected("mlp_keras").toString()));
      String where = "trial " + trial + " (" + file.getFileName() + "): " + run;
      assertTrue(run.code() == 0 || run.code() == 1 || run.code() == 3, where);
      if (run.code() == 3) {
        assertError(3, "mlp_keras/saved-model: ", run);
      }
    }
  }

  @Test
  void unsafeFixture() {
    Path u = Fixtures.UNSAFE_MANIFEST;
    Path input = Fixtures.goldenDir(u, "unsafe_readfile", "golden").resolve("input.npy");
    String expected =
        Fixtures.expectedDir(u, "unsafe_readfile", "golden").resolve("output.npy").toString();
    assertError(
        3, "ReadFile", CliFixtures.cli(args(u, "unsafe_readfile", input, "--check", expected)));
    CliFixtures.Run allowed =
        CliFixtures.cli(
            args(u, "unsafe_readfile", input, "--check", expected, "--allow-unsafe-ops"));
    assertEquals(0, allowed.code(), allowed.toString());
    assertTrue(allowed.out().startsWith("check output: pass"), allowed.out());
    assertTrue(
        allowed.err().startsWith("warning: unsafe_readfile reaches denied op(s) ReadFile"),
        allowed.err());
  }

  private static void deleteTree(Path root) throws IOException {
    try (var walk = Files.walk(root)) {
      for (Path p : walk.sorted((x, y) -> y.compareTo(x)).toList()) {
        Files.delete(p);
      }
    }
  }
}
