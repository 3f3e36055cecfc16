// js/bench/measure.js --peers-only in headless Chromium (the page and the server the bench uses):
// TF.js wasm and onnxruntime-web wasm run the same model in one page, and the JSON result
// records TF.js's backend and wasm binary variant (as the page reports it and as the server
// served it), the thread counts and onnxruntime-web's version. Tiny repeats; no speed is checked.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

import { JS_ROOT, readJson, testManifest, tmpDir } from '../helpers/fixtures.js';

const manifest = testManifest();

describe('measure.js peers in Chromium', { timeout: 240_000 }, () => {
  it('runs onnxruntime-web beside TF.js wasm and records how both ran', () => {
    const out = path.join(tmpDir(), 'measure.json');
    const r = spawnSync(
      process.execPath,
      [
        path.join(JS_ROOT, 'bench', 'measure.js'),
        manifest,
        '--peers-only',
        '--models',
        'mlp_keras',
        '--repeat',
        '4',
        '--warmup',
        '1',
        '--batch-repeat',
        '1',
        '--batch-warmup',
        '0',
        '--json',
        out,
      ],
      { encoding: 'utf8', timeout: 200_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const result = readJson(out);
    const [peer] = result.peers;
    assert.equal(peer.model, 'mlp_keras');
    assert.equal(peer.error, undefined, peer.error);
    assert.equal(peer.tfjs_backend, 'wasm');
    assert.ok(['plain', 'simd', 'threaded-simd'].includes(peer.tfjs_wasm_variant), peer.tfjs_wasm_variant);
    assert.equal(peer.tfjs_wasm_variant_served, peer.tfjs_wasm_variant, 'the page ran the binary it was served');
    assert.equal(peer.cross_origin_isolated, true);
    const ortVersion = readJson(path.join(JS_ROOT, 'node_modules', 'onnxruntime-web', 'package.json')).version;
    assert.equal(peer.peer_version, ortVersion);
    assert.ok(peer.peer_threads >= 1 && peer.tfjs_threads >= 1);
    assert.equal(peer.peer_threads, peer.tfjs_threads, 'ort-web runs as many threads as TF.js started');
    assert.match(peer.peer_wasm_binary, /^ort-wasm-simd-threaded\.wasm$/);
    assert.deepEqual(
      peer.batches.map((b) => [b.batch, b.samples_us.latency.length, b.samples_us.direct.length]),
      [
        [1, 4, 4],
        [1024, 1, 1],
      ],
    );
    fs.rmSync(path.dirname(out), { recursive: true, force: true });
  });
});
