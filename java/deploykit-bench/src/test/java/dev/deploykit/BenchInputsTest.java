package dev.deploykit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The peer's inputs are the golden rows cycled to the batch, as {@code python -m builder bench}
 * feeds every other figure: a sequence model runs at the golden length (the test export's
 * chargpt_torch: 24 tokens), not at one token.
 */
class BenchInputsTest {
  private static final Path MANIFEST =
      Path.of(
              System.getenv()
                  .getOrDefault(
                      "DEPLOYKIT_TEST_MANIFEST",
                      Path.of("../..", "build/test-models/manifest.json").toString()))
          .toAbsolutePath()
          .normalize();

  @Test
  void goldenRowsCycleTheGoldenSetToTheBatch() {
    assertTrue(Files.isRegularFile(MANIFEST), MANIFEST + " is missing: run `make test-fixtures`");
    Manifest manifest = Manifest.read(MANIFEST);
    Manifest.ModelEntry entry = manifest.model("chargpt_torch");
    Tensor golden =
        Npy.read(manifest.resolve(entry.goldenSet("golden").orElseThrow().inputs().get("tokens")));
    int rows = (int) golden.shape()[0];

    Map<String, Tensor> x = Bench.goldenRows(manifest, entry, 2 * rows + 3);

    Tensor tokens = x.get("tokens");
    assertEquals(DType.INT64, tokens.dtype());
    assertArrayEquals(new long[] {2L * rows + 3, golden.shape()[1]}, tokens.shape());
    int rowBytes = golden.bytes().length / rows;
    for (int i : new int[] {0, rows - 1, rows, 2 * rows + 2}) {
      assertArrayEquals(
          Arrays.copyOfRange(golden.bytes(), (i % rows) * rowBytes, (i % rows + 1) * rowBytes),
          Arrays.copyOfRange(tokens.bytes(), i * rowBytes, (i + 1) * rowBytes),
          "row " + i);
    }
  }
}
