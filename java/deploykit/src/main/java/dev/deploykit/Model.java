package dev.deploykit;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.locks.StampedLock;
import java.util.stream.Collectors;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.RewriterConfig;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.types.family.TType;

/**
 * A deploykit {@code saved-model} artifact loaded with TensorFlow Java.
 *
 * <p>{@link #load} resolves the artifact from the manifest, refuses it when its {@code min_runtime}
 * asks for a newer TensorFlow than this one ({@link VersionSkew}), verifies its sha256, checks the
 * ops the serving signature can reach against the manifest's deny-list, loads the bundle with the
 * manifest's tags and resolves every input and output key of the signature (never op names) to its
 * graph tensor, once. It then runs one call on zero inputs, so a model the runtime cannot execute
 * (e.g. an {@code XlaCallModule} newer than this TensorFlow) fails at load with exit 3.
 *
 * <p>{@link #predict(Map)} checks the inputs against the model's specs, casts them to the
 * artifact's boundary dtypes and makes one {@code session.runner()} call feeding every input and
 * fetching every output. Small input tensors come from a per-input {@link TensorPool}. It may be
 * called from many threads at once; {@link #close} waits for running calls and later calls fail.
 */
public final class Model implements AutoCloseable {
  public static final String FORMAT = "saved-model";

  /**
   * Every op of a call runs on the calling thread (inter_op_parallelism_threads < 0); the intra-op
   * pool still parallelises large matmuls and convolutions. With the default inter-op pool each
   * Session.run hands its ops to a pool thread and sleeps until they finish, and a pool thread idle
   * for more than ~10 us has gone to sleep too: batch-1 calls paid those wake-ups
   * (docs/measurements.md). Where TensorFlow's oneDNN rewrites may be on (TF_ENABLE_ONEDNN_OPTS is
   * not "0"; TensorFlow turns them on by itself on AVX-512 VNNI and AMX CPUs) Grappler's remapper
   * is off too: its oneDNN fusion of MatMul+BiasAdd+Relu maps a NaN input to 0 where the reference
   * gives NaN. The variable is read as the native library loads, so bin/deploykit-java sets it.
   */
  static ConfigProto sessionConfig(String onednn) {
    ConfigProto.Builder config = ConfigProto.newBuilder().setInterOpParallelismThreads(-1);
    if (!"0".equals(onednn)) {
      config
          .getGraphOptionsBuilder()
          .getRewriteOptionsBuilder()
          .setRemapping(RewriterConfig.Toggle.OFF);
    }
    return config.build();
  }

  private static final ConfigProto SESSION_CONFIG =
      sessionConfig(System.getenv("TF_ENABLE_ONEDNN_OPTS"));

  /** Load options. */
  public record Options(boolean allowUnsafeOps) {
    public static final Options DEFAULT = new Options(false);
  }

  private final Manifest.ModelEntry entry;
  private final Manifest.Artifact artifact;
  private final List<String> allowedUnsafeOps;
  private final SavedModelBundle bundle;
  private final Session session;

  /** Graph tensors of the inputs and outputs in the model's order, resolved once at load. */
  private final List<Output<?>> inputTensors;

  private final List<Output<?>> outputTensors;
  private final List<TensorPool> pools;

  /** The inputs' names and the outputs' dtypes at the runtime boundary, in the model's order. */
  private final String[] inputNames;

  private final DType[] outputRuntimeDtypes;
  private final Map<String, Double> loadPhases;

  /** Read-held by every call, write-held by {@link #close}, which so waits for them. */
  private final StampedLock lock = new StampedLock();

  private volatile boolean closed;

  private Model(
      Manifest.ModelEntry entry,
      Manifest.Artifact artifact,
      List<String> allowedUnsafeOps,
      SavedModelBundle bundle,
      Signature signature,
      Map<String, Double> loadPhases) {
    this.entry = entry;
    this.artifact = artifact;
    this.allowedUnsafeOps = allowedUnsafeOps;
    this.bundle = bundle;
    this.session = bundle.session();
    this.loadPhases = loadPhases;
    this.inputTensors =
        entry.inputs().stream()
            .<Output<?>>map(
                s ->
                    bundle
                        .graph()
                        .outputOrThrow(
                            signature.getInputs().get(artifact.inputKeys().get(s.name())).name))
            .toList();
    this.outputTensors =
        entry.outputs().stream()
            .<Output<?>>map(
                s ->
                    bundle
                        .graph()
                        .outputOrThrow(
                            signature.getOutputs().get(artifact.outputKeys().get(s.name())).name))
            .toList();
    this.pools = entry.inputs().stream().map(s -> new TensorPool()).toList();
    this.inputNames = entry.inputNames().toArray(String[]::new);
    this.outputRuntimeDtypes =
        entry.outputs().stream()
            .map(s -> artifact.boundaryDtypes().getOrDefault(s.name(), s.dtype()))
            .toArray(DType[]::new);
  }

