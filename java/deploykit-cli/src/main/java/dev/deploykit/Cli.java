package dev.deploykit;

import com.google.gson.GsonBuilder;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The common client command line of docs/contract.md. {@link #run} is the whole program (tests call
 * it in-process); {@link #main} only exits with its code. Exit codes: 0 ok, 1 {@code --check}
 * mismatch, 2 usage or bad input, 3 the model failed to load or its integrity or safety check.
 */
@Command(
    name = "deploykit-java",
    sortOptions = false,
    description = "Runs a deploykit saved-model artifact with TensorFlow Java.",
    footer = {
      "",
      "Exit codes: 0 ok, 1 --check mismatch, 2 usage or bad input, 3 the model failed to load",
      "or failed its integrity or safety check."
    })
public final class Cli {
  @Option(names = "--manifest", required = true, paramLabel = "M", description = "manifest.json")
  Path manifest;

  @Option(names = "--model", paramLabel = "ID", description = "model id in the manifest")
  String model;

  @Option(
      names = "--format",
      paramLabel = "F",
      description = "artifact format (default and only: saved-model)")
  String format;

  @Option(
      names = "--input",
      paramLabel = "NAME=FILE",
      description = "an input .npy, repeatable; a bare FILE for a one-input model")
  List<String> inputs = new ArrayList<>();

  @Option(
      names = "--input-dir",
      paramLabel = "DIR",
      description = "reads DIR/<name>.npy for every model input")
  Path inputDir;

  @Option(
      names = "--output",
      paramLabel = "NAME=FILE",
      description = "where to write an output, repeatable; a bare FILE for a one-output model")
  List<String> outputs = new ArrayList<>();

  @Option(
      names = "--output-dir",
      paramLabel = "DIR",
      description = "writes DIR/<name>.npy for every output")
  Path outputDir;

  @Option(
      names = "--check",
      paramLabel = "NAME=FILE",
      description =
          "compare an output with the artifact's tolerance, repeatable; exit 1 on mismatch")
  List<String> checks = new ArrayList<>();

  @Option(
      names = "--check-dir",
      paramLabel = "DIR",
      description = "checks every output against DIR/<name>.npy")
  Path checkDir;

  @Option(
      names = "--jobs",
      paramLabel = "jobs.jsonl",
      description = "run every job of a JSON-lines file in this one process")
  Path jobs;

  @Option(
      names = "--repeat",
      paramLabel = "N",
      description = "timed runs of the call (default 1 with --timing)")
  Integer repeat;

  @Option(
      names = "--warmup",
      paramLabel = "K",
      defaultValue = "0",
      description = "untimed runs before the timed ones")
  int warmup;

  @Option(
      names = "--timing",
      paramLabel = "timing.json",
      description = "write load_ms, first_ms, batch, latency_us, direct_latency_us")
  Path timing;

  @Option(
      names = "--generate",
      paramLabel = "PROMPT",
      description = "continue PROMPT with a character model, greedily (needs --tokens)")
  String generate;

  // A string, so a bad N is the contract's --generate error rather than picocli's.
  @Option(
      names = "--tokens",
      paramLabel = "N",
      description = "with --generate: how many characters to add (0 to 10000)")
  String tokens;

  @Option(
      names = "--allow-unsafe-ops",
      description = "run even if the signature reaches ops on the manifest's deny-list")
  boolean allowUnsafeOps;

  @Option(
      names = "--verbose",
      description = "TensorFlow's logs (via the launcher) and stack traces on errors")
  boolean verbose;

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "show this help and exit")
  boolean help;

  @Option(names = "--version", versionHelp = true, description = "print versions and exit")
  boolean version;

  /**
   * The launcher hands the real stderr over on the file descriptor named by this variable and
   * points descriptor 2 at /dev/null, because TensorFlow, XLA and MLIR write logs and parse
   * diagnostics to descriptor 2 directly, where no log level reaches them (the Python builder
   * silences the same way). Without --verbose the client's one {@code error:} line is then the only
   * thing on stderr.
   */
  static final String STDERR_FD_ENV = "DEPLOYKIT_STDERR_FD";

  public static void main(String[] args) {
    PrintStream err = System.err;
    String fd = System.getenv(STDERR_FD_ENV);
    if (fd != null && fd.matches("[0-9]+")) {
      try {
        err =
            new PrintStream(
                new FileOutputStream("/dev/fd/" + fd, true), true, StandardCharsets.UTF_8);
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
      out.println(
          "deploykit-java "
              + Versions.client()
              + " (TF Java "
              + Versions.tensorflowJava()
              + ", TensorFlow "
              + Versions.tensorflow()
              + ")");
      return 0;
    }
    try {
      if (cli.generate != null || cli.tokens != null) {
        return cli.runGenerate(cmd.getParseResult(), out, err);
      }
      return cli.jobs != null ? cli.runJobs(out, err) : cli.execute(out, err);
    } catch (RuntimeException | IOException | LinkageError e) {
      Failure f = classify(e, cli.model);
      err.println("error: " + f.message());
      if (cli.verbose) {
        e.printStackTrace(err);
      }
      return f.code();
    }
  }

  /** An error's exit code and one-line message (without the {@code error: } prefix). */
  record Failure(int code, String message) {}

  static Failure classify(Throwable e, String model) {
    if (e instanceof DeploykitException d) {
      return new Failure(d.exitCode(), d.getMessage());
    }
    if (e instanceof IOException) {
      return new Failure(
          DeploykitException.BAD_INPUT, "io: " + DeploykitException.oneLine(e.toString()));
    }
    if (DeploykitException.isTensorFlowError(e)) {
      return new Failure(
          DeploykitException.LOAD_FAILED,
          "run " + model + ": " + DeploykitException.oneLine(e.getMessage()));
    }
    // A bug or a broken native library: still one line, the trace only with --verbose.
    return new Failure(
        DeploykitException.LOAD_FAILED, "internal: " + DeploykitException.oneLine(e.toString()));
  }

  private int runJobs(PrintStream out, PrintStream err) {
    if (model != null
        || format != null
        || !inputs.isEmpty()
        || inputDir != null
        || !outputs.isEmpty()
        || outputDir != null
        || !checks.isEmpty()
        || checkDir != null
        || timing != null
        || repeat != null) {
      throw DeploykitException.badInput(
          "usage", "--jobs takes only --manifest, --allow-unsafe-ops and --verbose");
    }
    Manifest m = Manifest.read(manifest);
    List<Job> list = Jobs.read(jobs);
    return Jobs.run(m, list, new Model.Options(allowUnsafeOps), out, err, verbose);
  }

  private int execute(PrintStream out, PrintStream err) throws IOException {
    if (model == null) {
      throw DeploykitException.badInput("usage", "give --model (or --jobs)");
    }
    if ((repeat != null && repeat < 1) || warmup < 0) {
      throw DeploykitException.badInput(
          "usage", "--repeat must be at least 1 and --warmup at least 0");
    }
    if (inputs.isEmpty() && inputDir == null) {
      throw DeploykitException.badInput(
          "usage", "give --input NAME=FILE, --input FILE or --input-dir DIR");
    }
    Manifest m = Manifest.read(manifest);
    Manifest.ModelEntry entry = m.model(model);
    Job job =
        new Job(
            null,
            model,
            format,
            TensorArgs.resolve("input", inputs, inputDir, entry.inputNames()),
            TensorArgs.resolve("output", outputs, outputDir, entry.outputNames()),
            TensorArgs.resolve("check", checks, checkDir, entry.outputNames()),
            null);
    Job.Prepared p = job.prepare(m);

    // TensorFlow's native library (about 680 MB) loads once per process; load_ms is the model's
    // own load (hash, safety walk, bundle, one probe call), like an in-process Python load.
    long init = System.nanoTime();
    Versions.tensorflow();
    double runtimeInitMs = (System.nanoTime() - init) / 1e6;
    long t0 = System.nanoTime();
    try (Model net = Model.load(m, model, new Model.Options(allowUnsafeOps))) {
      double loadMs = (System.nanoTime() - t0) / 1e6;
      if (verbose) {
        err.printf(
            Locale.ROOT,
            "load %s: TensorFlow init %.1f ms, model load %.1f ms %s%n",
            model,
            runtimeInitMs,
            loadMs,
            net.loadPhases());
      }
      warnUnsafe(net, err);
      Map<String, Tensor> x = p.inputs();
      long t1 = System.nanoTime();
      Map<String, Tensor> y = net.predict(x);
      double firstMs = (System.nanoTime() - t1) / 1e6;
      if (timing != null) {
        // The same inputs through the bare session call, timed interleaved with predict.
        Map<String, Object> doc =
            Timing.measure(
                net, entry, x, warmup, repeat == null ? 1 : repeat, runtimeInitMs, loadMs, firstMs);
        Files.writeString(
            timing,
            new GsonBuilder().setPrettyPrinting().create().toJson(doc) + "\n",
            StandardCharsets.UTF_8);
      } else if (repeat != null) {
        Timing.interleaved(warmup, repeat, () -> net.predict(x));
      }
      job.write(y);
      return Job.check(out, p, y).isEmpty() ? 0 : 1;
    }
  }

  private void warnUnsafe(Model net, PrintStream err) {
    if (!net.allowedUnsafeOps().isEmpty()) {
      err.println(
          "warning: "
              + model
              + " reaches denied op(s) "
              + String.join(", ", net.allowedUnsafeOps())
              + "; running because of --allow-unsafe-ops");
    }
  }

  /** The flags {@code --generate} cannot be combined with (docs/contract.md). */
  static final List<String> NOT_WITH_GENERATE =
      List.of(
          "--input",
          "--input-dir",
          "--output",
          "--output-dir",
          "--check",
          "--check-dir",
          "--repeat",
          "--warmup",
          "--timing",
          "--jobs");

  /**
   * {@code --generate PROMPT --tokens N}: the flags, the character model, the prompt and N are
   * checked before the model loads (exit 2), then {@link TextGenerator} makes N calls; stdout gets
   * exactly the prompt and its continuation, UTF-8, with no newline.
   */
  private int runGenerate(CommandLine.ParseResult parsed, PrintStream out, PrintStream err) {
    if (generate == null) {
      throw DeploykitException.badInput("usage", "--tokens needs --generate PROMPT");
    }
    List<String> other = NOT_WITH_GENERATE.stream().filter(parsed::hasMatchedOption).toList();
    if (!other.isEmpty()) {
      throw DeploykitException.badInput(
          TextGenerator.WHAT, "cannot be combined with " + String.join(", ", other));
    }
    if (model == null) {
      throw DeploykitException.badInput("usage", "give --model");
    }
    if (tokens == null) {
      throw DeploykitException.badInput(TextGenerator.WHAT, "--tokens N is required");
    }
    Manifest m = Manifest.read(manifest);
    Manifest.ModelEntry entry = m.model(model);
    if (format != null && !format.equals(Model.FORMAT)) {
      throw DeploykitException.badInput(
          "format " + format, "the Java client runs only " + Model.FORMAT + " artifacts");
    }
    // The contract's order: the character model, the prompt, N; only then the load.
    Model[] loaded = new Model[1];
    TextGenerator gen = new TextGenerator(entry, x -> loaded[0].predict(x));
    gen.encode(generate);
    int n = parseTokens(tokens);
    try (Model net = Model.load(m, model, new Model.Options(allowUnsafeOps))) {
      warnUnsafe(net, err);
      loaded[0] = net;
      out.writeBytes(gen.generate(generate, n).getBytes(StandardCharsets.UTF_8));
      out.flush();
      return 0;
    }
  }

  /** {@code --tokens}: a decimal integer from 0 to {@link TextGenerator#MAX_TOKENS}. */
  static int parseTokens(String s) {
    if (!s.matches("-?[0-9]{1,9}")
        || Integer.parseInt(s) < 0
        || Integer.parseInt(s) > TextGenerator.MAX_TOKENS) {
      throw DeploykitException.badInput(
          TextGenerator.WHAT,
          "--tokens must be an integer from 0 to "
              + TextGenerator.MAX_TOKENS
              + ", got \""
              + s
              + "\"");
    }
    return Integer.parseInt(s);
  }

  /**
   * A double as Python's repr prints it (1e-05, 0.0001), so the line matches the manifest's text.
   */
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
    return mantissa
        + "e"
        + (exponent < 0 ? "-" : "+")
        + String.format(Locale.ROOT, "%02d", Math.abs(exponent));
  }
}
