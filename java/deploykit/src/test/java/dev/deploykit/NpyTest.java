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
    Tensor x =
        Npy.read(
            Fixtures.goldenDir(Fixtures.TEST_MANIFEST, "mlp_keras", "golden").resolve("input.npy"));
    assertEquals(DType.FLOAT32, x.dtype());
    assertArrayEquals(new long[] {64, 10}, x.shape());
  }

  @Test
  void roundTripsIncludingSpecialValues() throws IOException {
    float[] data = {
      1.5f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MIN_VALUE, -0.0f
    };
    Path p = tmp.resolve("x.npy");
    Npy.write(p, Tensor.ofFloats(new long[] {3, 2}, data));
    Tensor back = Npy.read(p);
    assertArrayEquals(new long[] {3, 2}, back.shape());
    assertArrayEquals(data, back.toFloats());
    assertEquals(0, (Files.size(p) - 6 * 4) % 64, "header padded to 64 bytes");
  }

  /**
   * Every dtype at ranks 0 to 8 (with an empty dim) writes and reads back byte for byte, in NumPy's
   * layout.
   */
  @Test
  void roundTripsEveryDtypeAndRank() throws IOException {
    for (DType dtype : DType.values()) {
      for (int rank = 0; rank <= Tensor.MAX_RANK; rank++) {
        for (long fill : new long[] {2, 0}) {
          if (rank == 0 && fill == 0) {
            continue;
          }
          long[] shape = new long[rank];
          java.util.Arrays.fill(shape, 1);
          if (rank > 0) {
            shape[rank - 1] = fill == 0 ? 0 : 3;
          }
          byte[] data = new byte[(int) (Tensor.elementCount(shape) * dtype.bytes())];
          for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (dtype == DType.BOOL ? i % 2 : i * 7 + 1);
          }
          Path p = tmp.resolve(dtype + "_" + rank + "_" + fill + ".npy");
          Npy.write(p, new Tensor(dtype, shape, data));
          Tensor back = Npy.read(p);
          assertEquals(dtype, back.dtype(), p.toString());
          assertArrayEquals(shape, back.shape(), p.toString());
          assertArrayEquals(data, back.bytes(), p.toString());
          byte[] file = Files.readAllBytes(p);
          assertEquals(1, file[6], "format 1.0");
          String header =
              new String(
                  file, 10, (file[8] & 0xff) | (file[9] & 0xff) << 8, StandardCharsets.ISO_8859_1);
          assertTrue(
              header.contains("'descr': '" + dtype.descr() + "'")
                  && header.contains("'shape': " + Tensor.shapeString(shape)),
              header);
        }
      }
    }
  }

  @Test
  void readsFormatVersions2And3() {
    Tensor m =
        Npy.parse("v2", npy(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", 2));
    assertArrayEquals(new float[] {0f, 1f}, m.toFloats());
    Tensor s =
        Npy.parse("v3", npy(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 1));
    assertEquals(0, s.rank());
  }

  @Test
  void rejectsWrongDtype() {
    assertBad(
        "dtype '<f8'", npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }", 4));
    assertBad(
        "dtype '>f4'", npy(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1, 2), }", 2));
    assertBad(
        "structured dtype",
        npy(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 2));
  }

  @Test
  void rejectsFortranOrderRankNineAndBadBools() {
    assertBad(
        "fortran_order", npy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 4));
    assertBad(
        "rank 9 is over 8",
        npy(
            1,
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1), }",
            1));
    // floats 0.0f, 1.0f are the bytes 00 00 00 00 00 00 80 3f
    assertBad(
        "bool byte 128 at index 6",
        npy(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (8,), }", 2));
  }

  @Test
  void rejectsDataLengthThatDisagreesWithHeader() {
    assertBad(
        "needs 16 data bytes, the file has 12",
        npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", 3));
    assertBad(
        "needs 16 data bytes, the file has 20",
        npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", 5));
  }

  @Test
  void rejectsTruncatedFileAndBadMagic() throws IOException {
    byte[] golden =
        Files.readAllBytes(
            Fixtures.goldenDir(Fixtures.TEST_MANIFEST, "mlp_keras", "golden").resolve("input.npy"));
    assertBad("data bytes", Arrays.copyOf(golden, golden.length - 7));
    assertBad("truncated .npy header", Arrays.copyOf(golden, 40));
    assertBad("no NumPy magic", "not numpy at all".getBytes(StandardCharsets.UTF_8));
    DeploykitException missing =
        assertThrows(DeploykitException.class, () -> Npy.read(tmp.resolve("nope.npy")));
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
    int prefix = major == 1 ? 10 : 12; // format 3.0 has 2.0's layout
    int pad = (64 - (prefix + dict.length() + 1) % 64) % 64;
    String header = dict + " ".repeat(pad) + "\n";
    ByteBuffer b =
        ByteBuffer.allocate(prefix + header.length() + floats * 4).order(ByteOrder.LITTLE_ENDIAN);
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
