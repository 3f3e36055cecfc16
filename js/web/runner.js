// The page's "runner" mode (index.html?mode=runner): bin/deploykit-browser drives
// window.deploykit.{load, run, time, unload} through Playwright: one page session loads each
// (model, format) once and runs every job of a command (or a --jobs file) in this browser.
// Tensors cross as {dtype, shape, b64}; timings are taken here, with performance.now().

import { Tensor } from '../src/common/tensor.js';
import { interleave } from '../src/common/timing.js';
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

const models = new Map();
let nextHandle = 1;

/**
 * A failed call, as the Node side (src/cli/browser.js) reads it.
 * @typedef {{ok: false, kind: string, exit?: number, message: string}} Failure
 */

/** @returns {Failure} */
function failure(e) {
  const kind =
    e instanceof ManifestError
      ? 'manifest'
      : e instanceof LoadError
        ? e.kind
        : e?.name === 'InputError'
          ? 'input'
          : 'runtime';
  return { ok: false, kind, exit: e?.exit, message: String(e?.message || e) };
}

/**
 * Loads a model on a backend.
 * @param {{modelId: string, backend: string, manifestUrl?: string}} job
 * @returns {Promise<{ok: true, handle: number, loadMs: number, backend: string} | Failure>}
 */
export async function load({ modelId, backend, manifestUrl = '/models/manifest.json' }) {
  try {
    const doc = await fetchManifest(manifestUrl);
    const start = performance.now();
    const model = await loadModel(doc, modelId, backend, manifestUrl);
    const handle = nextHandle++;
    models.set(handle, model);
    return { ok: true, handle, loadMs: performance.now() - start, backend: globalThis.tf.getBackend() };
  } catch (e) {
    return failure(e);
  }
}

function loaded(handle) {
  const model = models.get(handle);
  if (!model) throw new Error(`no model loaded under handle ${handle}`);
  return model;
}

const decode = (inputs) =>
  Object.fromEntries(
    Object.entries(inputs).map(([k, v]) => [k, Tensor.fromBytes(v.dtype, v.shape, fromBase64(v.b64))]),
  );

/**
 * Runs one call; `firstMs` is its duration here, in the page.
 * @param {{handle: number, inputs: Record<string, {dtype: string, shape: number[], b64: string}>}} job
 */
export async function run({ handle, inputs }) {
  try {
    const model = loaded(handle);
    const x = decode(inputs);
    const start = performance.now();
    const y = await model.predictTensors(x);
    const firstMs = performance.now() - start;
    const outputs = Object.fromEntries(
      Object.entries(y).map(([k, t]) => [k, { dtype: t.dtype, shape: t.shape, b64: toBase64(t.bytes()) }]),
    );
    return { ok: true, outputs, firstMs, backend: globalThis.tf.getBackend() };
  } catch (e) {
    return failure(e);
  }
}

/**
 * --repeat/--warmup (and a timed job) in the page: `warmup` untimed calls, then `repeat` timed
 * calls of predictTensors interleaved with `repeat` of the bare TF.js call when `direct`
 * (the loops the Node CLI uses: src/common/timing.js). Microseconds per call.
 * @param {{handle: number, inputs: Record<string, {dtype: string, shape: number[], b64: string}>, warmup?: number, repeat?: number, direct?: boolean}} job
 */
export async function time({ handle, inputs, warmup = 0, repeat = 0, direct = false }) {
  try {
    const model = loaded(handle);
    const x = decode(inputs);
    const bare = direct ? model.directCall(x) : null;
    try {
      const t = await interleave(() => model.predictTensors(x), bare?.run ?? null, repeat, warmup);
      return { ok: true, timesUs: t.a, blocks: t.blocks, ...(bare && { directUs: t.b, direct: bare.description }) };
    } finally {
      bare?.dispose();
    }
  } catch (e) {
    return failure(e);
  }
}

/** Frees a loaded model. */
export function unload(handle) {
  models.get(handle)?.dispose();
  models.delete(handle);
}
