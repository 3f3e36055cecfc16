package dev.deploykit;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Graph;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.SessionFunction;
import org.tensorflow.Signature;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TInt32;

/**
 * A character model whose next token is known without running it, built with TF Java's graph API
 * for {@code --generate} tests: tokens int64 [batch, seq] (fed as int32, a boundary cast) -> logits
 * float32 [batch, seq, V] = one_hot(cumsum(tokens, axis 1) mod V). The token after a context is so
 * the sum of the context's ids mod V ({@link #next}), which depends on every id the call sees, so a
 * wrong window gives other text. The vocabulary has a character outside the BMP (two UTF-16 units)
 * and non-ASCII ones.
 *
 * <p>Two manifest entries share the artifact: {@code chars} ({@code seq} at most {@link #WINDOW})
 * and {@code chars_whole} ({@code seq} without a max: the window is the whole text).
 */
final class SyntheticCharModel {
  static final String VOCABULARY = "ab\uD83D\uDE00\u00e9\nx y";
  static final int V = (int) VOCABULARY.codePoints().count();
  static final long WINDOW = 5;
  private static final Gson GSON = new GsonBuilder().setPrettyPrinting().create();

  private SyntheticCharModel() {}

  /** The token the model picks after {@code context}: the sum of its ids mod V. */
  static int next(int[] context) {
    long sum = 0;
    for (int id : context) {
      sum += id;
    }
    return (int) Math.floorMod(sum, (long) V);
  }

  /** Writes the model and its manifest into {@code dir}; returns the manifest's path. */
  static Path write(Path dir) {
    try {
      export(dir.resolve("chars/saved_model"));
      Path deny = Fixtures.TEST_MANIFEST.getParent().resolve("unsafe_ops.json");
      Files.copy(deny, dir.resolve("unsafe_ops.json"));
      Map<String, Object> doc = new LinkedHashMap<>();
      doc.put("schema_version", 2);
      doc.put(
          "safety",
          Map.of(
              "unsafe_ops", Map.of("path", "unsafe_ops.json", "sha256", Hashing.fileSha256(deny))));
      Map<String, Object> artifact = artifact(dir);
      doc.put(
          "models",
          List.of(
              entry("chars", Map.of("min", 1, "max", WINDOW), artifact),
              entry("chars_whole", Map.of("min", 1), artifact)));
      Path manifest = dir.resolve("manifest.json");
      Files.writeString(manifest, GSON.toJson(doc));
      return manifest;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static Map<String, Object> entry(
      String id, Map<String, Object> seq, Map<String, Object> artifact) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("id", id);
    m.put("vocabulary", VOCABULARY);
    m.put(
        "inputs",
        List.of(Map.of("name", "tokens", "dtype", "int64", "shape", List.of("batch", "seq"))));
    m.put(
        "outputs",
        List.of(Map.of("name", "logits", "dtype", "float32", "shape", List.of("batch", "seq", V))));
    m.put("dims", Map.of("batch", Map.of("min", 1), "seq", seq));
    m.put("golden", List.of());
    m.put("artifacts", List.of(artifact));
    return m;
  }

  private static Map<String, Object> artifact(Path dir) throws IOException {
    Map<String, Object> a = new LinkedHashMap<>();
    a.put("format", "saved-model");
    a.put("path", "chars/saved_model");
    a.put("via", List.of("tensorflow", "saved-model"));
    a.put("sha256", Hashing.artifactSha256(dir.resolve("chars/saved_model")));
    a.put("signature", "serving_default");
    a.put("tags", List.of("serve"));
    a.put("input_keys", Map.of("tokens", "tokens"));
    a.put("output_keys", Map.of("logits", "logits"));
    a.put("boundary_dtypes", Map.of("tokens", "int32"));
    a.put("tolerance", Map.of("atol", 1e-6, "rtol", 1e-6));
    return a;
  }

  private static void export(Path dir) throws IOException {
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      var tokens = tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(-1, -1)));
      var sums = tf.math.floorMod(tf.math.cumsum(tokens, tf.constant(1)), tf.constant(V));
      var logits = tf.oneHot(sums, tf.constant(V), tf.constant(1f), tf.constant(0f));
      Signature sig =
          Signature.builder()
              .key("serving_default")
              .input("tokens", tokens)
              .output("logits", logits)
              .build();
      SavedModelBundle.exporter(dir.toString())
          .withFunction(SessionFunction.create(sig, s))
          .export();
    }
  }
}
