package dev.deploykit;

import com.google.gson.GsonBuilder;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The common client command line of DESIGN.md. {@link #run} is the whole program (tests call it
 * in-process); {@link #main} only exits with its code. Exit codes: 0 ok, 1 {@code --check}
 * mismatch, 2 usage or bad input, 3 the model failed to load or its integrity or safety check.
 */
@Command(
    name = "deploykit-java",
    sortOptions = false,
    description = "Runs a deploykit saved-model artifact with TensorFlow Java.",
    footer = {"", "Exit codes: 0 ok, 1 --check mismatch, 2 usage or bad input, 3 the model failed to load",
        "or failed its integrity or safety check."})
public final class Cli {
  @Option(names = "--manifest", required = true, paramLabel = "M", description = "manifest.json")
  Path manifest;

  @Option(names = "--model", required = true, paramLabel = "ID", description = "model id in the manifest")
  String model;

  @Option(names = "--format", paramLabel = "F", description = "artifact format (default and only: saved-model)")
  String format;

  @Option(names = "--input", required = true, paramLabel = "in.npy", description = "(rows, features) <f4 .npy")
  Path input;

  @Option(names = "--output", paramLabel = "out.npy", description = "where to write the (rows, outputs) <f4 result")
  Path output;

  @Option(names = "--check", paramLabel = "expected.npy", description = "compare with the artifact's tolerance; exit 1 on mismatch")
  Path check;

  @Option(names = "--repeat", paramLabel = "N", description = "timed runs of the batch (default 1 with --timing)")
  Integer repeat;

  @Option(names = "--warmup", paramLabel = "K", defaultValue = "0", description = "untimed runs before the timed ones")
  int warmup;

  @Option(names = "--timing", paramLabel = "timing.json", description = "write load_ms, first_ms, batch, latency_us")
  Path timing;

  @Option(names = "--allow-unsafe-ops", description = "run even if the signature reaches ops on the manifest's deny-list")
  boolean allowUnsafeOps;

  @Option(names = "--verbose", description = "TensorFlow's logs (via the launcher) and stack traces on errors")
  boolean verbose;

  @Option(names = {"-h", "--help"}, usageHelp = true, description = "show this help and exit")
  boolean help;

  @Option(names = "--version", versionHelp = true, description = "print versions and exit")
  boolean version;

  /**
   * The launcher hands the real stderr over on the file descriptor named by this variable and
   * points descriptor 2 at /dev/null, because TensorFlow, XLA and MLIR write logs and parse
   * diagnostics to descriptor 2 directly, where no log level reaches them (the Python builder
   * silences the same way). Without --verbose the client's one {@code error:} line is then the
   * only thing on stderr.
   */
  static final String STDERR_FD_ENV = "DEPLOYKIT_STDERR_FD";

  public static void main(String[] args) {
    PrintStream err = System.err;
    String fd = System.getenv(STDERR_FD_ENV);
    if (fd != null && fd.matches("[0-9]+")) {
      try {
        err = new PrintStream(new FileOutputStream("/dev/fd/" + fd, true), true, StandardCharsets.UTF_8);
        System.setErr(err);
      } catch (IOException e) {
        // keep System.err
      }
    }
    int code = run(args, System.out, err);
    System.out.flush();
    err.flush();
    System.exit(code);
  }

  /** Runs the command line; returns the exit code. Never throws. */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    Cli cli = new Cli();
    CommandLine cmd = new CommandLine(cli);
    cmd.setUsageHelpWidth(100);
    if (args.length == 0) {
      cmd.usage(err);
      return DeploykitException.BAD_INPUT;
    }
    try {
      cmd.parseArgs(args);
    } catch (CommandLine.ParameterException e) {
      err.println("error: usage: " + DeploykitException.oneLine(e.getMessage()) + " (see --help)");
      return DeploykitException.BAD_INPUT;
    }
    if (cmd.isUsageHelpRequested()) {
      cmd.usage(out);
      return 0;
    }
    if (cmd.isVersionHelpRequested()) {
      out.println("deploykit-java " + Versions.client() + " (TF Java " + Versions.tensorflowJava() + ", TensorFlow " + Versions.tensorflow() + ")");
      return 0;
    }
    try {
      return cli.execute(out, err);
    } catch (DeploykitException e) {
      return fail(err, cli.verbose, e, e.getMessage(), e.exitCode());
    } catch (IOException e) {
      return fail(err, cli.verbose, e, "io: " + DeploykitException.oneLine(e.toString()), DeploykitException.BAD_INPUT);
    } catch (RuntimeException e) {
      if (DeploykitException.isTensorFlowError(e)) {
        return fail(err, cli.verbose, e, "run " + cli.model + ": " + DeploykitException.oneLine(e.getMessage()), DeploykitException.LOAD_FAILED);
      }
      return fail(err, cli.verbose, e, "internal: " + DeploykitException.oneLine(e.toString()), DeploykitException.LOAD_FAILED);
    } catch (LinkageError e) {
      // A bug or a broken native library: still one line, the trace only with --verbose.
      return fail(err, cli.verbose, e, "internal: " + DeploykitException.oneLine(e.toString()), DeploykitException.LOAD_FAILED);
    }
  }

  private static int fail(PrintStream err, boolean verbose, Throwable e, String message, int code) {
    err.println("error: " + message);
    if (verbose) {
      e.printStackTrace(err);
    }
    return code;
  }

  private int execute(PrintStream out, PrintStream err) throws IOException {
    if (format != null && !format.equals(Model.FORMAT)) {
      throw DeploykitException.badInput("format " + format, "the Java client runs only " + Model.FORMAT + " artifacts");
    }
    if ((repeat != null && repeat < 1) || warmup < 0) {
      throw DeploykitException.badInput("usage", "--repeat must be at least 1 and --warmup at least 0");
    }
    if (output == null && check == null && timing == null) {
      throw DeploykitException.badInput("usage", "nothing to do: give --output, --check or --timing");
    }
    Manifest m = Manifest.read(manifest);
    Manifest.ModelEntry entry = m.model(model);
    Npy.Matrix x = Npy.read(input);
    if (x.cols() != entry.inputWidth()) {
      throw DeploykitException.badInput("input " + input, "has " + x.cols() + " features per row, model " + model + " takes " + entry.inputWidth());
    }
    Npy.Matrix expected = check == null ? null : Npy.read(check);
    if (expected != null && (expected.rows() != x.rows() || expected.cols() != entry.outputWidth())) {
      throw DeploykitException.badInput("check " + check, "shape (" + expected.rows() + ", " + expected.cols() + "), the output is ("
          + x.rows() + ", " + entry.outputWidth() + ")");
    }

    // TensorFlow's native library (about 680 MB) loads once per process; load_ms is the model's
    // own load (hash, safety walk, bundle, one probe row), like an in-process Python load.
    long init = System.nanoTime();
    Versions.tensorflow();
    double runtimeInitMs = (System.nanoTime() - init) / 1e6;
    long t0 = System.nanoTime();
    try (Model net = Model.load(m, model, new Model.Options(allowUnsafeOps))) {
      double loadMs = (System.nanoTime() - t0) / 1e6;
      if (verbose) {
        err.printf(Locale.ROOT, "load %s: TensorFlow init %.1f ms, model load %.1f ms %s%n", model, runtimeInitMs, loadMs, net.loadPhases());
      }
      if (!net.allowedUnsafeOps().isEmpty()) {
        err.println("warning: " + model + " reaches denied op(s) " + String.join(", ", net.allowedUnsafeOps()) + "; running because of --allow-unsafe-ops");
      }
      long t1 = System.nanoTime();
      Npy.Matrix y = net.predict(x);
      double firstMs = (System.nanoTime() - t1) / 1e6;
      if (timing != null || repeat != null) {
        int n = repeat == null ? 1 : repeat;
        if (timing != null) {
          // The same batch through the bare session call, timed interleaved with predict.
          try (Model.Direct direct = net.direct(x)) {
            long[][] samples = Timing.interleaved(warmup, n, () -> net.predict(x), direct::run);
            writeTiming(runtimeInitMs, loadMs, firstMs, x.rows(), samples[0], samples[1]);
          }
        } else {
          Timing.interleaved(warmup, n, () -> net.predict(x));
        }
      }
      if (output != null) {
        Npy.write(output, y);
      }
      return expected == null ? 0 : check(out, net.artifact(), expected, y);
    }
  }

  private int check(PrintStream out, Manifest.Artifact artifact, Npy.Matrix expected, Npy.Matrix got) {
    Compare.Result r = Compare.compare(expected.data(), got.data(), artifact.atol(), artifact.rtol());
    String tol = String.format(Locale.ROOT, "(atol %s rtol %s)", num(artifact.atol()), num(artifact.rtol()));
    String max = "max_abs=" + (r.maxAbs() == 0 ? "0" : String.format(Locale.ROOT, "%.3g", r.maxAbs()));
    if (r.passed()) {
      out.println("check " + model + "/" + Model.FORMAT + ": pass " + max + " " + tol);
      return 0;
    }
    String pattern = r.nanMatch() && r.infMatch() ? "" : " (NaN/Inf pattern differs)";
    out.println("check " + model + "/" + Model.FORMAT + ": FAIL " + r.mismatches() + " of " + r.count() + " values outside tolerance"
        + pattern + " " + max + " worst index " + r.worstIndex() + " " + tol);
    return 1;
  }

  private void writeTiming(double runtimeInitMs, double loadMs, double firstMs, int rows, long[] samples, long[] direct)
      throws IOException {
    Map<String, Object> doc = new LinkedHashMap<>();
    doc.put("runtime_init_ms", runtimeInitMs);
    doc.put("load_ms", loadMs);
    doc.put("first_ms", firstMs);
    doc.put("batch", rows);
    doc.put("latency_us", Timing.latencyUs(samples));
    doc.put("direct_latency_us", Timing.latencyUs(direct));
    doc.put("direct", Model.DIRECT_DESCRIPTION);
    doc.put("runtime", "TF Java " + Versions.tensorflowJava() + " (TensorFlow " + Versions.tensorflow() + ")");
    Files.writeString(timing, new GsonBuilder().setPrettyPrinting().create().toJson(doc) + "\n", StandardCharsets.UTF_8);
  }

  /** A double as Python's repr prints it (1e-05, 0.0001), so the line matches the manifest's text. */
  static String num(double v) {
    String s = Double.toString(v); // shortest round-trip digits, e.g. 1.0E-5 or 1.0E-4 -> "1.0E-4"
    int e = s.indexOf('E');
    String mantissa = e < 0 ? s : s.substring(0, e);
    int exponent = e < 0 ? 0 : Integer.parseInt(s.substring(e + 1));
    if (mantissa.endsWith(".0")) {
      mantissa = mantissa.substring(0, mantissa.length() - 2);
    }
    if (exponent == 0) {
      return mantissa;
    }
    if (exponent >= -4 && exponent < 16) {
      return new java.math.BigDecimal(s).stripTrailingZeros().toPlainString();
    }
    return mantissa + "e" + (exponent < 0 ? "-" : "+") + String.format(Locale.ROOT, "%02d", Math.abs(exponent));
  }
}
