package dev.deploykit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Several inputs and outputs of every dtype, a scalar, shared dynamic dims and boundary casts, on
 * {@link SyntheticModel}.
 */
class MultiTensorTest {
  @TempDir static Path dir;
  static Path manifest;

  @BeforeAll
  static void export() {
    manifest = SyntheticModel.write(dir);
  }

  static Tensor half(short... bits) {
    ByteBuffer b = ByteBuffer.allocate(bits.length * 2).order(ByteOrder.LITTLE_ENDIAN);
    for (short s : bits) {
      b.putShort(s);
    }
    return new Tensor(
        DType.FLOAT16, bits.length == 1 ? new long[0] : new long[] {bits.length}, b.array());
  }

  /** tokens (2, 3), mask (2, 3), scale 0.5, pixels (2, 2). */
  static Map<String, Tensor> inputs(long seq) {
    int n = (int) (2 * seq);
    long[] tokens = new long[n];
    byte[] mask = new byte[n];
    for (int i = 0; i < n; i++) {
      tokens[i] = i % 3 == 0 ? 0 : i * 11;
      mask[i] = (byte) (i % 2);
    }
    Map<String, Tensor> x = new LinkedHashMap<>();
    x.put("tokens", Tensor.ofLongs(new long[] {2, seq}, tokens));
    x.put("mask", new Tensor(DType.BOOL, new long[] {2, seq}, mask));
    x.put("scale", half(Half.fromFloat(0.5f)));
    x.put(
        "pixels",
        new Tensor(DType.UINT8, new long[] {2, 2}, new byte[] {0, 1, (byte) 254, (byte) 255}));
    return x;
  }

  @Test
  void predictFeedsEveryInputAndFetchesEveryOutput() {
    Map<String, Tensor> x = inputs(3);
    try (Model model = Model.load(manifest, "multi")) {
      Map<String, Tensor> y = model.predict(x);
      assertEquals(List.of("weighted", "half", "sum", "flags"), List.copyOf(y.keySet()));
      Tensor tokens = x.get("tokens");
      for (int i = 0; i < 6; i++) {
        double w = tokens.getLong(i) * (i % 2);
        assertEquals(w, y.get("weighted").getDouble(i), "weighted " + i);
        assertEquals(
            Half.toFloat(Half.fromFloat((float) w)) * 0.5,
            y.get("half").getDouble(i),
            1e-2,
            "half " + i);
        assertEquals(tokens.getLong(i) != 0 ? 1 : 0, y.get("flags").getLong(i), "flags " + i);
      }
      assertEquals(DType.FLOAT16, y.get("half").dtype());
      assertEquals(DType.BOOL, y.get("flags").dtype());
      assertArrayEquals(
          new int[] {1, 2, 255, 256},
          java.util.stream.IntStream.range(0, 4).map(i -> (int) y.get("sum").getLong(i)).toArray());
      assertArrayEquals(new long[] {2, 3}, y.get("weighted").shape());
    }
  }

  @Test
  void inputChecksNameTheTensorAndTheRule() {
    try (Model model = Model.load(manifest, "multi")) {
      Map<String, Tensor> x = new LinkedHashMap<>(inputs(3));
      x.remove("mask");
      assertMessage(
          "input mask: missing (model inputs: tokens, mask, scale, pixels)",
          () -> model.predict(x));
      Map<String, Tensor> y = new LinkedHashMap<>(inputs(3));
      y.put("mask", inputs(4).get("mask"));
      assertMessage("input mask: dim 1 (seq) is 4, but input tokens has 3", () -> model.predict(y));
      assertMessage(
          "input tokens: dim 1 (seq) is 9, outside [1, 8]", () -> model.predict(inputs(9)));
      Map<String, Tensor> z = new LinkedHashMap<>(inputs(3));
      z.put("scale", Tensor.ofFloats(new long[0], new float[] {0.5f}));
      assertMessage("input scale: expected float16, got float32", () -> model.predict(z));
      Map<String, Tensor> r = new LinkedHashMap<>(inputs(3));
      r.put("scale", half((short) 0, (short) 0));
      assertMessage("input scale: rank is 1 (2,), expected 0 []", () -> model.predict(r));
      Map<String, Tensor> f = new LinkedHashMap<>(inputs(3));
      f.put("pixels", new Tensor(DType.UINT8, new long[] {2, 3}, new byte[6]));
      assertMessage("input pixels: dim 1 is 3, expected 2", () -> model.predict(f));
      assertMessage(
          "model multi: takes 4 inputs and gives 4 outputs; use predict(Map<String, Tensor>)",
          () -> model.predict(new float[][] {{1f}}));
    }
  }

