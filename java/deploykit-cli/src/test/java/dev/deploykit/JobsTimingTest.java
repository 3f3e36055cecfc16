package dev.deploykit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Timed {@code --jobs} lines ({@code "repeat"}, {@code "warmup"}): the {@code "timing"} object and
 * the malformed forms.
 */
class JobsTimingTest {
  private static final Path M = Fixtures.TEST_MANIFEST;
  private static final List<String> KEYS = List.of("id", "index", "exit", "error", "seconds");
  @TempDir Path tmp;

  private static String in(String model) {
    return Fixtures.goldenDir(M, model, "golden").resolve("input.npy").toString();
  }

  private static String expected(String model) {
    return Fixtures.expectedDir(M, model, "golden").resolve("output.npy").toString();
  }

  private static String job(String id, String model, String input, String more) {
    return "{\"id\": \""
        + id
        + "\", \"model\": \""
        + model
        + "\", \"inputs\": {\"input\": \""
        + input
        + "\"}"
        + more
        + "}";
  }

  private static JsonObject parse(String line) {
    return JsonParser.parseString(line).getAsJsonObject();
  }

  /** p50 <= p90 <= p99, all finite and positive, and a mean. */
  private static void assertLatency(JsonObject lat, String where) {
    assertEquals(List.of("p50", "p90", "p99", "mean"), List.copyOf(lat.keySet()), where);
    for (String k : lat.keySet()) {
      double v = lat.get(k).getAsDouble();
      assertTrue(v > 0 && Double.isFinite(v), where + " " + k + " = " + v);
    }
    assertTrue(lat.get("p50").getAsDouble() <= lat.get("p90").getAsDouble(), where);
    assertTrue(lat.get("p90").getAsDouble() <= lat.get("p99").getAsDouble(), where);
  }

  @Test
  void timedJobsCarryTheTimingObjectAndUntimedOrFailedJobsDoNot() throws IOException {
    Path one = tmp.resolve("one.npy");
    Npy.write(one, Fixtures.head(Npy.read(Path.of(in("mlp_keras"))), 1));
    Path wrong = tmp.resolve("wrong.npy");
    Npy.write(wrong, Tensor.ofFloats(new long[] {64, 1}, new float[64]));
    Path jobs = tmp.resolve("jobs.jsonl");
    Files.writeString(
        jobs,
        String.join(
            "\n",
            job(
                "a",
                "mlp_keras",
                in("mlp_keras"),
                ", \"check\": {\"output\": \""
                    + expected("mlp_keras")
                    + "\"}, \"outputs\": {\"output\": \"out/a.npy\"}, \"repeat\": 20, \"warmup\":"
                    + " 3"),
            job("b", "mlp_keras", one.toString(), ", \"repeat\": 5"),
            job(
                "c",
                "mlp_keras",
                in("mlp_keras"),
                ", \"check\": {\"output\": \"" + expected("mlp_keras") + "\"}"),
            job(
                "d",
                "mlp_keras",
                in("mlp_keras"),
                ", \"check\": {\"output\": \"" + wrong + "\"}, \"repeat\": 4"),
            job(
                "e",
                "mlp_keras",
                tmp.resolve("missing.npy").toString(),
                ", \"repeat\": 4, \"warmup\": 0"),
            job("f", "wide_keras", in("wide_keras"), ", \"repeat\": 3, \"warmup\": 1"),
            job("g", "mlp_keras", in("mlp_keras"), ", \"repeat\": 1, \"warmup\": 0"),
            ""));
    CliFixtures.Run run = CliFixtures.cli("--manifest", M.toString(), "--jobs", jobs.toString());
    assertEquals(1, run.code(), run.toString());
    assertEquals("", run.err());
    List<JsonObject> lines = run.out().lines().map(JobsTimingTest::parse).toList();
    assertEquals(7, lines.size(), run.out());
    int[] exits = {0, 0, 0, 1, 2, 0, 0};
    boolean[] timed = {true, true, false, false, false, true, true};
    long[] batch = {64, 1, 0, 0, 0, 64, 64};
    int[] repeat = {20, 5, 0, 0, 0, 3, 1};
    for (int i = 0; i < lines.size(); i++) {
      JsonObject line = lines.get(i);
      String where = line.toString();
      assertEquals(exits[i], line.get("exit").getAsInt(), where);
      if (!timed[i]) {
        assertEquals(KEYS, List.copyOf(line.keySet()), where);
        continue;
      }
      assertEquals(
          List.of("id", "index", "exit", "error", "seconds", "timing"),
          List.copyOf(line.keySet()),
          where);
      JsonObject t = line.getAsJsonObject("timing");
      for (String k :
          List.of(
              "runtime_init_ms",
              "load_ms",
              "first_ms",
              "batch",
              "latency_us",
              "direct_latency_us",
              "direct",
              "runtime",
              "samples_us")) {
        assertTrue(t.has(k), where + " lacks " + k);
      }
      assertTrue(t.get("load_ms").getAsDouble() > 0, where);
      assertTrue(t.get("first_ms").getAsDouble() > 0, where);
      assertEquals(batch[i], t.get("batch").getAsLong(), where);
      assertLatency(t.getAsJsonObject("latency_us"), where);
      assertLatency(t.getAsJsonObject("direct_latency_us"), where);
      assertEquals(Model.DIRECT_DESCRIPTION, t.get("direct").getAsString());
      CliFixtures.assertSamples(t, repeat[i], where);
    }
    JsonObject a = lines.get(0).getAsJsonObject("timing");
    JsonObject b = lines.get(1).getAsJsonObject("timing");
    JsonObject g = lines.get(6).getAsJsonObject("timing");
    // one load per (model, format): every job on it reports the same load_ms; the first call is
    // each job's own
    assertEquals(a.get("load_ms").getAsDouble(), b.get("load_ms").getAsDouble());
    assertEquals(a.get("load_ms").getAsDouble(), g.get("load_ms").getAsDouble());
    assertEquals(
        a.get("runtime_init_ms").getAsDouble(),
        lines.get(5).getAsJsonObject("timing").get("runtime_init_ms").getAsDouble());
    assertTrue(Files.isRegularFile(tmp.resolve("out/a.npy")));
    assertTrue(
        lines.get(3).get("error").getAsString().startsWith("check output: FAIL"),
        lines.get(3).toString());
    assertTrue(
        lines.get(4).get("error").getAsString().contains("no such file"), lines.get(4).toString());
  }

