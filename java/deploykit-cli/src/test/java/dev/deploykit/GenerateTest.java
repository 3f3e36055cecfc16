package dev.deploykit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --generate PROMPT --tokens N} (docs/contract.md, "Text generation"): the CLI's refusals,
 * end-to-end runs on {@link SyntheticCharModel} (whose continuation is known), and chargpt_torch
 * from the test export.
 */
class GenerateTest {
  private static final Path M = Fixtures.TEST_MANIFEST;
  @TempDir static Path dir;
  static Path chars;

  @BeforeAll
  static void export() {
    chars = SyntheticCharModel.write(dir);
  }

  private static CliFixtures.Run gen(Path manifest, String model, String... more) {
    List<String> a = new ArrayList<>(List.of("--manifest", manifest.toString(), "--model", model));
    a.addAll(Arrays.asList(more));
    return CliFixtures.cli(a.toArray(String[]::new));
  }

  /** Exit 2, nothing on stdout, exactly {@code line} on stderr. */
  private static void assertRefused(String line, CliFixtures.Run run) {
    assertEquals(2, run.code(), run.toString());
    assertEquals("", run.out());
    assertEquals(line + "\n", run.err().replace("\r\n", "\n"));
  }

  /** The prompt and n tokens as the synthetic model continues them with window {@code w}. */
  private static String expected(String prompt, int n, long w) {
    int[] vocab = SyntheticCharModel.VOCABULARY.codePoints().toArray();
    List<Integer> ids = new ArrayList<>();
    prompt.codePoints().forEach(c -> ids.add(Arrays.stream(vocab).boxed().toList().indexOf(c)));
    StringBuilder text = new StringBuilder(prompt);
    for (int k = 0; k < n; k++) {
      int from = (int) Math.max(0, ids.size() - w);
      int next =
          SyntheticCharModel.next(
              ids.subList(from, ids.size()).stream().mapToInt(Integer::intValue).toArray());
      ids.add(next);
      text.appendCodePoint(vocab[next]);
    }
    return text.toString();
  }

  @Test
  void aModelWithoutVocabularyIsRefused() {
    assertRefused(
        "error: --generate: model mlp_keras is not a character model (no vocabulary)",
        gen(M, "mlp_keras", "--generate", "def ", "--tokens", "4"));
    CliFixtures.Run two = gen(M, "textcls_keras", "--generate", "def ", "--tokens", "4");
    assertEquals(2, two.code(), two.toString());
    assertTrue(
        two.err()
            .startsWith(
                "error: --generate: model textcls_keras is not a character model (2 inputs and 2"
                    + " outputs"),
        two.err());
  }

  @Test
  void promptsOutsideTheVocabularyAreRefused() {
    assertRefused(
        "error: --generate: character U+0009 at position 3 is not in the vocabulary of chars",
        gen(chars, "chars", "--generate", "a\uD83D\uDE00b\tx", "--tokens", "2"));
    assertRefused(
        "error: --generate: character U+0041 at position 0 is not in the vocabulary of chars",
        gen(chars, "chars", "--generate", "A", "--tokens", "2"));
    assertRefused(
        "error: --generate: the prompt is empty",
        gen(chars, "chars", "--generate", "", "--tokens", "2"));
  }

  @Test
  void tokensMustBeAnIntegerFrom0To10000() {
    for (String n : List.of("-1", "10001", "1.5", "abc", "", "+3", "99999999999")) {
      assertRefused(
          "error: --generate: --tokens must be an integer from 0 to 10000, got \"" + n + "\"",
          gen(chars, "chars", "--generate", "ab", "--tokens", n));
    }
    assertRefused(
        "error: --generate: --tokens N is required", gen(chars, "chars", "--generate", "ab"));
    assertRefused(
        "error: usage: --tokens needs --generate PROMPT", gen(chars, "chars", "--tokens", "3"));
  }

  @Test
  void cannotBeCombinedWithTheRunFlags() {
    Path npy = dir.resolve("x.npy");
    assertRefused(
        "error: --generate: cannot be combined with --input",
        gen(chars, "chars", "--generate", "ab", "--tokens", "2", "--input", npy.toString()));
    assertRefused(
        "error: --generate: cannot be combined with --output, --check-dir, --warmup",
        gen(
            chars,
            "chars",
            "--generate",
            "ab",
            "--tokens",
            "2",
            "--warmup",
            "0",
            "--output",
            "o.npy",
            "--check-dir",
            "d"));
    assertRefused(
        "error: --generate: cannot be combined with --repeat, --timing, --jobs",
        gen(
            chars,
            "chars",
            "--generate",
            "ab",
            "--tokens",
            "2",
            "--jobs",
            "j.jsonl",
            "--timing",
            "t.json",
            "--repeat",
            "3"));
    assertRefused(
        "error: format onnx: the Java client runs only saved-model artifacts",
        gen(chars, "chars", "--format", "onnx", "--generate", "ab", "--tokens", "2"));
  }

