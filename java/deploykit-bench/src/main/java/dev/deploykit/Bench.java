package dev.deploykit;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * {@code make bench-java}: batch-1 latency (p50/p99), batch-1024 throughput and native memory
 * growth (VmRSS after 100k batch-1 predictions vs after 1k) of the TF Java client, in-process. Not
 * a test: numbers depend on the machine. Run with a fixed, pre-touched heap (the Makefile passes
 * {@code -Xms128m -Xmx128m -XX:+AlwaysPreTouch}) so RSS growth is native memory and not the Java
 * heap filling up.
 *
 * <p>Usage: {@code Bench MANIFEST [MODEL...]} (default: every model TF Java runs: mlp_keras,
 * wide_keras); inputs follow each model's v2 tensor specs.
 */
public final class Bench {
  private static final int LATENCY_WARMUP = 500;
  private static final int LATENCY_RUNS = 5000;
  private static final int BATCH = 1024;
  private static final int BATCH_RUNS = 50;

  private Bench() {}

  public static void main(String[] args) throws IOException {
    if (args.length < 1) {
      System.err.println("usage: Bench MANIFEST [MODEL...]");
      System.exit(2);
    }
    Path manifest = Path.of(args[0]);
    List<String> models =
        args.length > 1
            ? List.of(args).subList(1, args.length)
            : List.of("mlp_keras", "wide_keras");
    System.out.printf(
        Locale.ROOT,
        "TF Java %s (TensorFlow %s), %d cores, java %s%n",
        Versions.tensorflowJava(),
        Versions.tensorflow(),
        Runtime.getRuntime().availableProcessors(),
        System.getProperty("java.version"));
    for (String id : models) {
      bench(manifest, id);
    }
    memory(manifest, models.get(0));
  }

  private static void bench(Path manifest, String id) {
    long t0 = System.nanoTime();
    try (Model model = Model.load(manifest, id)) {
      double loadMs = (System.nanoTime() - t0) / 1e6;
      Map<String, Tensor> one = random(model.entry(), 1, 1);
      for (int i = 0; i < LATENCY_WARMUP; i++) {
        model.predict(one);
      }
      long[] lat = new long[LATENCY_RUNS];
      for (int i = 0; i < lat.length; i++) {
        long s = System.nanoTime();
        model.predict(one);
        lat[i] = System.nanoTime() - s;
      }
      Map<String, Double> us = Timing.latencyUs(lat);

      Map<String, Tensor> big = random(model.entry(), BATCH, 2);
      for (int i = 0; i < 5; i++) {
        model.predict(big);
      }
      long[] batch = new long[BATCH_RUNS];
      for (int i = 0; i < batch.length; i++) {
        long s = System.nanoTime();
        model.predict(big);
        batch[i] = System.nanoTime() - s;
      }
      double batchP50Us = Timing.latencyUs(batch).get("p50");
      System.out.printf(
          Locale.ROOT,
          "%-11s load %.1f ms | batch 1: p50 %.1f us, p99 %.1f us, mean %.1f us (%d runs) | batch"
              + " %d: p50 %.2f ms = %.0f rows/s (%d runs)%n",
          id,
          loadMs,
          us.get("p50"),
          us.get("p99"),
          us.get("mean"),
          LATENCY_RUNS,
          BATCH,
          batchP50Us / 1e3,
          BATCH / (batchP50Us / 1e6),
          BATCH_RUNS);
    }
  }

  /** VmRSS after 1k and after 100k batch-1 predictions. */
  private static void memory(Path manifest, String id) throws IOException {
    try (Model model = Model.load(manifest, id)) {
      Map<String, Tensor> row = random(model.entry(), 1, 3);
      List<String> lines = new ArrayList<>();
      long after1k = 0;
      for (int i = 1; i <= 100_000; i++) {
        model.predict(row);
        if (i == 1_000 || i % 25_000 == 0) {
          System.gc();
          long rss = vmRssKb();
          after1k = i == 1_000 ? rss : after1k;
          lines.add(String.format(Locale.ROOT, "%d: %d kB", i, rss));
        }
      }
      long after100k = vmRssKb();
      System.out.printf(
          Locale.ROOT,
          "%-11s VmRSS %s | after 100k vs 1k: %+.2f%% (%+d kB)%n",
          id,
          String.join(", ", lines),
          100.0 * (after100k - after1k) / after1k,
          after100k - after1k);
    }
  }

  private static long vmRssKb() throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    throw new IOException("no VmRSS in /proc/self/status");
  }

  /**
   * Inputs of {@code batch} rows for the model's specs: the first dim of every input is the batch,
   * other dynamic dims take their smallest non-empty size; floats are Gaussian, integers and bools
   * 0.
   */
  private static Map<String, Tensor> random(Manifest.ModelEntry entry, int batch, long seed) {
    Random r = new Random(seed);
    Map<String, Tensor> zeros = Model.zeroInputs(entry);
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (TensorSpec spec : entry.inputs()) {
      long[] shape = zeros.get(spec.name()).shape();
      if (shape.length > 0 && spec.shape().get(0).dynamic()) {
        shape[0] = batch;
      }
      int n = Math.toIntExact(Tensor.elementCount(shape));
      ByteBuffer b = ByteBuffer.allocate(n * spec.dtype().bytes()).order(ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i < n && spec.dtype().isFloat(); i++) {
        float v = (float) r.nextGaussian();
        if (spec.dtype() == DType.FLOAT32) {
          b.putFloat(v);
        } else {
          b.putShort(Half.fromFloat(v));
        }
      }
      out.put(spec.name(), new Tensor(spec.dtype(), shape, b.array()));
    }
    return out;
  }
}