  public static Model load(Path manifestPath, String modelId) {
    return load(Manifest.read(manifestPath), modelId, Options.DEFAULT);
  }

  public static Model load(Path manifestPath, String modelId, Options options) {
    return load(Manifest.read(manifestPath), modelId, options);
  }

  /** Loads the model's {@code saved-model} artifact (exit-2/3 {@link DeploykitException}s). */
  public static Model load(Manifest manifest, String modelId, Options options) {
    Manifest.ModelEntry entry = manifest.model(modelId);
    Manifest.Artifact artifact = artifactOf(entry);
    String what = modelId + "/" + FORMAT;
    Path dir = manifest.resolve(artifact.path());
    // The version-skew guard runs first, before the artifact is hashed or touched.
    VersionSkew.check(what, artifact);
    Phases phases = new Phases();
    SavedModels.verifySha256(what, dir, artifact.sha256());
    phases.mark("sha256");

    Manifest.FileRef denyRef =
        manifest
            .unsafeOps()
            .orElseThrow(
                () ->
                    DeploykitException.loadFailed(
                        what,
                        "the manifest names no safety.unsafe_ops deny-list; refusing to run an"
                            + " unchecked SavedModel"));
    OpSafety.DenyList denyList =
        OpSafety.DenyList.load(manifest.resolve(denyRef.path()), denyRef.sha256());

    String[] tags =
        artifact.tags().isEmpty()
            ? new String[] {SavedModelBundle.DEFAULT_TAG}
            : artifact.tags().toArray(String[]::new);
    MetaGraphDef metaGraph = SavedModels.readMetaGraph(what, dir, Set.of(tags));
    phases.mark("read saved_model.pb");
    String signatureKey = artifact.signature().orElse("serving_default");
    SignatureDef signature = SavedModels.signature(what, metaGraph, signatureKey);
    SavedModels.checkSignature(what, entry, artifact, signature);

    List<OpSafety.Node> reachable =
        OpSafety.reachable(metaGraph.getGraphDef(), SavedModels.rootTensors(metaGraph, signature));
    List<OpSafety.Node> denied = OpSafety.denied(reachable, denyList);
    List<String> deniedOps = denied.stream().map(OpSafety.Node::op).distinct().sorted().toList();
    if (!denied.isEmpty() && !options.allowUnsafeOps()) {
      throw DeploykitException.loadFailed(
          "safety " + what,
          "signature '"
              + signatureKey
              + "' can reach denied op(s) "
              + denied.stream()
                  .map(
                      n ->
                          n.op()
                              + " ("
                              + denyList.ops().get(n.op())
                              + "; node "
                              + n.name()
                              + " in "
                              + n.where()
                              + ")")
                  .distinct()
                  .collect(Collectors.joining(", "))
              + "; rerun with --allow-unsafe-ops to run it anyway");
    }
    List<XlaCallModules.Info> xla = XlaCallModules.find(reachable);
    phases.mark("op check");

    SavedModelBundle bundle;
    try {
      bundle =
          SavedModelBundle.loader(dir.toString())
              .withTags(tags)
              .withConfigProto(SESSION_CONFIG)
              .load();
    } catch (RuntimeException e) {
      if (!DeploykitException.isTensorFlowError(e)) {
        throw e;
      }
      throw DeploykitException.loadFailed(
          what,
          "TensorFlow could not load the SavedModel: " + DeploykitException.oneLine(e.getMessage()),
          e);
    }
    Model model = null;
    try {
      phases.mark("TF bundle load");
      model =
          new Model(
              entry,
              artifact,
              deniedOps,
              bundle,
              bundle.function(signatureKey).signature(),
              phases.millis);
      model.probe(what, xla);
      phases.mark("probe run");
      return model;
    } catch (RuntimeException e) {
      if (model != null) {
        model.close();
      } else {
        bundle.close();
      }
      throw e;
    }
  }

  /** The model's single {@code saved-model} artifact (exit 2 when it has none or several). */
  static Manifest.Artifact artifactOf(Manifest.ModelEntry entry) {
    List<Manifest.Artifact> candidates = entry.artifactsOf(FORMAT);
    if (candidates.size() != 1) {
      throw DeploykitException.badInput(
          "model " + entry.id(),
          candidates.isEmpty()
              ? "has no "
                  + FORMAT
                  + " artifact (formats: "
                  + entry.artifacts().stream()
                      .map(Manifest.Artifact::format)
                      .collect(Collectors.joining(", "))
                  + ")"
              : "has " + candidates.size() + " " + FORMAT + " artifacts");
    }
    return candidates.get(0);
  }

