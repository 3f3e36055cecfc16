package dev.deploykit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.StampedLock;
import java.util.stream.Collectors;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.FloatNdArray;
import org.tensorflow.ndarray.NdArrays;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.SavedModel;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;
import org.tensorflow.types.TFloat32;

/**
 * A deploykit {@code saved-model} artifact loaded with TensorFlow Java.
 *
 * <p>{@link #load} resolves the artifact from the manifest, verifies its sha256, checks the ops
 * the serving signature can reach against the manifest's deny-list, loads the bundle with the
 * manifest's tags and resolves the manifest's input and output keys of the signature (never op
 * names) to the signature's graph tensors, once. It then runs one zero row, so a model the runtime
 * cannot execute (e.g. an {@code XlaCallModule} newer than this TensorFlow) fails at load with
 * exit code 3, not at the first prediction.
 *
 * <p>{@code predict} may be called from many threads at once (TensorFlow's session run is
 * thread-safe); {@link #close} waits for running predictions and later calls fail.
 *
 * <p>A prediction is one {@code session.runner().feed(input, tensor).fetch(output).run()} on the
 * resolved tensors, fetching only the one output. Input tensors of small batches (up to
 * {@link #POOLED_MAX_FLOATS} floats) are taken from a small pool instead of being allocated per
 * call: each is used by one call at a time, rewritten in one bulk copy, and closed by
 * {@link #close} (or at once, when the pool is full or the batch size changed).
 */
public final class Model implements AutoCloseable {
  public static final String FORMAT = "saved-model";
  private static final String INIT_OP_SIGNATURE = "__saved_model_init_op";

  /** Load options. */
  public record Options(boolean allowUnsafeOps) {
    public static final Options DEFAULT = new Options(false);
  }

  private final String id;
  private final Manifest.Artifact artifact;
  private final int inputWidth;
  private final int outputWidth;
  private final String outputKey;
  private final List<String> allowedUnsafeOps;
  private final SavedModelBundle bundle;
  private final Session session;
  /** The signature's input and output graph tensors, resolved once at load. */
  private final Output<?> inputTensor;
  private final Output<?> outputTensor;
  private final Map<String, Double> loadPhases;
  /** Read-held by every prediction, write-held by {@link #close}, which so waits for them. */
  private final StampedLock lock = new StampedLock();
  /** Spare input tensors (see the class comment); only touched while the read lock is held. */
  private final AtomicReferenceArray<TFloat32> spareInputs =
      new AtomicReferenceArray<>(Math.max(2, Math.min(16, Runtime.getRuntime().availableProcessors())));
  private volatile boolean closed;

  /** Input tensors of at most this many floats (256 KiB) are pooled; larger ones are allocated per call. */
  static final int POOLED_MAX_FLOATS = 64 * 1024;

  private Model(Manifest.ModelEntry entry, Manifest.Artifact artifact, String inputKey, String outputKey,
      List<String> allowedUnsafeOps, SavedModelBundle bundle, Signature signature, Phases phases) {
    this.loadPhases = phases.millis;
    this.id = entry.id();
    this.artifact = artifact;
    this.inputWidth = entry.inputWidth();
    this.outputWidth = entry.outputWidth();
    this.outputKey = outputKey;
    this.allowedUnsafeOps = allowedUnsafeOps;
    this.bundle = bundle;
    this.session = bundle.session();
    this.inputTensor = bundle.graph().outputOrThrow(signature.getInputs().get(inputKey).name);
    this.outputTensor = bundle.graph().outputOrThrow(signature.getOutputs().get(outputKey).name);
  }

  public static Model load(Path manifestPath, String modelId) {
    return load(Manifest.read(manifestPath), modelId, Options.DEFAULT);
  }

  public static Model load(Path manifestPath, String modelId, Options options) {
    return load(Manifest.read(manifestPath), modelId, options);
  }

