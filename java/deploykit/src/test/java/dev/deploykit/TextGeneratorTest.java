package dev.deploykit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link TextGenerator} without a runtime: the argmax loop, the character-model check, code-point
 * encoding, the window and the call shapes, on manifest entries built here and a predictor that
 * records its calls.
 */
class TextGeneratorTest {
  private static final float NAN = Float.NaN;

  private static TensorSpec spec(String name, DType dtype, TensorSpec.Dim... shape) {
    return new TensorSpec(name, dtype, List.of(shape), null);
  }

  private static TensorSpec.Dim named(String name) {
    return TensorSpec.Dim.named(name);
  }

  private static TensorSpec.Dim fixed(long size) {
    return TensorSpec.Dim.fixed(size);
  }

  private static Manifest.ModelEntry entry(
      String vocabulary, List<TensorSpec> inputs, List<TensorSpec> outputs, Long seqMax) {
    Map<String, TensorSpec.DimRange> dims =
        seqMax == null ? Map.of() : Map.of("seq", new TensorSpec.DimRange(1, seqMax));
    return new Manifest.ModelEntry(
        "m",
        inputs,
        outputs,
        dims,
        List.of(),
        List.of(),
        java.util.Optional.ofNullable(vocabulary));
  }

  /** A character model over {@code vocabulary}: int64 tokens [batch, seq], float32 logits. */
  private static Manifest.ModelEntry charModel(String vocabulary, Long seqMax) {
    long v = vocabulary.codePoints().count();
    return entry(
        vocabulary,
        List.of(spec("tokens", DType.INT64, named("batch"), named("seq"))),
        List.of(spec("logits", DType.FLOAT32, named("batch"), named("seq"), fixed(v))),
        seqMax);
  }

  /** Records each call's token ids; answers with the sum of the last context mod V. */
  private static final class Recorder implements TextGenerator.Predictor {
    final List<long[]> calls = new ArrayList<>();
    final int v;

    Recorder(int v) {
      this.v = v;
    }

    @Override
    public Map<String, Tensor> predict(Map<String, Tensor> inputs) {
      Tensor x = inputs.get("tokens");
      assertEquals(DType.INT64, x.dtype());
      assertEquals(1, x.dim(0));
      int len = (int) x.dim(1);
      long[] ids = new long[len];
      float[] logits = new float[len * v];
      long sum = 0;
      for (int t = 0; t < len; t++) {
        ids[t] = x.getLong(t);
        sum += ids[t];
        Arrays.fill(logits, t * v, (t + 1) * v, -1f);
        logits[t * v + (int) (sum % v)] = 2f;
      }
      calls.add(ids);
      return Map.of("logits", Tensor.ofFloats(new long[] {1, len, v}, logits));
    }
  }

  @Test
  void argmaxKeepsTheLowestIdOnTies() {
    assertEquals(1, TextGenerator.argmax(new float[] {1, 3, 3, 2}));
    assertEquals(0, TextGenerator.argmax(new float[] {5, 5, 5}));
    assertEquals(0, TextGenerator.argmax(new float[] {-0f, 0f}));
    assertEquals(0, TextGenerator.argmax(new float[] {7}));
    assertEquals(2, TextGenerator.argmax(new float[] {Float.NEGATIVE_INFINITY, -1, 4, 4}));
    assertEquals(1, TextGenerator.argmax(new float[] {Float.MAX_VALUE, Float.POSITIVE_INFINITY}));
  }

  @Test
  void argmaxNeverPicksANaN() {
    // NaN at index 0 is never replaced: every comparison with it is false.
    assertEquals(0, TextGenerator.argmax(new float[] {NAN, 5, 7}));
    assertEquals(0, TextGenerator.argmax(new float[] {NAN, NAN}));
    // NaN elsewhere never wins and does not stop a later larger value.
    assertEquals(0, TextGenerator.argmax(new float[] {1, NAN, 0.5f}));
    assertEquals(2, TextGenerator.argmax(new float[] {1, NAN, 2, NAN}));
    assertEquals(3, TextGenerator.argmax(new float[] {-3, NAN, -2, -1}));
  }

  @Test
  void encodesCodePointsNotUtf16Units() {
    TextGenerator g = new TextGenerator(charModel("ab\uD83D\uDE00\u00e9", 8L), new Recorder(4));
    assertArrayEquals(new int[] {0, 2, 1, 3}, g.encode("a\uD83D\uDE00b\u00e9"));
    assertEquals("a\uD83D\uDE00b\u00e9", g.decode(new int[] {0, 2, 1, 3}));
    assertEquals(4, g.vocabulary().length);
    DeploykitException e =
        assertThrows(DeploykitException.class, () -> g.encode("a\uD83D\uDE00b\t"));
    assertEquals(2, e.exitCode());
    assertEquals(
        "--generate: character U+0009 at position 3 is not in the vocabulary of m", e.getMessage());
    e = assertThrows(DeploykitException.class, () -> g.encode("ab\uD83D\uDE01"));
    assertEquals(
        "--generate: character U+1F601 at position 2 is not in the vocabulary of m",
        e.getMessage());
    e = assertThrows(DeploykitException.class, () -> g.encode(""));
    assertEquals("--generate: the prompt is empty", e.getMessage());
  }

