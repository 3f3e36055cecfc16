package dev.deploykit;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.PrintStream;
import java.math.BigInteger;
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
 * order and each prints one JSON line {@code {"id", "index", "exit", "error", "seconds"}}, plus
 * {@code "timing"} (the {@code --timing} object) for a job with {@code "repeat"} that exited 0; a
 * failed job has no {@code "timing"} key. The process exits 0 when every job did, otherwise with
 * the first non-zero job exit code.
 */
final class Jobs {
  private static final Set<String> KEYS =
      Set.of("id", "model", "format", "inputs", "outputs", "check", "repeat", "warmup");
  private static final Gson GSON =
      new GsonBuilder().serializeNulls().disableHtmlEscaping().create();

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
        throw DeploykitException.badInput(
            where, "not JSON: " + DeploykitException.oneLine(e.getMessage()));
      }
    }
    return jobs;
  }

  private static Job job(JsonObject o, Path base, String where) {
    for (String key : o.keySet()) {
      if (!KEYS.contains(key)) {
        throw DeploykitException.badInput(
            where,
            "unknown key \""
                + key
                + "\" (keys: id, model, format, inputs, outputs, check, repeat, warmup)");
      }
    }
    String model = string(o, "model", where);
    if (model == null) {
      throw DeploykitException.badInput(where, "no \"model\"");
    }
    if (!o.has("inputs")) {
      throw DeploykitException.badInput(where, "no \"inputs\"");
    }
    Integer repeat = count(o, "repeat", 1, where);
    Integer warmup = count(o, "warmup", 0, where);
    if (warmup != null && repeat == null) {
      throw DeploykitException.badInput(where, "\"warmup\" without \"repeat\"");
    }
    return new Job(
        string(o, "id", where),
        model,
        string(o, "format", where),
        files(o, "inputs", base, where),
        files(o, "outputs", base, where),
        files(o, "check", base, where),
        repeat == null ? null : new Job.Timed(repeat, warmup == null ? 0 : warmup));
  }

  /**
   * An integer {@code >= min} written as a JSON integer ({@code 2.0}, {@code 1e3}, strings and
   * booleans are refused, as Python's json sees them); null when the key is absent or null.
   */
  private static Integer count(JsonObject o, String key, int min, String where) {
    JsonElement e = o.get(key);
    if (e == null || e.isJsonNull()) {
      return null;
    }
    String wanted = "\"" + key + "\" is not an integer >= " + min + " (got " + e + ")";
    if (!e.isJsonPrimitive()
        || !e.getAsJsonPrimitive().isNumber()
        || !e.getAsString().matches("-?[0-9]+")) {
      throw DeploykitException.badInput(where, wanted);
    }
    BigInteger n = new BigInteger(e.getAsString());
    if (n.compareTo(BigInteger.valueOf(min)) < 0) {
      throw DeploykitException.badInput(where, wanted);
    }
    if (n.compareTo(BigInteger.valueOf(Integer.MAX_VALUE)) > 0) {
      throw DeploykitException.badInput(
          where, "\"" + key + "\" is too large (got " + e + ", at most " + Integer.MAX_VALUE + ")");
    }
    return n.intValue();
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
        throw DeploykitException.badInput(
            where, "\"" + key + "\"." + f.getKey() + " is not a path string");
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

  /**
   * A loaded (model, format) and the time this process spent loading it (its jobs' {@code
   * load_ms}).
   */
  private record Loaded(Model model, double loadMs) {}

  /**
   * Runs every job in order, loading each (model, format) once; returns the process exit code. As
   * in the single command, TensorFlow's native library start is timed once, before the first load,
   * as {@code runtime_init_ms}, and kept out of every {@code load_ms}.
   */
  static int run(
      Manifest manifest,
      List<Job> jobs,
      Model.Options options,
      PrintStream out,
      PrintStream err,
      boolean verbose) {
    Map<String, Object> loaded =
        new LinkedHashMap<>(); // a Loaded, or the DeploykitException its load threw
    double runtimeInitMs = Double.NaN;
    int exit = 0;
    try {
      for (int i = 0; i < jobs.size(); i++) {
        Job job = jobs.get(i);
        long t0 = System.nanoTime();
        int code;
        String error = null;
        Map<String, Object> timing = null;
        try {
          Job.Prepared p = job.prepare(manifest);
          if (Double.isNaN(runtimeInitMs)) {
            long init = System.nanoTime();
            Versions.tensorflow();
            runtimeInitMs = (System.nanoTime() - init) / 1e6;
          }
          Object m =
              loaded.computeIfAbsent(
                  job.model() + "\n" + Model.FORMAT, k -> load(manifest, job.model(), options));
          if (m instanceof DeploykitException e) {
            throw e;
          }
          Loaded l = (Loaded) m;
          long t1 = System.nanoTime();
          Map<String, Tensor> y = l.model().predict(p.inputs());
          double firstMs = (System.nanoTime() - t1) / 1e6;
          job.write(y);
          List<String> failed = Job.check(verbose ? err : null, p, y);
          code = failed.isEmpty() ? 0 : 1;
          error = failed.isEmpty() ? null : failed.get(0);
          if (code == 0 && job.timed() != null) {
            timing =
                Timing.measure(
                    l.model(),
                    p.entry(),
                    p.inputs(),
                    job.timed().warmup(),
                    job.timed().repeat(),
                    runtimeInitMs,
                    l.loadMs(),
                    firstMs);
          }
        } catch (RuntimeException | IOException | LinkageError e) {
          Cli.Failure f = Cli.classify(e, job.model());
          code = f.code();
          error = f.message();
          timing = null;
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
        if (timing != null) {
          line.put("timing", timing);
        }
        out.println(GSON.toJson(line));
        out.flush();
        exit = exit == 0 ? code : exit;
      }
    } finally {
      loaded.values().stream()
          .filter(Loaded.class::isInstance)
          .map(Loaded.class::cast)
          .forEach(l -> l.model().close());
    }
    return exit;
  }

  private static Object load(Manifest manifest, String model, Model.Options options) {
    long t0 = System.nanoTime();
    try {
      Model m = Model.load(manifest, model, options);
      return new Loaded(m, (System.nanoTime() - t0) / 1e6);
    } catch (DeploykitException e) {
      return e;
    }
  }
}
