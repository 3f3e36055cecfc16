package dev.deploykit;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Reads and writes {@code .npy} files as the contract allows them: NumPy format 1.0, 2.0 or 3.0,
 * one of the six dtypes, C order, rank 0-8. Anything else is a bad-input error (exit 2): another
 * dtype, big-endian data, Fortran order, a length that differs from the header's shape, a malformed
 * header, a bool byte other than 0 or 1. Writers produce format 1.0.
 */
public final class Npy {
  private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};

  private Npy() {}

  /** Reads one file; throws exit-2 {@link DeploykitException}s naming it. */
  public static Tensor read(Path path) {
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

  static Tensor parse(String what, byte[] bytes) {
    if (bytes.length < 10 || !startsWithMagic(bytes)) {
      throw DeploykitException.badInput(what, "not an .npy file (no NumPy magic)");
    }
    ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    int major = bytes[6] & 0xff;
    int minor = bytes[7] & 0xff;
    long headerLen;
    int start;
    if (major == 1 && minor == 0) {
      headerLen = buf.getShort(8) & 0xffff;
      start = 10;
    } else if ((major == 2 || major == 3) && minor == 0 && bytes.length >= 12) {
      headerLen = buf.getInt(8) & 0xffffffffL;
      start = 12;
    } else {
      throw DeploykitException.badInput(
          what,
          "unsupported .npy format version " + major + "." + minor + " (want 1.0, 2.0 or 3.0)");
    }
    if (start + headerLen > bytes.length) {
      throw DeploykitException.badInput(what, "truncated .npy header");
    }
    String header =
        new String(
            bytes,
            start,
            (int) headerLen,
            major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
    Map<String, Object> dict;
    try {
      dict = NpyHeader.parse(header);
    } catch (IllegalArgumentException e) {
      throw DeploykitException.badInput(what, "malformed .npy header: " + e.getMessage());
    }
    Object descr = dict.get("descr");
    if (descr instanceof List<?>) {
      throw DeploykitException.badInput(what, "structured dtype is not a tensor dtype");
    }
    if (!(descr instanceof String d)) {
      throw DeploykitException.badInput(what, "malformed .npy header: no 'descr' string");
    }
    DType dtype =
        DType.fromDescr(d)
            .orElseThrow(
                () ->
                    DeploykitException.badInput(
                        what,
                        "dtype '"
                            + d
                            + "' is not one of <f4, <f2, <i4, <i8, |u1, |b1 (little-endian)"));
    Object fortran = dict.get("fortran_order");
    if (!(fortran instanceof Boolean f)) {
      throw DeploykitException.badInput(what, "malformed .npy header: no 'fortran_order' bool");
    }
    if (f) {
      throw DeploykitException.badInput(what, "fortran_order is True, want C order");
    }
    if (!(dict.get("shape") instanceof long[] shape)) {
      throw DeploykitException.badInput(what, "malformed .npy header: no 'shape' tuple");
    }
    if (shape.length > Tensor.MAX_RANK) {
      throw DeploykitException.badInput(
          what, "rank " + shape.length + " is over " + Tensor.MAX_RANK);
    }
    for (long dim : shape) {
      if (dim < 0) {
        throw DeploykitException.badInput(
            what, "malformed .npy header: negative dim in shape " + Tensor.shapeString(shape));
      }
    }
    long count;
    try {
      count = Math.multiplyExact(Tensor.elementCount(shape), (long) dtype.bytes());
    } catch (ArithmeticException e) {
      count = Long.MAX_VALUE;
    }
    long dataBytes = bytes.length - start - headerLen;
    if (dataBytes != count) {
      throw DeploykitException.badInput(
          what,
          "shape "
              + Tensor.shapeString(shape)
              + " of "
              + dtype
              + " needs "
              + count
              + " data bytes, the file has "
              + dataBytes);
    }
    int from = (int) (start + headerLen);
    byte[] data = new byte[(int) count];
    System.arraycopy(bytes, from, data, 0, data.length);
    if (dtype == DType.BOOL) {
      for (int i = 0; i < data.length; i++) {
        if (data[i] != 0 && data[i] != 1) {
          throw DeploykitException.badInput(
              what, "bool byte " + (data[i] & 0xff) + " at index " + i + " (want 0 or 1)");
        }
      }
    }
    return new Tensor(dtype, shape, data);
  }

  /** Writes {@code t} as a format 1.0 C-order file with the contract's descr. */
  public static void write(Path path, Tensor t) throws IOException {
    long[] shape = t.shape();
    String dict =
        "{'descr': '"
            + t.dtype().descr()
            + "', 'fortran_order': False, 'shape': "
            + Tensor.shapeString(shape)
            + ", }";
    // magic + version + length + dict + padding + '\n' is a multiple of 64 bytes.
    int unpadded = MAGIC.length + 2 + 2 + dict.length() + 1;
    int padding = (64 - unpadded % 64) % 64;
    byte[] header = (dict + " ".repeat(padding) + "\n").getBytes(StandardCharsets.ISO_8859_1);
    ByteBuffer out =
        ByteBuffer.allocate(MAGIC.length + 4 + header.length + t.bytes().length)
            .order(ByteOrder.LITTLE_ENDIAN);
    out.put(MAGIC)
        .put((byte) 1)
        .put((byte) 0)
        .putShort((short) header.length)
        .put(header)
        .put(t.bytes());
    Path parent = path.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
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

  /**
   * The Python literal dict of an .npy header: string keys; string, bool, tuple-of-int or list
   * values.
   */
  static final class NpyHeader {
    private final String s;
    private int i;

    private NpyHeader(String s) {
      this.s = s;
    }

    static Map<String, Object> parse(String text) {
      NpyHeader p = new NpyHeader(text);
      p.skip();
      if (!p.eat('{')) {
        throw new IllegalArgumentException("not a dict");
      }
      Map<String, Object> out = new java.util.HashMap<>();
      p.skip();
      while (!p.eat('}')) {
        String key = p.string();
        p.skip();
        p.expect(':');
        p.skip();
        out.put(key, p.value());
        p.skip();
        if (!p.eat(',')) {
          p.skip();
          p.expect('}');
          break;
        }
        p.skip();
      }
      p.skip();
      if (p.i != p.s.length()) {
        throw new IllegalArgumentException("text after the dict");
      }
      return out;
    }

    private Object value() {
      if (i >= s.length()) {
        throw new IllegalArgumentException("cut off");
      }
      char c = s.charAt(i);
      if (c == '\'' || c == '"') {
        return string();
      }
      if (c == '(') {
        return tuple();
      }
      if (c == '[') {
        return list();
      }
      if (s.startsWith("True", i)) {
        i += 4;
        return Boolean.TRUE;
      }
      if (s.startsWith("False", i)) {
        i += 5;
        return Boolean.FALSE;
      }
      return integer();
    }

    private long[] tuple() {
      expect('(');
      List<Long> dims = new ArrayList<>();
      skip();
      while (!eat(')')) {
        dims.add(integer());
        skip();
        if (!eat(',')) {
          skip();
          expect(')');
          break;
        }
        skip();
      }
      return dims.stream().mapToLong(Long::longValue).toArray();
    }

    private List<Object> list() {
      expect('[');
      List<Object> items = new ArrayList<>();
      skip();
      while (!eat(']')) {
        items.add(eat('(') ? skipGroup() : value());
        skip();
        eat(',');
        skip();
      }
      return items;
    }

    /** The rest of a nested tuple of a structured descr (its content is not needed). */
    private Object skipGroup() {
      int depth = 1;
      while (depth > 0) {
        if (i >= s.length()) {
          throw new IllegalArgumentException("cut off");
        }
        char c = s.charAt(i++);
        depth += c == '(' ? 1 : c == ')' ? -1 : 0;
      }
      return "";
    }

    private long integer() {
      int from = i;
      if (i < s.length() && (s.charAt(i) == '-' || s.charAt(i) == '+')) {
        i++;
      }
      while (i < s.length() && Character.isDigit(s.charAt(i))) {
        i++;
      }
      if (s.startsWith("L", i)) {
        i++; // Python 2's long suffix
      }
      try {
        return Long.parseLong(s.substring(from, i).replace("L", ""));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("bad value at offset " + from);
      }
    }

    private String string() {
      if (i >= s.length() || (s.charAt(i) != '\'' && s.charAt(i) != '"')) {
        throw new IllegalArgumentException("expected a string at offset " + i);
      }
      char quote = s.charAt(i++);
      int end = s.indexOf(quote, i);
      if (end < 0) {
        throw new IllegalArgumentException("unterminated string");
      }
      String out = s.substring(i, end);
      i = end + 1;
      return out;
    }

    private void skip() {
      while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
        i++;
      }
    }

    private boolean eat(char c) {
      if (i < s.length() && s.charAt(i) == c) {
        i++;
        return true;
      }
      return false;
    }

    private void expect(char c) {
      if (!eat(c)) {
        throw new IllegalArgumentException("expected '" + c + "' at offset " + i);
      }
    }
  }
}
