// The pieces of js/bench/measure.js's JSON result that need no browser: which TF.js wasm binary
// ran, and the result entries (a launcher's row, a peer's comparison). Tested in
// test/node/measure.test.js.

import { latencySummary } from '../src/common/timing.js';

const VARIANTS = {
  'tfjs-backend-wasm.wasm': 'plain',
  'tfjs-backend-wasm-simd.wasm': 'simd',
  'tfjs-backend-wasm-threaded-simd.wasm': 'threaded-simd',
};

/**
 * The TF.js wasm binary variant ('plain', 'simd' or 'threaded-simd') named in `text` (a URL the
 * page requested, a file name, or a timing's `direct` description), or null when none is named.
 * @param {string | null | undefined} text
 * @returns {'plain' | 'simd' | 'threaded-simd' | null}
 */
export function wasmVariant(text) {
  const m = /tfjs-backend-wasm(?:-threaded-simd|-simd)?\.wasm/.exec(String(text ?? ''));
  return m ? /** @type {'plain' | 'simd' | 'threaded-simd'} */ (VARIANTS[m[0]]) : null;
}

/**
 * The TF.js wasm binary the backend loads for its SIMD and thread flags (tf.env() values).
 * @param {unknown} simd
 * @param {unknown} threads
 */
export function wasmBinary(simd, threads) {
  return `tfjs-backend-wasm${simd && threads ? '-threaded-simd' : simd ? '-simd' : ''}.wasm`;
}

/**
 * A tensor in the form page.evaluate passes to the runner page: dtype, shape and base64 bytes.
 * @param {{dtype: string, shape: number[], bytes: () => Uint8Array}} t
 */
export function wire(t) {
  return { dtype: t.dtype, shape: t.shape, b64: Buffer.from(t.bytes()).toString('base64') };
}

/**
 * The variant the page loaded, from the URLs the server served: the TF.js wasm binaries among
 * them (one, unless a page loaded twice); null when none was requested.
 * @param {string[]} urls
 */
export function loadedVariant(urls) {
  const found = [...new Set(urls.map(wasmVariant).filter(Boolean))];
  return found.length ? found.join(', ') : null;
}

/**
 * One launcher run's entry: the backend the client reports it ran (the browser client refuses
 * to run another than the one asked) and the wasm binary variant, from the timing's `direct`
 * description (the page names its binary), else `probedVariant` (the Node client names none:
 * measure.js probes TF.js's flags in its own process, the same TF.js), else null.
 * @param {{model: string, where: string, backend: string, timing: any, big: any, firstPredictionMs?: number | null, probedVariant?: string | null}} r
 */
export function launcherEntry({ model, where, backend, timing, big, firstPredictionMs = null, probedVariant = null }) {
  return {
    model,
    runtime: where,
    backend: timing.backend ?? backend,
    wasm_variant: backend === 'wasm' ? (wasmVariant(timing.direct) ?? probedVariant) : null,
    first_prediction_ms: firstPredictionMs,
    load_ms: timing.load_ms,
    latency_us: timing.latency_us,
    rows_per_s: 1024 / (big.latency_us.p50 / 1e6),
  };
}

/**
 * A peer comparison's entry (the schema java/deploykit-bench's Bench --json writes too): the
 * client (deploykit on TF.js wasm, tfjs-graph) and the peer (onnxruntime-web wasm, onnx) per batch,
 * with every call's time as the contract's `samples_us` (`latency` the client, `direct` the peer,
 * `blocks`), and how both ran: TF.js's backend, its wasm binary (as the page reports it and as the
 * server served it), thread counts and ort's version.
 * @param {string} model
 * @param {any} page comparePeer's result (web/peer.js)
 * @param {{servedTfjs: string | null, servedOrt: string[], ortPackageVersion: string, inputs: string}} run
 * @returns {Record<string, any>}
 */
export function peerEntry(model, page, { servedTfjs, servedOrt, ortPackageVersion, inputs }) {
  const base = {
    model,
    client: 'chromium',
    client_format: 'tfjs-graph',
    peer: 'onnxruntime-web',
    peer_format: 'onnx',
    peer_inputs: inputs,
  };
  if (!page.ok) return { ...base, error: page.message, batches: [] };
  return {
    ...base,
    load_ms: page.loadMs,
    tfjs_version: page.tfjs.version,
    tfjs_backend: page.tfjs.backend,
    tfjs_wasm_variant: wasmVariant(page.tfjs.wasmBinary),
    tfjs_wasm_variant_served: servedTfjs,
    tfjs_threads: page.tfjs.threads,
    cross_origin_isolated: page.tfjs.isolated,
    peer_version: page.ort.version ?? ortPackageVersion,
    peer_threads: page.ort.threads,
    peer_wasm_binary: servedOrt.join(', ') || null,
    batches: page.batches.map((b) => ({
      batch: b.rows,
      peer_first_ms: b.peerFirstMs,
      client_latency_us: latencySummary(b.client),
      peer_latency_us: latencySummary(b.peer),
      samples_us: { latency: b.client, direct: b.peer, blocks: b.blocks },
    })),
  };
}
