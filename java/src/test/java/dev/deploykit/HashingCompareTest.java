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

  @Test
  void compareUsesAtolOrRtol() {
    // |a-b| = 0.5: fails atol 0.1, but passes rtol 0.01 against |b| = 100.
    assertTrue(Compare.compare(new float[] {100f}, new float[] {100.5f}, 0.1, 0.01).passed());
    assertFalse(Compare.compare(new float[] {1f}, new float[] {1.5f}, 0.1, 0.01).passed());
    assertEquals(0.5, Compare.compare(new float[] {1f}, new float[] {1.5f}, 0.1, 0.01).maxAbs(), 1e-12);
  }

  @Test
  void compareNeedsTheSameNanAndInfPattern() {
    float nan = Float.NaN;
    float inf = Float.POSITIVE_INFINITY;
    assertTrue(Compare.compare(new float[] {nan, inf, -inf}, new float[] {nan, inf, -inf}, 1e-5, 1e-4).passed());
    Compare.Result r = Compare.compare(new float[] {nan, 1f}, new float[] {1f, 1f}, 1e-5, 1e-4);
    assertFalse(r.passed());
    assertFalse(r.nanMatch());
    assertFalse(Compare.compare(new float[] {inf}, new float[] {-inf}, 1e-5, 1e-4).passed());
    assertFalse(Compare.compare(new float[] {1f}, new float[] {nan}, 1e-5, 1e-4).passed());
  }

  @Test
  void tolerancesPrintLikePython() {
    assertEquals("1e-05", Cli.num(1e-5));
    assertEquals("0.0001", Cli.num(1e-4));
    assertEquals("0.5", Cli.num(0.5));
    assertEquals("2.5e-07", Cli.num(2.5e-7));
  }
}
