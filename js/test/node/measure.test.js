// js/bench/measure.js's JSON result, without a browser (bench/peers.js builds its entries): each
// launcher row names the TF.js backend it ran and its wasm binary variant, and each peer entry
// the backend, the variant (as the page reports it and as the server served it), the thread
// counts and onnxruntime-web's version. No speeds are checked. The Chromium run itself is
// test/browser/measure.test.js.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { launcherEntry, loadedVariant, peerEntry, wasmBinary, wasmVariant } from '../../bench/peers.js';
import { wasmThreads, wasmThreadsStarted } from '../../web/loader.js';

const latency = { p50: 2, p90: 3, p99: 4, mean: 2.5 };

describe('measure.js result entries', () => {
  it('names the wasm binary TF.js loads for its SIMD and thread flags', () => {
    assert.equal(wasmBinary(true, true), 'tfjs-backend-wasm-threaded-simd.wasm');
    assert.equal(wasmBinary(true, false), 'tfjs-backend-wasm-simd.wasm');
    assert.equal(wasmBinary(false, false), 'tfjs-backend-wasm.wasm');
    assert.deepEqual(
      [true, false].map((t) => wasmVariant(wasmBinary(true, t))),
      ['threaded-simd', 'simd'],
    );
  });

  it("counts wasm threads: one per logical core, or TF.js's own half of them, 1 to 8", () => {
    const cores = [undefined, 1, 2, 3, 4, 10, 16, 32];
    assert.deepEqual(
      cores.map((c) => wasmThreads(c)),
      [1, 1, 2, 3, 4, 8, 8, 8],
    );
    assert.deepEqual(
      cores.map((c) => wasmThreadsStarted(c)),
      [1, 1, 1, 1, 2, 5, 8, 8],
    );
  });

  it('names the TF.js wasm binary variant from a URL, a file name or a description', () => {
    assert.equal(wasmVariant('http://127.0.0.1:1/vendor/tfjs-backend-wasm.wasm'), 'plain');
    assert.equal(wasmVariant('tfjs-backend-wasm-simd.wasm'), 'simd');
    assert.equal(
      wasmVariant('tf.GraphModel.execute(...) on the wasm backend (tfjs-backend-wasm-threaded-simd.wasm, 1 thread(s))'),
      'threaded-simd',
    );
    assert.equal(wasmVariant('tf.GraphModel.execute(prebuilt tensors) on the wasm backend'), null);
    assert.equal(wasmVariant(undefined), null);
    assert.equal(loadedVariant(['/app/index.js', '/vendor/tfjs-backend-wasm-threaded-simd.wasm']), 'threaded-simd');
    assert.equal(loadedVariant(['/app/index.js']), null);
  });

  it('records the backend and wasm variant of each launcher row', () => {
    const big = { latency_us: { ...latency, p50: 1024 } };
    const chromium = launcherEntry({
      model: 'wide_keras',
      where: 'Chromium',
      backend: 'wasm',
      timing: {
        backend: 'wasm',
        load_ms: 5,
        latency_us: latency,
        direct: 'tf.GraphModel.execute on the wasm backend (tfjs-backend-wasm-threaded-simd.wasm, 1 thread(s))',
      },
      big,
      firstPredictionMs: 100,
    });
    assert.equal(chromium.backend, 'wasm');
    assert.equal(chromium.wasm_variant, 'threaded-simd');
    assert.equal(chromium.rows_per_s, 1e6);
    const cpu = launcherEntry({
      model: 'wide_keras',
      where: 'Node',
      backend: 'cpu',
      timing: { load_ms: 5, latency_us: latency, direct: 'x' },
      big,
    });
    assert.equal(cpu.backend, 'cpu');
    assert.equal(cpu.wasm_variant, null);
    assert.equal(cpu.first_prediction_ms, null);
    const nodeWasm = launcherEntry({
      model: 'wide_keras',
      where: 'Node',
      backend: 'wasm',
      timing: { backend: 'wasm', load_ms: 5, latency_us: latency, direct: 'tf.GraphModel.execute on the wasm backend' },
      big,
      probedVariant: 'simd',
    });
    assert.equal(nodeWasm.wasm_variant, 'simd', 'the Node client names no binary: the probe fills it in');
  });

  it('records TF.js backend, wasm variant, threads and ort-web version and threads of a peer', () => {
    const page = {
      ok: true,
      loadMs: 7,
      tfjs: {
        version: '4.22.0',
        backend: 'wasm',
        wasmBinary: 'tfjs-backend-wasm-threaded-simd.wasm',
        threads: 1,
        isolated: true,
      },
      ort: { version: '1.30.0', threads: 1, isolated: true },
      batches: [{ rows: 1, peerFirstMs: 1, client: [3, 4, 5], peer: [1, 2, 3], blocks: 3 }],
    };
    const entry = peerEntry('wide_keras', page, {
      servedTfjs: 'threaded-simd',
      servedOrt: ['ort-wasm-simd-threaded.wasm'],
      ortPackageVersion: '1.30.0',
      inputs: 'reused',
    });
    assert.equal(entry.tfjs_backend, 'wasm');
    assert.equal(entry.tfjs_wasm_variant, 'threaded-simd');
    assert.equal(entry.tfjs_wasm_variant_served, 'threaded-simd');
    assert.equal(entry.tfjs_threads, 1);
    assert.equal(entry.peer_version, '1.30.0');
    assert.equal(entry.peer_threads, 1);
    assert.equal(entry.peer_wasm_binary, 'ort-wasm-simd-threaded.wasm');
    const [b] = entry.batches;
    assert.deepEqual(b.samples_us, { latency: [3, 4, 5], direct: [1, 2, 3], blocks: 3 });
    assert.equal(b.client_latency_us.p50, 4);
    assert.equal(b.peer_latency_us.p50, 2);
    const failed = peerEntry(
      'wide_keras',
      { ok: false, message: 'no onnx' },
      {
        servedTfjs: null,
        servedOrt: [],
        ortPackageVersion: '1.30.0',
        inputs: '',
      },
    );
    assert.equal(failed.error, 'no onnx');
    assert.deepEqual(failed.batches, []);
  });
});
