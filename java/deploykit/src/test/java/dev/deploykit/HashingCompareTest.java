package dev.deploykit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HashingCompareTest {
  @TempDir Path tmp;

  @Test
  void folderHashMatchesTheBuildersManifest() throws IOException {
    Manifest m = Manifest.read(Fixtures.TEST_MANIFEST);
    for (String id : new String[] {"mlp_keras", "wide_keras", "mlp_flax"}) {
      Manifest.Artifact a = m.model(id).artifactsOf(Model.FORMAT).get(0);
      assertEquals(a.sha256(), Hashing.artifactSha256(m.resolve(a.path())), id);
    }
  }

  @Test
  void refusesSymlinks() throws IOException {
    Path dir = Files.createDirectories(tmp.resolve("d"));
    Files.writeString(dir.resolve("a"), "x");
    Files.createSymbolicLink(dir.resolve("link"), dir.resolve("a"));
    IOException e = assertThrows(IOException.class, () -> Hashing.artifactSha256(dir));
    assertTrue(e.getMessage().contains("symbolic link"), e.getMessage());
  }

  private static Tensor f(float... v) {
    return Tensor.ofFloats(new long[] {v.length}, v);
  }

  @Test
  void compareUsesAtolOrRtol() {
    // |a-b| = 0.5: fails atol 0.1, but passes rtol 0.01 against |b| = 100.
    assertTrue(Compare.compare(f(100f), f(100.5f), 0.1, 0.01).passed());
    assertFalse(Compare.compare(f(1f), f(1.5f), 0.1, 0.01).passed());
    assertEquals(0.5, Compare.compare(f(1f), f(1.5f), 0.1, 0.01).maxAbs(), 1e-12);
  }

  @Test
  void compareNeedsTheSameNanAndInfPattern() {
    float nan = Float.NaN;
    float inf = Float.POSITIVE_INFINITY;
    assertTrue(Compare.compare(f(nan, inf, -inf), f(nan, inf, -inf), 1e-5, 1e-4).passed());
    Compare.Result r = Compare.compare(f(nan, 1f), f(1f, 1f), 1e-5, 1e-4);
    assertFalse(r.passed());
    assertEquals(0, r.worstIndex());
    assertFalse(Compare.compare(f(inf), f(-inf), 1e-5, 1e-4).passed());
    assertFalse(Compare.compare(f(1f), f(nan), 1e-5, 1e-4).passed());
  }

  @Test
  void integerAndBoolOutputsCompareExactlyWhateverTheTolerance() {
    Tensor a = Tensor.ofLongs(new long[] {3}, new long[] {1, 5, 1L << 40});
    Compare.Result same =
        Compare.compare(a, Tensor.ofLongs(new long[] {3}, new long[] {1, 5, 1L << 40}), 0, 0);
    assertTrue(same.passed());
    Compare.Result off =
        Compare.compare(a, Tensor.ofLongs(new long[] {3}, new long[] {1, 6, 1L << 40}), 10, 10);
    assertFalse(off.passed());
    assertEquals(1, off.mismatches());
    assertEquals(1.0, off.maxAbs());
    Tensor t = new Tensor(DType.BOOL, new long[] {2}, new byte[] {0, 1});
    assertFalse(
        Compare.compare(t, new Tensor(DType.BOOL, new long[] {2}, new byte[] {1, 1}), 1, 1)
            .passed());
  }

  @Test
  void float16ComparesInFloat16Ulps() {
    // 1.0 is 0x3c00 in float16; the next value up is 0x3c01 (1 + 2^-10)
    Tensor one = new Tensor(DType.FLOAT16, new long[] {1}, new byte[] {0x00, 0x3c});
    Tensor next = new Tensor(DType.FLOAT16, new long[] {1}, new byte[] {0x01, 0x3c});
    Compare.Result r = Compare.compare(one, next, 0, 0);
    assertFalse(r.passed());
    assertEquals(1, r.maxUlp());
    assertEquals(Math.pow(2, -10), r.maxAbs(), 0);
    assertTrue(Compare.compare(one, next, 1e-3, 0).passed());
  }

  @Test
  void shapeOrDtypeDifferencesFailWithoutThrowing() {
    assertFalse(
        Compare.compare(f(1f, 2f), Tensor.ofFloats(new long[] {2, 1}, new float[] {1f, 2f}), 1, 1)
            .passed());
    assertFalse(
        Compare.compare(f(1f), Tensor.ofInts(new long[] {1}, new int[] {1}), 1, 1).passed());
  }
}