  /**
   * Each malformed repeat/warmup on line 2 is exit 2 with one line naming it, before line 1's job
   * runs.
   */
  @ParameterizedTest
  @ValueSource(
      strings = {
        "\"repeat\": 0",
        "\"repeat\": -1",
        "\"repeat\": 2.5",
        "\"repeat\": 2.0",
        "\"repeat\": 1e2",
        "\"repeat\": \"3\"",
        "\"repeat\": true",
        "\"repeat\": [3]",
        "\"repeat\": {}",
        "\"repeat\": 99999999999",
        "\"repeat\": 3, \"warmup\": -1",
        "\"repeat\": 3, \"warmup\": 0.5",
        "\"repeat\": 3, \"warmup\": \"1\"",
        "\"repeat\": 3, \"warmup\": false",
        "\"warmup\": 2",
        "\"warmup\": 0",
        "\"repeat\": null, \"warmup\": 1"
      })
  void malformedTimingExitsTwoBeforeAnyJobRuns(String bad) throws IOException {
    Path jobs = tmp.resolve("jobs.jsonl");
    Files.writeString(
        jobs,
        job(
                "ok",
                "mlp_keras",
                in("mlp_keras"),
                ", \"outputs\": {\"output\": \"out/ok.npy\"}, \"repeat\": 2")
            + "\n"
            + job("bad", "mlp_keras", in("mlp_keras"), ", " + bad)
            + "\n");
    CliFixtures.Run run = CliFixtures.cli("--manifest", M.toString(), "--jobs", jobs.toString());
    assertEquals(2, run.code(), run.toString());
    assertEquals("", run.out());
    List<String> err = run.err().lines().toList();
    assertEquals(1, err.size(), run.err());
    String key = bad.contains("warmup") ? "warmup" : "repeat";
    assertTrue(
        err.get(0).startsWith("error: jobs " + jobs + " line 2: \"" + key + "\" "), err.get(0));
    assertEquals(
        !bad.contains("\"repeat\": 3") && key.equals("warmup"),
        err.get(0).contains("without \"repeat\""),
        err.get(0));
    assertFalse(Files.exists(tmp.resolve("out/ok.npy")));
  }
}
