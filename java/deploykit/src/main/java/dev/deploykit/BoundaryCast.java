package dev.deploykit;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The contract's boundary casts between a tensor's spec dtype and the dtype an artifact's runtime
 * takes: {@code int64 -> int32} (refusing values that do not fit), {@code bool -> int32}, {@code
 * uint8 -> int32}, {@code float16 -> float32}, and the same casts back for outputs.
 */
final class BoundaryCast {
  private BoundaryCast() {}

  /** Refuses (exit 2) the first value of {@code t} that {@code to} cannot hold. */
  static void checkFits(String name, Tensor t, DType to) {
    if (t.dtype() == DType.INT64 && to == DType.INT32) {
      ByteBuffer b = t.buffer();
      long n = t.size();
      for (int i = 0; i < n; i++) {
        long v = b.getLong(i * 8);
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
          throw DeploykitException.badInput(
              "input " + name, "value " + v + " at index " + i + " does not fit int32");
        }
      }
    }
  }

  /** {@code t} cast to {@code to}; exit 2 for a value that does not fit. */
  static Tensor cast(String name, Tensor t, DType to) {
    if (t.dtype() == to) {
      return t;
    }
    long[] shape = t.shape();
    int n = Math.toIntExact(t.size());
    ByteBuffer out = ByteBuffer.allocate(n * to.bytes()).order(ByteOrder.LITTLE_ENDIAN);
    DType from = t.dtype();
    if (to == DType.FLOAT32 && from == DType.FLOAT16) {
      for (int i = 0; i < n; i++) {
        out.putFloat((float) t.getDouble(i));
      }
    } else if (to == DType.FLOAT16 && from == DType.FLOAT32) {
      ByteBuffer in = t.buffer();
      for (int i = 0; i < n; i++) {
        out.putShort(Half.fromFloat(in.getFloat(i * 4)));
      }
    } else if (to == DType.INT32 && !from.isFloat()) {
      checkFits(name, t, to);
      for (int i = 0; i < n; i++) {
        out.putInt((int) t.getLong(i));
      }
    } else if ((to == DType.INT64 || to == DType.UINT8 || to == DType.BOOL)
        && from == DType.INT32) {
      for (int i = 0; i < n; i++) {
        long v = t.getLong(i);
        if (to == DType.INT64) {
          out.putLong(v);
        } else if ((to == DType.UINT8 && (v < 0 || v > 255))
            || (to == DType.BOOL && v != 0 && v != 1)) {
          throw DeploykitException.badInput(
              name, "value " + v + " at index " + i + " does not fit " + to);
        } else {
          out.put((byte) v);
        }
      }
    } else {
      throw new IllegalArgumentException(name + ": no boundary cast " + from + " -> " + to);
    }
    return new Tensor(to, shape, out.array());
  }
}
