package dev.deploykit;

import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.ByteDataBuffer;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.proto.DataType;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat16;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.TUint8;
import org.tensorflow.types.family.TType;

/**
 * Conversions between {@link Tensor} and TF Java tensors ({@code TFloat32}, {@code TFloat16},
 * {@code TInt32}, {@code TInt64}, {@code TUint8}, {@code TBool}). Both keep little-endian element
 * bytes (TensorFlow's raw buffers are in the host's order, little-endian on every platform TF Java
 * ships for), so a conversion is one bulk copy.
 */
public final class TfTensors {
  private TfTensors() {}

  public static Class<? extends TType> tfType(DType dtype) {
    return switch (dtype) {
      case FLOAT32 -> TFloat32.class;
      case FLOAT16 -> TFloat16.class;
      case INT32 -> TInt32.class;
      case INT64 -> TInt64.class;
      case UINT8 -> TUint8.class;
      case BOOL -> TBool.class;
    };
  }

  public static DataType dataType(DType dtype) {
    return switch (dtype) {
      case FLOAT32 -> DataType.DT_FLOAT;
      case FLOAT16 -> DataType.DT_HALF;
      case INT32 -> DataType.DT_INT32;
      case INT64 -> DataType.DT_INT64;
      case UINT8 -> DataType.DT_UINT8;
      case BOOL -> DataType.DT_BOOL;
    };
  }

  /** The contract dtype of a TensorFlow dtype, or null when it has none. */
  public static DType fromDataType(DataType type) {
    return switch (type) {
      case DT_FLOAT -> DType.FLOAT32;
      case DT_HALF -> DType.FLOAT16;
      case DT_INT32 -> DType.INT32;
      case DT_INT64 -> DType.INT64;
      case DT_UINT8 -> DType.UINT8;
      case DT_BOOL -> DType.BOOL;
      default -> null;
    };
  }

  public static Shape shape(long[] dims) {
    return dims.length == 0 ? Shape.scalar() : Shape.of(dims);
  }

  /** A new TF tensor holding a copy of {@code t}; the caller closes it. */
  public static TType toTf(Tensor t) {
    return org.tensorflow.Tensor.of(
        tfType(t.dtype()), shape(t.shape()), DataBuffers.of(t.bytes(), true, false));
  }

  /** Overwrites a TF tensor of the same dtype and shape with {@code t}'s bytes. */
  static void write(TType target, Tensor t) {
    target.asRawTensor().data().write(t.bytes());
  }

  /** A copy of a TF tensor of one of the six dtypes. */
  public static Tensor fromTf(org.tensorflow.Tensor tf) {
    DType dtype = fromDataType(tf.dataType());
    if (dtype == null) {
      throw new IllegalStateException(
          "TensorFlow tensor of " + tf.dataType() + " has no deploykit dtype");
    }
    ByteDataBuffer raw = tf.asRawTensor().data();
    byte[] bytes = new byte[Math.toIntExact(raw.size())];
    raw.read(bytes);
    return new Tensor(dtype, tf.shape().asArray(), bytes);
  }
}