  /** Loads the model's single {@code saved-model} artifact (exit-2/3 {@link DeploykitException}s). */
  public static Model load(Manifest manifest, String modelId, Options options) {
    Manifest.ModelEntry entry = manifest.model(modelId);
    List<Manifest.Artifact> candidates = entry.artifactsOf(FORMAT);
    if (candidates.size() != 1) {
      throw DeploykitException.badInput("model " + modelId, candidates.isEmpty()
          ? "has no " + FORMAT + " artifact (formats: " + entry.artifacts().stream().map(Manifest.Artifact::format).collect(Collectors.joining(", ")) + ")"
          : "has " + candidates.size() + " " + FORMAT + " artifacts");
    }
    Manifest.Artifact artifact = candidates.get(0);
    String what = modelId + "/" + FORMAT;
    Path dir = manifest.resolve(artifact.path());
    Phases phases = new Phases();
    verifySha256(what, dir, artifact.sha256());
    phases.mark("sha256");

    Manifest.FileRef denyRef = manifest.unsafeOps().orElseThrow(() -> DeploykitException.loadFailed(
        what, "the manifest names no safety.unsafe_ops deny-list; refusing to run an unchecked SavedModel"));
    OpSafety.DenyList denyList = OpSafety.DenyList.load(manifest.resolve(denyRef.path()), denyRef.sha256());

    String[] tags = artifact.tags().isEmpty() ? new String[] {SavedModelBundle.DEFAULT_TAG} : artifact.tags().toArray(String[]::new);
    MetaGraphDef metaGraph = readMetaGraph(what, dir, Set.of(tags));
    phases.mark("read saved_model.pb");
    String signatureKey = artifact.signature().orElse("serving_default");
    SignatureDef signature = metaGraph.getSignatureDefMap().get(signatureKey);
    if (signature == null) {
      throw DeploykitException.loadFailed(what, "no signature '" + signatureKey + "' (has: " + String.join(", ", metaGraph.getSignatureDefMap().keySet()) + ")");
    }
    String inputKey = artifact.inputKey().orElseThrow(() -> DeploykitException.badInput("manifest", what + " has no input_keys." + entry.inputName()));
    String outputKey = artifact.outputKey().orElseThrow(() -> DeploykitException.badInput("manifest", what + " has no output_keys." + entry.outputName()));
    checkTensor(what, "input", signature.getInputsMap(), inputKey, entry.inputWidth());
    checkTensor(what, "output", signature.getOutputsMap(), outputKey, entry.outputWidth());

    List<OpSafety.Node> reachable = OpSafety.reachable(metaGraph.getGraphDef(), rootTensors(metaGraph, signature));
    List<OpSafety.Node> denied = OpSafety.denied(reachable, denyList);
    List<String> deniedOps = denied.stream().map(OpSafety.Node::op).distinct().sorted().toList();
    if (!denied.isEmpty() && !options.allowUnsafeOps()) {
      throw DeploykitException.loadFailed("safety " + what, "signature '" + signatureKey + "' can reach denied op(s) "
          + denied.stream().map(n -> n.op() + " (" + denyList.ops().get(n.op()) + "; node " + n.name() + " in " + n.where() + ")")
              .distinct().collect(Collectors.joining(", "))
          + "; rerun with --allow-unsafe-ops to run it anyway");
    }
    List<XlaCallModules.Info> xla = XlaCallModules.find(reachable);
    phases.mark("op check");

    SavedModelBundle bundle;
    try {
      bundle = SavedModelBundle.loader(dir.toString()).withTags(tags).load();
    } catch (RuntimeException e) {
      if (!DeploykitException.isTensorFlowError(e)) {
        throw e;
      }
      throw DeploykitException.loadFailed(what, "TensorFlow could not load the SavedModel: " + DeploykitException.oneLine(e.getMessage()), e);
    }
    Model model = null;
    try {
      phases.mark("TF bundle load");
      model = new Model(entry, artifact, inputKey, outputKey, deniedOps, bundle, bundle.function(signatureKey).signature(), phases);
      model.probe(what, xla);
      phases.mark("probe run");
      return model;
    } catch (RuntimeException e) {
      if (model != null) {
        model.close(); // the bundle and any pooled input tensor the probe left
      } else {
        bundle.close();
      }
      throw e;
    }
  }

