// DESIGN.md's comparison semantics, shared by the Node CLI's --check and the browser page's
// parity panel: an element fails where |a-b| > atol AND |a-b| > rtol*|b| (b = reference);
// NaN must be NaN at the same positions; +Inf/-Inf must match exactly.

/**
 * @param {ArrayLike<number>} actual
 * @param {ArrayLike<number>} expected the reference
 * @param {{atol: number, rtol: number}} tolerance
 * @returns {{pass: boolean, maxAbs: number, mismatches: number, worst: number, count: number}}
 *   maxAbs is over the finite pairs; worst is the index of the first failing (or the
 *   largest-difference) element, -1 when there is none.
 */
export function compare(actual, expected, { atol, rtol }) {
  if (actual.length !== expected.length) {
    throw new RangeError(`cannot compare ${actual.length} values with ${expected.length} reference values`);
  }
  let maxAbs = 0;
  let mismatches = 0;
  let worst = -1;
  let firstBad = -1;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const b = expected[i];
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
      bad = diff > atol && diff > rtol * Math.abs(b);
    }
    if (bad) {
      mismatches++;
      if (firstBad < 0) firstBad = i;
    }
  }
  return { pass: mismatches === 0, maxAbs, mismatches, worst: firstBad >= 0 ? firstBad : worst, count: expected.length };
}

/**
 * The one-line summary every client prints for --check.
 * @param {string} label e.g. "mlp_keras/tfjs-graph"
 * @param {ReturnType<typeof compare>} result
 * @param {{atol: number, rtol: number}} tolerance
 */
export function checkLine(label, result, { atol, rtol }) {
  const verdict = result.pass ? 'pass' : `FAIL ${result.mismatches}/${result.count} mismatched (first at flat index ${result.worst})`;
  return `check ${label}: ${verdict} max_abs=${formatSci(result.maxAbs)} (atol ${pyFloat(atol)} rtol ${pyFloat(rtol)})`;
}

/** @param {number} x */
export function formatSci(x) {
  return x.toExponential(2).replace(/e([+-])(\d)$/, 'e$10$2');
}

/** A float as Python's repr writes it (1e-05, 0.0001, 0.0), so every client's line reads alike. */
export function pyFloat(x) {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  if (x !== 0 && (Math.abs(x) < 1e-4 || Math.abs(x) >= 1e16)) return x.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
  return Number.isInteger(x) ? x.toFixed(1) : String(x);
}
