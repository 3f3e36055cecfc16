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
   * direct, runtime, samples_us}. The caller has made the first call ({@code firstMs}) and measured
   * the rest.
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
    doc.put("samples_us", samplesUs(samples[0], samples[1], repeat));
    return doc;
  }

  /** The first dim of the first input, 1 for a rank-0 input. */
  static long batch(Manifest.ModelEntry entry, Map<String, Tensor> x) {
    Tensor first = x.get(entry.inputs().get(0).name());
    return first.rank() == 0 ? 1 : first.dim(0);
  }

  /** The most alternating blocks {@link #interleaved} splits the timed calls into. */
  static final int ROUNDS = 10;

  /** How many blocks {@link #interleaved} splits {@code repeat} timed calls of each loop into. */
  static int blocks(int repeat) {
    return Math.max(1, Math.min(ROUNDS, repeat));
  }

  /**
   * Times each loop: {@code warmup} untimed calls of each, then {@code repeat} timed calls of each,
   * interleaved in {@link #blocks} blocks: block k of the first loop, block k of the next, and so
   * on, flipping which loop goes first every block, so that load changes on a shared machine hit
   * all loops alike. Block k holds {@code repeat / B} calls, one more for each of the first {@code
   * repeat % B} blocks (the contract's {@code samples_us} blocks, as in every client). Returns each
   * loop's samples in nanoseconds, in call order.
   */
  static long[][] interleaved(int warmup, int repeat, Runnable... loops) {
    for (Runnable loop : loops) {
      for (int i = 0; i < warmup; i++) {
        loop.run();
      }
    }
    long[][] samples = new long[loops.length][repeat];
    int rounds = blocks(repeat);
    int from = 0;
    for (int r = 0; r < rounds; r++) {
      int to = from + repeat / rounds + (r < repeat % rounds ? 1 : 0);
      for (int k = 0; k < loops.length; k++) {
        int i = r % 2 == 0 ? k : loops.length - 1 - k;
        Runnable loop = loops[i];
        long[] into = samples[i];
        for (int j = from; j < to; j++) {
          long s = System.nanoTime();
          loop.run();
          into[j] = System.nanoTime() - s;
        }
      }
      from = to;
    }
    return samples;
  }

  /**
   * The contract's {@code samples_us}: every timed predict call ({@code latency}) and bare call
   * ({@code direct}) in microseconds, in call order, and the number of interleaved blocks.
   */
  static Map<String, Object> samplesUs(long[] latency, long[] direct, int repeat) {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("latency", micros(latency));
    out.put("direct", micros(direct));
    out.put("blocks", blocks(repeat));
    return out;
  }

  private static double[] micros(long[] nanos) {
    double[] us = new double[nanos.length];
    for (int i = 0; i < nanos.length; i++) {
      us[i] = nanos[i] / 1e3;
    }
    return us;
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
