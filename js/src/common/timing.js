// The timing loops behind --repeat/--warmup/--timing and timed --jobs, shared by Node (the CLI)
// and the browser page (the runner times inside Chromium): one implementation for both.

/** numpy's default (linear) percentile of a sorted list. */
export function percentile(sorted, q) {
  if (sorted.length === 1) return sorted[0];
  const pos = (q / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * @param {number[]} micros
 * @returns {{p50: number, p90: number, p99: number, mean: number}}
 */
export function latencySummary(micros) {
  const sorted = [...micros].sort((a, b) => a - b);
  const mean = sorted.reduce((s, v) => s + v, 0) / sorted.length;
  return { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), mean };
}

/**
 * Per-call microseconds of `a` and `b` (each may be async), `n` calls each, after `warmup`
 * untimed calls of each (alternating). The timed calls run in min(rounds, n) blocks whose sizes
 * differ by at most one, a then b, then b then a, ..., so that machine noise hits both alike.
 * A null `b` is skipped (its list stays empty).
 * @returns {Promise<{a: number[], b: number[]}>}
 */
export async function interleave(a, b, n, warmup = 0, rounds = 10) {
  for (let i = 0; i < warmup; i++) {
    await a();
    if (b) await b();
  }
  const times = { a: [], b: [] };
  const block = async (fn, calls, out) => {
    for (let i = 0; i < calls; i++) {
      const start = performance.now();
      await fn();
      out.push((performance.now() - start) * 1e3);
    }
  };
  rounds = Math.max(1, Math.min(rounds, n));
  for (let r = 0; r < rounds && n > 0; r++) {
    const calls = Math.floor(n / rounds) + (r < n % rounds ? 1 : 0);
    if (r % 2 === 0 || !b) {
      await block(a, calls, times.a);
      if (b) await block(b, calls, times.b);
    } else {
      await block(b, calls, times.b);
      await block(a, calls, times.a);
    }
  }
  return times;
}