  @Test
  void refusesWhatIsNotACharacterModel() {
    TensorSpec tokens = spec("tokens", DType.INT64, named("batch"), named("seq"));
    TensorSpec logits = spec("logits", DType.FLOAT32, named("batch"), named("seq"), fixed(3));
    List<Manifest.ModelEntry> bad =
        List.of(
            entry(null, List.of(tokens), List.of(logits), null),
            entry("", List.of(tokens), List.of(logits), null),
            entry("abc", List.of(tokens, tokens), List.of(logits), null),
            entry("abc", List.of(tokens), List.of(logits, logits), null),
            entry(
                "abc",
                List.of(spec("tokens", DType.FLOAT32, named("batch"), named("seq"))),
                List.of(logits),
                null),
            entry("abc", List.of(spec("tokens", DType.INT32, named("seq"))), List.of(logits), null),
            entry("abcd", List.of(tokens), List.of(logits), null), // last dim 3, vocabulary 4
            entry(
                "abc",
                List.of(tokens),
                List.of(spec("logits", DType.INT32, named("batch"), named("seq"), fixed(3))),
                null),
            entry(
                "abc",
                List.of(tokens),
                List.of(spec("logits", DType.FLOAT32, named("batch"), fixed(3))),
                null),
            entry(
                "a".repeat(300),
                List.of(spec("tokens", DType.UINT8, named("batch"), named("seq"))),
                List.of(spec("logits", DType.FLOAT32, named("batch"), named("seq"), fixed(300))),
                null));
    for (Manifest.ModelEntry e : bad) {
      DeploykitException x =
          assertThrows(DeploykitException.class, () -> new TextGenerator(e, new Recorder(3)));
      assertEquals(2, x.exitCode());
      assertEquals(
          true,
          x.getMessage().startsWith("--generate: model m is not a character model ("),
          x.getMessage());
    }
    DeploykitException x =
        assertThrows(
            DeploykitException.class, () -> new TextGenerator(bad.get(0), new Recorder(3)));
    assertEquals("--generate: model m is not a character model (no vocabulary)", x.getMessage());
  }

  @Test
  void eachCallSeesTheLastWindowOfTheText() {
    Recorder r = new Recorder(4);
    TextGenerator g = new TextGenerator(charModel("abcd", 3L), r);
    assertEquals(3, g.window());
    String text = g.generate("ab", 5);
    assertEquals(5, r.calls.size());
    int[] lengths = r.calls.stream().mapToInt(c -> c.length).toArray();
    assertArrayEquals(new int[] {2, 3, 3, 3, 3}, lengths);
    // a b -> sum 1 -> b; a b b -> 2 -> c; b b c -> 4 -> a; b c a -> 3 -> d; c a d -> 5 -> b
    assertEquals("ab" + "bcadb", text);
    assertArrayEquals(new long[] {2, 0, 3}, r.calls.get(4));
  }

  @Test
  void withoutAMaxTheWindowIsTheWholeText() {
    Recorder r = new Recorder(4);
    TextGenerator g = new TextGenerator(charModel("abcd", null), r);
    assertEquals(Long.MAX_VALUE, g.window());
    g.generate("abc", 4);
    assertArrayEquals(new int[] {3, 4, 5, 6}, r.calls.stream().mapToInt(c -> c.length).toArray());
  }

  @Test
  void zeroTokensMakesNoCallAndTokensAreBounded() {
    Recorder r = new Recorder(4);
    TextGenerator g = new TextGenerator(charModel("abcd", 3L), r);
    assertEquals("dcba", g.generate("dcba", 0));
    assertEquals(0, r.calls.size());
    for (int n : new int[] {-1, TextGenerator.MAX_TOKENS + 1}) {
      DeploykitException e = assertThrows(DeploykitException.class, () -> g.generate("a", n));
      assertEquals(2, e.exitCode());
      assertEquals(
          "--generate: --tokens must be an integer from 0 to 10000, got " + n, e.getMessage());
    }
    assertEquals(0, r.calls.size());
  }

  @Test
  void readsFloat16LogitsAndFeedsTheInputDtype() {
    Manifest.ModelEntry e =
        entry(
            "xyz",
            List.of(spec("ids", DType.INT32, named("batch"), named("seq"))),
            List.of(spec("out", DType.FLOAT16, named("batch"), named("seq"), fixed(3))),
            4L);
    TextGenerator g =
        new TextGenerator(
            e,
            x -> {
              Tensor ids = x.get("ids");
              assertEquals(DType.INT32, ids.dtype());
              int len = (int) ids.dim(1);
              byte[] b = new byte[len * 3 * 2];
              java.nio.ByteBuffer buf =
                  java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN);
              for (int i = 0; i < len * 3; i++) {
                // at the last position: z (id 2) scores highest, x and y tie below it
                buf.putShort(Half.fromFloat(i % 3 == 2 ? 1.5f : 0.25f));
              }
              return Map.of("out", new Tensor(DType.FLOAT16, new long[] {1, len, 3}, b));
            });
    assertEquals("xzzz", g.generate("x", 3));
  }

  @Test
  void anOutputOfTheWrongShapeIsARuntimeFailure() {
    TextGenerator g =
        new TextGenerator(
            charModel("abcd", 3L),
            x -> Map.of("logits", Tensor.ofFloats(new long[] {1, 4}, new float[4])));
    DeploykitException e = assertThrows(DeploykitException.class, () -> g.generate("ab", 1));
    assertEquals(3, e.exitCode());
    assertEquals(
        "run m: output logits: got float32 (1, 4), expected float (1, 2, 4)", e.getMessage());
  }
}
