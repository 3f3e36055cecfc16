package dev.deploykit;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/** Latency statistics as the contract's {@code --timing} file reports them (microseconds). */
final class Timing {
  private Timing() {}

  /** How many alternating blocks {@link #interleaved} splits the timed calls into. */
  static final int ROUNDS = 10;

  /**
   * Times each loop: {@code warmup} untimed calls of each, then {@code repeat} timed calls of each,
   * interleaved in up to {@link #ROUNDS} blocks of {@code repeat / ROUNDS} calls (the remainder in the
   * first blocks), flipping which loop goes first every round, so that load changes on a shared
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
