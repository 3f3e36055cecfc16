// The page's "runner" mode (index.html?mode=runner): bin/deploykit-browser calls
// window.deploykit.runBatch(...) through Playwright to run one batch in this browser and
// reads the output back. Timings are taken here, inside the page, with performance.now().

import { LoadError, ManifestError, fetchManifest, loadModel } from './loader.js';

/** @param {string} b64 */
export function fromBase64(b64) {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

/** @param {Uint8Array} bytes */
export function toBase64(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/**
 * @param {object} job
 * @param {string} job.modelId
 * @param {string} job.backend webgl | wasm | cpu
 * @param {string} job.input base64 of rows*features little-endian float32 values
 * @param {number} job.rows
 * @param {number} [job.warmup]
 * @param {number} [job.repeat]
 * @param {string} [job.manifestUrl]
 * @returns {Promise<{ok: true, output: string, loadMs: number, firstMs: number, timesUs: number[], backend: string}
 *   | {ok: false, kind: string, message: string}>}
 */
export async function runBatch({ modelId, backend, input, rows, warmup = 0, repeat = 0, manifestUrl = '/models/manifest.json' }) {
  let model;
  try {
    const doc = await fetchManifest(manifestUrl);
    let start = performance.now();
    model = await loadModel(doc, modelId, backend, manifestUrl);
    const loadMs = performance.now() - start;
    const bytes = fromBase64(input);
    const data = new Float32Array(bytes.buffer, 0, bytes.length / 4);
    start = performance.now();
    const output = await model.predictFlat(data, rows);
    const firstMs = performance.now() - start;
    for (let i = 0; i < warmup; i++) await model.predictFlat(data, rows);
    const timesUs = [];
    for (let i = 0; i < repeat; i++) {
      start = performance.now();
      await model.predictFlat(data, rows);
      timesUs.push((performance.now() - start) * 1e3);
    }
    return { ok: true, output: toBase64(new Uint8Array(output.buffer)), loadMs, firstMs, timesUs, backend: globalThis.tf.getBackend() };
  } catch (e) {
    const kind = e instanceof ManifestError ? 'manifest' : e instanceof LoadError ? e.kind : 'runtime';
    return { ok: false, kind, message: String(e.message || e) };
  } finally {
    model?.dispose();
  }
}
