package dev.deploykit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Golden parity of the saved-models TF Java runs, and the library API around it. */
class ModelTest {
  /**
   * Every (model with a saved-model artifact, golden set) of the test export: TF Java runs the
   * Keras ones and jax2tf's XlaCallModule ones (their StableHLO serialized for 1.8.0).
   */
  static Stream<Arguments> savedModelGoldenSets() {
    Manifest m = Manifest.read(Fixtures.TEST_MANIFEST);
    return m.models().stream()
        .filter(e -> !e.artifactsOf(Model.FORMAT).isEmpty())
        .flatMap(e -> e.golden().stream().map(g -> Arguments.of(e.id(), g.name())));
  }

  @Test
  void theTestExportHasKerasAndJaxSavedModels() {
    List<Object> ids = savedModelGoldenSets().map(a -> a.get()[0]).distinct().toList();
    assertTrue(
        ids.containsAll(List.of("mlp_keras", "wide_keras", "mlp_flax", "mlp_jax", "wide_flax")),
        ids.toString());
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("savedModelGoldenSets")
  void matchesEveryGoldenSetPerOutput(String id, String set) {
    Map<String, Tensor> x = Fixtures.goldenInputs(Fixtures.TEST_MANIFEST, id, set);
    Map<String, Tensor> expected = Fixtures.goldenExpected(Fixtures.TEST_MANIFEST, id, set);
    try (Model model = Model.load(Fixtures.TEST_MANIFEST, id)) {
      Map<String, Tensor> y = model.predict(x);
      assertEquals(model.entry().outputNames(), List.copyOf(y.keySet()));
      assertEquals(expected.keySet(), y.keySet());
      expected.forEach((name, e) -> assertParity(model, name, e, y.get(name)));
    }
  }

  @ParameterizedTest(name = "{0} batch {1}")
  @CsvSource({"mlp_keras, 1", "mlp_keras, 7", "wide_keras, 1", "wide_keras, 7"})
  void matchesGoldenAtSmallBatches(String id, int rows) {
    Map<String, Tensor> x =
        Fixtures.head(Fixtures.goldenInputs(Fixtures.TEST_MANIFEST, id, "golden"), rows);
    Map<String, Tensor> expected =
        Fixtures.head(Fixtures.goldenExpected(Fixtures.TEST_MANIFEST, id, "golden"), rows);
    try (Model model = Model.load(Fixtures.TEST_MANIFEST, id)) {
      Map<String, Tensor> y = model.predict(x);
      expected.forEach((name, e) -> assertParity(model, name, e, y.get(name)));
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"mlp_keras", "wide_keras"})
  void specialSetHoldsNanAndInfAndRunsLikeTheReference(String id) {
    Tensor x = Fixtures.goldenInputs(Fixtures.TEST_MANIFEST, id, "special").get("input");
    boolean hasNonFinite = false;
    for (float v : x.toFloats()) {
      hasNonFinite |= !Float.isFinite(v);
    }
    assertTrue(hasNonFinite, "the special set should contain NaN/Inf");
  }

  @Test
  void floatRowsConvenienceAgreesWithTensorPredict() {
    Tensor x =
        Fixtures.head(
            Fixtures.goldenInputs(Fixtures.TEST_MANIFEST, "mlp_keras", "golden").get("input"), 7);
    try (Model model = Model.load(Fixtures.TEST_MANIFEST, "mlp_keras")) {
      float[][] viaArrays = model.predict(x.toRows());
      assertEquals(7, viaArrays.length);
      assertEquals(1, viaArrays[0].length);
      float[] viaTensors = model.predict(Map.of("input", x)).get("output").toFloats();
      for (int r = 0; r < 7; r++) {
        assertEquals(viaTensors[r], viaArrays[r][0]);
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"mlp_keras", "wide_keras"})
  void directSessionCallComputesWhatPredictDoes(String id) {
    Map<String, Tensor> x =
        Fixtures.head(Fixtures.goldenInputs(Fixtures.TEST_MANIFEST, id, "golden"), 7);
    try (Model model = Model.load(Fixtures.TEST_MANIFEST, id);
        Model.Direct direct = model.direct(x)) {
      direct.run();
      assertArrayEquals(model.predict(x).get("output").bytes(), direct.runAndCopy().bytes());
      assertThrows(
          DeploykitException.class,
          () -> model.direct(Map.of("input", Tensor.ofFloats(new long[] {1, 9}, new float[9]))));
    }
  }

  @Test
  void checksInputsBeforeTheCallAndRefusesUseAfterClose() {
    Model model = Model.load(Fixtures.TEST_MANIFEST, "mlp_keras");
    DeploykitException e =
        assertThrows(DeploykitException.class, () -> model.predict(new float[][] {new float[9]}));
    assertEquals(2, e.exitCode());
    assertEquals("input input: dim 1 is 9, expected 10", e.getMessage());
    e =
        assertThrows(
            DeploykitException.class,
            () ->
                model.predict(
                    Map.of("inputs", Tensor.ofFloats(new long[] {1, 10}, new float[10]))));
    assertEquals("input inputs: unknown input \"inputs\" (model inputs: input)", e.getMessage());
    e =
        assertThrows(
            DeploykitException.class,
            () -> model.predict(Map.of("input", Tensor.ofInts(new long[] {1, 10}, new int[10]))));
    assertEquals("input input: expected float32, got int32", e.getMessage());
    e =
        assertThrows(
            DeploykitException.class,
            () ->
                model.predict(Map.of("input", Tensor.ofFloats(new long[] {0, 10}, new float[0]))));
    assertEquals("input input: dim 0 (batch) is 0, outside [1, inf]", e.getMessage());
    e = assertThrows(DeploykitException.class, () -> model.predict(Map.of()));
    assertEquals(2, e.exitCode());
    model.close();
    model.close(); // idempotent
    assertThrows(IllegalStateException.class, () -> model.predict(new float[][] {new float[10]}));
  }

  @Test
  void concurrentPredictionsEqualSingleThreadResults() throws Exception {
    float[][] rows =
        Fixtures.goldenInputs(Fixtures.TEST_MANIFEST, "mlp_keras", "golden").get("input").toRows();
    try (Model model = Model.load(Fixtures.TEST_MANIFEST, "mlp_keras")) {
      float[][] single = new float[rows.length][];
      for (int i = 0; i < rows.length; i++) {
        single[i] = model.predict(new float[][] {rows[i]})[0];
      }
      ExecutorService pool = Executors.newFixedThreadPool(8);
      try {
        List<Future<Integer>> futures = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
          int offset = t;
          futures.add(
              pool.submit(
                  () -> {
                    for (int i = 0; i < 1000; i++) {
                      int r = (i * 7 + offset) % rows.length;
                      assertArrayEquals(
                          single[r], model.predict(new float[][] {rows[r]})[0], "row " + r);
                    }
                    return 1000;
                  }));
        }
        int done = 0;
        for (Future<Integer> f : futures) {
          done += f.get();
        }
        assertEquals(8000, done);
      } finally {
        pool.shutdownNow();
      }
    }
  }

  @Test
  void pooledInputTensorsServeMixedBatchSizesFromManyThreads() throws Exception {
    // wide_keras: 256 float32 features, so 300 rows (300 KiB) is above the pooled size and 64 rows
    // below it
    Tensor golden =
        Fixtures.goldenInputs(Fixtures.TEST_MANIFEST, "wide_keras", "golden").get("input");
    int cols = (int) golden.dim(1);
    int goldenRows = (int) golden.dim(0);
    float[] g = golden.toFloats();
    float[] tiled = new float[300 * cols];
    for (int r = 0; r < 300; r++) {
      System.arraycopy(g, (r % goldenRows) * cols, tiled, r * cols, cols);
    }
    Tensor big = Tensor.ofFloats(new long[] {300, cols}, tiled);
    assertTrue(big.bytes().length > TensorPool.MAX_BYTES);
    Model model = Model.load(Fixtures.TEST_MANIFEST, "wide_keras");
    List<Tensor> batches =
        List.of(
            Fixtures.head(golden, 1),
            Fixtures.head(golden, 7),
            golden,
            big,
            Fixtures.head(golden, 1));
    List<float[]> single = new ArrayList<>();
    for (Tensor b : batches) {
      single.add(model.predict(Map.of("input", b)).get("output").toFloats());
    }
    int outCols = 10;
    for (int r = 0;
        r < 300;
        r++) { // the unpooled big batch agrees row for row with the pooled 64-row one
      for (int c = 0; c < outCols; c++) {
        assertEquals(
            single.get(2)[(r % goldenRows) * outCols + c], single.get(3)[r * outCols + c], 1e-4f);
      }
    }
    ExecutorService pool = Executors.newFixedThreadPool(6);
    try {
      List<Future<Integer>> futures = new ArrayList<>();
      for (int t = 0; t < 6; t++) {
        int offset = t;
        futures.add(
            pool.submit(
                () -> {
                  for (int i = 0; i < 60; i++) {
                    int k = (i + offset) % batches.size();
                    assertArrayEquals(
                        single.get(k),
                        model.predict(Map.of("input", batches.get(k))).get("output").toFloats(),
                        "batch " + k);
                  }
                  return 60;
                }));
      }
      int done = 0;
      for (Future<Integer> f : futures) {
        done += f.get();
      }
      assertEquals(360, done);
    } finally {
      pool.shutdownNow();
    }
    model.close(); // closes the pooled tensors
    Map<String, Tensor> one = Map.of("input", Fixtures.head(golden, 1));
    assertThrows(IllegalStateException.class, () -> model.predict(one));
    assertThrows(IllegalStateException.class, () -> model.direct(one));
  }

  @Test
  void closeWaitsForRunningPredictions() throws Exception {
    Map<String, Tensor> x = Fixtures.goldenInputs(Fixtures.TEST_MANIFEST, "mlp_keras", "golden");
    Model model = Model.load(Fixtures.TEST_MANIFEST, "mlp_keras");
    byte[] expected = model.predict(x).get("output").bytes();
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<Integer>> futures = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        futures.add(
            pool.submit(
                () -> {
                  int ok = 0;
                  while (true) {
                    Map<String, Tensor> y;
                    try {
                      y = model.predict(x);
                    } catch (IllegalStateException closed) {
                      return ok; // only ever "model ... is closed": a call that started finished
                      // with the right result
                    }
                    assertArrayEquals(expected, y.get("output").bytes());
                    ok++;
                  }
                }));
      }
      Thread.sleep(200);
      model.close();
      for (Future<Integer> f : futures) {
        assertTrue(f.get() > 0);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  static Compare.Result assertParity(Model model, String output, Tensor expected, Tensor got) {
    Manifest.Tol tol = model.artifact().toleranceFor(output);
    Compare.Result r = Compare.compare(expected, got, tol.atol(), tol.rtol());
    assertTrue(r.passed(), model.id() + " " + output + ": " + r);
    return r;
  }
}
