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
 * untimed calls of each (alternating). The timed calls run in `blocks` = min(rounds, n) blocks,
 * a then b, then b then a, ..., so that machine noise hits both alike: block k holds
 * floor(n / blocks) calls of each, one more for each of the first n % blocks blocks
 * (`blockBounds`).
 * A null `b` is skipped (its list stays empty).
 * @returns {Promise<{a: number[], b: number[], blocks: number}>}
 */
export async function interleave(a, b, n, warmup = 0, rounds = 10) {
  for (let i = 0; i < warmup; i++) {
    await a();
    if (b) await b();
  }
  const times = { a: [], b: [], blocks: 0 };
  const block = async (fn, calls, out) => {
    for (let i = 0; i < calls; i++) {
      const start = performance.now();
      await fn();
      out.push((performance.now() - start) * 1e3);
    }
  };
  if (n <= 0) return times;
  const bounds = blockBounds(n, rounds);
  times.blocks = bounds.length - 1;
  for (let r = 0; r < times.blocks; r++) {
    const calls = bounds[r + 1] - bounds[r];
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

/**
 * Where `interleave`'s blocks start in its lists of `n` calls: min(rounds, n) + 1 offsets from
 * 0 to n, block k being [bounds[k], bounds[k + 1]). Each block has floor(n / blocks) calls, one
 * more for each of the first n % blocks blocks (the contract's `samples_us` blocks, as every
 * client and bench split them).
 * @param {number} n
 * @param {number} [rounds]
 * @returns {number[]}
 */
export function blockBounds(n, rounds = 10) {
  const blocks = Math.max(1, Math.min(rounds, n));
  const size = Math.floor(n / blocks);
  const extra = n % blocks;
  return Array.from({ length: blocks + 1 }, (_, k) => k * size + Math.min(k, extra));
}