  @Test
  void zeroTokensPrintsExactlyThePrompt() {
    String prompt = "a\u00e9 \uD83D\uDE00\nx";
    CliFixtures.Run run = gen(chars, "chars", "--generate", prompt, "--tokens", "0");
    assertEquals(0, run.code(), run.toString());
    assertEquals(prompt, run.out());
    assertEquals("", run.err());
  }

  /** 3 prompt characters and 12 tokens through a window of 5: the window slides 10 times. */
  @Test
  void theWindowSlidesOverTheText() {
    String prompt = "b\uD83D\uDE00y";
    CliFixtures.Run run = gen(chars, "chars", "--generate", prompt, "--tokens", "12");
    assertEquals(0, run.code(), run.toString());
    assertEquals(expected(prompt, 12, SyntheticCharModel.WINDOW), run.out());
    assertEquals("", run.err());
    CliFixtures.Run whole = gen(chars, "chars_whole", "--generate", prompt, "--tokens", "12");
    assertEquals(0, whole.code(), whole.toString());
    assertEquals(expected(prompt, 12, Long.MAX_VALUE), whole.out());
    assertTrue(!run.out().equals(whole.out()), "the window must change the text here");
    try (Model model = Model.load(chars, "chars")) {
      assertEquals(run.out(), TextGenerator.of(model).generate(prompt, 12));
    }
  }

  /**
   * The real launcher in a C locale: stdout is the text as UTF-8 bytes, with no newline, whatever
   * the JVM's default charset.
   */
  @Test
  void theLauncherWritesUtf8WithoutANewline() throws IOException, InterruptedException {
    ProcessBuilder pb =
        new ProcessBuilder(
            Fixtures.REPO.resolve("bin/deploykit-java").toString(),
            "--manifest",
            chars.toString(),
            "--model",
            "chars",
            "--generate",
            "ab",
            "--tokens",
            "9");
    pb.environment().put("LC_ALL", "C");
    pb.environment().put("LANG", "C");
    Process p = pb.start();
    p.getOutputStream().close();
    byte[] out = p.getInputStream().readAllBytes();
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), err);
    String text = expected("ab", 9, SyntheticCharModel.WINDOW);
    assertTrue(text.codePoints().anyMatch(c -> c > 0x7f), "the test needs non-ASCII output");
    assertEquals(text, new String(out, StandardCharsets.UTF_8));
    assertEquals("", err);
  }

  /**
   * chargpt_torch from the test export: a 19-character prompt and 40 tokens (past its window of
   * 48), the continuation in the vocabulary, the CLI and the library the same text.
   */
  @Test
  void chargptContinuesAPrompt() {
    Manifest m = Manifest.read(M);
    assumeTrue(
        m.models().stream().anyMatch(e -> e.id().equals("chargpt_torch")),
        "skipped: " + M + " has no chargpt_torch (regenerate the test export)");
    Manifest.ModelEntry entry = m.model("chargpt_torch");
    assumeTrue(
        !entry.artifactsOf(Model.FORMAT).isEmpty(),
        "skipped: chargpt_torch in "
            + M
            + " has no saved-model artifact, the format the Java client runs (formats: "
            + entry.artifacts().stream()
                .map(Manifest.Artifact::format)
                .collect(Collectors.joining(", "))
            + "); regenerate the test export");
    String prompt = "def __init__(self, ";
    CliFixtures.Run run = gen(M, "chargpt_torch", "--generate", prompt, "--tokens", "40");
    assertEquals(0, run.code(), run.toString());
    assertEquals("", run.err());
    String text = run.out();
    assertTrue(text.startsWith(prompt), text);
    int[] more = text.substring(prompt.length()).codePoints().toArray();
    assertEquals(40, more.length, text);
    Set<Integer> vocab =
        entry.vocabulary().orElseThrow().codePoints().boxed().collect(Collectors.toSet());
    assertTrue(Arrays.stream(more).allMatch(vocab::contains), text);
    try (Model model = Model.load(M, "chargpt_torch")) {
      TextGenerator g = TextGenerator.of(model);
      assertTrue(
          prompt.length() + 40 > g.window(), "the window " + g.window() + " must slide here");
      assertEquals(text, g.generate(prompt, 40));
      // Greedy decoding is a prefix of itself: fewer tokens give the start of the same text.
      String shorter = g.generate(prompt, 10);
      assertEquals(text.substring(0, shorter.length()), shorter);
    }
  }
}
