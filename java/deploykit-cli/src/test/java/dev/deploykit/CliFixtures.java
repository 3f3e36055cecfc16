package dev.deploykit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.stream.StreamSupport;

/** Runs the command line in-process; the test export and its helpers are {@link Fixtures}. */
final class CliFixtures {
  private CliFixtures() {}

  /** The outcome of one in-process CLI run. */
  record Run(int code, String out, String err) {}

  static Run cli(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code =
        Cli.run(
            args,
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(
        code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  /**
   * A timing object's {@code samples_us}: {@code repeat} positive samples in each list, the block
   * count, and p50 of each series equal to the median of its samples.
   */
  static void assertSamples(JsonObject timing, int repeat, String where) {
    JsonObject samples = timing.getAsJsonObject("samples_us");
    assertEquals(List.of("latency", "direct", "blocks"), List.copyOf(samples.keySet()), where);
    assertEquals(Math.min(10, repeat), samples.get("blocks").getAsInt(), where);
    for (String[] pair :
        new String[][] {{"latency", "latency_us"}, {"direct", "direct_latency_us"}}) {
      double[] us = values(samples.getAsJsonArray(pair[0]));
      assertEquals(repeat, us.length, where + " " + pair[0]);
      for (double v : us) {
        assertTrue(v > 0 && Double.isFinite(v), where + " " + pair[0] + " has " + v);
      }
      double[] sorted = us.clone();
      java.util.Arrays.sort(sorted);
      int n = sorted.length;
      double median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
      assertEquals(
          median,
          timing.getAsJsonObject(pair[1]).get("p50").getAsDouble(),
          1e-9 * median,
          where + " " + pair[1] + ".p50");
    }
  }

  private static double[] values(JsonArray array) {
    return StreamSupport.stream(array.spliterator(), false)
        .mapToDouble(e -> e.getAsDouble())
        .toArray();
  }
}
