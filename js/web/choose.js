// The page's default backend: every backend the browser offers runs the model's golden sets
// (the parity panel's check) and a few timed predictions; the fastest one that passed is the
// default. `chooseBackend` is the decision alone (a pure function, tested in Node);
// `measureBackend` gathers one candidate in the page.

/**
 * @typedef {object} Candidate one backend's trial
 * @property {string} backend
 * @property {boolean} pass every golden set within the manifest's tolerance
 * @property {number | null} ms median of the timed predictions (null when none ran)
 * @property {string} [why] what failed (a set, a load error), when `pass` is false
 */

/**
 * The fastest candidate that passed parity; ties go to the earlier candidate (the page lists
 * them in its order of preference). `reason` says why in one line, for the page.
 * @param {Candidate[]} candidates
 * @returns {{backend: string | null, reason: string}}
 */
export function chooseBackend(candidates) {
  const fmt = (ms) => (ms >= 1 ? `${ms.toFixed(2)} ms` : `${(ms * 1000).toFixed(0)} µs`);
  const passed = candidates.filter((c) => c.pass && Number.isFinite(c.ms));
  const failed = candidates.filter((c) => !passed.includes(c));
  const notes = failed.map((c) => `${c.backend} ${c.pass ? 'was not timed' : `failed (${c.why ?? 'parity'})`}`);
  if (passed.length === 0) return { backend: null, reason: ['no backend passed parity', ...notes].join('; ') };
  const best = passed.reduce((a, b) => (b.ms < a.ms ? b : a));
  const others = passed.filter((c) => c !== best).map((c) => `${c.backend} ${fmt(c.ms)}`);
  const reason = [
    `${best.backend}: fastest that passed parity (${fmt(best.ms)} per prediction)`,
    ...(others.length ? [`then ${others.join(', ')}`] : []),
    ...notes,
  ].join('; ');
  return { backend: best.backend, reason };
}

/** The median of a non-empty list. */
export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}
