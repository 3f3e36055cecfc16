package dev.deploykit;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * The shared test export ({@code DEPLOYKIT_TEST_MANIFEST}) and the unsafe-op fixture
 * ({@code DEPLOYKIT_UNSAFE_MANIFEST}), both built by {@code make test-fixtures}. They are
 * read-only: tests that corrupt something copy it into a temporary folder first.
 */
final class Fixtures {
  static final Path REPO = Path.of(System.getenv().getOrDefault("DEPLOYKIT_REPO", "..")).toAbsolutePath().normalize();
  static final Path TEST_MANIFEST = fromEnv("DEPLOYKIT_TEST_MANIFEST", "build/test-models/manifest.json");
  static final Path UNSAFE_MANIFEST = fromEnv("DEPLOYKIT_UNSAFE_MANIFEST", "build/fixtures/unsafe/manifest.json");

  private Fixtures() {}

  private static Path fromEnv(String name, String fallback) {
    Path p = Path.of(System.getenv().getOrDefault(name, REPO.resolve(fallback).toString()));
    assertTrue(Files.isRegularFile(p), p + " is missing: run `make test-fixtures` (or set " + name + ")");
    return p;
  }

  static Path golden(Path manifest, String model, String file) {
    return manifest.getParent().resolve(model).resolve("golden").resolve(file);
  }

  static Npy.Matrix goldenMatrix(Path manifest, String model, String file) {
    return Npy.read(golden(manifest, model, file));
  }

  /** The outcome of one in-process CLI run. */
  record Run(int code, String out, String err) {}

  static Run cli(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = Cli.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
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