  public String id() {
    return entry.id();
  }

  public Manifest.ModelEntry entry() {
    return entry;
  }

  public Manifest.Artifact artifact() {
    return artifact;
  }

  /** Denied ops the signature reaches that {@code allowUnsafeOps} let through (empty when safe). */
  public List<String> allowedUnsafeOps() {
    return allowedUnsafeOps;
  }

  /**
   * Milliseconds each step of {@link #load} took, in order (sha256, op check, TF bundle load, ...).
   */
  public Map<String, Double> loadPhases() {
    return loadPhases;
  }

  /**
   * Runs one call: {@code inputs} by model input name, checked against the specs (exit-2 {@link
   * DeploykitException} on a mismatch); returns every output by name, in the model's order.
   */
  public Map<String, Tensor> predict(Map<String, Tensor> inputs) {
    InputCheck.check(entry, artifact, inputs);
    Map<String, Tensor> fed = InputCheck.toBoundary(entry, artifact, inputs);
    long stamp = readLock();
    try {
      TType[] taken = new TType[inputTensors.size()];
      try {
        Session.Runner runner = session.runner();
        for (int i = 0; i < taken.length; i++) {
          taken[i] = pools.get(i).take(fed.get(inputNames[i]));
          runner.feed(inputTensors.get(i), taken[i]);
        }
        for (int i = 0; i < outputTensors.size(); i++) {
          runner.fetch(outputTensors.get(i));
        }
        try (Result result = runner.run()) {
          return outputs(result);
        }
      } finally {
        for (int i = 0; i < taken.length && taken[i] != null; i++) {
          pools.get(i).giveBack(taken[i]);
        }
      }
    } finally {
      lock.unlockRead(stamp);
    }
  }

  /** The one-input, one-output float32 convenience: rows in, rows out. */
  public float[][] predict(float[][] rows) {
    if (entry.inputs().size() != 1 || entry.outputs().size() != 1) {
      throw DeploykitException.badInput(
          "model " + id(),
          "takes "
              + entry.inputs().size()
              + " inputs and gives "
              + entry.outputs().size()
              + " outputs; use predict(Map<String, Tensor>)");
    }
    Tensor y =
        predict(Map.of(entry.inputs().get(0).name(), Tensor.ofRows(rows)))
            .get(entry.outputs().get(0).name());
    return y.toRows();
  }

  /**
   * Copies the fetched outputs out, checked against the runtime dtypes and cast back to the spec
   * dtypes.
   */
  private Map<String, Tensor> outputs(Result result) {
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (int i = 0; i < outputTensors.size(); i++) {
      TensorSpec spec = entry.outputs().get(i);
      Tensor y = TfTensors.fromTf(result.get(i));
      DType runtime = outputRuntimeDtypes[i];
      if (y.dtype() != runtime || y.rank() != spec.rank()) {
        throw new IllegalStateException(
            "output "
                + spec.name()
                + " is "
                + y
                + ", the manifest says "
                + runtime
                + " "
                + spec.shape());
      }
      out.put(
          spec.name(),
          y.dtype() == spec.dtype() ? y : BoundaryCast.cast(spec.name(), y, spec.dtype()));
    }
    return out;
  }

  /** What {@link Direct#run()} times, one line for the CLI's timing file. */
  public static final String DIRECT_DESCRIPTION =
      "Session.runner() feeding every input and fetching every output on the signature's graph"
          + " tensors resolved once, the input tensors built once, the Result closed each call";

  /**
   * Prepares the bare runtime call on {@code inputs} (checked and cast like predict): the input
   * tensors are built once and fed to the same resolved graph tensors. It is the floor under
   * predict (no input copy, no output copy, no lock, no checks), used to measure the client's
   * per-call overhead. The caller closes it, before the model.
   */
  public Direct direct(Map<String, Tensor> inputs) {
    InputCheck.check(entry, artifact, inputs);
    Map<String, Tensor> fed = InputCheck.toBoundary(entry, artifact, inputs);
    if (closed) {
      throw new IllegalStateException("model " + id() + " is closed");
    }
    List<TType> tensors = new ArrayList<>();
    for (TensorSpec spec : entry.inputs()) {
      tensors.add(TfTensors.toTf(fed.get(spec.name())));
    }
    return new Direct(session, inputTensors, outputTensors, tensors);
  }

