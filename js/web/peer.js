// The bench's peer in the page (js/bench/measure.js imports this module into the runner page):
// onnxruntime-web's wasm execution provider on a model's onnx artifact against deploykit's TF.js
// wasm client on its tfjs-graph artifact, both in this one page, timed with the CLI's interleaved
// blocks (src/common/timing.js). onnxruntime-web is a devDependency served by the project's own
// server as /vendor/ort/ (src/server/server.js); it is not part of the npm package.

import { Tensor } from '../src/common/tensor.js';
import { interleave } from '../src/common/timing.js';
import { fetchManifest, loadModel, wasmInfo } from './loader.js';
import { fromBase64 } from './runner.js';

const ORT_MODULE = '/vendor/ort/ort.wasm.min.mjs';

/** What the peer does on each call: built once, reused; outputs read as typed arrays. */
export const PEER_INPUTS =
  'ort.Tensor built once over the input typed array and reused; session.run + reading every output (.data) + dispose() per call';

/**
 * Loads `modelId` on TF.js wasm (through deploykit) and its onnx artifact on onnxruntime-web's
 * wasm EP with as many threads as TF.js started, then for each batch times `repeat` calls of each
 * (after `warmup` of each), interleaved in blocks. Returns the microseconds of every call
 * (`client` TF.js, `peer` onnxruntime-web) and how both runtimes ran.
 * @param {{modelId: string, manifestUrl?: string, batches: {inputs: Record<string, {dtype: string, shape: number[], b64: string}>, repeat: number, warmup: number}[]}} job
 */
export async function comparePeer({ modelId, manifestUrl = '/models/manifest.json', batches }) {
  try {
    const doc = await fetchManifest(manifestUrl);
    const model = await loadModel(doc, modelId, 'wasm', manifestUrl);
    const tf = globalThis.tf;
    const info = await wasmInfo();
    const spec = doc.models.find((m) => m.id === modelId);
    const onnx = spec.artifacts.find((a) => a.format === 'onnx');
    if (!onnx) return { ok: false, message: `${modelId} has no onnx artifact` };
    const ortUrl = ORT_MODULE; // not a literal import: tsc does not resolve the served URL
    const ort = await import(ortUrl);
    ort.env.wasm.wasmPaths = '/vendor/ort/';
    // As many threads as TF.js's wasm backend started (it caps at half the cores); threads need
    // a cross-origin isolated page (the server's COOP/COEP), without which ort runs one.
    ort.env.wasm.numThreads = info.threadsCount ?? 1;
    const res = await fetch(new URL(onnx.path, new URL(manifestUrl, location.href)));
    if (!res.ok) return { ok: false, message: `${onnx.path}: HTTP ${res.status}` };
    const bytes = new Uint8Array(await res.arrayBuffer());
    const start = performance.now();
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
    const loadMs = performance.now() - start;
    const key = (map, name) => (map && map[name]) || name;
    const fetches = spec.outputs.map((o) => key(onnx.output_keys, o.name));
    const results = [];
    for (const batch of batches) {
      const x = Object.fromEntries(
        Object.entries(batch.inputs).map(([k, v]) => [k, Tensor.fromBytes(v.dtype, v.shape, fromBase64(v.b64))]),
      );
      const feeds = Object.fromEntries(
        spec.inputs.map((s) => [
          key(onnx.input_keys, s.name),
          new ort.Tensor(x[s.name].dtype, x[s.name].data, x[s.name].shape),
        ]),
      );
      const runPeer = async () => {
        const out = await session.run(feeds, fetches);
        for (const name of fetches) {
          void out[name].data;
          out[name].dispose();
        }
      };
      const first = performance.now();
      await runPeer();
      const peerFirstMs = performance.now() - first;
      const t = await interleave(() => model.predictTensors(x), runPeer, batch.repeat, batch.warmup);
      results.push({ rows: x[spec.inputs[0].name].shape[0], peerFirstMs, client: t.a, peer: t.b, blocks: t.blocks });
    }
    await session.release();
    model.dispose();
    return {
      ok: true,
      loadMs,
      batches: results,
      tfjs: {
        version: tf.version_core,
        backend: tf.getBackend(),
        wasmBinary: info.binary,
        threads: info.threadsCount,
        isolated: info.isolated,
      },
      ort: {
        version: ort.env.versions?.web ?? null,
        threads: ort.env.wasm.numThreads,
        isolated: globalThis.crossOriginIsolated === true,
      },
    };
  } catch (e) {
    return { ok: false, message: String(e?.message || e) };
  }
}
