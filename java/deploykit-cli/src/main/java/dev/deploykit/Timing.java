package dev.deploykit;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The contract's timed runs: the object {@code --timing} writes to its file and a timed {@code
 * --jobs} line carries as {@code "timing"}, and the latency statistics in it (microseconds).
 */
final class Timing {
  private Timing() {}

  /**
   * Times {@code repeat} calls of {@code net.predict(x)} interleaved with as many bare session
   * calls on the same inputs (after {@code warmup} untimed calls of each) and returns the timing
   * object: {@code runtime_init_ms, load_ms, first_ms, batch, latency_us, direct_latency_us,
   * direct, runtime}. The caller has made the first call ({@code firstMs}) and measured the rest.
   */
  static Map<String, Object> measure(
      Model net,
      Manifest.ModelEntry entry,
      Map<String, Tensor> x,
      int warmup,
      int repeat,
      double runtimeInitMs,
      double loadMs,
      double firstMs) {
    long[][] samples;
    try (Model.Direct direct = net.direct(x)) {
      samples = interleaved(warmup, repeat, () -> net.predict(x), direct::run);
    }
    Map<String, Object> doc = new LinkedHashMap<>();
    doc.put("runtime_init_ms", runtimeInitMs);
    doc.put("load_ms", loadMs);
    doc.put("first_ms", firstMs);
    doc.put("batch", batch(entry, x));
    doc.put("latency_us", latencyUs(samples[0]));
    doc.put("direct_latency_us", latencyUs(samples[1]));
    doc.put("direct", Model.DIRECT_DESCRIPTION);
    doc.put(
        "runtime",
        "TF Java " + Versions.tensorflowJava() + " (TensorFlow " + Versions.tensorflow() + ")");
    return doc;
  }

  /** The first dim of the first input, 1 for a rank-0 input. */
  static long batch(Manifest.ModelEntry entry, Map<String, Tensor> x) {
    Tensor first = x.get(entry.inputs().get(0).name());
    return first.rank() == 0 ? 1 : first.dim(0);
  }

  /** How many alternating blocks {@link #interleaved} splits the timed calls into. */
  static final int ROUNDS = 10;

  /**
   * Times each loop: {@code warmup} untimed calls of each, then {@code repeat} timed calls of each,
   * interleaved in up to {@link #ROUNDS} blocks of {@code repeat / ROUNDS} calls (the remainder in
   * the first blocks), flipping which loop goes first every round, so that load changes on a shared
   * machine hit all loops alike. Returns each loop's samples in nanoseconds.
   */
  static long[][] interleaved(int warmup, int repeat, Runnable... loops) {
    for (Runnable loop : loops) {
      for (int i = 0; i < warmup; i++) {
        loop.run();
      }
    }
    long[][] samples = new long[loops.length][repeat];
    int[] filled = new int[loops.length];
    int rounds = Math.max(1, Math.min(ROUNDS, repeat));
    for (int r = 0; r < rounds; r++) {
      int n = repeat / rounds + (r < repeat % rounds ? 1 : 0);
      for (int k = 0; k < loops.length; k++) {
        int i = r % 2 == 0 ? k : loops.length - 1 - k;
        Runnable loop = loops[i];
        for (int j = 0; j < n; j++) {
          long s = System.nanoTime();
          loop.run();
          samples[i][filled[i]++] = System.nanoTime() - s;
        }
      }
    }
    return samples;
  }

  /** p50/p90/p99/mean of the samples (nanoseconds in, microseconds out). */
  static Map<String, Double> latencyUs(long[] nanos) {
    double[] us = Arrays.stream(nanos).mapToDouble(n -> n / 1e3).sorted().toArray();
    Map<String, Double> out = new LinkedHashMap<>();
    out.put("p50", percentile(us, 50));
    out.put("p90", percentile(us, 90));
    out.put("p99", percentile(us, 99));
    out.put("mean", Arrays.stream(us).average().orElse(Double.NaN));
    return out;
  }

  /** Linear interpolation between closest ranks (numpy's default), over sorted values. */
  static double percentile(double[] sorted, double q) {
    if (sorted.length == 0) {
      return Double.NaN;
    }
    double rank = q / 100.0 * (sorted.length - 1);
    int lo = (int) Math.floor(rank);
    int hi = Math.min(lo + 1, sorted.length - 1);
    return sorted[lo] + (rank - lo) * (sorted[hi] - sorted[lo]);
  }
}
