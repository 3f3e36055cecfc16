package dev.deploykit;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * {@code manifest.json}, schema version 2 (docs/contract.md), as the Java client reads it. Unknown
 * fields are ignored. A {@code schema_version} other than 2 is exit 3; anything malformed (a bad
 * tensor spec, key map, boundary cast, path) is exit 2, naming the model and tensor.
 */
public record Manifest(Path path, List<ModelEntry> models, Optional<FileRef> unsafeOps) {
  public static final int SCHEMA_VERSION = 2;

  /** A file beside the manifest with its expected sha256. */
  public record FileRef(String path, String sha256) {}

  /** An absolute and relative tolerance. */
  public record Tol(double atol, double rtol) {}

  /**
   * A named golden set: a file per input and a file per output (paths relative to the manifest's
   * folder).
   */
  public record Golden(
      String name, long rows, Map<String, String> inputs, Map<String, String> expected) {}

  /**
   * One exported artifact of a model. {@code minRuntime} is its {@code min_runtime}: the oldest
   * version of each runtime family known to load it (empty when the manifest has none).
   */
  public record Artifact(
      String format,
      String path,
      String sha256,
      List<String> via,
      Optional<String> signature,
      List<String> tags,
      Map<String, String> inputKeys,
      Map<String, String> outputKeys,
      Map<String, DType> boundaryDtypes,
      Tol tolerance,
      Map<String, Tol> outputTolerances,
      List<String> containsOps,
      Map<String, String> minRuntime) {

    /** The tolerance for one output: its override, or the artifact's. */
    public Tol toleranceFor(String output) {
      return outputTolerances.getOrDefault(output, tolerance);
    }
  }

  /**
   * One model: its tensor specs, dynamic dims, golden sets and artifacts. {@code vocabulary} is a
   * character model's vocabulary (token id {@code i} is its {@code i}-th code point; empty when the
   * manifest has none), used by {@link TextGenerator}.
   */
  public record ModelEntry(
      String id,
      List<TensorSpec> inputs,
      List<TensorSpec> outputs,
      Map<String, TensorSpec.DimRange> dims,
      List<Golden> golden,
      List<Artifact> artifacts,
      Optional<String> vocabulary) {

    public List<Artifact> artifactsOf(String format) {
      return artifacts.stream().filter(a -> a.format().equals(format)).toList();
    }

    public TensorSpec.DimRange range(String dim) {
      return dims.getOrDefault(dim, TensorSpec.DimRange.ANY);
    }

    public Optional<Golden> goldenSet(String name) {
      return golden.stream().filter(g -> g.name().equals(name)).findFirst();
    }

    public List<String> inputNames() {
      return inputs.stream().map(TensorSpec::name).toList();
    }

    public List<String> outputNames() {
      return outputs.stream().map(TensorSpec::name).toList();
    }
  }

  /** The folder that artifact, golden and deny-list paths are relative to. */
  public Path root() {
    Path parent = path.toAbsolutePath().getParent();
    return parent == null ? Path.of("/") : parent;
  }

  public Path resolve(String relative) {
    return root().resolve(relative);
  }

  public ModelEntry model(String id) {
    return models.stream()
        .filter(m -> m.id().equals(id))
        .findFirst()
        .orElseThrow(
            () ->
                DeploykitException.badInput(
                    "model " + id,
                    "not in "
                        + path
                        + " (models: "
                        + models.stream().map(ModelEntry::id).collect(Collectors.joining(", "))
                        + ")"));
  }

  /** Reads and validates a manifest. */
  public static Manifest read(Path path) {
    String text;
    try {
      text = Files.readString(path, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw DeploykitException.badInput("manifest " + path, "no such file");
    } catch (IOException e) {
      throw DeploykitException.badInput("manifest " + path, "cannot read: " + e.getMessage());
    }
    JsonElement root;
    try {
      root = JsonParser.parseString(text);
    } catch (JsonParseException e) {
      throw DeploykitException.badInput(
          "manifest " + path, "not JSON: " + DeploykitException.oneLine(e.getMessage()));
    }
    if (!root.isJsonObject()) {
      throw DeploykitException.badInput("manifest " + path, "not a JSON object");
    }
    JsonObject doc = root.getAsJsonObject();
    checkVersion(path, doc.get("schema_version"));
    try {
      return ManifestParser.parse(path, doc);
    } catch (ManifestParser.Invalid e) {
      throw DeploykitException.badInput("manifest " + path, e.getMessage());
    }
  }

  private static void checkVersion(Path path, JsonElement v) {
    boolean ok =
        v != null
            && v.isJsonPrimitive()
            && v.getAsJsonPrimitive().isNumber()
            && v.getAsJsonPrimitive()
                    .getAsBigDecimal()
                    .compareTo(java.math.BigDecimal.valueOf(SCHEMA_VERSION))
                == 0;
    if (!ok) {
      String shown = v == null ? "(missing)" : v.toString();
      throw DeploykitException.loadFailed(
          path.toString(),
          "schema_version "
              + shown
              + " is not supported (this client reads "
              + SCHEMA_VERSION
              + ")");
    }
  }
}