  @Test
  void boundaryCastsInputsToInt32AndOutputsBackToFloat16() {
    try (Model model = Model.load(manifest, "boundary")) {
      Tensor tokens = Tensor.ofLongs(new long[] {3}, new long[] {-4, 3, Integer.MAX_VALUE});
      Tensor out = model.predict(Map.of("tokens", tokens)).get("out");
      assertEquals(DType.FLOAT16, out.dtype());
      assertEquals(-2.0, out.getDouble(0));
      assertEquals(1.5, out.getDouble(1));
      assertEquals(Double.POSITIVE_INFINITY, out.getDouble(2)); // 2^30 overflows float16
      Tensor big = Tensor.ofLongs(new long[] {3}, new long[] {1, 2, 1L << 31});
      assertMessage(
          "input tokens: value 2147483648 at index 2 does not fit int32",
          () -> model.predict(Map.of("tokens", big)));
    }
  }

  @Test
  void cliTakesNamedFilesFoldersAndChecksEveryOutput() throws IOException {
    Path in = Files.createDirectories(dir.resolve("cli-in"));
    for (Map.Entry<String, Tensor> e : inputs(3).entrySet()) {
      Npy.write(in.resolve(e.getKey() + ".npy"), e.getValue());
    }
    Path out = dir.resolve("cli-out");
    CliFixtures.Run run =
        CliFixtures.cli(
            "--manifest",
            manifest.toString(),
            "--model",
            "multi",
            "--input-dir",
            in.toString(),
            "--output-dir",
            out.toString());
    assertEquals(0, run.code(), run.toString());
    for (String name : List.of("weighted", "half", "sum", "flags")) {
      assertTrue(Files.isRegularFile(out.resolve(name + ".npy")), name);
    }
    // the outputs just written are the reference: every output passes, one line each, in the
    // model's order
    run =
        CliFixtures.cli(
            "--manifest",
            manifest.toString(),
            "--model",
            "multi",
            "--input",
            "tokens=" + in.resolve("tokens.npy"),
            "--input",
            "mask=" + in.resolve("mask.npy"),
            "--input",
            "scale=" + in.resolve("scale.npy"),
            "--input",
            "pixels=" + in.resolve("pixels.npy"),
            "--check-dir",
            out.toString(),
            "--output",
            "sum=" + dir.resolve("sum-only.npy"));
    assertEquals(0, run.code(), run.toString());
    List<String> lines = run.out().lines().toList();
    assertEquals(4, lines.size(), run.out());
    assertTrue(
        lines
            .get(0)
            .startsWith("check weighted: pass max_abs=0 mismatches=0/6 (atol 0.001 rtol 0.001)"),
        lines.get(0));
    assertTrue(lines.get(2).startsWith("check sum: pass max_abs=0 mismatches=0/4"), lines.get(2));
    assertArrayEquals(
        Files.readAllBytes(out.resolve("sum.npy")),
        Files.readAllBytes(dir.resolve("sum-only.npy")));

    // an integer output off by one fails exactly, whatever the tolerance
    Path wrong = dir.resolve("wrong-sum.npy");
    Npy.write(wrong, Tensor.ofInts(new long[] {2, 2}, new int[] {1, 2, 255, 257}));
    run =
        CliFixtures.cli(
            "--manifest",
            manifest.toString(),
            "--model",
            "multi",
            "--input-dir",
            in.toString(),
            "--check",
            "sum=" + wrong);
    assertEquals(1, run.code(), run.toString());
    assertTrue(run.out().startsWith("check sum: FAIL max_abs=1 mismatches=1/4"), run.out());

    CliFixtures.Run bare =
        CliFixtures.cli(
            "--manifest",
            manifest.toString(),
            "--model",
            "multi",
            "--input",
            in.resolve("tokens.npy").toString());
    assertEquals(2, bare.code());
    assertTrue(
        bare.err().startsWith("error: --input ") && bare.err().contains("use NAME=FILE"),
        bare.err());
    CliFixtures.Run missing =
        CliFixtures.cli(
            "--manifest",
            manifest.toString(),
            "--model",
            "multi",
            "--input",
            "tokens=" + in.resolve("tokens.npy"));
    assertEquals(2, missing.code());
    assertEquals(
        "error: input mask: missing (model inputs: tokens, mask, scale, pixels)",
        missing.err().strip());
  }

