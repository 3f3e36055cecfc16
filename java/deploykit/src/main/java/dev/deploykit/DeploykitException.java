package dev.deploykit;

/**
 * A failure with the exit code of the common client command line (docs/contract.md): 2 for usage or
 * bad input, 3 when the model fails to load or fails its integrity or safety check. The message is
 * one line, {@code <what>: <why>}.
 */
public class DeploykitException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Usage error or bad input (missing file, wrong shape or dtype, malformed npy or manifest). */
  public static final int BAD_INPUT = 2;

  /** The model failed to load, or failed its integrity or safety check. */
  public static final int LOAD_FAILED = 3;

  private final int exitCode;

  public DeploykitException(int exitCode, String what, String why) {
    this(exitCode, what, why, null);
  }

  public DeploykitException(int exitCode, String what, String why, Throwable cause) {
    super(what + ": " + oneLine(why), cause);
    this.exitCode = exitCode;
  }

  public static DeploykitException badInput(String what, String why) {
    return new DeploykitException(BAD_INPUT, what, why);
  }

  public static DeploykitException loadFailed(String what, String why) {
    return new DeploykitException(LOAD_FAILED, what, why);
  }

  public static DeploykitException loadFailed(String what, String why, Throwable cause) {
    return new DeploykitException(LOAD_FAILED, what, why, cause);
  }

  /** The CLI's exit code for this failure. */
  public int exitCode() {
    return exitCode;
  }

  /**
   * Whether {@code e} is an error status from the TensorFlow runtime. TF Java maps some status
   * codes onto JDK exceptions (INVALID_ARGUMENT is a {@code TFInvalidArgumentException extends
   * IllegalArgumentException}, UNIMPLEMENTED an {@code UnsupportedOperationException}), so the
   * package is what identifies them.
   */
  static boolean isTensorFlowError(Throwable e) {
    return e.getClass().getName().startsWith("org.tensorflow.exceptions.");
  }

  /** The first non-blank line of a (possibly multi-line) native error message. */
  static String oneLine(String text) {
    if (text == null) {
      return "(no message)";
    }
    for (String line : text.split("\\R")) {
      if (!line.isBlank()) {
        return line.strip();
      }
    }
    return "(no message)";
  }
}
