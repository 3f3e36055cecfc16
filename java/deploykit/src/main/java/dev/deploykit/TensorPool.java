package dev.deploykit;

import java.util.concurrent.atomic.AtomicReferenceArray;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.types.family.TType;

/**
 * A few spare input tensors of one model input, reused across calls of the same dtype and shape
 * instead of being allocated per call. Each is used by one call at a time and rewritten in one bulk
 * copy; tensors over {@link #MAX_BYTES} are never pooled.
 */
final class TensorPool implements AutoCloseable {
  /** Tensors up to this many bytes (256 KiB) are pooled. */
  static final long MAX_BYTES = 256 * 1024;

  private final AtomicReferenceArray<TType> spares =
      new AtomicReferenceArray<>(
          Math.max(2, Math.min(16, Runtime.getRuntime().availableProcessors())));

  /** A TF tensor holding {@code t} that this call owns until {@link #giveBack}. */
  TType take(Tensor t) {
    if (t.bytes().length <= MAX_BYTES) {
      Class<? extends TType> type = TfTensors.tfType(t.dtype());
      for (int i = 0; i < spares.length(); i++) {
        if (spares.get(i) != null) {
          TType spare = spares.getAndSet(i, null);
          if (spare != null) {
            if (type.isInstance(spare) && sameShape(spare.shape(), t)) {
              TfTensors.write(spare, t);
              return spare;
            }
            spare.close();
          }
        }
      }
    }
    return TfTensors.toTf(t);
  }

  /** Whether {@code shape} is {@code t}'s shape (compared in place: no array copies per call). */
  private static boolean sameShape(Shape shape, Tensor t) {
    if (shape.numDimensions() != t.rank()) {
      return false;
    }
    for (int i = 0; i < t.rank(); i++) {
      if (shape.get(i) != t.dim(i)) {
        return false;
      }
    }
    return true;
  }

  /** Puts a taken tensor back into a free slot, or closes it. */
  void giveBack(TType tensor) {
    if (tensor.numBytes() <= MAX_BYTES) {
      for (int i = 0; i < spares.length(); i++) {
        if (spares.get(i) == null && spares.compareAndSet(i, null, tensor)) {
          return;
        }
      }
    }
    tensor.close();
  }

  @Override
  public void close() {
    for (int i = 0; i < spares.length(); i++) {
      TType spare = spares.getAndSet(i, null);
      if (spare != null) {
        spare.close();
      }
    }
  }
}
