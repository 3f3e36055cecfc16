package dev.deploykit;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * The shared test export ({@code DEPLOYKIT_TEST_MANIFEST}) and the unsafe-op fixture ({@code
 * DEPLOYKIT_UNSAFE_MANIFEST}), both built by {@code make test-fixtures}. They are read-only: tests
 * that corrupt something copy it into a temporary folder first.
 */
final class Fixtures {
  static final Path REPO =
      Path.of(System.getenv().getOrDefault("DEPLOYKIT_REPO", "../..")).toAbsolutePath().normalize();
  static final Path TEST_MANIFEST =
      fromEnv("DEPLOYKIT_TEST_MANIFEST", "build/test-models/manifest.json");
  static final Path UNSAFE_MANIFEST =
      fromEnv("DEPLOYKIT_UNSAFE_MANIFEST", "build/fixtures/unsafe/manifest.json");

  private Fixtures() {}

  private static Path fromEnv(String name, String fallback) {
    Path p = Path.of(System.getenv().getOrDefault(name, REPO.resolve(fallback).toString()));
    assertTrue(
        Files.isRegularFile(p), p + " is missing: run `make test-fixtures` (or set " + name + ")");
    return p;
  }

  /**
   * The folder of a golden set: {@code <model>/golden/<set>/}, one {@code <input>.npy} per input.
   */
  static Path goldenDir(Path manifest, String model, String set) {
    return manifest.getParent().resolve(model).resolve("golden").resolve(set);
  }

  /** The reference outputs of a golden set: {@code <model>/golden/<set>/expected/}. */
  static Path expectedDir(Path manifest, String model, String set) {
    return goldenDir(manifest, model, set).resolve("expected");
  }

  /** A golden set's input tensors, read through the manifest's own paths. */
  static Map<String, Tensor> goldenInputs(Path manifest, String model, String set) {
    Manifest m = Manifest.read(manifest);
    Map<String, Tensor> out = new LinkedHashMap<>();
    m.model(model)
        .goldenSet(set)
        .orElseThrow()
        .inputs()
        .forEach((name, file) -> out.put(name, Npy.read(m.resolve(file))));
    return out;
  }

  /** A golden set's reference outputs. */
  static Map<String, Tensor> goldenExpected(Path manifest, String model, String set) {
    Manifest m = Manifest.read(manifest);
    Map<String, Tensor> out = new LinkedHashMap<>();
    m.model(model)
        .goldenSet(set)
        .orElseThrow()
        .expected()
        .forEach((name, file) -> out.put(name, Npy.read(m.resolve(file))));
    return out;
  }

  /** The first {@code rows} rows (first dim) of a tensor. */
  static Tensor head(Tensor t, int rows) {
    long[] shape = t.shape();
    long rowBytes = t.bytes().length / Math.max(1, shape[0]);
    shape[0] = rows;
    return new Tensor(t.dtype(), shape, Arrays.copyOf(t.bytes(), (int) (rowBytes * rows)));
  }

  /** Every tensor of a map cut to its first {@code rows} rows. */
  static Map<String, Tensor> head(Map<String, Tensor> tensors, int rows) {
    Map<String, Tensor> out = new LinkedHashMap<>();
    tensors.forEach((k, v) -> out.put(k, head(v, rows)));
    return out;
  }

  /**
   * Copies the manifest, its deny-list and one model's folder into {@code dir}; {@code edit} may
   * change the copied manifest's JSON. Returns the copied manifest's path.
   */
  static Path copyModel(Path manifest, String model, Path dir, Consumer<JsonObject> edit) {
    try {
      Path root = manifest.getParent();
      copyTree(root.resolve(model), dir.resolve(model));
      Files.copy(root.resolve("unsafe_ops.json"), dir.resolve("unsafe_ops.json"));
      JsonObject doc = JsonParser.parseString(Files.readString(manifest)).getAsJsonObject();
      edit.accept(doc);
      Path copy = dir.resolve("manifest.json");
      Files.writeString(copy, GSON.toJson(doc));
      return copy;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The JSON of one model's saved-model artifact inside a manifest document. */
  static JsonObject savedModelArtifact(JsonObject doc, String model) {
    for (JsonElement m : doc.getAsJsonArray("models")) {
      if (m.getAsJsonObject().get("id").getAsString().equals(model)) {
        for (JsonElement a : m.getAsJsonObject().getAsJsonArray("artifacts")) {
          if (a.getAsJsonObject().get("format").getAsString().equals(Model.FORMAT)) {
            return a.getAsJsonObject();
          }
        }
      }
    }
    throw new AssertionError("no saved-model artifact for " + model);
  }

  static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> walk = Files.walk(from)) {
      for (Path p : (Iterable<Path>) walk::iterator) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(target);
        } else {
          Files.copy(p, target);
        }
      }
    }
  }

  private static final Gson GSON = new GsonBuilder().setPrettyPrinting().create();
}
