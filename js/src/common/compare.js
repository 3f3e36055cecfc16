// docs/contract.md's comparison semantics, shared by the CLI's --check and the browser page's
// parity panel. Floats: an element fails where |a-b| > atol AND |a-b| > rtol*|b| (b = the
// reference, in float64); NaN must be NaN at the same positions; +Inf/-Inf must match exactly.
// Integers and bool: exact equality. A shape or dtype difference fails the output.

/**
 * Float comparison over plain arrays of numbers.
 * @param {ArrayLike<number>} actual
 * @param {ArrayLike<number>} expected the reference
 * @param {{atol: number, rtol: number}} tolerance
 * @returns {{pass: boolean, maxAbs: number, maxRel: number, mismatches: number, worst: number, count: number}}
 *   maxAbs/maxRel are over the finite pairs; worst is the index of the first failing (or the
 *   largest-difference) element, -1 when there is none.
 */
export function compare(actual, expected, { atol, rtol }) {
  if (actual.length !== expected.length) {
    throw new RangeError(`cannot compare ${actual.length} values with ${expected.length} reference values`);
  }
  let maxAbs = 0;
  let maxRel = 0;
  let mismatches = 0;
  let worst = -1;
  let firstBad = -1;
  for (let i = 0; i < expected.length; i++) {
    const a = Number(actual[i]);
    const b = Number(expected[i]);
    let bad;
    if (Number.isNaN(b) || Number.isNaN(a)) {
      bad = Number.isNaN(a) !== Number.isNaN(b);
    } else if (!Number.isFinite(b) || !Number.isFinite(a)) {
      bad = a !== b;
    } else {
      const diff = Math.abs(a - b);
      if (worst < 0 || diff > maxAbs) {
        maxAbs = diff;
        worst = i;
      }
      if (b !== 0) maxRel = Math.max(maxRel, diff / Math.abs(b));
      bad = diff > atol && diff > rtol * Math.abs(b);
    }
    if (bad) {
      mismatches++;
      if (firstBad < 0) firstBad = i;
    }
  }
  return {
    pass: mismatches === 0,
    maxAbs,
    maxRel,
    mismatches,
    worst: firstBad >= 0 ? firstBad : worst,
    count: expected.length,
  };
}

/** Exact comparison (integers, bool); maxAbs is the largest integer difference. */
function compareExact(actual, expected) {
  let maxAbs = 0;
  let mismatches = 0;
  let firstBad = -1;
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] === expected[i]) continue;
    mismatches++;
    if (firstBad < 0) firstBad = i;
    const diff =
      typeof expected[i] === 'bigint'
        ? Number(actual[i] > expected[i] ? actual[i] - expected[i] : expected[i] - actual[i])
        : Math.abs(actual[i] - expected[i]);
    maxAbs = Math.max(maxAbs, diff);
  }
  return { pass: mismatches === 0, maxAbs, maxRel: 0, mismatches, worst: firstBad, count: expected.length };
}

/**
 * Compares one output with its reference.
 * @param {import('./tensor.js').Tensor} actual
 * @param {import('./tensor.js').Tensor} expected
 * @param {{atol: number, rtol: number}} tolerance used for float dtypes only
 * @returns {ReturnType<typeof compare> & {why?: string}}
 */
export function compareTensors(actual, expected, tolerance) {
  const sameShape =
    actual.shape.length === expected.shape.length && actual.shape.every((d, i) => d === expected.shape[i]);
  if (actual.dtype !== expected.dtype || !sameShape) {
    return {
      pass: false,
      maxAbs: NaN,
      maxRel: NaN,
      mismatches: expected.size,
      worst: -1,
      count: expected.size,
      why: `got ${actual.dtype} (${actual.shape.join(', ')}), reference is ${expected.dtype} (${expected.shape.join(', ')})`,
    };
  }
  if (actual.dtype === 'float32' || actual.dtype === 'float16')
    return compare(actual.toNumbers(), expected.toNumbers(), tolerance);
  return compareExact(actual.data, expected.data);
}

/**
 * The one-line summary every client prints for --check:
 * `check <name>: pass|FAIL max_abs=<x> mismatches=<n>/<count>`.
 * @param {string} name the output's name
 * @param {ReturnType<typeof compareTensors>} result
 */
export function checkLine(name, result) {
  const line = `check ${name}: ${result.pass ? 'pass' : 'FAIL'} max_abs=${formatSci(result.maxAbs)} mismatches=${result.mismatches}/${result.count}`;
  return result.why ? `${line} (${result.why})` : line;
}

/** @param {number} x */
export function formatSci(x) {
  if (Number.isNaN(x)) return 'nan';
  return x.toExponential(2).replace(/e([+-])(\d)$/, 'e$10$2');
}

/** A float as Python's repr writes it (1e-05, 0.0001, 0.0), so every client's line reads alike. */
export function pyFloat(x) {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  if (x !== 0 && (Math.abs(x) < 1e-4 || Math.abs(x) >= 1e16))
    return x.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
  return Number.isInteger(x) ? x.toFixed(1) : String(x);
}
