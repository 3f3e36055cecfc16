package dev.deploykit;

import com.google.gson.GsonBuilder;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
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
 * <p>Peers: for each model with an {@code onnx} artifact, ONNX Runtime's Java API ({@link OrtPeer})
 * on that artifact, timed against TF Java's predict in the same process with the CLI's interleaved
 * blocks ({@link Timing#interleaved}: predict and {@code OrtSession.run} alternate in blocks, which
 * goes first flipping every block), at batch 1 and batch 1024; each line gives both p50s and the
 * ratio TF Java / ONNX Runtime (above 1: the peer is faster).
 *
 * <p>Usage: {@code Bench [--peers-only] [--json FILE] [--repeat N] [--warmup K] [--batch-repeat M]
 * [--batch-warmup W] MANIFEST [MODEL...]} (default: every model TF Java runs: mlp_keras,
 * wide_keras); inputs follow each model's v2 tensor specs. {@code --repeat/--warmup} are the peers'
 * batch-1 calls of each runtime (default 2000/200), {@code --batch-repeat/--batch-warmup} their
 * batch-1024 calls (default 20/3). {@code --json FILE} writes the peer results with every call's
 * time ({@code samples_us}: {@code latency} TF Java, {@code direct} the peer, {@code blocks}),
 * which {@code python -m builder bench} reads; {@code --peers-only} skips the TF Java figures and
 * the memory check.
 */
public final class Bench {
  private static final int LATENCY_WARMUP = 500;
  private static final int LATENCY_RUNS = 5000;
  private static final int BATCH = 1024;
  private static final int BATCH_RUNS = 50;
  private static final String USAGE =
      "usage: Bench [--peers-only] [--json FILE] [--repeat N] [--warmup K] [--batch-repeat M]"
          + " [--batch-warmup W] MANIFEST [MODEL...]";

  private Bench() {}

  /** The command line: flags first, then the manifest and the models. */
  private record Options(
      boolean peersOnly,
      Path json,
      int repeat,
      int warmup,
      int batchRepeat,
      int batchWarmup,
      Path manifest,
      List<String> models) {

    static Options parse(String[] args) {
      boolean peersOnly = false;
      Path json = null;
      int[] counts = {2000, 200, 20, 3};
      List<String> flags = List.of("--repeat", "--warmup", "--batch-repeat", "--batch-warmup");
      int i = 0;
      for (; i < args.length && args[i].startsWith("--"); i++) {
        if (args[i].equals("--peers-only")) {
          peersOnly = true;
        } else if (args[i].equals("--json") && i + 1 < args.length) {
          json = Path.of(args[++i]);
        } else if (flags.contains(args[i]) && i + 1 < args.length) {
          counts[flags.indexOf(args[i])] = Integer.parseInt(args[++i]);
        } else {
          throw new IllegalArgumentException("unknown or incomplete option " + args[i]);
        }
      }
      if (i >= args.length || counts[0] < 1 || counts[2] < 1 || counts[1] < 0 || counts[3] < 0) {
        throw new IllegalArgumentException("a manifest is required; repeats >= 1, warmups >= 0");
      }
      List<String> rest = List.of(args).subList(i + 1, args.length);
      return new Options(
          peersOnly,
          json,
          counts[0],
          counts[1],
          counts[2],
          counts[3],
          Path.of(args[i]),
          rest.isEmpty() ? List.of("mlp_keras", "wide_keras") : rest);
    }
  }

  public static void main(String[] args) throws IOException {
    Options o;
    try {
      o = Options.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println(USAGE + "\n" + e.getMessage());
      System.exit(2);
      return;
    }
    Path manifest = o.manifest();
    List<String> models = o.models();
    System.out.printf(
        Locale.ROOT,
        "TF Java %s (TensorFlow %s), %d cores, java %s%n",
        Versions.tensorflowJava(),
        Versions.tensorflow(),
        Runtime.getRuntime().availableProcessors(),
        System.getProperty("java.version"));
    List<Map<String, Object>> peers = new ArrayList<>();
    for (String id : models) {
      if (!o.peersOnly()) {
        bench(manifest, id);
      }
      Map<String, Object> peer = peer(manifest, id, o);
      if (peer != null) {
        peers.add(peer);
      }
    }
    if (o.json() != null) {
      Map<String, Object> doc = new LinkedHashMap<>();
      doc.put("client_runtime", clientRuntime());
      doc.put("peer_runtime", OrtPeer.runtime());
      doc.put("peers", peers);
      Files.writeString(
          o.json(),
          new GsonBuilder().serializeSpecialFloatingPointValues().create().toJson(doc) + "\n",
          StandardCharsets.UTF_8);
    }
    if (!o.peersOnly()) {
      memory(manifest, models.get(0));
    }
  }

  private static String clientRuntime() {
    return "TF Java " + Versions.tensorflowJava() + " (TensorFlow " + Versions.tensorflow() + ")";
  }

  /**
   * TF Java's predict (the saved-model artifact, through deploykit) against ONNX Runtime Java's run
   * (the onnx artifact) on the same inputs, interleaved in blocks, at batch 1 and 1024; prints one
   * line and returns the JSON object, with {@code error} when either failed, or null when the model
   * has no onnx artifact.
   */
  private static Map<String, Object> peer(Path manifestPath, String id, Options o) {
    Map<String, Object> doc = new LinkedHashMap<>();
    doc.put("model", id);
    doc.put("client", "java");
    doc.put("client_format", "saved-model");
    doc.put("peer", OrtPeer.NAME);
    doc.put("peer_format", "onnx");
    doc.put("peer_inputs", OrtPeer.INPUTS);
    List<Map<String, Object>> batches = new ArrayList<>();
    doc.put("batches", batches);
    try {
      Manifest manifest = Manifest.read(manifestPath);
      if (OrtPeer.artifact(manifest.model(id)) == null) {
        return null;
      }
      try (Model model = Model.load(manifestPath, id);
          OrtPeer peer = OrtPeer.load(manifest, model.entry())) {
        doc.put("load_ms", peer.loadMs());
        int[][] plan = {{1, o.repeat(), o.warmup()}, {BATCH, o.batchRepeat(), o.batchWarmup()}};
        for (int[] p : plan) {
          Map<String, Tensor> x = goldenRows(manifest, model.entry(), p[0]);
          peer.feed(model.entry(), x);
          long s = System.nanoTime();
          peer.run();
          double firstMs = (System.nanoTime() - s) / 1e6;
          long[][] t = Timing.interleaved(p[2], p[1], () -> model.predict(x), peer::run);
          Map<String, Object> b = new LinkedHashMap<>();
          b.put("batch", p[0]);
          b.put("peer_first_ms", firstMs);
          b.put("client_latency_us", Timing.latencyUs(t[0]));
          b.put("peer_latency_us", Timing.latencyUs(t[1]));
          b.put("samples_us", Timing.samplesUs(t[0], t[1], p[1]));
          batches.add(b);
        }
      }
    } catch (RuntimeException | ai.onnxruntime.OrtException e) {
      doc.put("error", e.getClass().getSimpleName() + ": " + e.getMessage());
      System.out.printf(Locale.ROOT, "%-11s peer %s: %s%n", id, OrtPeer.NAME, doc.get("error"));
      return doc;
    }
    StringBuilder line = new StringBuilder();
    for (Map<String, Object> b : batches) {
      double tf = p50(b.get("client_latency_us"));
      double ort = p50(b.get("peer_latency_us"));
      line.append(
          String.format(
              Locale.ROOT,
              " | batch %d: TF Java p50 %.1f us, ORT p50 %.1f us, TF Java / ORT %.2fx",
              b.get("batch"),
              tf,
              ort,
              tf / ort));
    }
    System.out.printf(Locale.ROOT, "%-11s vs %s (onnx)%s%n", id, OrtPeer.runtime(), line);
    return doc;
  }

  private static double p50(Object latency) {
    return ((Map<?, ?>) latency).get("p50") instanceof Double d ? d : Double.NaN;
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
   * {@code batch} rows cycled from the model's golden set, the inputs {@code python -m builder
   * bench} times every other figure on (bench/inference.py, batch_of_rows): a model with a dynamic
   * sequence dim runs at the golden length, not the smallest one (at 1 token, chargpt_torch's
   * SavedModel, padded to its 48-token context, did 48x the work of ONNX Runtime's call).
   */
  static Map<String, Tensor> goldenRows(Manifest manifest, Manifest.ModelEntry entry, int batch) {
    Manifest.Golden golden =
        entry
            .goldenSet("golden")
            .orElseThrow(() -> new IllegalStateException(entry.id() + " has no golden set"));
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (TensorSpec spec : entry.inputs()) {
      Tensor rows = Npy.read(manifest.resolve(golden.inputs().get(spec.name())));
      long[] shape = rows.shape().clone();
      int rowBytes = Math.toIntExact(rows.bytes().length / shape[0]);
      byte[] data = new byte[Math.multiplyExact(batch, rowBytes)];
      for (int i = 0; i < batch; i++) {
        System.arraycopy(
            rows.bytes(), (int) (i % shape[0]) * rowBytes, data, i * rowBytes, rowBytes);
      }
      shape[0] = batch;
      out.put(spec.name(), new Tensor(rows.dtype(), shape, data));
    }
    return out;
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