  public String id() {
    return id;
  }

  public Manifest.Artifact artifact() {
    return artifact;
  }

  public int inputWidth() {
    return inputWidth;
  }

  public int outputWidth() {
    return outputWidth;
  }

  /** Denied ops the signature reaches that {@code allowUnsafeOps} let through (empty when safe). */
  public List<String> allowedUnsafeOps() {
    return allowedUnsafeOps;
  }

  /** Milliseconds each step of {@link #load} took, in order (sha256, op check, TF bundle load, ...). */
  public Map<String, Double> loadPhases() {
    return loadPhases;
  }

  /** Runs a batch of rows (each {@link #inputWidth()} wide); returns rows of {@link #outputWidth()}. */
  public float[][] predict(float[][] rows) {
    return predict(Npy.Matrix.of(rows)).toArray();
  }

  /** Runs a row-major batch. */
  public Npy.Matrix predict(Npy.Matrix x) {
    if (x.cols() != inputWidth) {
      throw DeploykitException.badInput("input", "has " + x.cols() + " features per row, model " + id + " takes " + inputWidth);
    }
    int rows = x.rows();
    float[] out = new float[rows * outputWidth];
    long stamp = readLock();
    try {
      TFloat32 input = takeInput(rows);
      try {
        input.asRawTensor().data().asFloats().write(x.data());
        try (Result result = session.runner().feed(inputTensor, input).fetch(outputTensor).run()) {
          checked(result, rows).asRawTensor().data().asFloats().read(out);
        }
      } finally {
        giveBackInput(input);
      }
    } finally {
      lock.unlockRead(stamp);
    }
    return new Npy.Matrix(rows, outputWidth, out);
  }

  /** Runs a (rows, inputWidth) array; the result is a heap array the caller owns. */
  public FloatNdArray predict(FloatNdArray x) {
    checkShape(x.shape());
    try (TFloat32 input = TFloat32.tensorOf(x)) {
      FloatNdArray out = NdArrays.ofFloats(Shape.of(x.shape().size(0), outputWidth));
      run(input, y -> y.copyTo(out));
      return out;
    }
  }

  /** Runs a (rows, inputWidth) tensor; the caller owns (and must close) the returned tensor. */
  public TFloat32 predict(TFloat32 x) {
    checkShape(x.shape());
    TFloat32 out = TFloat32.tensorOf(Shape.of(x.shape().size(0), outputWidth));
    try {
      run(x, y -> y.asRawTensor().data().asFloats().copyTo(out.asRawTensor().data().asFloats(), y.shape().size()));
      return out;
    } catch (RuntimeException e) {
      out.close();
      throw e;
    }
  }

  /** What {@link Direct#run()} times, one line for the CLI's timing file. */
  public static final String DIRECT_DESCRIPTION =
      "Session.runner().feed(input, tensor).fetch(output).run() on the signature's graph tensors resolved once, the TFloat32 built once, the Result closed each call";

  /**
   * Prepares the bare runtime call on batch {@code x}: the input {@code TFloat32} is built once and
   * fed to the same resolved graph tensors {@link #predict(Npy.Matrix)} uses. It is the floor under
   * predict (no input copy, no copy of the output into a Java array, no lock, no checks), used to
   * measure the client's per-call overhead. The caller closes it, before the model.
   */
  public Direct direct(Npy.Matrix x) {
    if (x.cols() != inputWidth) {
      throw DeploykitException.badInput("input", "has " + x.cols() + " features per row, model " + id + " takes " + inputWidth);
    }
    if (closed) {
      throw new IllegalStateException("model " + id + " is closed");
    }
    return new Direct(session, inputTensor, outputTensor, TFloat32.tensorOf(Shape.of(x.rows(), x.cols()), DataBuffers.of(x.data(), true, false)));
  }

