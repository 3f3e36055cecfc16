package dev.deploykit;

import java.util.List;
import java.util.stream.Collectors;

/**
 * One model input or output as the manifest specifies it: name, dtype, shape, and for integer
 * inputs the optional inclusive {@code range} of valid values (null when absent; documentation, not
 * checked on calls).
 */
public record TensorSpec(String name, DType dtype, List<Dim> shape, long[] range) {

  /** One dimension: a fixed size, or a named dynamic dim (then {@code size} is -1). */
  public record Dim(long size, String name) {
    public static Dim fixed(long size) {
      return new Dim(size, null);
    }

    public static Dim named(String name) {
      return new Dim(-1, name);
    }

    public boolean dynamic() {
      return name != null;
    }

    @Override
    public String toString() {
      return dynamic() ? name : Long.toString(size);
    }
  }

  /**
   * The inclusive range of a dynamic dim ({@code max} is {@link Long#MAX_VALUE} when unbounded).
   */
  public record DimRange(long min, long max) {
    public static final DimRange ANY = new DimRange(0, Long.MAX_VALUE);

    public boolean contains(long v) {
      return v >= min && v <= max;
    }

    @Override
    public String toString() {
      return "[" + min + ", " + (max == Long.MAX_VALUE ? "inf" : Long.toString(max)) + "]";
    }
  }

  public int rank() {
    return shape.size();
  }

  @Override
  public String toString() {
    return name
        + " "
        + dtype
        + " "
        + shape.stream().map(Dim::toString).collect(Collectors.joining(", ", "[", "]"));
  }
}
