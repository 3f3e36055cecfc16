package dev.deploykit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.tensorflow.ndarray.FloatNdArray;
import org.tensorflow.ndarray.NdArrays;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.StdArrays;
import org.tensorflow.types.TFloat32;

/** Golden parity of the saved-models TF Java runs, and the library API around it. */
class ModelTest {
  @ParameterizedTest(name = "{0} batch {1}")
  @CsvSource({"mlp_keras, 1", "mlp_keras, 7", "mlp_keras, 64", "wide_keras, 1", "wide_keras, 7", "wide_keras, 64"})
  void matchesGoldenAtBatch(String id, int rows) {
    Npy.Matrix x = Fixtures.goldenMatrix(Fixtures.TEST_MANIFEST, id, "input.npy").head(rows);
    Npy.Matrix expected = Fixtures.goldenMatrix(Fixtures.TEST_MANIFEST, id, "expected.npy").head(rows);
    try (Model model = Model.load(Fixtures.TEST_MANIFEST, id)) {
      assertParity(model, expected, model.predict(x));
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"mlp_keras", "wide_keras"})
  void runsNanAndInfInputsLikeTheReference(String id) {
    Npy.Matrix x = Fixtures.goldenMatrix(Fixtures.TEST_MANIFEST, id, "special_input.npy");
    Npy.Matrix expected = Fixtures.goldenMatrix(Fixtures.TEST_MANIFEST, id, "special_expected.npy");
    boolean hasNonFinite = false;
    for (float v : x.data()) {
      hasNonFinite |= !Float.isFinite(v);
    }
    assertTrue(hasNonFinite, "the special set should contain NaN/Inf");
    try (Model model = Model.load(Fixtures.TEST_MANIFEST, id)) {
      Npy.Matrix got = model.predict(x);
      Compare.Result r = assertParity(model, expected, got);
      assertTrue(r.nanMatch() && r.infMatch());
    }
  }

