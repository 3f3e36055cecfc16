package dev.deploykit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The command line's pieces that need no test export: number format and interleaved timing. */
class CliUnitTest {
  @Test
  void tolerancesPrintLikePython() {
    assertEquals("1e-05", Cli.num(1e-5));
    assertEquals("0.0001", Cli.num(1e-4));
    assertEquals("0.5", Cli.num(0.5));
    assertEquals("2.5e-07", Cli.num(2.5e-7));
  }

  @Test
  void interleavedTimingGivesEveryLoopRepeatSamplesInAlternatingBlocks() {
    List<String> calls = new ArrayList<>();
    long[][] samples = Timing.interleaved(2, 25, () -> calls.add("a"), () -> calls.add("b"));
    assertEquals(25, samples[0].length);
    assertEquals(25, samples[1].length);
    assertEquals(2 + 2 + 50, calls.size());
    // warm-ups a a b b, then round 0 (3 calls each: 25 = 10 x 2 + 5) a-first, round 1 b-first
    assertEquals(
        List.of("a", "a", "b", "b", "a", "a", "a", "b", "b", "b", "b", "b", "b", "a", "a", "a"),
        calls.subList(0, 16));
    assertEquals(
        List.of("b", "b", "a", "a"),
        calls.subList(calls.size() - 4, calls.size())); // round 9 (2 each), b-first
  }
}
