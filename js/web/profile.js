// The bench's kernel profile (js/bench/profile.js runs it in Node and, through this module, in the
// runner page): where one TF.js call's time goes, kernel by kernel, from `tf.profile`. On the wasm
// backend every kernel runs synchronously, so each kernel's `kernelTimeMs` is its own wall time on
// the calling thread (XNNPACK's worker threads included: the caller waits for them). The rest of a
// call (graph walk, input checks, reading the outputs) is the call's wall time minus the kernels'.
// Pure: imports nothing, so Node imports it as it is; the page part loads its modules on demand.

/**
 * Profiles `runs` calls of `call` (after `warmup` unprofiled ones) with `tf.profile`.
 * @param {any} tf the TF.js namespace the call runs on
 * @param {() => Promise<unknown>} call one prediction (it disposes its own tensors)
 * @param {{warmup?: number, runs?: number}} [options]
 * @returns {Promise<{runs: number, wall_ms: number[], kernels: {name: string, ms: number, count: number}[]}>}
 *   `kernels`: per kernel name, its mean milliseconds and launches per call, slowest first
 */
export async function kernelProfile(tf, call, { warmup = 1, runs = 3 } = {}) {
  if (!Number.isInteger(runs) || runs < 1) throw new RangeError(`runs must be a positive integer, got ${runs}`);
  for (let i = 0; i < warmup; i++) await call();
  const totals = new Map();
  const wall = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const info = await tf.profile(async () => {
      await call();
      return [];
    });
    wall.push(performance.now() - start);
    // tf.profile also lists the op scopes around kernels (fusedMatMul__op around _FusedMatMul):
    // only kernels registered for the backend are counted, so no time is counted twice.
    for (const k of info.kernels) {
      if (!tf.getKernel(k.name, tf.getBackend())) continue;
      const t = totals.get(k.name) ?? { ms: 0, count: 0 };
      t.ms += Number(k.kernelTimeMs) || 0;
      t.count += 1;
      totals.set(k.name, t);
    }
  }
  const kernels = [...totals.entries()]
    .map(([name, t]) => ({ name, ms: t.ms / runs, count: t.count / runs }))
    .sort((a, b) => b.ms - a.ms);
  return { runs, wall_ms: wall, kernels };
}

/**
 * In the runner page: loads `modelId` on the wasm backend and profiles it on `inputs` (the wire
 * form: dtype, shape, base64 bytes). Returns the profile with the wasm binary and threads that
 * ran, or {ok: false, message}.
 * @param {{modelId: string, manifestUrl?: string, inputs: Record<string, {dtype: string, shape: number[], b64: string}>, warmup?: number, runs?: number}} job
 */
export async function profileInPage({ modelId, manifestUrl = '/models/manifest.json', inputs, warmup, runs }) {
  try {
    const [{ fetchManifest, loadModel, wasmInfo }, { Tensor }, { fromBase64 }] = await Promise.all([
      import('./loader.js'),
      import('../src/common/tensor.js'),
      import('./runner.js'),
    ]);
    const doc = await fetchManifest(manifestUrl);
    const model = await loadModel(doc, modelId, 'wasm', manifestUrl);
    const x = Object.fromEntries(
      Object.entries(inputs).map(([k, v]) => [k, Tensor.fromBytes(v.dtype, v.shape, fromBase64(v.b64))]),
    );
    const profile = await kernelProfile(globalThis.tf, () => model.predictTensors(x), { warmup, runs });
    const info = await wasmInfo();
    model.dispose();
    return { ok: true, ...profile, wasm_binary: info.binary, threads: info.threadsCount, isolated: info.isolated };
  } catch (e) {
    return { ok: false, message: String(e?.message || e) };
  }
}
