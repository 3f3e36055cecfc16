package dev.deploykit;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The parts of {@code manifest.json} (DESIGN.md) the Java client reads. Unknown fields are
 * ignored; a missing or mistyped field the client needs is a bad-input error (exit 2).
 */
public record Manifest(Path path, List<ModelEntry> models, Optional<FileRef> unsafeOps) {

  /** A file beside the manifest with its expected sha256. */
  public record FileRef(String path, String sha256) {}

  /** The golden vectors of one model (paths relative to the manifest's folder). */
  public record Golden(String input, String expected, Optional<String> specialInput, Optional<String> specialExpected) {}

  /** One exported artifact of a model. */
  public record Artifact(
      String format,
      String path,
      String sha256,
      Optional<String> signature,
      List<String> tags,
      Optional<String> inputKey,
      Optional<String> outputKey,
      double atol,
      double rtol,
      List<String> containsOps) {}

  /** One model: its single input and output (name, width) and its artifacts. */
  public record ModelEntry(
      String id, String inputName, int inputWidth, String outputName, int outputWidth, Golden golden, List<Artifact> artifacts) {

    public List<Artifact> artifactsOf(String format) {
      return artifacts.stream().filter(a -> a.format().equals(format)).toList();
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
        .orElseThrow(() -> DeploykitException.badInput("model " + id,
            "not in " + path + " (models: " + String.join(", ", models.stream().map(ModelEntry::id).toList()) + ")"));
  }

  /** Reads and checks a manifest; every problem is an exit-2 error naming the file. */
  public static Manifest read(Path path) {
    String text;
    try {
      text = Files.readString(path, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw DeploykitException.badInput("manifest " + path, "no such file");
    } catch (IOException e) {
      throw DeploykitException.badInput("manifest " + path, "cannot read: " + e.getMessage());
    }
    try {
      JsonObject doc = JsonParser.parseString(text).getAsJsonObject();
      List<ModelEntry> models = new ArrayList<>();
      for (JsonElement m : array(doc, "models")) {
        models.add(model(m.getAsJsonObject()));
      }
      Optional<FileRef> unsafeOps = Optional.empty();
      if (doc.has("safety") && doc.getAsJsonObject("safety").has("unsafe_ops")) {
        JsonObject ref = doc.getAsJsonObject("safety").getAsJsonObject("unsafe_ops");
        unsafeOps = Optional.of(new FileRef(string(ref, "path"), string(ref, "sha256")));
      }
      return new Manifest(path, List.copyOf(models), unsafeOps);
    } catch (JsonParseException | IllegalStateException | ClassCastException | UnsupportedOperationException
        | NullPointerException | NumberFormatException e) {
      throw DeploykitException.badInput("manifest " + path, "malformed: " + e.getMessage());
    }
  }

  private static ModelEntry model(JsonObject m) {
    String id = string(m, "id");
    JsonObject input = array(m, "inputs").get(0).getAsJsonObject();
    JsonObject output = array(m, "outputs").get(0).getAsJsonObject();
    JsonObject golden = m.getAsJsonObject("golden");
    Golden g = golden == null
        ? new Golden(null, null, Optional.empty(), Optional.empty())
        : new Golden(string(golden, "input"), string(golden, "expected"), optString(golden, "special_input"),
            optString(golden, "special_expected"));
    List<Artifact> artifacts = new ArrayList<>();
    for (JsonElement a : array(m, "artifacts")) {
      artifacts.add(artifact(a.getAsJsonObject(), string(input, "name"), string(output, "name")));
    }
    return new ModelEntry(id, string(input, "name"), width(input, id), string(output, "name"), width(output, id), g,
        List.copyOf(artifacts));
  }

  private static Artifact artifact(JsonObject a, String inputName, String outputName) {
    JsonObject tol = a.getAsJsonObject("tolerance");
    if (tol == null) {
      throw new JsonParseException("artifact " + string(a, "path") + " has no tolerance");
    }
    List<String> tags = new ArrayList<>();
    if (a.has("tags")) {
      array(a, "tags").forEach(t -> tags.add(t.getAsString()));
    }
    List<String> ops = new ArrayList<>();
    if (a.has("contains_ops")) {
      array(a, "contains_ops").forEach(t -> ops.add(t.getAsString()));
    }
    Optional<String> inputKey = a.has("input_keys") ? optString(a.getAsJsonObject("input_keys"), inputName) : Optional.empty();
    Optional<String> outputKey = a.has("output_keys") ? optString(a.getAsJsonObject("output_keys"), outputName) : Optional.empty();
    return new Artifact(string(a, "format"), string(a, "path"), string(a, "sha256"), optString(a, "signature"),
        List.copyOf(tags), inputKey, outputKey, tol.get("atol").getAsDouble(), tol.get("rtol").getAsDouble(), List.copyOf(ops));
  }

  /** The feature width of a [-1, width] tensor spec. */
  private static int width(JsonObject spec, String id) {
    JsonArray shape = array(spec, "shape");
    if (shape.size() != 2 || shape.get(1).getAsInt() <= 0) {
      throw new JsonParseException("model " + id + ": tensor " + string(spec, "name") + " shape " + shape + " is not [-1, width]");
    }
    if (!"float32".equals(string(spec, "dtype"))) {
      throw new JsonParseException("model " + id + ": tensor " + string(spec, "name") + " is not float32");
    }
    return shape.get(1).getAsInt();
  }

  private static JsonArray array(JsonObject o, String key) {
    JsonElement e = o.get(key);
    if (e == null || !e.isJsonArray()) {
      throw new JsonParseException("missing array '" + key + "'");
    }
    return e.getAsJsonArray();
  }

  private static String string(JsonObject o, String key) {
    JsonElement e = o.get(key);
    if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
      throw new JsonParseException("missing string '" + key + "'");
    }
    return e.getAsString();
  }

  private static Optional<String> optString(JsonObject o, String key) {
    return o.has(key) ? Optional.of(string(o, key)) : Optional.empty();
  }
}
