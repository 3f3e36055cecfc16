// deploykit in a browser page, as the npm package ships it: one ES module for a plain
// <script type="module">, no bundler, no CDN.
//
//   import { load, Tensor } from './node_modules/deploykit/web/deploykit.js';
//   const model = await load('models/manifest.json', 'mlp_keras', { backend: 'wasm' });
//   const out = await model.predictTensors({ input: new Tensor('float32', [1, 4], values) });
//
// TF.js is the page's global `tf` when the page already loaded it with classic <script> tags;
// otherwise this module imports the browser bundles of the package's own dependencies
// (@tensorflow/tfjs and @tensorflow/tfjs-backend-wasm) from beside it in node_modules, npm's
// flat layout. `tfjsUrl`, `wasmBackendUrl` and `wasmPaths` say where when the page serves them
// elsewhere. Every file of the model is checked against the manifest's sha256 (WebCrypto) before
// TF.js reads it, exactly as in Node.

import {
  BACKENDS,
  BrowserModel,
  LoadError,
  ManifestError,
  fetchManifest,
  fetchNpy,
  loadModel,
  setWasmFolder,
  setWasmThreads,
  wasmThreads,
} from './loader.js';

export { BACKENDS, BrowserModel, LoadError, ManifestError, fetchNpy };
// Batch work on a cross-origin isolated page: `setWasmThreads(wasmThreads())` before the first
// load runs one wasm thread per logical core (TF.js alone starts half as many).
export { setWasmThreads, wasmThreads };
export { Tensor, DTYPES } from '../src/common/tensor.js';
export { InputError } from '../src/common/errors.js';
export { readNpy, writeNpy, NpyError } from '../src/common/npy.js';
export { compareTensors, checkLine } from '../src/common/compare.js';

/** node_modules/ when this file is node_modules/deploykit/web/deploykit.js. */
const NODE_MODULES = new URL('../../', import.meta.url);

/**
 * @typedef {object} TfOptions
 * @property {string} [tfjsUrl] TF.js's browser bundle (tf.es2017.min.js), when `tf` is not loaded yet
 * @property {string} [wasmBackendUrl] the wasm backend's bundle (tf-backend-wasm.es2017.min.js)
 * @property {string} [wasmPaths] the folder holding the backend's .wasm files (ending in '/')
 */

/** Where TF.js comes from unless the page says otherwise: the package's own dependencies. */
export const TF_DEFAULTS = Object.freeze({
  tfjsUrl: new URL('@tensorflow/tfjs/dist/tf.es2017.min.js', NODE_MODULES).href,
  wasmBackendUrl: new URL('@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.es2017.min.js', NODE_MODULES).href,
  wasmPaths: new URL('@tensorflow/tfjs-backend-wasm/dist/', NODE_MODULES).href,
});

/**
 * Makes TF.js and its wasm backend available as the global `tf` (importing their browser
 * bundles unless the page already has them) and points the backend at its .wasm files.
 * @param {TfOptions} [options]
 * @returns {Promise<any>} the global `tf`
 */
export async function loadTf(options = {}) {
  const o = { ...TF_DEFAULTS, ...options };
  if (typeof globalThis.tf?.loadGraphModel !== 'function') await importBundle(o.tfjsUrl, 'TF.js');
  if (typeof globalThis.tf?.wasm?.setWasmPaths !== 'function')
    await importBundle(o.wasmBackendUrl, 'the TF.js wasm backend');
  setWasmFolder(o.wasmPaths.endsWith('/') ? o.wasmPaths : `${o.wasmPaths}/`);
  return globalThis.tf;
}

/**
 * The bundles are UMD files: evaluated as a module they set `globalThis.tf` (and `tf.wasm`).
 * @param {string} url
 * @param {string} what
 */
async function importBundle(url, what) {
  try {
    await import(url);
  } catch (e) {
    throw new LoadError('load', `${what} could not be loaded from ${url}: ${e.message} (set tfjsUrl/wasmBackendUrl)`);
  }
  if (typeof globalThis.tf !== 'object') throw new LoadError('load', `${url} did not define the global tf`);
}

/**
 * Loads `modelId`'s tfjs-graph artifact from the manifest at `manifestUrl` (relative to the
 * page) on `backend`, verified file by file, ending with a validation run.
 * @param {string} manifestUrl
 * @param {string} modelId
 * @param {TfOptions & {backend?: 'wasm' | 'webgl' | 'cpu'}} [options] backend: default 'wasm'
 * @returns {Promise<BrowserModel>} predictTensors({name: Tensor}) -> {name: Tensor}; dispose()
 */
export async function load(manifestUrl, modelId, options = {}) {
  const { backend = 'wasm', ...tfOptions } = options;
  if (!BACKENDS.includes(backend))
    throw new RangeError(`unknown backend '${backend}' (expected one of ${BACKENDS.join(', ')})`);
  await loadTf(tfOptions);
  const url = new URL(manifestUrl, location.href).href;
  const doc = await fetchManifest(url);
  return loadModel(doc, modelId, backend, url);
}
