// Browser side of model loading: fetches the manifest and the artifact's files from the page's
// own server, verifies every file with WebCrypto (SubtleCrypto.digest) through the loader that
// the Node client shares, and runs batches. `tf` is the global that TF.js's browser bundle sets
// (the demo page: /vendor/tf.es2017.min.js; the npm package's web/deploykit.js imports it).

import { checkInputs } from '../src/common/checks.js';
import { LoadError, bareCall, boundaryInputs, loadVerifiedGraph, runGraph, specOutputs } from '../src/common/loader.js';
import { ManifestError, readDenyList, resolveArtifact, validateManifest } from '../src/common/manifest.js';
import { readNpy } from '../src/common/npy.js';
import { Tensor } from '../src/common/tensor.js';
import { checkRuntimeVersion } from '../src/common/versions.js';

// Read again by initTf: web/deploykit.js imports TF.js's bundle after this module is evaluated.
let tf = globalThis.tf;

export { LoadError, ManifestError };
export const BACKENDS = ['webgl', 'wasm', 'cpu'];

let initialised = false;
let wasmPaths = '/vendor/';

/**
 * Where the wasm backend's .wasm files are served (a folder URL ending in '/'; the demo page's
 * default is /vendor/). Takes effect at initTf, before the first model loads.
 * @param {string} folder
 */
export function setWasmFolder(folder) {
  if (initialised && folder !== wasmPaths) throw new Error('the wasm folder must be set before the first model loads');
  wasmPaths = folder;
}

/** Configures TF.js once; throws a clear error when its bundles did not load. */
export function initTf() {
  if (initialised) return;
  tf = globalThis.tf;
  if (!tf || typeof tf.loadGraphModel !== 'function')
    throw new LoadError('load', 'TF.js did not load (/vendor/tf.es2017.min.js); run make setup-js');
  if (!tf.wasm || typeof tf.wasm.setWasmPaths !== 'function')
    throw new LoadError('load', 'the TF.js wasm backend did not load (/vendor/tf-backend-wasm.es2017.min.js)');
  // The wasm binaries come from the page's own server (the demo: node_modules via /vendor/), never
  // a CDN. A cross-origin isolated page (the demo server's COOP/COEP headers) has
  // SharedArrayBuffer, so where it asks for two or more XNNPACK threads (wasmThreadsAsked) the
  // backend loads its threaded SIMD build (its worker is a blob: URL made from the bundle, no
  // extra file). Asking for one, or unisolated, it runs single-threaded SIMD, as Node does: the
  // threaded build with one thread computes no faster, and its start costs a cold visit. The
  // page test checks parity threaded.
  tf.wasm.setWasmPaths(wasmPaths);
  const threads = wasmThreadsAsked();
  if (globalThis.crossOriginIsolated === true && threads > 1) tf.wasm.setThreadsCount(threads);
  else tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  tf.enableProdMode();
  initialised = true;
}

const MAX_WASM_THREADS = 8;
let threadsWanted = null;

/**
 * Sets how many XNNPACK threads the wasm backend runs (1 to 8; threads need a cross-origin
 * isolated page), before the first model loads. Unset, the page asks for what TF.js would start
 * by itself (wasmThreadsStarted). One per logical core (wasmThreads()) gives the most throughput
 * on large batches, where each thread takes its share of a GEMM; on a 2-core machine it is 1.5x
 * TF.js's default at batch 1024, but the threaded build starts 8 workers, which costs a cold
 * visit 300-400 ms there (docs/measurements.md). bin/deploykit-browser's runner asks for one
 * per logical core; the demo page keeps the default, for a quick first prediction.
 * @param {number} n
 */
export function setWasmThreads(n) {
  if (!Number.isInteger(n) || n < 1 || n > MAX_WASM_THREADS)
    throw new RangeError(`wasm threads must be an integer from 1 to ${MAX_WASM_THREADS}, got ${n}`);
  if (initialised && n !== threadsWanted) throw new Error('the wasm threads must be set before the first model loads');
  threadsWanted = n;
}

/** The XNNPACK threads the page asks of the wasm backend (setWasmThreads, or TF.js's own count). */
export function wasmThreadsAsked() {
  return threadsWanted ?? wasmThreadsStarted();
}

/** The logical cores the browser reports (1 when it does not say). */
const logicalCores = (cores) => (Number.isInteger(cores) && cores > 0 ? cores : 1);

/** One XNNPACK thread per logical core the browser reports, at most 8. */
export function wasmThreads(cores = globalThis.navigator?.hardwareConcurrency) {
  return Math.min(logicalCores(cores), MAX_WASM_THREADS);
}

