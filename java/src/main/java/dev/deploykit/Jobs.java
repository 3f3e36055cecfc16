package dev.deploykit;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code --jobs FILE}: JSON lines, one job each. The whole file is validated first (a malformed
 * line is exit 2 before any job runs); then each (model, format) is loaded once, the jobs run in
 * order and each prints one JSON line {@code {"id", "index", "exit", "error", "seconds"}}. The
 * process exits 0 when every job did, otherwise with the first non-zero job exit code.
 */
final class Jobs {
  private static final Set<String> KEYS = Set.of("id", "model", "format", "inputs", "outputs", "check");
  private static final Gson GSON = new GsonBuilder().serializeNulls().disableHtmlEscaping().create();

  private Jobs() {}

  /** Parses and validates a jobs file; relative paths are relative to its folder. */
  static List<Job> read(Path file) {
    List<String> lines;
    try {
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw DeploykitException.badInput("jobs " + file, "no such file");
    } catch (IOException e) {
      throw DeploykitException.badInput("jobs " + file, "cannot read: " + e.getMessage());
    }
    Path base = file.toAbsolutePath().getParent();
    List<Job> jobs = new ArrayList<>();
    for (int n = 0; n < lines.size(); n++) {
      if (lines.get(n).isBlank()) {
        continue;
      }
      String where = "jobs " + file + " line " + (n + 1);
      try {
        JsonElement e = JsonParser.parseString(lines.get(n));
        if (!e.isJsonObject()) {
          throw DeploykitException.badInput(where, "not a JSON object");
        }
        jobs.add(job(e.getAsJsonObject(), base, where));
      } catch (JsonParseException e) {
        throw DeploykitException.badInput(where, "not JSON: " + DeploykitException.oneLine(e.getMessage()));
      }
    }
    return jobs;
  }

  private static Job job(JsonObject o, Path base, String where) {
    for (String key : o.keySet()) {
      if (!KEYS.contains(key)) {
        throw DeploykitException.badInput(where, "unknown key \"" + key + "\" (keys: id, model, format, inputs, outputs, check)");
      }
    }
    String model = string(o, "model", where);
    if (model == null) {
      throw DeploykitException.badInput(where, "no \"model\"");
    }
    if (!o.has("inputs")) {
      throw DeploykitException.badInput(where, "no \"inputs\"");
    }
    return new Job(string(o, "id", where), model, string(o, "format", where), files(o, "inputs", base, where),
        files(o, "outputs", base, where), files(o, "check", base, where));
  }

  /** A {name: path} object of the job line, paths resolved against the jobs file's folder. */
  private static Map<String, Path> files(JsonObject o, String key, Path base, String where) {
    Map<String, Path> out = new LinkedHashMap<>();
    JsonElement e = o.get(key);
    if (e == null || e.isJsonNull()) {
      return out;
    }
    if (!e.isJsonObject()) {
      throw DeploykitException.badInput(where, "\"" + key + "\" is not an object of name: path");
    }
    for (Map.Entry<String, JsonElement> f : e.getAsJsonObject().entrySet()) {
      if (!f.getValue().isJsonPrimitive() || !f.getValue().getAsJsonPrimitive().isString()) {
        throw DeploykitException.badInput(where, "\"" + key + "\"." + f.getKey() + " is not a path string");
      }
      out.put(f.getKey(), base.resolve(f.getValue().getAsString()));
    }
    return out;
  }

  private static String string(JsonObject o, String key, String where) {
    JsonElement e = o.get(key);
    if (e == null || e.isJsonNull()) {
      return null;
    }
    if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
      throw DeploykitException.badInput(where, "\"" + key + "\" is not a string");
    }
    return e.getAsString();
  }

  /** Runs every job in order, loading each (model, format) once; returns the process exit code. */
  static int run(Manifest manifest, List<Job> jobs, Model.Options options, PrintStream out, PrintStream err, boolean verbose) {
    Map<String, Object> loaded = new LinkedHashMap<>(); // a Model, or the DeploykitException its load threw
    int exit = 0;
    try {
      for (int i = 0; i < jobs.size(); i++) {
        Job job = jobs.get(i);
        long t0 = System.nanoTime();
        int code;
        String error = null;
        try {
          Job.Prepared p = job.prepare(manifest);
          Object m = loaded.computeIfAbsent(job.model() + "\n" + Model.FORMAT, k -> load(manifest, job.model(), options));
          if (m instanceof DeploykitException e) {
            throw e;
          }
          Map<String, Tensor> y = ((Model) m).predict(p.inputs());
          job.write(y);
          List<String> failed = Job.check(verbose ? err : null, p, y);
          code = failed.isEmpty() ? 0 : 1;
          error = failed.isEmpty() ? null : failed.get(0);
        } catch (RuntimeException | IOException | LinkageError e) {
          Cli.Failure f = Cli.classify(e, job.model());
          code = f.code();
          error = f.message();
          if (verbose) {
            e.printStackTrace(err);
          }
        }
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("id", job.id());
        line.put("index", i);
        line.put("exit", code);
        line.put("error", error);
        line.put("seconds", (System.nanoTime() - t0) / 1e9);
        out.println(GSON.toJson(line));
        out.flush();
        exit = exit == 0 ? code : exit;
      }
    } finally {
      loaded.values().stream().filter(Model.class::isInstance).map(Model.class::cast).forEach(Model::close);
    }
    return exit;
  }

  private static Object load(Manifest manifest, String model, Model.Options options) {
    try {
      return Model.load(manifest, model, options);
    } catch (DeploykitException e) {
      return e;
    }
  }
}