  /** The bare {@code Session.Runner} call on one pre-built input tensor (see {@link #direct}). */
  public static final class Direct implements AutoCloseable {
    private final Session session;
    private final Output<?> input;
    private final Output<?> output;
    private final TFloat32 tensor;

    private Direct(Session session, Output<?> input, Output<?> output, TFloat32 tensor) {
      this.session = session;
      this.input = input;
      this.output = output;
      this.tensor = tensor;
    }

    /** One inference; the fetched output is closed before it returns. */
    public void run() {
      session.runner().feed(input, tensor).fetch(output).run().close();
    }

    /** One inference whose output is copied out, to check the bare call computes what predict does. */
    float[] runAndCopy() {
      try (Result result = session.runner().feed(input, tensor).fetch(output).run()) {
        TFloat32 y = (TFloat32) result.get(0);
        float[] out = new float[(int) y.shape().size()];
        y.copyTo(DataBuffers.of(out, false, false));
        return out;
      }
    }

    @Override
    public void close() {
      tensor.close();
    }
  }

  @Override
  public void close() {
    long stamp = lock.writeLock();
    try {
      if (!closed) {
        closed = true;
        for (int i = 0; i < spareInputs.length(); i++) {
          TFloat32 spare = spareInputs.getAndSet(i, null);
          if (spare != null) {
            spare.close();
          }
        }
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
      throw new IllegalStateException("model " + id + " is closed");
    }
    return stamp;
  }

  /** A (rows, inputWidth) input tensor this call owns until {@link #giveBackInput}: a spare one, or new. */
  private TFloat32 takeInput(int rows) {
    if ((long) rows * inputWidth <= POOLED_MAX_FLOATS) {
      for (int i = 0; i < spareInputs.length(); i++) {
        if (spareInputs.get(i) != null) {
          TFloat32 spare = spareInputs.getAndSet(i, null);
          if (spare != null) {
            if (spare.shape().size(0) == rows) {
              return spare;
            }
            spare.close();
          }
        }
      }
    }
    return TFloat32.tensorOf(Shape.of(rows, inputWidth));
  }

  /** Puts a taken input tensor back into a free pool slot, or closes it. */
  private void giveBackInput(TFloat32 input) {
    if (input.shape().size() <= POOLED_MAX_FLOATS) {
      for (int i = 0; i < spareInputs.length(); i++) {
        if (spareInputs.get(i) == null && spareInputs.compareAndSet(i, null, input)) {
          return;
        }
      }
    }
    input.close();
  }

  /** The result's single output, checked to be float32 (rows, outputWidth). */
  private TFloat32 checked(Result result, long rows) {
    Tensor y = result.get(0);
    if (!(y instanceof TFloat32 f) || y.shape().numDimensions() != 2 || y.shape().size(1) != outputWidth || y.shape().size(0) != rows) {
      throw new IllegalStateException("output '" + outputKey + "' is " + y.dataType() + " " + y.shape() + ", want float32 ("
          + rows + ", " + outputWidth + ")");
    }
    return f;
  }

  private interface OutputSink {
    void accept(TFloat32 output);
  }

  /** Runs a caller's or freshly built input tensor (the {@code FloatNdArray} and {@code TFloat32} variants). */
  private void run(TFloat32 input, OutputSink sink) {
    long stamp = readLock();
    try (Result result = session.runner().feed(inputTensor, input).fetch(outputTensor).run()) {
      sink.accept(checked(result, input.shape().size(0)));
    } finally {
      lock.unlockRead(stamp);
    }
  }

  private void checkShape(Shape shape) {
    if (shape.numDimensions() != 2 || shape.size(1) != inputWidth) {
      throw DeploykitException.badInput("input", "shape " + shape + ", model " + id + " takes (rows, " + inputWidth + ")");
    }
  }

  /** Runs one zero row so kernels are built now; a failure is a load failure (exit 3). */
  private void probe(String what, List<XlaCallModules.Info> xla) {
    try {
      predict(new Npy.Matrix(1, inputWidth, new float[inputWidth]));
    } catch (RuntimeException e) {
      if (!DeploykitException.isTensorFlowError(e) && !(e instanceof IllegalStateException)) {
        throw e;
      }
      String why = DeploykitException.oneLine(e.getMessage());
      if (!xla.isEmpty() && String.valueOf(e.getMessage()).contains(XlaCallModules.OP)) {
        throw DeploykitException.loadFailed(what, XlaCallModules.describe(xla) + " cannot run on TF Java " + Versions.tensorflowJava()
            + " (TensorFlow " + Versions.tensorflow() + "): " + why, e);
      }
      throw DeploykitException.loadFailed(what, "the first run failed: " + why, e);
    }
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

  private static void verifySha256(String what, Path dir, String expected) {
    if (!Files.exists(dir)) {
      throw DeploykitException.loadFailed(what, dir + " is missing");
    }
    String actual;
    try {
      actual = Hashing.artifactSha256(dir);
    } catch (IOException e) {
      throw DeploykitException.loadFailed(what, "cannot hash " + dir + ": " + e.getMessage());
    }
    if (!actual.equals(expected)) {
      throw DeploykitException.loadFailed(what, "sha256 mismatch: manifest " + expected + ", files " + actual);
    }
  }

  private static MetaGraphDef readMetaGraph(String what, Path dir, Set<String> tags) {
    SavedModel savedModel;
    try {
      savedModel = SavedModel.parseFrom(Files.readAllBytes(dir.resolve("saved_model.pb")));
    } catch (IOException e) {
      throw DeploykitException.loadFailed(what, "cannot read saved_model.pb: " + e.getMessage());
    }
    List<String> available = new ArrayList<>();
    for (MetaGraphDef mg : savedModel.getMetaGraphsList()) {
      Set<String> has = new LinkedHashSet<>(mg.getMetaInfoDef().getTagsList());
      if (has.equals(tags)) {
        return mg;
      }
      available.add(String.join(",", has));
    }
    throw DeploykitException.loadFailed(what, "no meta graph with tags " + tags + " (has: " + String.join("; ", available) + ")");
  }

  /** The signature's outputs plus the loader's init op: everything that runs for a prediction. */
  private static List<String> rootTensors(MetaGraphDef metaGraph, SignatureDef signature) {
    List<String> roots = new ArrayList<>();
    signature.getOutputsMap().values().forEach(t -> roots.add(t.getName()));
    SignatureDef init = metaGraph.getSignatureDefMap().get(INIT_OP_SIGNATURE);
    if (init != null) {
      init.getOutputsMap().values().forEach(t -> roots.add(t.getName()));
    }
    for (String collection : List.of("saved_model_main_op", "legacy_init_op")) {
      var def = metaGraph.getCollectionDefMap().get(collection);
      if (def != null) {
        roots.addAll(def.getNodeList().getValueList());
      }
    }
    return roots;
  }

  private static void checkTensor(String what, String role, Map<String, TensorInfo> tensors, String key, int width) {
    TensorInfo info = tensors.get(key);
    if (info == null) {
      throw DeploykitException.loadFailed(what, "the signature has no " + role + " '" + key + "' (has: " + String.join(", ", tensors.keySet()) + ")");
    }
    if (info.getDtype() != DataType.DT_FLOAT) {
      throw DeploykitException.loadFailed(what, role + " '" + key + "' is " + info.getDtype() + ", want DT_FLOAT");
    }
    var dims = info.getTensorShape().getDimList();
    if (!info.getTensorShape().getUnknownRank() && (dims.size() != 2 || (dims.get(1).getSize() >= 0 && dims.get(1).getSize() != width))) {
      throw DeploykitException.loadFailed(what, role + " '" + key + "' has shape " + dims.stream().map(d -> Long.toString(d.getSize()))
          .collect(Collectors.joining(", ", "(", ")")) + ", the manifest says (-1, " + width + ")");
    }
  }
}
