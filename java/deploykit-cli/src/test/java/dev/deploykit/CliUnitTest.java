package dev.deploykit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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
    assertEquals(10, Timing.blocks(25));
    // warm-ups a a b b, then block 0 (3 calls each: 25 = 10 x 2 + 5, the remainder in the first
    // five blocks, as every client splits them) a-first, block 1 b-first
    assertEquals(
        List.of("a", "a", "b", "b", "a", "a", "a", "b", "b", "b", "b", "b", "b", "a", "a", "a"),
        calls.subList(0, 16));
    assertEquals(
        List.of("b", "b", "a", "a"),
        calls.subList(calls.size() - 4, calls.size())); // block 9 (2 each), b-first
  }

  @Test
  void blocksAreAtMostTenAndNeverMoreThanTheCalls() {
    assertEquals(1, Timing.blocks(1));
    assertEquals(3, Timing.blocks(3));
    assertEquals(10, Timing.blocks(10));
    assertEquals(10, Timing.blocks(2000));
  }

  @Test
  void samplesAreMicrosecondsInCallOrderWithTheBlockCount() {
    Map<String, Object> s =
        Timing.samplesUs(new long[] {3000, 1000, 2000}, new long[] {1, 2, 3}, 3);
    assertEquals(List.of("latency", "direct", "blocks"), List.copyOf(s.keySet()));
    assertArrayEquals(new double[] {3.0, 1.0, 2.0}, (double[]) s.get("latency"));
    assertArrayEquals(new double[] {0.001, 0.002, 0.003}, (double[]) s.get("direct"));
    assertEquals(3, s.get("blocks"));
    assertEquals(2.0, Timing.latencyUs(new long[] {3000, 1000, 2000}).get("p50"));
  }
}
