package dev.deploykit;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The contract's version-skew guard (docs/contract.md, "Version skew"): before an artifact is
 * hashed or loaded, the version of the runtime that will run it is compared with the artifact's
 * {@code min_runtime} entry for that runtime's family. This client runs every artifact on
 * TensorFlow core (through TF Java), family {@code tensorflow}; other families are ignored and an
 * artifact without an entry is not checked. A runtime older than the entry is refused (exit 3).
 */
final class VersionSkew {
  /** The runtime family this client runs artifacts with. */
  static final String FAMILY = "tensorflow";

  /** A {@code min_runtime} value: MAJOR[.MINOR[.PATCH]], digits only. */
  static final Pattern VERSION = Pattern.compile("^[0-9]+(\\.[0-9]+){0,2}$");

  private static final Pattern NUMERIC_PREFIX = Pattern.compile("^[0-9.]*");

  private VersionSkew() {}

  /** Whether {@code text} is a valid {@code min_runtime} version. */
  static boolean valid(String text) {
    return VERSION.matcher(text).matches();
  }

  /**
   * A runtime's own version read up to its first character that is neither a digit nor a dot,
   * without leading or trailing dots ({@code "2.13.0+cu130"} is {@code "2.13.0"}); empty when it
   * does not start with a digit.
   */
  static String numericPrefix(String runtimeVersion) {
    var m = NUMERIC_PREFIX.matcher(runtimeVersion);
    String prefix = m.find() ? m.group() : "";
    return prefix.replaceAll("^\\.+|\\.+$", "");
  }

  /**
   * Compares two dotted versions numerically, component by component; a missing (or empty)
   * component is 0, so {@code "2"}, {@code "2.0"} and {@code "2.0.0"} are equal.
   */
  static int compare(String a, String b) {
    List<BigInteger> x = components(a);
    List<BigInteger> y = components(b);
    for (int i = 0; i < Math.max(x.size(), y.size()); i++) {
      BigInteger p = i < x.size() ? x.get(i) : BigInteger.ZERO;
      BigInteger q = i < y.size() ? y.get(i) : BigInteger.ZERO;
      int c = p.compareTo(q);
      if (c != 0) {
        return c;
      }
    }
    return 0;
  }

  private static List<BigInteger> components(String version) {
    List<BigInteger> out = new ArrayList<>();
    if (version.isEmpty()) {
      return out;
    }
    for (String part : version.split("\\.", -1)) {
      out.add(part.isEmpty() ? BigInteger.ZERO : new BigInteger(part));
    }
    return out;
  }

  /**
   * Refuses (exit 3, {@code <what>: built for tensorflow >= <required>, this client runs tensorflow
   * <have> (<binding>)}) when an artifact's {@code min_runtime} requires a newer TensorFlow than
   * {@code runtimeVersion}. {@code binding} names the binding and its version, e.g. {@code TF Java
   * 1.1.0}; null leaves the parenthesis out.
   */
  static void check(
      String what, Map<String, String> minRuntime, String runtimeVersion, String binding) {
    String required = minRuntime.get(FAMILY);
    if (required == null) {
      return;
    }
    String have = numericPrefix(runtimeVersion);
    if (compare(have, required) >= 0) {
      return;
    }
    throw DeploykitException.loadFailed(
        what,
        "built for "
            + FAMILY
            + " >= "
            + required
            + ", this client runs "
            + FAMILY
            + " "
            + (have.isEmpty() ? runtimeVersion : have)
            + (binding == null ? "" : " (" + binding + ")"));
  }

  /**
   * {@link #check} against the TensorFlow this process runs ({@link Versions#tensorflow}, which
   * loads the native library, so only when the artifact has an entry for the family).
   */
  static void check(String what, Manifest.Artifact artifact) {
    if (artifact.minRuntime().containsKey(FAMILY)) {
      check(
          what,
          artifact.minRuntime(),
          Versions.tensorflow(),
          "TF Java " + Versions.tensorflowJava());
    }
  }
}
