// TF.js for Node without tfjs-node: the pure-JS `cpu` backend and the WebAssembly backend,
// whose .wasm binaries are read from node_modules (never fetched from a CDN).

import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

/** Folder holding tfjs-backend-wasm's .wasm files (ends with a separator). */
export const WASM_DIR =
  path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + path.sep;

export const BACKENDS = ['cpu', 'wasm'];

// Silences tfjs's console advice to install tfjs-node (it cannot install here) and its debug
// checks; errors still throw.
tf.enableProdMode();
setWasmPaths(WASM_DIR);

let current = null;

/**
 * Selects the TF.js backend for every model loaded afterwards (TF.js has one global backend).
 * @param {string} name 'cpu' or 'wasm' (another: RangeError)
 */
export async function useBackend(name) {
  if (!BACKENDS.includes(name))
    throw new RangeError(`unknown backend '${name}' (expected one of ${BACKENDS.join(', ')})`);
  if (current === name && tf.getBackend() === name) return;
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`TF.js could not initialise the '${name}' backend`);
  await tf.ready();
  current = name;
}

export { tf };
