package dev.deploykit;

/**
 * DESIGN.md's comparison: an element fails where {@code |a-b| > atol} and
 * {@code |a-b| > rtol*|b|} (b = reference); NaN must be NaN at the same places and +-Inf must
 * match exactly.
 */
public final class Compare {
  private Compare() {}

  /** The outcome of one comparison. {@code maxAbs} is over the finite pairs. */
  public record Result(boolean passed, int count, int mismatches, double maxAbs, int worstIndex, boolean nanMatch, boolean infMatch) {}

  public static Result compare(float[] expected, float[] got, double atol, double rtol) {
    if (expected.length != got.length) {
      throw new IllegalArgumentException(got.length + " values, expected " + expected.length);
    }
    int mismatches = 0;
    int worst = -1;
    double maxAbs = 0;
    boolean nanMatch = true;
    boolean infMatch = true;
    for (int i = 0; i < expected.length; i++) {
      float b = expected[i];
      float a = got[i];
      if (Float.isNaN(a) || Float.isNaN(b)) {
        if (Float.isNaN(a) != Float.isNaN(b)) {
          nanMatch = false;
          mismatches++;
          worst = worst < 0 ? i : worst;
        }
        continue;
      }
      if (Float.isInfinite(a) || Float.isInfinite(b)) {
        if (a != b) {
          infMatch = false;
          mismatches++;
          worst = worst < 0 ? i : worst;
        }
        continue;
      }
      double diff = Math.abs((double) a - (double) b);
      if (diff > maxAbs) {
        maxAbs = diff;
        worst = i;
      }
      if (diff > atol && diff > rtol * Math.abs((double) b)) {
        mismatches++;
      }
    }
    return new Result(mismatches == 0, expected.length, mismatches, maxAbs, worst, nanMatch, infMatch);
  }
}
