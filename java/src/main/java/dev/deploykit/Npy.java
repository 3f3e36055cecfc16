package dev.deploykit;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads and writes the one kind of {@code .npy} file deploykit exchanges: NumPy format 1.0 or
 * 2.0, dtype {@code <f4}, C order, two dimensions (rows, features). Anything else is rejected
 * with exit code 2 (DESIGN.md), including a header whose shape disagrees with the data length.
 */
public final class Npy {
  private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
  private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
  private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
  private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

  private Npy() {}

  /** A row-major float32 matrix. */
  public record Matrix(int rows, int cols, float[] data) {
    public Matrix {
      if ((long) rows * cols != data.length) {
        throw new IllegalArgumentException(rows + "x" + cols + " matrix with " + data.length + " values");
      }
    }

    public float get(int row, int col) {
      return data[row * cols + col];
    }

    /** The first {@code n} rows (a copy). */
    public Matrix head(int n) {
      float[] out = new float[n * cols];
      System.arraycopy(data, 0, out, 0, out.length);
      return new Matrix(n, cols, out);
    }

    public float[][] toArray() {
      float[][] out = new float[rows][cols];
      for (int r = 0; r < rows; r++) {
        System.arraycopy(data, r * cols, out[r], 0, cols);
      }
      return out;
    }

    public static Matrix of(float[][] rows) {
      int cols = rows.length == 0 ? 0 : rows[0].length;
      float[] data = new float[rows.length * cols];
      for (int r = 0; r < rows.length; r++) {
        if (rows[r].length != cols) {
          throw new IllegalArgumentException("row " + r + " has " + rows[r].length + " values, row 0 has " + cols);
        }
        System.arraycopy(rows[r], 0, data, r * cols, cols);
      }
      return new Matrix(rows.length, cols, data);
    }
  }

  /** Reads a 2-D little-endian float32 C-order array; throws exit-2 errors for anything else. */
  public static Matrix read(Path path) {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(path);
    } catch (NoSuchFileException e) {
      throw DeploykitException.badInput(path.toString(), "no such file");
    } catch (IOException e) {
      throw DeploykitException.badInput(path.toString(), "cannot read: " + e.getMessage());
    }
    return parse(path.toString(), bytes);
  }

  static Matrix parse(String what, byte[] bytes) {
    ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    if (bytes.length < 10 || !startsWithMagic(bytes)) {
      throw DeploykitException.badInput(what, "not an .npy file (bad magic)");
    }
    int major = bytes[6] & 0xff;
    int minor = bytes[7] & 0xff;
    long headerLen;
    int start;
    if (major == 1 && minor == 0) {
      headerLen = buf.getShort(8) & 0xffff;
      start = 10;
    } else if (major == 2 && minor == 0 && bytes.length >= 12) {
      headerLen = buf.getInt(8) & 0xffffffffL;
      start = 12;
    } else {
      throw DeploykitException.badInput(what, "unsupported .npy format version " + major + "." + minor + " (want 1.0 or 2.0)");
    }
    if (start + headerLen > bytes.length) {
      throw DeploykitException.badInput(what, "truncated .npy header");
    }
    String header = new String(bytes, start, (int) headerLen, StandardCharsets.ISO_8859_1);
    String descr = group(what, DESCR, header, "descr");
    if (!descr.equals("<f4")) {
      throw DeploykitException.badInput(what, "dtype '" + descr + "', want '<f4' (little-endian float32)");
    }
    if (group(what, FORTRAN, header, "fortran_order").equals("True")) {
      throw DeploykitException.badInput(what, "fortran_order is True, want C order");
    }
    long[] shape = parseShape(what, group(what, SHAPE, header, "shape"));
    if (shape.length != 2) {
      throw DeploykitException.badInput(what, "array has " + shape.length + " dimensions, want 2 (rows, features)");
    }
    long count = shape[0] * shape[1];
    long dataBytes = bytes.length - start - headerLen;
    if (count > Integer.MAX_VALUE / 4 || dataBytes != count * 4) {
      throw DeploykitException.badInput(
          what, "header shape (" + shape[0] + ", " + shape[1] + ") needs " + count * 4 + " data bytes, file has " + dataBytes);
    }
    float[] data = new float[(int) count];
    buf.position((int) (start + headerLen));
    buf.asFloatBuffer().get(data);
    return new Matrix((int) shape[0], (int) shape[1], data);
  }

  /** Writes {@code m} as a version 1.0 {@code <f4} C-order .npy file. */
  public static void write(Path path, Matrix m) throws IOException {
    String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + m.rows() + ", " + m.cols() + "), }";
    // Header (magic + version + length + dict + padding + '\n') is a multiple of 64 bytes.
    int unpadded = MAGIC.length + 2 + 2 + dict.length() + 1;
    int padding = (64 - unpadded % 64) % 64;
    String header = dict + " ".repeat(padding) + "\n";
    ByteBuffer out = ByteBuffer.allocate(MAGIC.length + 4 + header.length() + m.data().length * 4).order(ByteOrder.LITTLE_ENDIAN);
    out.put(MAGIC).put((byte) 1).put((byte) 0).putShort((short) header.length());
    out.put(header.getBytes(StandardCharsets.ISO_8859_1));
    out.asFloatBuffer().put(m.data());
    Files.write(path, out.array());
  }

  private static boolean startsWithMagic(byte[] bytes) {
    for (int i = 0; i < MAGIC.length; i++) {
      if (bytes[i] != MAGIC[i]) {
        return false;
      }
    }
    return true;
  }

  private static String group(String what, Pattern pattern, String header, String key) {
    Matcher m = pattern.matcher(header);
    if (!m.find()) {
      throw DeploykitException.badInput(what, "malformed .npy header: no '" + key + "'");
    }
    return m.group(1);
  }

  private static long[] parseShape(String what, String text) {
    String[] parts = text.split(",");
    int n = 0;
    long[] dims = new long[parts.length];
    for (String part : parts) {
      String p = part.strip();
      if (p.isEmpty()) {
        continue; // the trailing comma of a 1-tuple
      }
      try {
        dims[n++] = Long.parseLong(p);
      } catch (NumberFormatException e) {
        throw DeploykitException.badInput(what, "malformed .npy header: shape (" + text + ")");
      }
      if (dims[n - 1] < 0) {
        throw DeploykitException.badInput(what, "malformed .npy header: shape (" + text + ")");
      }
    }
    return java.util.Arrays.copyOf(dims, n);
  }
}
