package dev.deploykit;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One run of a model: input files by name, where to write outputs, which reference files to check
 * them against, and for a timed {@code --jobs} line its {@code repeat}/{@code warmup} ({@code
 * timed}, null when untimed). A single command line is one job; {@code --jobs} runs many in one
 * process.
 */
record Job(
    String id,
    String model,
    String format,
    Map<String, Path> inputs,
    Map<String, Path> outputs,
    Map<String, Path> checks,
    Timed timed) {

  /**
   * A timed job: {@code warmup} untimed calls, then {@code repeat} timed calls, as {@code
   * --repeat/--warmup/--timing}.
   */
  record Timed(int repeat, int warmup) {}

  /** What a job needs before any model loads: its artifact and checked inputs (exit-2 errors). */
  record Prepared(
      Manifest.ModelEntry entry,
      Manifest.Artifact artifact,
      Map<String, Tensor> inputs,
      Map<String, Tensor> expected) {}

  /**
   * Resolves the model and artifact, reads the input and check files, and runs the input checks.
   */
  Prepared prepare(Manifest manifest) {
    Manifest.ModelEntry entry = manifest.model(model);
    if (format != null && !format.equals(Model.FORMAT)) {
      throw DeploykitException.badInput(
          "format " + format, "the Java client runs only " + Model.FORMAT + " artifacts");
    }
    Manifest.Artifact artifact = Model.artifactOf(entry);
    TensorArgs.requireKnown("output", outputs, entry.outputNames());
    TensorArgs.requireKnown("output", checks, entry.outputNames());
    Map<String, Tensor> x = new LinkedHashMap<>();
    inputs.forEach((name, file) -> x.put(name, Npy.read(file)));
    InputCheck.check(entry, artifact, x);
    Map<String, Tensor> expected = new LinkedHashMap<>();
    checks.forEach((name, file) -> expected.put(name, Npy.read(file)));
    return new Prepared(entry, artifact, x, expected);
  }

  /** Writes the outputs this job names. */
  void write(Map<String, Tensor> y) throws IOException {
    for (Map.Entry<String, Path> e : outputs.entrySet()) {
      Npy.write(e.getValue(), y.get(e.getKey()));
    }
  }

  /**
   * One summary line per checked output; the lines of failed outputs come back (empty: all passed).
   */
  static List<String> check(PrintStream out, Prepared p, Map<String, Tensor> y) {
    List<String> failed = new ArrayList<>();
    for (Map.Entry<String, Tensor> e : p.expected().entrySet()) {
      Manifest.Tol tol = p.artifact().toleranceFor(e.getKey());
      Compare.Result r = Compare.compare(e.getValue(), y.get(e.getKey()), tol.atol(), tol.rtol());
      String line =
          "check "
              + e.getKey()
              + ": "
              + (r.passed() ? "pass" : "FAIL")
              + " max_abs="
              + num3(r.maxAbs())
              + " mismatches="
              + r.mismatches()
              + "/"
              + r.count()
              + (r.mismatch() != null
                  ? " (" + r.mismatch() + ")"
                  : String.format(
                      Locale.ROOT,
                      " (atol %s rtol %s%s)",
                      Cli.num(tol.atol()),
                      Cli.num(tol.rtol()),
                      r.passed() ? "" : ", worst index " + r.worstIndex()));
      if (out != null) {
        out.println(line);
      }
      if (!r.passed()) {
        failed.add(line);
      }
    }
    return failed;
  }

  /**
   * Three significant digits without trailing zeros, as Python's {@code %.3g} prints them (0.01,
   * 1.19e-07).
   */
  static String num3(double v) {
    if (v == 0 || Double.isNaN(v) || Double.isInfinite(v)) {
      return v == 0 ? "0" : Double.isNaN(v) ? "nan" : v > 0 ? "inf" : "-inf";
    }
    String s = String.format(Locale.ROOT, "%.3g", v);
    int e = s.indexOf('e');
    String mantissa = e < 0 ? s : s.substring(0, e);
    String exponent = e < 0 ? "" : s.substring(e);
    if (mantissa.contains(".")) {
      mantissa = mantissa.replaceAll("0+$", "").replaceAll("\\.$", "");
    }
    return mantissa + exponent;
  }
}