  @Test
  void jobsLoadOnceRunInOrderAndReportEachExitCode() throws IOException {
    Path in = Files.createDirectories(dir.resolve("jobs-in"));
    for (Map.Entry<String, Tensor> e : inputs(2).entrySet()) {
      Npy.write(in.resolve(e.getKey() + ".npy"), e.getValue());
    }
    Npy.write(in.resolve("big.npy"), Tensor.ofLongs(new long[] {1}, new long[] {1L << 40}));
    Npy.write(in.resolve("small.npy"), Tensor.ofLongs(new long[] {2}, new long[] {4, 6}));
    Npy.write(in.resolve("small_out.npy"), half(Half.fromFloat(2f), Half.fromFloat(3f)));
    String all =
        "{\"tokens\": \"jobs-in/tokens.npy\", \"mask\": \"jobs-in/mask.npy\", \"scale\":"
            + " \"jobs-in/scale.npy\", \"pixels\": \"jobs-in/pixels.npy\"}";
    Path jobs = dir.resolve("jobs.jsonl");
    Files.writeString(
        jobs,
        String.join(
            "\n",
            "{\"id\": \"a\", \"model\": \"multi\", \"format\": \"saved-model\", \"inputs\": "
                + all
                + ", \"outputs\": {\"sum\": \"jobs-out/sum.npy\"}}",
            "",
            "{\"id\": \"b\", \"model\": \"boundary\", \"inputs\": {\"tokens\":"
                + " \"jobs-in/small.npy\"}, \"check\": {\"out\": \"jobs-in/small_out.npy\"}}",
            "{\"id\": \"c\", \"model\": \"boundary\", \"inputs\": {\"tokens\":"
                + " \"jobs-in/big.npy\"}}",
            "{\"model\": \"multi\", \"inputs\": {\"tokens\": \"jobs-in/tokens.npy\"}}",
            "{\"id\": \"e\", \"model\": \"boundary\", \"inputs\": {\"tokens\":"
                + " \"jobs-in/small.npy\"}, \"check\": {\"out\": \"jobs-in/scale.npy\"}}",
            "{\"id\": \"f\", \"model\": \"multi\", \"format\": \"onnx\", \"inputs\": " + all + "}",
            ""));
    CliFixtures.Run run =
        CliFixtures.cli("--manifest", manifest.toString(), "--jobs", jobs.toString());
    assertEquals(2, run.code(), run.toString());
    List<String> lines = run.out().lines().toList();
    assertEquals(6, lines.size(), run.out());
    int[] exits = {0, 0, 2, 2, 1, 2};
    for (int i = 0; i < lines.size(); i++) {
      JsonObject line = JsonParser.parseString(lines.get(i)).getAsJsonObject();
      assertEquals(
          List.of("id", "index", "exit", "error", "seconds"),
          List.copyOf(line.keySet()),
          lines.get(i));
      assertEquals(i, line.get("index").getAsInt());
      assertEquals(exits[i], line.get("exit").getAsInt(), lines.get(i));
      assertEquals(exits[i] == 0, line.get("error").isJsonNull(), lines.get(i));
      assertTrue(line.get("seconds").getAsDouble() >= 0);
    }
    assertTrue(JsonParser.parseString(lines.get(3)).getAsJsonObject().get("id").isJsonNull());
    assertEquals(
        "input tokens: value 1099511627776 at index 0 does not fit int32",
        JsonParser.parseString(lines.get(2)).getAsJsonObject().get("error").getAsString());
    assertTrue(Files.isRegularFile(dir.resolve("jobs-out/sum.npy")));
    assertEquals("", run.err());

    // one malformed line: exit 2 before any job runs
    Files.writeString(
        jobs,
        "{\"model\": \"multi\", \"inputs\": " + all + "}\n{\"model\": \"multi\", \"inputs\": [\n");
    CliFixtures.Run bad =
        CliFixtures.cli("--manifest", manifest.toString(), "--jobs", jobs.toString());
    assertEquals(2, bad.code());
    assertEquals("", bad.out());
    assertTrue(bad.err().startsWith("error: jobs " + jobs + " line 2: not JSON"), bad.err());
    CliFixtures.Run mixed =
        CliFixtures.cli(
            "--manifest", manifest.toString(), "--jobs", jobs.toString(), "--model", "multi");
    assertEquals(2, mixed.code());
  }

  private static void assertMessage(
      String message, org.junit.jupiter.api.function.Executable call) {
    DeploykitException e = assertThrows(DeploykitException.class, call);
    assertEquals(2, e.exitCode());
    assertEquals(message, e.getMessage());
  }
}
