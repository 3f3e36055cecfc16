package dev.deploykit;

import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Greedy text generation from a character model, exactly as docs/contract.md ("Text generation")
 * specifies it for every client, so every runtime of one model continues one prompt with the same
 * text.
 *
 * <p>A character model declares a {@code vocabulary} (token id {@code i} is its {@code i}-th
 * Unicode code point), takes one integer {@code [batch, seq]} input and gives one float {@code
 * [batch, seq, V]} output, {@code V} the vocabulary's length. Each generated character is one call
 * of the model on the last {@link #window()} token ids of the text so far, as a {@code [1, length]}
 * input of the input's dtype, through {@link Model#predict(Map)} (so every input check and boundary
 * cast of a normal call applies); the next token is the {@link #argmax} of the logits at the last
 * position.
 *
 * <pre>{@code
 * try (Model model = Model.load(Path.of("models/manifest.json"), "chargpt_torch")) {
 *   String text = TextGenerator.of(model).generate("def __init__(self, ", 40);
 * }
 * }</pre>
 *
 * <p>Failures are {@link DeploykitException}s: a model that is not a character model, an empty
 * prompt, a character outside the vocabulary or a token count outside [0, {@link #MAX_TOKENS}] are
 * exit 2 ({@code --generate: <why>}); the model call's own failures come through unchanged. A
 * generator keeps no state between calls: it is as thread-safe as its predictor.
 */
public final class TextGenerator {
  /** The most characters one {@link #generate} call adds. */
  public static final int MAX_TOKENS = 10_000;

  /** What failures of {@code --generate} are about: {@code error: --generate: <why>}. */
  public static final String WHAT = "--generate";

  /** One model call: inputs by name in, outputs by name out ({@link Model#predict(Map)}). */
  @FunctionalInterface
  public interface Predictor {
    Map<String, Tensor> predict(Map<String, Tensor> inputs);
  }

  private final String id;
  private final Predictor predictor;
  private final int[] vocabulary;
  private final Map<Integer, Integer> index;
  private final TensorSpec input;
  private final TensorSpec output;
  private final long window;

  /** A generator that runs {@code model}'s calls, with the vocabulary of its manifest entry. */
  public static TextGenerator of(Model model) {
    return new TextGenerator(model.entry(), model::predict);
  }

  /**
   * A generator for the model {@code entry} describes (its vocabulary, tensor specs and dims),
   * running its calls through {@code predictor}. Throws (exit 2) {@code model <id> is not a
   * character model (<what is missing>)} when the entry is not one.
   */
  public TextGenerator(Manifest.ModelEntry entry, Predictor predictor) {
    this.id = entry.id();
    this.predictor = predictor;
    String vocab = entry.vocabulary().orElse("");
    if (vocab.isEmpty()) {
      throw notCharModel("no vocabulary");
    }
    this.vocabulary = vocab.codePoints().toArray();
    int v = vocabulary.length;
    if (entry.inputs().size() != 1 || entry.outputs().size() != 1) {
      throw notCharModel(
          entry.inputs().size()
              + " inputs and "
              + entry.outputs().size()
              + " outputs, expected 1 and 1");
    }
    this.input = entry.inputs().get(0);
    this.output = entry.outputs().get(0);
    boolean integer =
        input.dtype() == DType.INT32
            || input.dtype() == DType.INT64
            || input.dtype() == DType.UINT8;
    if (!integer || input.rank() != 2) {
      throw notCharModel(
          "input " + input + ", expected an integer [batch, seq] (int32, int64 or uint8)");
    }
    if (input.dtype() == DType.UINT8 && v > 256) {
      throw notCharModel("input " + input.name() + " is uint8, too narrow for " + v + " token ids");
    }
    TensorSpec.Dim last = output.rank() == 3 ? output.shape().get(2) : null;
    if (!output.dtype().isFloat() || last == null || last.dynamic() || last.size() != v) {
      throw notCharModel(
          "output "
              + output
              + ", expected float [batch, seq, "
              + v
              + "] (the vocabulary's length)");
    }
    this.index = new HashMap<>();
    for (int i = 0; i < v; i++) {
      index.putIfAbsent(vocabulary[i], i); // a repeated character encodes as its lowest id
    }
    TensorSpec.Dim seq = input.shape().get(1);
    this.window = seq.dynamic() ? entry.range(seq.name()).max() : seq.size();
  }

  private DeploykitException notCharModel(String why) {
    return DeploykitException.badInput(
        WHAT, "model " + id + " is not a character model (" + why + ")");
  }

  /**
   * The most token ids one call sees: the input's {@code seq} dim max ({@link Long#MAX_VALUE}
   * without one: the whole text).
   */
  public long window() {
    return window;
  }

  /** The vocabulary's code points, by token id. */
  public int[] vocabulary() {
    return vocabulary.clone();
  }

  /**
   * The prompt's token ids, one per code point. Throws (exit 2) for an empty prompt and for {@code
   * character U+0009 at position 3 is not in the vocabulary of <id>} (positions count code points
   * from 0).
   */
  public int[] encode(String prompt) {
    if (prompt.isEmpty()) {
      throw DeploykitException.badInput(WHAT, "the prompt is empty");
    }
    int[] points = prompt.codePoints().toArray();
    int[] ids = new int[points.length];
    for (int at = 0; at < points.length; at++) {
      Integer token = index.get(points[at]);
      if (token == null) {
        throw DeploykitException.badInput(
            WHAT,
            String.format(
                Locale.ROOT,
                "character U+%04X at position %d is not in the vocabulary of %s",
                points[at],
                at,
                id));
      }
      ids[at] = token;
    }
    return ids;
  }

  /** The text of token ids (each below the vocabulary's length). */
  public String decode(int[] ids) {
    StringBuilder s = new StringBuilder(ids.length);
    for (int token : ids) {
      s.appendCodePoint(vocabulary[token]);
    }
    return s.toString();
  }

  /** Throws (exit 2) unless {@code n} is a token count from 0 to {@link #MAX_TOKENS}. */
  public static void checkTokens(long n) {
    if (n < 0 || n > MAX_TOKENS) {
      throw DeploykitException.badInput(
          WHAT, "--tokens must be an integer from 0 to " + MAX_TOKENS + ", got " + n);
    }
  }

  /**
   * The prompt followed by {@code n} greedily generated characters: {@code n} model calls, each on
   * the last {@link #window()} token ids of the text so far. {@code n == 0} returns the prompt and
   * makes no call.
   */
  public String generate(String prompt, int n) {
    checkTokens(n);
    int[] ids = encode(prompt);
    int length = ids.length;
    ids = Arrays.copyOf(ids, length + n);
    for (int k = 0; k < n; k++) {
      int from = (int) Math.max(0, length - window);
      ids[length] = next(Arrays.copyOfRange(ids, from, length));
      length++;
    }
    return prompt + decode(Arrays.copyOfRange(ids, ids.length - n, ids.length));
  }

  /**
   * One model call on {@code context} as a {@code [1, context.length]} input of the input's dtype;
   * returns the {@link #argmax} of the logits at the last position.
   */
  public int next(int[] context) {
    int len = context.length;
    long[] shape = {1, len};
    Tensor x =
        switch (input.dtype()) {
          case INT64 -> Tensor.ofLongs(shape, Arrays.stream(context).asLongStream().toArray());
          case INT32 -> Tensor.ofInts(shape, context);
          default -> {
            byte[] b = new byte[len];
            for (int i = 0; i < len; i++) {
              b[i] = (byte) context[i];
            }
            yield new Tensor(DType.UINT8, shape, b);
          }
        };
    Tensor y = predictor.predict(Map.of(input.name(), x)).get(output.name());
    int v = vocabulary.length;
    if (y == null
        || !y.dtype().isFloat()
        || y.rank() != 3
        || y.dim(0) != 1
        || y.dim(1) != len
        || y.dim(2) != v) {
      throw DeploykitException.loadFailed(
          "run " + id,
          "output "
              + output.name()
              + ": got "
              + (y == null ? "nothing" : y.toString())
              + ", expected float "
              + Tensor.shapeString(new long[] {1, len, v}));
    }
    return argmax(row(y, (long) (len - 1) * v, v));
  }

  /** {@code v} logits of a float32 or float16 tensor from flat index {@code at}. */
  private static float[] row(Tensor y, long at, int v) {
    float[] out = new float[v];
    if (y.dtype() == DType.FLOAT32) {
      FloatBuffer b = y.buffer().asFloatBuffer();
      b.position(Math.toIntExact(at)).get(out);
    } else {
      for (int i = 0; i < v; i++) {
        out[i] = (float) y.getDouble(at + i); // float16 is exact in float: the order is kept
      }
    }
    return out;
  }

  /**
   * The contract's choice of the next token, exactly: {@code best = 0}, then for {@code i} from 1
   * to {@code V - 1}, {@code if logits[i] > logits[best]: best = i}. Ties keep the lowest id; a NaN
   * after index 0 never wins (every comparison with it is false), and a NaN at index 0 is never
   * replaced, so the loop returns 0 then.
   */
  public static int argmax(float[] logits) {
    int best = 0;
    for (int i = 1; i < logits.length; i++) {
      if (logits[i] > logits[best]) {
        best = i;
      }
    }
    return best;
  }
}
