package dev.deploykit;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * A dense tensor: dtype, shape and its little-endian C-order element bytes. Immutable by convention
 * (the accessors share the arrays; callers do not change them).
 */
public final class Tensor {
  /** The contract's highest rank. */
  public static final int MAX_RANK = 8;

  private final DType dtype;
  private final long[] shape;
  private final byte[] data;

  public Tensor(DType dtype, long[] shape, byte[] data) {
    if (shape.length > MAX_RANK) {
      throw new IllegalArgumentException("rank " + shape.length + " is over " + MAX_RANK);
    }
    long n = elementCount(shape);
    if (n * dtype.bytes() != data.length) {
      throw new IllegalArgumentException(
          dtype
              + " "
              + shapeString(shape)
              + " needs "
              + n * dtype.bytes()
              + " bytes, got "
              + data.length);
    }
    this.dtype = dtype;
    this.shape = shape.clone();
    this.data = data;
  }

  public DType dtype() {
    return dtype;
  }

  public long[] shape() {
    return shape.clone();
  }

  public int rank() {
    return shape.length;
  }

  public long dim(int i) {
    return shape[i];
  }

  /** Number of elements (1 for a scalar). */
  public long size() {
    return elementCount(shape);
  }

  /** The element bytes (little-endian, C order); shared, not copied. */
  public byte[] bytes() {
    return data;
  }

  public ByteBuffer buffer() {
    return ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
  }

  /** Element {@code i} (flat index) as a double, whatever the dtype (bool: 0 or 1). */
  public double getDouble(long i) {
    ByteBuffer b = buffer();
    int at = Math.toIntExact(i * dtype.bytes());
    return switch (dtype) {
      case FLOAT32 -> b.getFloat(at);
      case FLOAT16 -> Half.toFloat(b.getShort(at));
      case INT32 -> b.getInt(at);
      case INT64 -> b.getLong(at);
      case UINT8, BOOL -> b.get(at) & 0xff;
    };
  }

  /** Element {@code i} of an integer or bool tensor. */
  public long getLong(long i) {
    ByteBuffer b = buffer();
    int at = Math.toIntExact(i * dtype.bytes());
    return switch (dtype) {
      case INT32 -> b.getInt(at);
      case INT64 -> b.getLong(at);
      case UINT8, BOOL -> b.get(at) & 0xff;
      default -> throw new IllegalStateException(dtype + " is not an integer dtype");
    };
  }

  /** The float32 elements of a float32 tensor. */
  public float[] toFloats() {
    if (dtype != DType.FLOAT32) {
      throw new IllegalStateException("tensor is " + dtype + ", not float32");
    }
    float[] out = new float[Math.toIntExact(size())];
    buffer().asFloatBuffer().get(out);
    return out;
  }

  public static Tensor ofFloats(long[] shape, float[] values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(values);
    return new Tensor(DType.FLOAT32, shape, b.array());
  }

  public static Tensor ofInts(long[] shape, int[] values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    b.asIntBuffer().put(values);
    return new Tensor(DType.INT32, shape, b.array());
  }

  public static Tensor ofLongs(long[] shape, long[] values) {
    ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
    b.asLongBuffer().put(values);
    return new Tensor(DType.INT64, shape, b.array());
  }

  /** A (rows, cols) float32 tensor from a rectangular array. */
  public static Tensor ofRows(float[][] rows) {
    int cols = rows.length == 0 ? 0 : rows[0].length;
    float[] flat = new float[rows.length * cols];
    for (int r = 0; r < rows.length; r++) {
      if (rows[r].length != cols) {
        throw new IllegalArgumentException(
            "row " + r + " has " + rows[r].length + " values, row 0 has " + cols);
      }
      System.arraycopy(rows[r], 0, flat, r * cols, cols);
    }
    return ofFloats(new long[] {rows.length, cols}, flat);
  }

  /** A rank-2 float32 tensor as rows. */
  public float[][] toRows() {
    if (rank() != 2) {
      throw new IllegalStateException("tensor has rank " + rank() + ", not 2");
    }
    float[] flat = toFloats();
    int r = (int) shape[0];
    int c = (int) shape[1];
    float[][] out = new float[r][c];
    for (int i = 0; i < r; i++) {
      System.arraycopy(flat, i * c, out[i], 0, c);
    }
    return out;
  }

  public static long elementCount(long[] shape) {
    long n = 1;
    for (long d : shape) {
      n = Math.multiplyExact(n, d);
    }
    return n;
  }

  /** NumPy's tuple notation: {@code ()}, {@code (3,)}, {@code (2, 3)}. */
  public static String shapeString(long[] shape) {
    if (shape.length == 1) {
      return "(" + shape[0] + ",)";
    }
    return Arrays.stream(shape)
        .mapToObj(Long::toString)
        .collect(Collectors.joining(", ", "(", ")"));
  }

  @Override
  public String toString() {
    return dtype + " " + shapeString(shape);
  }
}
