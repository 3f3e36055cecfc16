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
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat16;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.TUint8;

/**
 * Small SavedModels built with TF Java's own graph API, with a v2 manifest, for what the test
 * export has no model for: several inputs and outputs of every dtype, a scalar input, a bounded
 * dynamic dim shared by two inputs, and boundary casts.
 *
 * <p>{@code multi}: tokens int64 [batch, seq], mask bool [batch, seq], scale float16 [], pixels
 * uint8 [batch, 2] -> weighted float32 [batch, seq] = tokens * mask, half float16 [batch, seq] =
 * float16(weighted) * scale, sum int32 [batch, 2] = pixels + 1, flags bool [batch, seq] = tokens !=
 * 0. {@code boundary}: tokens int64 [batch] fed as int32, out float16 [batch] computed as float32 =
 * 0.5 * tokens.
 */
final class SyntheticModel {
  private static final Gson GSON = new GsonBuilder().setPrettyPrinting().create();

  private SyntheticModel() {}

  /** Writes both models and their manifest into {@code dir}; returns the manifest's path. */
  static Path write(Path dir) {
    try {
      exportMulti(dir.resolve("multi/saved_model"));
      exportBoundary(dir.resolve("boundary/saved_model"));
      Path deny = Fixtures.TEST_MANIFEST.getParent().resolve("unsafe_ops.json");
      Files.copy(deny, dir.resolve("unsafe_ops.json"));
      Map<String, Object> doc = new LinkedHashMap<>();
      doc.put("schema_version", 2);
      doc.put(
          "safety",
          Map.of(
              "unsafe_ops", Map.of("path", "unsafe_ops.json", "sha256", Hashing.fileSha256(deny))));
      doc.put("models", List.of(multi(dir), boundary(dir)));
      Path manifest = dir.resolve("manifest.json");
      Files.writeString(manifest, GSON.toJson(doc));
      return manifest;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static Map<String, Object> spec(String name, String dtype, Object... shape) {
    return Map.of("name", name, "dtype", dtype, "shape", List.of(shape));
  }

  private static Map<String, Object> artifact(
      Path dir, String id, List<String> inputs, List<String> outputs, Map<String, String> boundary)
      throws IOException {
    Map<String, Object> a = new LinkedHashMap<>();
    a.put("format", "saved-model");
    a.put("path", id + "/saved_model");
    a.put("via", List.of("tensorflow", "saved-model"));
    a.put("sha256", Hashing.artifactSha256(dir.resolve(id + "/saved_model")));
    a.put("signature", "serving_default");
    a.put("tags", List.of("serve"));
    a.put("input_keys", keys(inputs));
    a.put("output_keys", keys(outputs));
    if (!boundary.isEmpty()) {
      a.put("boundary_dtypes", boundary);
    }
    a.put(
        "tolerance",
        Map.of(
            "atol",
            1e-6,
            "rtol",
            1e-6,
            "outputs",
            Map.of(outputs.get(0), Map.of("atol", 1e-3, "rtol", 1e-3))));
    return a;
  }

  private static Map<String, String> keys(List<String> names) {
    Map<String, String> out = new LinkedHashMap<>();
    names.forEach(n -> out.put(n, n));
    return out;
  }

  private static Map<String, Object> multi(Path dir) throws IOException {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("id", "multi");
    m.put(
        "inputs",
        List.of(
            spec("tokens", "int64", "batch", "seq"),
            spec("mask", "bool", "batch", "seq"),
            spec("scale", "float16"),
            spec("pixels", "uint8", "batch", 2)));
    m.put(
        "outputs",
        List.of(
            spec("weighted", "float32", "batch", "seq"),
            spec("half", "float16", "batch", "seq"),
            spec("sum", "int32", "batch", 2),
            spec("flags", "bool", "batch", "seq")));
    m.put("dims", Map.of("batch", Map.of("min", 1), "seq", Map.of("min", 1, "max", 8)));
    m.put("golden", List.of());
    m.put(
        "artifacts",
        List.of(
            artifact(
                dir,
                "multi",
                List.of("tokens", "mask", "scale", "pixels"),
                List.of("weighted", "half", "sum", "flags"),
                Map.of())));
    return m;
  }

  private static Map<String, Object> boundary(Path dir) throws IOException {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("id", "boundary");
    m.put("inputs", List.of(spec("tokens", "int64", "batch")));
    m.put("outputs", List.of(spec("out", "float16", "batch")));
    m.put("golden", List.of());
    m.put(
        "artifacts",
        List.of(
            artifact(
                dir,
                "boundary",
                List.of("tokens"),
                List.of("out"),
                Map.of("tokens", "int32", "out", "float32"))));
    return m;
  }

  private static void exportMulti(Path dir) throws IOException {
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      var tokens = tf.placeholder(TInt64.class, Placeholder.shape(Shape.of(-1, -1)));
      var mask = tf.placeholder(TBool.class, Placeholder.shape(Shape.of(-1, -1)));
      var scale = tf.placeholder(TFloat16.class, Placeholder.shape(Shape.scalar()));
      var pixels = tf.placeholder(TUint8.class, Placeholder.shape(Shape.of(-1, 2)));
      var weighted =
          tf.math.mul(tf.dtypes.cast(tokens, TFloat32.class), tf.dtypes.cast(mask, TFloat32.class));
      var half = tf.math.mul(tf.dtypes.cast(weighted, TFloat16.class), scale);
      var sum = tf.math.add(tf.dtypes.cast(pixels, TInt32.class), tf.constant(1));
      var flags = tf.dtypes.cast(tokens, TBool.class);
      Signature sig =
          Signature.builder()
              .key("serving_default")
              .input("tokens", tokens)
              .input("mask", mask)
              .input("scale", scale)
              .input("pixels", pixels)
              .output("weighted", weighted)
              .output("half", half)
              .output("sum", sum)
              .output("flags", flags)
              .build();
      SavedModelBundle.exporter(dir.toString())
          .withFunction(SessionFunction.create(sig, s))
          .export();
    }
  }

  private static void exportBoundary(Path dir) throws IOException {
    try (Graph g = new Graph();
        Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      var tokens = tf.placeholder(TInt32.class, Placeholder.shape(Shape.of(-1)));
      var out = tf.math.mul(tf.dtypes.cast(tokens, TFloat32.class), tf.constant(0.5f));
      Signature sig =
          Signature.builder()
              .key("serving_default")
              .input("tokens", tokens)
              .output("out", out)
              .build();
      SavedModelBundle.exporter(dir.toString())
          .withFunction(SessionFunction.create(sig, s))
          .export();
    }
  }
}