  @Test
  void tensorAndNdArrayVariantsAgreeWithArrays() {
    Npy.Matrix x = Fixtures.goldenMatrix(Fixtures.TEST_MANIFEST, "mlp_keras", "input.npy").head(7);
    try (Model model = Model.load(Fixtures.TEST_MANIFEST, "mlp_keras")) {
      float[][] viaArrays = model.predict(x.toArray());
      assertEquals(7, viaArrays.length);
      assertEquals(model.outputWidth(), viaArrays[0].length);

      FloatNdArray nd = model.predict(StdArrays.ndCopyOf(x.toArray()));
      assertEquals(Shape.of(7, 1), nd.shape());
      try (TFloat32 in = TFloat32.tensorOf(StdArrays.ndCopyOf(x.toArray()));
          TFloat32 out = model.predict(in)) {
        for (int r = 0; r < 7; r++) {
          assertEquals(viaArrays[r][0], nd.getFloat(r, 0));
          assertEquals(viaArrays[r][0], out.getFloat(r, 0));
        }
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"mlp_keras", "wide_keras"})
  void directSessionCallComputesWhatPredictDoes(String id) {
    Npy.Matrix x = Fixtures.goldenMatrix(Fixtures.TEST_MANIFEST, id, "input.npy").head(7);
    try (Model model = Model.load(Fixtures.TEST_MANIFEST, id); Model.Direct direct = model.direct(x)) {
      direct.run();
      assertArrayEquals(model.predict(x).data(), direct.runAndCopy());
      assertThrows(DeploykitException.class, () -> model.direct(new Npy.Matrix(1, 9, new float[9])));
    }
  }

  @Test
  void interleavedTimingGivesEveryLoopRepeatSamplesInAlternatingBlocks() {
    List<String> calls = new ArrayList<>();
    long[][] samples = Timing.interleaved(2, 25, () -> calls.add("a"), () -> calls.add("b"));
    assertEquals(25, samples[0].length);
    assertEquals(25, samples[1].length);
    assertEquals(2 + 2 + 50, calls.size());
    // warm-ups a a b b, then round 0 (3 calls each: 25 = 10 x 2 + 5) a-first, round 1 b-first
    assertEquals(List.of("a", "a", "b", "b", "a", "a", "a", "b", "b", "b", "b", "b", "b", "a", "a", "a"), calls.subList(0, 16));
    assertEquals(List.of("b", "b", "a", "a"), calls.subList(calls.size() - 4, calls.size())); // round 9 (2 each), b-first
  }

  @Test
  void rejectsWrongWidthAndUseAfterClose() {
    Model model = Model.load(Fixtures.TEST_MANIFEST, "mlp_keras");
    DeploykitException e = assertThrows(DeploykitException.class, () -> model.predict(new float[][] {new float[9]}));
    assertEquals(2, e.exitCode());
    assertThrows(DeploykitException.class, () -> model.predict(NdArrays.ofFloats(Shape.of(2, 3))));
    model.close();
    model.close(); // idempotent
    assertThrows(IllegalStateException.class, () -> model.predict(new float[][] {new float[10]}));
  }

  @Test
  void concurrentPredictionsEqualSingleThreadResults() throws Exception {
    Npy.Matrix x = Fixtures.goldenMatrix(Fixtures.TEST_MANIFEST, "mlp_keras", "input.npy");
    try (Model model = Model.load(Fixtures.TEST_MANIFEST, "mlp_keras")) {
      float[][] rows = x.toArray();
      float[][] single = new float[rows.length][];
      for (int i = 0; i < rows.length; i++) {
        single[i] = model.predict(new float[][] {rows[i]})[0];
      }
      ExecutorService pool = Executors.newFixedThreadPool(8);
      try {
        List<Future<Integer>> futures = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
          int offset = t;
          futures.add(pool.submit(() -> {
            for (int i = 0; i < 1000; i++) {
              int r = (i * 7 + offset) % rows.length;
              assertArrayEquals(single[r], model.predict(new float[][] {rows[r]})[0], "row " + r);
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
    // wide_keras: 256 features, so 300 rows (76 800 floats) is above the pooled size and 64 rows below it
    Npy.Matrix golden = Fixtures.goldenMatrix(Fixtures.TEST_MANIFEST, "wide_keras", "input.npy");
    float[] tiled = new float[300 * golden.cols()];
    for (int r = 0; r < 300; r++) {
      System.arraycopy(golden.data(), (r % golden.rows()) * golden.cols(), tiled, r * golden.cols(), golden.cols());
    }
    Npy.Matrix big = new Npy.Matrix(300, golden.cols(), tiled);
    assertTrue((long) big.rows() * big.cols() > Model.POOLED_MAX_FLOATS);
    Model model = Model.load(Fixtures.TEST_MANIFEST, "wide_keras");
    List<Npy.Matrix> batches = List.of(golden.head(1), golden.head(7), golden, big, golden.head(1));
    List<float[]> single = new ArrayList<>();
    for (Npy.Matrix b : batches) {
      single.add(model.predict(b).data());
    }
    for (int r = 0; r < 300; r++) { // the unpooled big batch agrees row for row with the pooled 64-row one
      for (int c = 0; c < model.outputWidth(); c++) {
        assertEquals(single.get(2)[(r % golden.rows()) * model.outputWidth() + c], single.get(3)[r * model.outputWidth() + c], 1e-4f);
      }
    }
    ExecutorService pool = Executors.newFixedThreadPool(6);
    try {
      List<Future<Integer>> futures = new ArrayList<>();
      for (int t = 0; t < 6; t++) {
        int offset = t;
        futures.add(pool.submit(() -> {
          for (int i = 0; i < 60; i++) {
            int k = (i + offset) % batches.size();
            assertArrayEquals(single.get(k), model.predict(batches.get(k)).data(), "batch " + k);
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
    assertThrows(IllegalStateException.class, () -> model.predict(golden.head(1)));
    assertThrows(IllegalStateException.class, () -> model.direct(golden.head(1)));
  }

  @Test
  void closeWaitsForRunningPredictions() throws Exception {
    Npy.Matrix x = Fixtures.goldenMatrix(Fixtures.TEST_MANIFEST, "mlp_keras", "input.npy");
    Model model = Model.load(Fixtures.TEST_MANIFEST, "mlp_keras");
    float[] expected = model.predict(x).data();
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<Integer>> futures = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        futures.add(pool.submit(() -> {
          int ok = 0;
          while (true) {
            Npy.Matrix y;
            try {
              y = model.predict(x);
            } catch (IllegalStateException closed) {
              return ok; // only ever "model ... is closed": a call that started finished with the right result
            }
            assertArrayEquals(expected, y.data());
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

  private static Compare.Result assertParity(Model model, Npy.Matrix expected, Npy.Matrix got) {
    assertEquals(expected.rows(), got.rows());
    assertEquals(expected.cols(), got.cols());
    Manifest.Artifact a = model.artifact();
    Compare.Result r = Compare.compare(expected.data(), got.data(), a.atol(), a.rtol());
    assertTrue(r.passed(), model.id() + ": " + r);
    return r;
  }
}