/**
 * The XNNPACK threads TF.js 4.22's wasm backend starts by itself for `cores` logical cores:
 * cores / 2, at least 1, at most 8 (tfjs-backend-wasm/src/cc/backend.cc, init_with_threads_count:
 * it assumes two hardware threads per core).
 */
export function wasmThreadsStarted(cores = globalThis.navigator?.hardwareConcurrency) {
  return Math.min(MAX_WASM_THREADS, Math.max(1, Math.floor(logicalCores(cores) / 2)));
}

/**
 * Starts the wasm backend with every thread asked for. TF.js 4.22's wasm module reads
 * navigator.hardwareConcurrency once, as it instantiates, and caps its XNNPACK pool at half of it
 * (backend.cc's `num_cores`), whatever setThreadsCount asks: a 2-core machine gets one thread.
 * While the backend starts, the page reports at least twice the threads asked for; the browser's
 * own value is back as soon as the backend has started (or failed).
 * @param {() => Promise<unknown>} start
 */
async function withWasmCores(start) {
  const nav = globalThis.navigator;
  const threads = wasmThreadsAsked();
  const cores = nav?.hardwareConcurrency;
  if (!nav || 2 * threads <= cores || !(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'))) return start();
  const own = Object.getOwnPropertyDescriptor(nav, 'hardwareConcurrency');
  Object.defineProperty(nav, 'hardwareConcurrency', { value: 2 * threads, configurable: true });
  try {
    return await start();
  } finally {
    if (own) Object.defineProperty(nav, 'hardwareConcurrency', own);
    else Reflect.deleteProperty(nav, 'hardwareConcurrency');
  }
}

/** `<binary>, N thread(s)` of the started wasm backend (the flags are known once it runs). */
function wasmRunning() {
  try {
    const simd = tf.env().get('WASM_HAS_SIMD_SUPPORT');
    const threads = tf.env().get('WASM_HAS_MULTITHREAD_SUPPORT');
    const flavour = simd && threads ? '-threaded-simd' : simd ? '-simd' : '';
    return `tfjs-backend-wasm${flavour}.wasm, ${tf.wasm.getThreadsCount()} thread(s)`;
  } catch {
    return 'not started';
  }
}

/**
 * How the wasm backend runs here: whether the page is cross-origin isolated, which binary it
 * loads (tfjs-backend-wasm[-simd|-threaded-simd].wasm) and its thread count (null until the
 * backend has started).
 * @returns {Promise<{isolated: boolean, simd: boolean, threads: boolean, binary: string, threadsCount: number | null}>}
 */
export async function wasmInfo() {
  initTf();
  const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  const threads = Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'));
  const flavour = simd && threads ? '-threaded-simd' : simd ? '-simd' : '';
  let threadsCount = null;
  try {
    threadsCount = tf.wasm.getThreadsCount();
  } catch {
    // not started yet
  }
  return {
    isolated: globalThis.crossOriginIsolated === true,
    simd,
    threads,
    binary: `tfjs-backend-wasm${flavour}.wasm`,
    threadsCount,
  };
}

/** @param {ArrayBuffer | Uint8Array<ArrayBuffer>} bytes */
export async function sha256hex(bytes) {
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** @param {string} url */
export async function fetchManifest(url = '/models/manifest.json') {
  let res;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new ManifestError(`cannot fetch ${url}: ${e.message}`);
  }
  if (!res.ok) throw new ManifestError(`cannot fetch ${url}: HTTP ${res.status} (has the export run? make export)`);
  let doc;
  try {
    doc = await res.json();
  } catch (e) {
    throw new ManifestError(`${url} is not valid JSON: ${e.message}`);
  }
  return validateManifest(doc, url);
}

/** Fetches a .npy file (relative to the manifest's folder) and parses it strictly. */
export async function fetchNpy(relPath, base = '/models/') {
  const res = await fetch(new URL(encodePath(relPath), new URL(base, location.href)));
  if (!res.ok) throw new Error(`cannot fetch ${relPath}: HTTP ${res.status}`);
  return readNpy(new Uint8Array(await res.arrayBuffer()));
}

function encodePath(rel) {
  return rel.split('/').map(encodeURIComponent).join('/');
}

/**
 * Whether this browser can initialise backend `name` (webgl needs a GL context), without
 * switching the active backend: the page probes the others after its first prediction so that
 * probing does not delay it.
 * @param {string} name
 */
export async function probeBackend(name) {
  initTf();
  const engine = tf.engine();
  if (engine.registry[name]) return true; // already initialised (internal registry, read only)
  try {
    const { success } = engine.initializeBackend(name);
    return (await success) === true;
  } catch {
    return false;
  }
}

/** @param {string} name */
export async function useBackend(name) {
  initTf();
  if (tf.getBackend() === name) return;
  let ok;
  try {
    ok = name === 'wasm' ? await withWasmCores(() => tf.setBackend(name)) : await tf.setBackend(name);
  } catch (e) {
    throw new LoadError('load', `the '${name}' backend failed to start: ${e.message}`);
  }
  if (!ok) throw new LoadError('load', `the '${name}' backend is not available in this browser`);
  await tf.ready();
}

/** A verified, loaded model on the current backend. */
export class BrowserModel {
  /** @param {{loaded: import('../src/common/loader.js').Loaded, backend: string, loadMs: number}} o */
  constructor({ loaded, backend, loadMs }) {
    this.loaded = loaded;
    this.backend = backend;
    this.loadMs = loadMs;
    this.graph = loaded.graph;
    this.model = loaded.model;
    this.artifact = loaded.artifact;
    this.id = loaded.model.id;
    this.tolerance = loaded.artifact.tolerance;
  }

  /**
   * The contract's call: named Tensors in (checked first), named Tensors out (spec dtypes).
   * @param {Record<string, Tensor>} inputs
   * @returns {Promise<Record<string, Tensor>>}
   */
  async predictTensors(inputs) {
    if (!this.graph) throw new Error(`model ${this.id} is disposed`);
    checkInputs(this.model, inputs, this.artifact);
    const out = await runGraph(tf, this.loaded, boundaryInputs(this.loaded, inputs));
    return specOutputs(this.loaded, out);
  }

  /**
   * One-input, one-output float32 convenience: the input's values and its first dim.
   * @param {Float32Array} data
   * @param {number} rows
   * @returns {Promise<Float32Array>}
   */
  async predictFlat(data, rows) {
    const [spec] = this.model.inputs;
    const out = await this.predictTensors({ [spec.name]: new Tensor('float32', [rows, ...spec.shape.slice(1)], data) });
    return Float32Array.from(out[this.model.outputs[0].name].toNumbers());
  }

  /**
   * The bare TF.js call that predictTensors wraps (--timing's `direct_latency_us`): inputs
   * built once, each `run()` is execute + `await data()` + dispose. Call `dispose()` when done.
   * @param {Record<string, Tensor>} inputs
   * @returns {{run: () => void | Promise<void>, description: string, dispose: () => void}} run is async here
   */
  directCall(inputs) {
    if (!this.graph) throw new Error(`model ${this.id} is disposed`);
    checkInputs(this.model, inputs, this.artifact);
    const { run, dispose } = bareCall(tf, this.loaded, inputs);
    return {
      run,
      dispose,
      description: `tf.GraphModel.execute(prebuilt tensors) + await data() + dispose() on the ${this.backend} backend${
        this.backend === 'wasm' ? ` (${wasmRunning()})` : ''
      } (in Chromium)`,
    };
  }

  dispose() {
    this.graph?.dispose();
    this.graph = null;
  }
}

/**
 * Loads `modelId`'s tfjs-graph artifact from the manifest at `manifestUrl` on `backend`.
 * @returns {Promise<BrowserModel>}
 */
export async function loadModel(doc, modelId, backend, manifestUrl = '/models/manifest.json') {
  const start = performance.now();
  const { model, artifact } = resolveArtifact(doc, modelId);
  initTf();
  // Before a byte of the artifact is fetched: refused when it was built for a newer TF.js.
  checkRuntimeVersion(tf, model, artifact);
  await useBackend(backend);
  const base = new URL(encodePath(artifact.path) + '/', new URL(manifestUrl, location.href));
  const label = `${model.id}/${artifact.format}`;
  const manifestBase = new URL(manifestUrl, location.href);
  let unsafeOps;
  try {
    unsafeOps = await readDenyList(
      doc,
      async (rel) => {
        const res = await fetch(new URL(encodePath(rel), manifestBase)).catch(() => null);
        return res && res.ok ? new Uint8Array(await res.arrayBuffer()) : null;
      },
      sha256hex,
    );
  } catch (e) {
    throw new LoadError(e.kind ?? 'integrity', e.message);
  }
  const loaded = await loadVerifiedGraph({
    tf,
    unsafeOps,
    model,
    artifact,
    sha256hex,
    readFile: async (rel) => {
      let res;
      try {
        res = await fetch(new URL(encodePath(rel), base));
      } catch (e) {
        throw new LoadError('missing', `${label}: cannot fetch ${rel}: ${e.message}`);
      }
      if (!res.ok) throw new LoadError('missing', `${label}: ${artifact.path}/${rel} is missing (HTTP ${res.status})`);
      return new Uint8Array(await res.arrayBuffer());
    },
  });
  return new BrowserModel({ loaded, backend, loadMs: performance.now() - start });
}
