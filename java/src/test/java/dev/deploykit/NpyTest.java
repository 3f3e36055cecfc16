package dev.deploykit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NpyTest {
  @TempDir Path tmp;

  @Test
  void readsNumpyWrittenGolden() {
    Npy.Matrix x = Fixtures.goldenMatrix(Fixtures.TEST_MANIFEST, "mlp_keras", "input.npy");
    assertEquals(64, x.rows());
    assertEquals(10, x.cols());
  }

  @Test
  void roundTripsIncludingSpecialValues() throws IOException {
    float[] data = {1.5f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MIN_VALUE, -0.0f};
    Path p = tmp.resolve("x.npy");
    Npy.write(p, new Npy.Matrix(3, 2, data));
    Npy.Matrix back = Npy.read(p);
    assertEquals(3, back.rows());
    assertEquals(2, back.cols());
    assertArrayEquals(data, back.data());
    assertEquals(0, (Files.size(p) - 6 * 4) % 64, "header padded to 64 bytes");
  }

  @Test
  void readsFormatVersion2() {
    Npy.Matrix m = Npy.parse("v2", npy(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", 2));
    assertArrayEquals(new float[] {0f, 1f}, m.data());
  }

  @Test
  void rejectsWrongDtype() {
    assertBad("dtype '<f8'", npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }", 4));
    assertBad("dtype '>f4'", npy(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1, 2), }", 2));
  }

  @Test
  void rejectsFortranOrderAndOtherRanks() {
    assertBad("fortran_order", npy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 4));
    assertBad("1 dimensions", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", 4));
    assertBad("3 dimensions", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 2), }", 4));
  }

  @Test
  void rejectsDataLengthThatDisagreesWithHeader() {
    assertBad("needs 16 data bytes, file has 12", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", 3));
    assertBad("needs 16 data bytes, file has 20", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", 5));
  }

  @Test
  void rejectsTruncatedFileAndBadMagic() throws IOException {
    byte[] golden = Files.readAllBytes(Fixtures.golden(Fixtures.TEST_MANIFEST, "mlp_keras", "input.npy"));
    assertBad("data bytes", Arrays.copyOf(golden, golden.length - 7));
    assertBad("truncated .npy header", Arrays.copyOf(golden, 40));
    assertBad("bad magic", "not numpy at all".getBytes(StandardCharsets.UTF_8));
    DeploykitException missing = assertThrows(DeploykitException.class, () -> Npy.read(tmp.resolve("nope.npy")));
    assertEquals(2, missing.exitCode());
  }

  private static void assertBad(String fragment, byte[] bytes) {
    DeploykitException e = assertThrows(DeploykitException.class, () -> Npy.parse("t.npy", bytes));
    assertEquals(DeploykitException.BAD_INPUT, e.exitCode());
    assertTrue(e.getMessage().contains(fragment), e.getMessage());
    assertEquals(1, e.getMessage().lines().count());
  }

  /** A hand-made .npy: header dict, then {@code floats} float32 values 0, 1, 2, ... */
  static byte[] npy(int major, String dict, int floats) {
    int prefix = major == 1 ? 10 : 12;
    int pad = (64 - (prefix + dict.length() + 1) % 64) % 64;
    String header = dict + " ".repeat(pad) + "\n";
    ByteBuffer b = ByteBuffer.allocate(prefix + header.length() + floats * 4).order(ByteOrder.LITTLE_ENDIAN);
    b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) major, 0});
    if (major == 1) {
      b.putShort((short) header.length());
    } else {
      b.putInt(header.length());
    }
    b.put(header.getBytes(StandardCharsets.ISO_8859_1));
    for (int i = 0; i < floats; i++) {
      b.putFloat(i);
    }
    return b.array();
  }
}
