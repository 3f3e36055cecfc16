// Version skew (docs/contract.md, "Version skew"): an artifact's `min_runtime` names the oldest
// version of each runtime family known to load it. This client runs family `tfjs` (TF.js, at
// its tfjs-core version) and refuses an artifact built for a newer TF.js before it hashes or
// loads a byte of it, with one line naming both versions. Shared by Node and the browser page.

import { LoadError } from './errors.js';

/** The runtime family this client runs. */
export const FAMILY = 'tfjs';

const VERSION = /^[0-9]+(\.[0-9]+){0,2}$/;

/** Whether `text` is a contract version: MAJOR[.MINOR[.PATCH]], digits only. */
export function isVersion(text) {
  return typeof text === 'string' && VERSION.test(text);
}

/**
 * A runtime's own version string up to its first character that is neither a digit nor a dot
 * ("2.13.0+cu130" -> "2.13.0", "4.22.0-rc.1" -> "4.22.0").
 * @param {string} text
 */
export function numericPrefix(text) {
  return /^[0-9.]*/.exec(String(text))[0].replace(/^\.+|\.+$/g, '');
}

/**
 * Compares two versions numerically, component by component; a missing component is 0
 * ("2.19" equals "2.19.0"). Both must be dot-separated digit groups (numericPrefix's output, or
 * an isVersion string).
 * @param {string} a
 * @param {string} b
 * @returns {-1 | 0 | 1}
 */
export function compareVersions(a, b) {
  // BigInt('') is 0n: an empty component (the empty version too) counts as 0.
  const parts = (v) => v.split('.').map((p) => BigInt(p));
  const x = parts(a);
  const y = parts(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const p = x[i] ?? 0n;
    const q = y[i] ?? 0n;
    if (p !== q) return p < q ? -1 : 1;
  }
  return 0;
}

/**
 * The version of TF.js this client runs: its tfjs-core version.
 * @param {any} tf the TF.js namespace
 * @returns {string}
 */
export function tfjsVersion(tf) {
  const v = tf?.version_core ?? tf?.version?.['tfjs-core'];
  if (typeof v !== 'string') throw new LoadError('load', 'cannot tell the TF.js version (tf.version_core is missing)');
  return v;
}

/**
 * Why a runtime of `family` at version `have` must not load `artifact`, or null when it may (no
 * `min_runtime`, no entry for the family, or a runtime at least as new as the entry).
 * @param {any} artifact a validated manifest artifact
 * @param {string} have the runtime's own version string ("2.13.0+cu130" is read as 2.13.0)
 * @param {string} [family]
 * @returns {string | null} "built for <family> >= <need>, this client runs <family> <have>"
 */
export function skewError(artifact, have, family = FAMILY) {
  const need = artifact.min_runtime?.[family];
  if (need === undefined) return null;
  if (!isVersion(need)) return `min_runtime.${family} is ${JSON.stringify(need)}, not a version`;
  const own = numericPrefix(have);
  return compareVersions(own, need) < 0 ? `built for ${family} >= ${need}, this client runs ${family} ${own}` : null;
}

/**
 * Refuses an artifact built for a newer TF.js than `tf`; call it before anything reads the
 * artifact's files.
 * @param {any} tf the TF.js namespace the artifact would run on
 * @param {any} model the manifest's model entry
 * @param {any} artifact its artifact
 * @throws {LoadError} kind 'version' (exit 3)
 */
export function checkRuntimeVersion(tf, model, artifact) {
  if (artifact.min_runtime?.[FAMILY] === undefined) return;
  const why = skewError(artifact, tfjsVersion(tf));
  if (why) throw new LoadError('version', `${model.id}/${artifact.format}: ${why}`);
}
