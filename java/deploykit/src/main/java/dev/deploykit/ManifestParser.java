package dev.deploykit;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/** Builds a {@link Manifest} from its JSON, checking every rule of the contract's tensor specs. */
final class ManifestParser {
  static final Pattern NAME = Pattern.compile("^[A-Za-z_][A-Za-z0-9_]*$");

  /** Formats whose runtimes address tensors by key: they need input_keys and output_keys. */
  static final Set<String> KEYED_FORMATS = Set.of("onnx", "saved-model", "tflite", "tfjs-graph");

  /** The allowed boundary casts, spec dtype to runtime dtype. */
  static final Map<DType, DType> BOUNDARY_CASTS =
      Map.of(
          DType.INT64,
          DType.INT32,
          DType.BOOL,
          DType.INT32,
          DType.UINT8,
          DType.INT32,
          DType.FLOAT16,
          DType.FLOAT32);

  /** A validation failure; its message names the model and tensor. */
  static final class Invalid extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Invalid(String message) {
      super(message);
    }
  }

  private ManifestParser() {}

  static Manifest parse(Path path, JsonObject doc) {
    List<Manifest.ModelEntry> models = new ArrayList<>();
    Set<String> ids = new HashSet<>();
    for (JsonElement m : array(doc, "models", "manifest")) {
      Manifest.ModelEntry entry = model(object(m, "a models entry"));
      if (!ids.add(entry.id())) {
        throw new Invalid("model " + entry.id() + " appears twice");
      }
      models.add(entry);
    }
    Optional<Manifest.FileRef> unsafeOps = Optional.empty();
    JsonObject safety = doc.has("safety") ? object(doc.get("safety"), "safety") : null;
    if (safety != null && safety.has("unsafe_ops")) {
      JsonObject ref = object(safety.get("unsafe_ops"), "safety.unsafe_ops");
      unsafeOps =
          Optional.of(
              new Manifest.FileRef(
                  relativePath(string(ref, "path", "safety.unsafe_ops"), "safety.unsafe_ops"),
                  string(ref, "sha256", "safety.unsafe_ops")));
    }
    return new Manifest(path, List.copyOf(models), unsafeOps);
  }

  private static Manifest.ModelEntry model(JsonObject m) {
    String id = string(m, "id", "a model");
    String where = "model " + id;
    List<TensorSpec> inputs = specs(m, "inputs", where);
    List<TensorSpec> outputs = specs(m, "outputs", where);
    if (inputs.isEmpty()) {
      throw new Invalid(where + ": has no inputs");
    }
    if (outputs.isEmpty()) {
      throw new Invalid(where + ": has no outputs");
    }
    Set<String> used = new HashSet<>();
    for (TensorSpec s : concat(inputs, outputs)) {
      s.shape().stream().filter(TensorSpec.Dim::dynamic).forEach(d -> used.add(d.name()));
    }
    Map<String, TensorSpec.DimRange> dims = new LinkedHashMap<>();
    if (m.has("dims")) {
      for (Map.Entry<String, JsonElement> e : object(m.get("dims"), where + ": dims").entrySet()) {
        String dw = where + ": dim " + e.getKey();
        if (!used.contains(e.getKey())) {
          throw new Invalid(dw + ": named in dims but used by no input or output shape");
        }
        JsonObject r = object(e.getValue(), dw);
        long min = r.has("min") ? integer(r.get("min"), dw + ": min") : 0;
        long max =
            r.has("max") && !r.get("max").isJsonNull()
                ? integer(r.get("max"), dw + ": max")
                : Long.MAX_VALUE;
        if (min < 0 || min > max) {
          throw new Invalid(
              dw
                  + ": min "
                  + min
                  + " and max "
                  + (max == Long.MAX_VALUE ? "(none)" : max)
                  + " do not make a range");
        }
        dims.put(e.getKey(), new TensorSpec.DimRange(min, max));
      }
    }
    List<Manifest.Golden> golden = new ArrayList<>();
    if (m.has("golden")) {
      for (JsonElement g : array(m, "golden", where)) {
        golden.add(golden(object(g, where + ": golden"), where, inputs, outputs));
      }
    }
    List<Manifest.Artifact> artifacts = new ArrayList<>();
    for (JsonElement a : array(m, "artifacts", where)) {
      artifacts.add(artifact(object(a, where + ": artifact"), where, inputs, outputs));
    }
    // A character model's vocabulary (docs/contract.md, "Text generation"); null counts as absent.
    Optional<String> vocabulary =
        m.has("vocabulary") && !m.get("vocabulary").isJsonNull()
            ? Optional.of(string(m, "vocabulary", where))
            : Optional.empty();
    return new Manifest.ModelEntry(
        id,
        inputs,
        outputs,
        Map.copyOf(dims),
        List.copyOf(golden),
        List.copyOf(artifacts),
        vocabulary);
  }

  private static List<TensorSpec> specs(JsonObject m, String key, String where) {
    String role = key.equals("inputs") ? "input" : "output";
    List<TensorSpec> out = new ArrayList<>();
    Set<String> names = new HashSet<>();
    for (JsonElement e : array(m, key, where)) {
      JsonObject s = object(e, where + ": " + role);
      String name = string(s, "name", where + ": " + role);
      String tw = where + ": " + role + " " + name;
      if (!NAME.matcher(name).matches()) {
        throw new Invalid(tw + ": name does not match " + NAME.pattern());
      }
      if (!names.add(name)) {
        throw new Invalid(tw + ": two " + key + " have this name");
      }
      String dt = string(s, "dtype", tw);
      DType dtype =
          DType.fromId(dt)
              .orElseThrow(
                  () ->
                      new Invalid(
                          tw
                              + ": dtype "
                              + dt
                              + " is not one of float32, float16, int32, int64, uint8, bool"));
      JsonArray shape = array(s, "shape", tw);
      if (shape.size() > Tensor.MAX_RANK) {
        throw new Invalid(tw + ": rank " + shape.size() + " is over " + Tensor.MAX_RANK);
      }
      List<TensorSpec.Dim> dims = new ArrayList<>();
      for (JsonElement d : shape) {
        if (d.isJsonPrimitive() && d.getAsJsonPrimitive().isString()) {
          if (!NAME.matcher(d.getAsString()).matches()) {
            throw new Invalid(
                tw + ": dim name \"" + d.getAsString() + "\" does not match " + NAME.pattern());
          }
          dims.add(TensorSpec.Dim.named(d.getAsString()));
        } else {
          long size = integer(d, tw + ": dim " + d);
          if (size < 0) {
            throw new Invalid(tw + ": dim " + size + " is negative (dynamic dims are named)");
          }
          dims.add(TensorSpec.Dim.fixed(size));
        }
      }
      long[] range = null;
      if (s.has("range") && !s.get("range").isJsonNull()) {
        JsonArray r = array(s, "range", tw);
        if (r.size() != 2) {
          throw new Invalid(tw + ": range is not [min, max]");
        }
        range = new long[] {integer(r.get(0), tw + ": range"), integer(r.get(1), tw + ": range")};
        if (range[0] > range[1]) {
          throw new Invalid(tw + ": range min " + range[0] + " is over its max " + range[1]);
        }
      }
      out.add(new TensorSpec(name, dtype, List.copyOf(dims), range));
    }
    return List.copyOf(out);
  }

  private static Manifest.Golden golden(
      JsonObject g, String where, List<TensorSpec> inputs, List<TensorSpec> outputs) {
    String name = string(g, "name", where + ": golden set");
    String gw = where + ": golden set " + name;
    long rows = g.has("rows") ? integer(g.get("rows"), gw + ": rows") : -1;
    return new Manifest.Golden(
        name,
        rows,
        pathMap(g, "inputs", gw, inputs, "input"),
        pathMap(g, "expected", gw, outputs, "output"));
  }

  private static Map<String, String> pathMap(
      JsonObject o, String key, String where, List<TensorSpec> specs, String role) {
    Map<String, String> out = new LinkedHashMap<>();
    if (!o.has(key)) {
      return out;
    }
    for (Map.Entry<String, JsonElement> e : object(o.get(key), where + ": " + key).entrySet()) {
      known(specs, e.getKey(), where + ": " + key, role);
      out.put(
          e.getKey(),
          relativePath(stringValue(e.getValue(), where + ": " + key + "." + e.getKey()), where));
    }
    return Map.copyOf(out);
  }

  private static Manifest.Artifact artifact(
      JsonObject a, String where, List<TensorSpec> inputs, List<TensorSpec> outputs) {
    String format = string(a, "format", where + ": artifact");
    String aw = where + ": artifact " + format;
    String path = relativePath(string(a, "path", aw), aw);
    Map<String, String> inputKeys = keys(a, "input_keys", aw, format, inputs, "input");
    Map<String, String> outputKeys = keys(a, "output_keys", aw, format, outputs, "output");
    Map<String, DType> boundary = new LinkedHashMap<>();
    if (a.has("boundary_dtypes")) {
      for (Map.Entry<String, JsonElement> e :
          object(a.get("boundary_dtypes"), aw + ": boundary_dtypes").entrySet()) {
        String bw = aw + ": boundary_dtypes." + e.getKey();
        TensorSpec spec =
            inputs.stream()
                .filter(s -> s.name().equals(e.getKey()))
                .findFirst()
                .or(() -> outputs.stream().filter(s -> s.name().equals(e.getKey())).findFirst())
                .orElseThrow(() -> new Invalid(bw + ": the model has no tensor " + e.getKey()));
        String dt = stringValue(e.getValue(), bw);
        DType to = DType.fromId(dt).orElseThrow(() -> new Invalid(bw + ": unknown dtype " + dt));
        if (BOUNDARY_CASTS.get(spec.dtype()) != to) {
          throw new Invalid(
              bw + ": " + spec.dtype() + " -> " + to + " is not an allowed boundary cast");
        }
        boundary.put(e.getKey(), to);
      }
    }
    JsonObject tol = object(a.get("tolerance"), aw + ": tolerance");
    Manifest.Tol base = tol(tol, aw + ": tolerance");
    Map<String, Manifest.Tol> perOutput = new LinkedHashMap<>();
    if (tol.has("outputs")) {
      for (Map.Entry<String, JsonElement> e :
          object(tol.get("outputs"), aw + ": tolerance.outputs").entrySet()) {
        known(outputs, e.getKey(), aw + ": tolerance.outputs", "output");
        perOutput.put(
            e.getKey(),
            tol(
                object(e.getValue(), aw + ": tolerance.outputs." + e.getKey()),
                aw + ": tolerance.outputs." + e.getKey()));
      }
    }
    return new Manifest.Artifact(
        format,
        path,
        string(a, "sha256", aw),
        strings(a, "via", aw),
        a.has("signature") ? Optional.of(string(a, "signature", aw)) : Optional.empty(),
        strings(a, "tags", aw),
        inputKeys,
        outputKeys,
        Map.copyOf(boundary),
        base,
        Map.copyOf(perOutput),
        strings(a, "contains_ops", aw),
        minRuntime(a, aw));
  }

  /**
   * {@code min_runtime}: {family: MAJOR[.MINOR[.PATCH]]}, digits only. Every family is kept,
   * unknown ones included (they are stored and ignored); absent or null is empty (no check).
   */
  private static Map<String, String> minRuntime(JsonObject a, String where) {
    if (!a.has("min_runtime") || a.get("min_runtime").isJsonNull()) {
      return Map.of();
    }
    Map<String, String> out = new LinkedHashMap<>();
    for (Map.Entry<String, JsonElement> e :
        object(a.get("min_runtime"), where + ": min_runtime").entrySet()) {
      String fw = where + ": min_runtime." + e.getKey();
      String v = stringValue(e.getValue(), fw);
      if (!VersionSkew.valid(v)) {
        throw new Invalid(
            fw + ": \"" + v + "\" is not a version (MAJOR[.MINOR[.PATCH]], digits only)");
      }
      out.put(e.getKey(), v);
    }
    return Map.copyOf(out);
  }

  private static Map<String, String> keys(
      JsonObject a, String key, String where, String format, List<TensorSpec> specs, String role) {
    if (!a.has(key)) {
      if (KEYED_FORMATS.contains(format)) {
        throw new Invalid(where + ": has no " + key + " (required for " + format + ")");
      }
      return Map.of();
    }
    Map<String, String> out = new LinkedHashMap<>();
    for (Map.Entry<String, JsonElement> e : object(a.get(key), where + ": " + key).entrySet()) {
      known(specs, e.getKey(), where + ": " + key, role);
      out.put(e.getKey(), stringValue(e.getValue(), where + ": " + key + "." + e.getKey()));
    }
    for (TensorSpec s : specs) {
      if (!out.containsKey(s.name())) {
        throw new Invalid(where + ": " + key + " lack " + role + " " + s.name());
      }
    }
    return Map.copyOf(out);
  }

  private static Manifest.Tol tol(JsonObject o, String where) {
    return new Manifest.Tol(
        number(o.get("atol"), where + ": atol"), number(o.get("rtol"), where + ": rtol"));
  }

  private static void known(List<TensorSpec> specs, String name, String where, String role) {
    if (specs.stream().noneMatch(s -> s.name().equals(name))) {
      throw new Invalid(where + ": names " + role + " " + name + ", which the model does not have");
    }
  }

  /**
   * A path relative to the manifest's folder: not absolute, no {@code ..}, {@code /} separators.
   */
  private static String relativePath(String p, String where) {
    if (p.isEmpty()
        || p.startsWith("/")
        || p.contains("\\")
        || p.matches("^[A-Za-z]:.*")
        || List.of(p.split("/")).contains("..")) {
      throw new Invalid(where + ": path \"" + p + "\" is not relative inside the export");
    }
    return p;
  }

  private static <T> List<T> concat(List<T> a, List<T> b) {
    List<T> out = new ArrayList<>(a);
    out.addAll(b);
    return out;
  }

  private static JsonArray array(JsonObject o, String key, String where) {
    JsonElement e = o.get(key);
    if (e == null || !e.isJsonArray()) {
      throw new Invalid(where + ": '" + key + "' is not a list");
    }
    return e.getAsJsonArray();
  }

  private static JsonObject object(JsonElement e, String where) {
    if (e == null || !e.isJsonObject()) {
      throw new Invalid(where + ": not an object");
    }
    return e.getAsJsonObject();
  }

  private static String string(JsonObject o, String key, String where) {
    return stringValue(o.get(key), where + ": '" + key + "'");
  }

  private static String stringValue(JsonElement e, String where) {
    if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
      throw new Invalid(where + " is not a string");
    }
    return e.getAsString();
  }

  private static List<String> strings(JsonObject o, String key, String where) {
    if (!o.has(key)) {
      return List.of();
    }
    List<String> out = new ArrayList<>();
    for (JsonElement e : array(o, key, where)) {
      out.add(stringValue(e, where + ": " + key + " item"));
    }
    return List.copyOf(out);
  }

  private static long integer(JsonElement e, String where) {
    if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
      throw new Invalid(where + ": not an integer");
    }
    JsonPrimitive p = e.getAsJsonPrimitive();
    BigDecimal v = p.getAsBigDecimal();
    try {
      return v.longValueExact();
    } catch (ArithmeticException ex) {
      throw new Invalid(where + ": " + p + " is not an integer");
    }
  }

  private static double number(JsonElement e, String where) {
    if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
      throw new Invalid(where + ": not a number");
    }
    return e.getAsDouble();
  }
}
