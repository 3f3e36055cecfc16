package dev.deploykit;

/**
 * The contract's comparison of one output with its reference: floats fail where {@code |a-b| >
 * atol} and {@code |a-b| > rtol*|b|} (b = reference, in float64), NaN must be NaN at the same
 * places and +-Inf must match exactly; ULPs are counted in the tensor's own format. Integer and
 * bool outputs compare exactly. A shape or dtype difference fails the output.
 */
public final class Compare {
  private Compare() {}

  /**
   * The outcome of one comparison. {@code maxAbs} is over the finite pairs (integer difference for
   * integer dtypes); {@code worstIndex} is the flat index of the largest difference or the first
   * NaN/Inf mismatch, -1 when none; {@code mismatch} describes a shape or dtype difference.
   */
  public record Result(
      boolean passed,
      long count,
      long mismatches,
      double maxAbs,
      double maxRel,
      long maxUlp,
      long worstIndex,
      String mismatch) {}

  public static Result compare(Tensor expected, Tensor got, double atol, double rtol) {
    if (expected.dtype() != got.dtype()
        || !java.util.Arrays.equals(expected.shape(), got.shape())) {
      return new Result(
          false,
          got.size(),
          got.size(),
          Double.NaN,
          Double.NaN,
          -1,
          -1,
          "got " + got + ", expected " + expected);
    }
    long n = expected.size();
    long mismatches = 0;
    long worst = -1;
    long firstBad = -1;
    double maxAbs = 0;
    double maxRel = 0;
    long maxUlp = 0;
    DType dtype = expected.dtype();
    for (long i = 0; i < n; i++) {
      if (!dtype.isFloat()) {
        long b = expected.getLong(i);
        long a = got.getLong(i);
        double diff = Math.abs((double) a - (double) b);
        if (diff > maxAbs) {
          maxAbs = diff;
          worst = i;
        }
        if (a != b) {
          mismatches++;
          maxRel =
              Math.max(maxRel, b == 0 ? Double.POSITIVE_INFINITY : diff / Math.abs((double) b));
        }
        continue;
      }
      double b = expected.getDouble(i);
      double a = got.getDouble(i);
      if (Double.isNaN(a) || Double.isNaN(b) || Double.isInfinite(a) || Double.isInfinite(b)) {
        boolean same = (Double.isNaN(a) && Double.isNaN(b)) || a == b;
        if (!same) {
          mismatches++;
          firstBad = firstBad < 0 ? i : firstBad;
        }
        continue;
      }
      double diff = Math.abs(a - b);
      if (diff > maxAbs) {
        maxAbs = diff;
        worst = i;
      }
      if (b != 0) {
        maxRel = Math.max(maxRel, diff / Math.abs(b));
      } else if (diff > 0) {
        maxRel = Double.POSITIVE_INFINITY;
      }
      maxUlp = Math.max(maxUlp, ulps(dtype, expected, got, i));
      if (diff > atol && diff > rtol * Math.abs(b)) {
        mismatches++;
      }
    }
    return new Result(
        mismatches == 0,
        n,
        mismatches,
        maxAbs,
        maxRel,
        maxUlp,
        firstBad >= 0 ? firstBad : worst,
        null);
  }

  /** Distance in units in the last place of the tensor's own format. */
  private static long ulps(DType dtype, Tensor expected, Tensor got, long i) {
    int at = Math.toIntExact(i * dtype.bytes());
    if (dtype == DType.FLOAT16) {
      return Math.abs(
          (long) Half.ordinal(expected.buffer().getShort(at))
              - Half.ordinal(got.buffer().getShort(at)));
    }
    return Math.abs(ordinal(expected.buffer().getFloat(at)) - ordinal(got.buffer().getFloat(at)));
  }

  private static long ordinal(float f) {
    int bits = Float.floatToRawIntBits(f);
    return bits < 0 ? -(long) (bits & 0x7fffffff) : bits;
  }
}