  /** The bare {@code Session.Runner} call on pre-built input tensors (see {@link #direct}). */
  public static final class Direct implements AutoCloseable {
    private final Session session;
    private final List<Output<?>> inputs;
    private final List<Output<?>> outputs;
    private final List<TType> tensors;

    private Direct(
        Session session, List<Output<?>> inputs, List<Output<?>> outputs, List<TType> tensors) {
      this.session = session;
      this.inputs = inputs;
      this.outputs = outputs;
      this.tensors = tensors;
    }

    private Session.Runner runner() {
      Session.Runner runner = session.runner();
      for (int i = 0; i < inputs.size(); i++) {
        runner.feed(inputs.get(i), tensors.get(i));
      }
      for (int i = 0; i < outputs.size(); i++) {
        runner.fetch(outputs.get(i));
      }
      return runner;
    }

    /** One inference; the fetched outputs are closed before it returns. */
    public void run() {
      runner().run().close();
    }

    /**
     * One inference whose first output is copied out, to check the bare call computes what predict
     * does.
     */
    Tensor runAndCopy() {
      try (Result result = runner().run()) {
        return TfTensors.fromTf(result.get(0));
      }
    }

    @Override
    public void close() {
      tensors.forEach(TType::close);
    }
  }

  @Override
  public void close() {
    long stamp = lock.writeLock();
    try {
      if (!closed) {
        closed = true;
        pools.forEach(TensorPool::close);
        bundle.close();
      }
    } finally {
      lock.unlockWrite(stamp);
    }
  }

  /** Takes the read lock; fails if the model is closed (then the lock is not held). */
  private long readLock() {
    long stamp = lock.readLock();
    if (closed) {
      lock.unlockRead(stamp);
      throw new IllegalStateException("model " + id() + " is closed");
    }
    return stamp;
  }

  /**
   * Runs one call on zero inputs so kernels are built now; a failure is a load failure (exit 3).
   */
  private void probe(String what, List<XlaCallModules.Info> xla) {
    try {
      predict(zeroInputs(entry));
    } catch (RuntimeException e) {
      if (!DeploykitException.isTensorFlowError(e) && !(e instanceof IllegalStateException)) {
        throw e;
      }
      String why = DeploykitException.oneLine(e.getMessage());
      if (!xla.isEmpty() && String.valueOf(e.getMessage()).contains(XlaCallModules.OP)) {
        throw DeploykitException.loadFailed(
            what,
            XlaCallModules.describe(xla)
                + " cannot run on TF Java "
                + Versions.tensorflowJava()
                + " (TensorFlow "
                + Versions.tensorflow()
                + "): "
                + why,
            e);
      }
      throw DeploykitException.loadFailed(what, "the first run failed: " + why, e);
    }
  }

  /**
   * Zero-filled inputs (integer inputs: the value of their range nearest 0) of the smallest
   * non-empty sizes the dims allow.
   */
  static Map<String, Tensor> zeroInputs(Manifest.ModelEntry entry) {
    Map<String, Long> sizes = new HashMap<>();
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (TensorSpec spec : entry.inputs()) {
      long[] shape = new long[spec.rank()];
      for (int i = 0; i < shape.length; i++) {
        TensorSpec.Dim d = spec.shape().get(i);
        shape[i] =
            d.dynamic()
                ? sizes.computeIfAbsent(
                    d.name(),
                    n -> Math.min(Math.max(1, entry.range(n).min()), entry.range(n).max()))
                : d.size();
      }
      int n = Math.toIntExact(Tensor.elementCount(shape));
      long fill =
          spec.range() == null || spec.dtype().isFloat()
              ? 0
              : Math.max(
                  spec.range()[0],
                  Math.min(0, spec.range()[1])); // 0, or the value in range nearest it
      ByteBuffer b = ByteBuffer.allocate(n * spec.dtype().bytes()).order(ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i < n && fill != 0; i++) {
        switch (spec.dtype()) {
          case INT32 -> b.putInt((int) fill);
          case INT64 -> b.putLong(fill);
          case UINT8, BOOL -> b.put((byte) fill);
          default -> {}
        }
      }
      out.put(spec.name(), new Tensor(spec.dtype(), shape, b.array()));
    }
    return out;
  }

  /** Wall time of consecutive load steps. */
  private static final class Phases {
    final Map<String, Double> millis = new LinkedHashMap<>();
    long last = System.nanoTime();

    void mark(String step) {
      long now = System.nanoTime();
      millis.put(step, (now - last) / 1e6);
      last = now;
    }
  }
}
