package dev.deploykit;

import java.util.Arrays;
import java.util.Optional;

/** The six tensor dtypes of the contract, with their {@code .npy} descr and element size. */
public enum DType {
  FLOAT32("float32", "<f4", 4),
  FLOAT16("float16", "<f2", 2),
  INT32("int32", "<i4", 4),
  INT64("int64", "<i8", 8),
  UINT8("uint8", "|u1", 1),
  BOOL("bool", "|b1", 1);

  private final String id;
  private final String descr;
  private final int bytes;

  DType(String id, String descr, int bytes) {
    this.id = id;
    this.descr = descr;
    this.bytes = bytes;
  }

  /** The manifest's name, e.g. {@code float32}. */
  public String id() {
    return id;
  }

  /** The descr a writer puts in an {@code .npy} header. */
  public String descr() {
    return descr;
  }

  /** Bytes per element. */
  public int bytes() {
    return bytes;
  }

  public boolean isFloat() {
    return this == FLOAT32 || this == FLOAT16;
  }

  @Override
  public String toString() {
    return id;
  }

  public static Optional<DType> fromId(String id) {
    return Arrays.stream(values()).filter(d -> d.id.equals(id)).findFirst();
  }

  /**
   * The dtype of an {@code .npy} descr; {@code <u1} and {@code <b1} are accepted beside NumPy's
   * {@code |}.
   */
  public static Optional<DType> fromDescr(String descr) {
    String d = descr.equals("<u1") ? "|u1" : descr.equals("<b1") ? "|b1" : descr;
    return Arrays.stream(values()).filter(t -> t.descr.equals(d)).findFirst();
  }
}
