package dev.deploykit;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/** Latency statistics as DESIGN.md's {@code --timing} file reports them (microseconds). */
final class Timing {
  private Timing() {}

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
