package dev.deploykit;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The runtime a Java user would otherwise pick: ONNX Runtime's Java API on the same model's {@code
 * onnx} artifact, with its documented fast path for inputs: each input is one {@link OnnxTensor}
 * built once over a direct buffer (no copy on creation) and reused by every call; each call then
 * runs the session on those tensors, copies every output out ({@link OnnxTensor#getByteBuffer}, as
 * deploykit's predict copies its outputs into byte arrays) and closes the result. Session options
 * are ONNX Runtime's defaults (what a user gets without tuning), as TF Java runs with its own.
 */
final class OrtPeer implements AutoCloseable {
  static final String NAME = "onnxruntime-java";
  static final String INPUTS =
      "OnnxTensor built once over a direct buffer and reused; OrtSession.run + getByteBuffer() of"
          + " every output + Result.close() per call";

  private final OrtSession session;
  private final Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
  private final Set<String> fetch;
  private final double loadMs;

  private OrtPeer(OrtSession session, Set<String> fetch, double loadMs) {
    this.session = session;
    this.fetch = fetch;
    this.loadMs = loadMs;
  }

  /** {@code ONNX Runtime Java <version>}. */
  static String runtime() {
    return "ONNX Runtime Java " + OrtEnvironment.getEnvironment().getVersion();
  }

  /** The model's {@code onnx} artifact, or null when it has none. */
  static Manifest.Artifact artifact(Manifest.ModelEntry entry) {
    List<Manifest.Artifact> found = entry.artifactsOf("onnx");
    return found.isEmpty() ? null : found.get(0);
  }

  /** Loads the model's onnx artifact (the path is relative to the manifest's folder). */
  static OrtPeer load(Manifest manifest, Manifest.ModelEntry entry) throws OrtException {
    Manifest.Artifact onnx = artifact(entry);
    if (onnx == null) {
      throw new IllegalArgumentException(entry.id() + " has no onnx artifact");
    }
    Path file = manifest.resolve(onnx.path());
    long start = System.nanoTime();
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    OrtSession session = env.createSession(file.toString(), new OrtSession.SessionOptions());
    double loadMs = (System.nanoTime() - start) / 1e6;
    Set<String> fetch = new LinkedHashSet<>();
    for (String name : entry.outputNames()) {
      fetch.add(onnx.outputKeys().getOrDefault(name, name));
    }
    return new OrtPeer(session, fetch, loadMs);
  }

  double loadMs() {
    return loadMs;
  }

  /**
   * Makes {@code x} (deploykit tensors by model input name) this peer's inputs, replacing the last:
   * one OnnxTensor per input over a direct buffer, keyed by the artifact's own input names, in the
   * artifact's boundary dtype when it has one (an integer input widened or narrowed).
   */
  void feed(Manifest.ModelEntry entry, Map<String, Tensor> x) throws OrtException {
    closeFeeds();
    Manifest.Artifact onnx = artifact(entry);
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    for (TensorSpec spec : entry.inputs()) {
      Tensor t = x.get(spec.name());
      DType to = onnx.boundaryDtypes().getOrDefault(spec.name(), t.dtype());
      ByteBuffer b =
          ByteBuffer.allocateDirect(Math.toIntExact(t.size() * to.bytes()))
              .order(ByteOrder.nativeOrder());
      if (to == t.dtype()) {
        b.put(t.buffer().order(ByteOrder.LITTLE_ENDIAN));
      } else {
        for (long i = 0; i < t.size(); i++) {
          switch (to) {
            case INT32 -> b.putInt(Math.toIntExact(t.getLong(i)));
            case INT64 -> b.putLong(t.getLong(i));
            default ->
                throw new IllegalArgumentException(
                    "peer: no cast of " + spec.name() + " from " + t.dtype() + " to " + to);
          }
        }
      }
      b.rewind();
      String key = onnx.inputKeys().getOrDefault(spec.name(), spec.name());
      feeds.put(key, OnnxTensor.createTensor(env, b, t.shape(), javaType(to)));
    }
  }

  /** One call: run on the fed tensors, copy every output out, close the result. */
  void run() {
    try (OrtSession.Result result = session.run(feeds, fetch)) {
      for (Map.Entry<String, OnnxValue> out : result) {
        ((OnnxTensor) out.getValue()).getByteBuffer();
      }
    } catch (OrtException e) {
      throw new IllegalStateException("onnxruntime: " + e.getMessage(), e);
    }
  }

  private static OnnxJavaType javaType(DType dtype) {
    return switch (dtype) {
      case FLOAT32 -> OnnxJavaType.FLOAT;
      case FLOAT16 -> OnnxJavaType.FLOAT16;
      case INT32 -> OnnxJavaType.INT32;
      case INT64 -> OnnxJavaType.INT64;
      case UINT8 -> OnnxJavaType.UINT8;
      case BOOL -> OnnxJavaType.BOOL;
    };
  }

  private void closeFeeds() {
    feeds.values().forEach(OnnxTensor::close);
    feeds.clear();
  }

  @Override
  public void close() {
    closeFeeds();
    try {
      session.close();
    } catch (OrtException e) {
      throw new IllegalStateException("onnxruntime: " + e.getMessage(), e);
    }
  }
}
