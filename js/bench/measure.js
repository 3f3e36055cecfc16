#!/usr/bin/env node
// Measures TF.js in Node and in headless Chromium for every tfjs-graph model of a manifest:
// time to first prediction in the demo page (navigation start -> first result shown),
// batch-1 latency and batch-1024 throughput per backend. The launchers time themselves
// (the contract's --repeat/--warmup/--timing; in Chromium the clock runs inside the page).
// Then the peer: onnxruntime-web's wasm EP on each model's onnx artifact against deploykit's
// TF.js wasm client, in one Chromium page, interleaved in blocks (web/peer.js), at batch 1 and
// 1024, with the ratio TF.js / onnxruntime-web.
// Usage: node bench/measure.js [manifest.json] [--repeat N] [--warmup K] [--batch-repeat M]
//          [--batch-warmup W] [--models ID ...] [--peers-only] [--json FILE]
//          [--first-prediction ID ...] [--first-trials T]
// --first-prediction: a person's first visit to the demo page for each model ID, T times, each in a
// fresh Chromium profile (cold cache) with the page choosing its own backend: navigation start ->
// first prediction shown (or model ready, for a model the page predicts only once a digit is
// drawn), as `first_prediction` in the JSON (what bench judges the 1.0 s target on).
// prints Markdown tables; --json FILE also writes the result: each launcher row with the TF.js
// backend it ran and its wasm binary variant, and each peer comparison with every call's time
// (`samples_us`), TF.js's backend, wasm variant and threads, and ort-web's version and threads
// (what `python -m builder bench` reads, with --peers-only: no launcher table).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { createRequire } from 'node:module';

import { isLocal, launchChromium } from '../src/browser/chromium.js';
import { runnableModels } from '../src/common/manifest.js';
import { writeNpy } from '../src/common/npy.js';
import { Tensor } from '../src/common/tensor.js';
import { readManifest } from '../src/node/manifest_file.js';
import { startServer } from '../src/server/server.js';
import { launcherEntry, loadedVariant, peerEntry, wasmBinary, wasmVariant, wire } from './peers.js';

/* global document -- firstPrediction's page.waitForFunction callback runs in the page */

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin');
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    repeat: { type: 'string', default: '200' },
    warmup: { type: 'string' },
    'batch-repeat': { type: 'string', default: '5' },
    'batch-warmup': { type: 'string', default: '1' },
    models: { type: 'string', multiple: true },
    'peers-only': { type: 'boolean', default: false },
    'first-prediction': { type: 'string', multiple: true },
    'first-trials': { type: 'string', default: '3' },
    json: { type: 'string' },
  },
});
const manifest = path.resolve(positionals[0] || 'models/manifest.json');
const repeat = Number(values.repeat);
const warmup = values.warmup === undefined ? Math.max(1, Math.floor(repeat / 10)) : Number(values.warmup);
const batchRepeat = Number(values['batch-repeat']);
const batchWarmup = Number(values['batch-warmup']);
const require = createRequire(import.meta.url);
const doc = await readManifest(manifest);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'deploykit-measure-'));

/** Seeded N(0, 1) values (xorshift + Box-Muller) of a one-input float32 (batch, N) model. */
function batchTensor(rows, features) {
  let s = 12345;
  const uniform = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) + 0.5) / 4294967296;
  };
  const data = new Float32Array(rows * features).map(
    () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()),
  );
  return new Tensor('float32', [rows, features], data);
}

/** batchTensor as an .npy file. */
function batchFile(rows, features) {
  const file = path.join(work, `x_${rows}x${features}.npy`);
  fs.writeFileSync(file, writeNpy(batchTensor(rows, features)));
  return file;
}

function timed(launcher, model, backend, input, n, k) {
  const t = path.join(work, 'timing.json');
  const r = spawnSync(
    path.join(BIN, launcher),
    [
      '--manifest',
      manifest,
      '--model',
      model,
      '--input',
      input,
      '--backend',
      backend,
      '--repeat',
      String(n),
      '--warmup',
      String(k),
      '--timing',
      t,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`${launcher} ${model} ${backend}: exit ${r.status}: ${r.stderr.trim()}`);
  return JSON.parse(fs.readFileSync(t, 'utf8'));
}

/**
 * A cold first visit per trial: a fresh browser profile, the page's own backend choice. A model
 * the page predicts on load (one float32 (batch, N) input: sliders) reports navigation start ->
 * first prediction shown; any other (the CNNs: the page predicts once a digit is drawn) reports
 * navigation start -> the model ready to answer, read in the page when its status turns ready.
 */
async function coldFirstPrediction(models, trials) {
  const server = await startServer({ modelsDir: path.dirname(manifest) });
  const out = [];
  try {
    for (const model of models) {
      const times = [];
      let until = 'first prediction';
      for (let t = 0; t < trials; t++) {
        const browser = await launchChromium();
        try {
          const page = await browser.context.newPage();
          await page.goto(`${server.url}app/?model=${model}`);
          const seen = await page.waitForFunction(
            () => {
              const first = document.getElementById('first-ms').dataset.ms;
              const state = document.getElementById('status').dataset.state;
              if (first) return { until: 'first prediction', ms: Number(first) };
              if (state === 'error') return { error: document.getElementById('status').textContent };
              // ready without a prediction: no sliders for this model
              if (state === 'ready') return { until: 'model ready', ms: performance.now() };
              return null;
            },
            null,
            { timeout: 120_000 },
          );
          const v = await seen.jsonValue();
          if (v.error) throw new Error(`${model}: the page failed: ${v.error}`);
          times.push(v.ms);
          until = v.until;
        } finally {
          await browser.close();
        }
      }
      const sorted = [...times].sort((a, b) => a - b);
      out.push({ model, until, trials_ms: times, median_ms: sorted[Math.floor(sorted.length / 2)] });
      process.stderr.write(`${until} ${model}: ${times.map((x) => x.toFixed(0)).join(', ')} ms\n`);
    }
  } finally {
    await server.close();
  }
  return out;
}

async function firstPrediction(models, backends) {
  const server = await startServer({ modelsDir: path.dirname(manifest) });
  const browser = await launchChromium();
  const out = {};
  try {
    for (const model of models) {
      for (const backend of backends) {
        const page = await browser.context.newPage();
        await page.goto(`${server.url}app/?model=${model}&backend=${backend}`);
        await page.waitForFunction(
          () =>
            document.getElementById('first-ms').dataset.ms ||
            document.getElementById('status').dataset.state === 'error',
          null,
          { timeout: 120_000 },
        );
        out[`${model}/${backend}`] = Number(await page.locator('#first-ms').getAttribute('data-ms'));
        await page.close();
      }
    }
  } finally {
    await browser.close();
    await server.close();
  }
  return out;
}

/**
 * The peer: for each model, TF.js wasm (deploykit) and onnxruntime-web wasm in one page of one
 * Chromium, at batch 1 and 1024 (web/peer.js), and which wasm binaries the server served.
 */
async function peers(models) {
  let ortVersion;
  try {
    // its exports map hides package.json: read it beside dist/
    const dist = path.dirname(require.resolve('onnxruntime-web'));
    ortVersion = JSON.parse(fs.readFileSync(path.join(dist, '..', 'package.json'), 'utf8')).version;
  } catch {
    return models.map((m) => ({
      model: m.id,
      peer: 'onnxruntime-web',
      error: 'onnxruntime-web is not installed (npm ci in js/)',
      batches: [],
    }));
  }
  const served = [];
  const server = await startServer({
    modelsDir: path.dirname(manifest),
    onRequest: ({ url, status }) => status === 200 && served.push(url),
  });
  const origin = server.url.replace(/\/$/, '');
  const browser = await launchChromium();
  const blocked = [];
  const out = [];
  try {
    await browser.context.route('**/*', (route) => {
      const url = route.request().url();
      if (isLocal(url, origin)) return route.continue();
      blocked.push(url);
      return route.abort('blockedbyclient');
    });
    for (const model of models) {
      const page = await browser.context.newPage();
      page.setDefaultTimeout(600_000);
      served.length = 0;
      await page.goto(`${server.url}app/index.html?mode=runner`);
      await page.waitForFunction(() => globalThis.deploykit?.ready === true);
      const features = model.inputs[0].shape[1];
      const batches = [
        { rows: 1, repeat, warmup },
        { rows: 1024, repeat: batchRepeat, warmup: batchWarmup },
      ].map((b) => ({
        inputs: { [model.inputs[0].name]: wire(batchTensor(b.rows, features)) },
        repeat: b.repeat,
        warmup: b.warmup,
      }));
      const result = await page.evaluate(
        async (job) => {
          const peer = await import(job.module);
          const r = await peer.comparePeer(job);
          return { ...r, inputs: peer.PEER_INPUTS };
        },
        {
          module: '/app/peer.js',
          modelId: model.id,
          manifestUrl: `/models/${encodeURIComponent(path.basename(manifest))}`,
          batches,
        },
      );
      if (blocked.length) throw new Error(`the page tried to reach ${blocked[0]} (only 127.0.0.1 is allowed)`);
      out.push(
        peerEntry(model.id, result, {
          servedTfjs: loadedVariant(served),
          servedOrt: [
            ...new Set(served.filter((u) => /\/vendor\/ort\/.*\.wasm$/.test(u)).map((u) => path.basename(u))),
          ],
          ortPackageVersion: ortVersion,
          inputs: result.inputs,
        }),
      );
      await page.close();
      process.stderr.write(`measured ${model.id} Chromium wasm: TF.js against onnxruntime-web\n`);
    }
  } finally {
    await browser.close();
    await server.close();
  }
  return out;
}

/**
 * The TF.js wasm binary Node loads (the Node client does not name it): the backend's SIMD and
 * thread flags, probed in this process with the same TF.js (which turns threads off in Node).
 */
async function nodeWasmVariant() {
  const { tf, useBackend } = await import('../src/node/tf.js');
  await useBackend('wasm');
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  return wasmVariant(wasmBinary(simd, threads));
}

const runtimes = [
  ['deploykit-node', 'cpu'],
  ['deploykit-node', 'wasm'],
  ['deploykit-browser', 'wasm'],
  ['deploykit-browser', 'cpu'],
  ['deploykit-browser', 'webgl'],
];
// The batch sweep needs one float32 (batch, N) input; other signatures are left to verify/bench.
const eligible = (m) =>
  m.inputs.length === 1 &&
  m.inputs[0].dtype === 'float32' &&
  m.inputs[0].shape.length === 2 &&
  typeof m.inputs[0].shape[1] === 'number';
const selected = runnableModels(doc).filter((m) => !values.models || values.models.includes(m.id));
const models = selected.filter(eligible);
const skipped = selected
  .filter((m) => !eligible(m))
  .map((m) => ({
    model: m.id,
    peer: 'onnxruntime-web',
    skipped: 'the bench feeds one float32 (batch, N) input only',
    batches: [],
  }));
const result = { tfjs_version: require('@tensorflow/tfjs/package.json').version, rows: [], peers: [] };
if (!values['peers-only']) {
  const first = await firstPrediction(
    models.map((m) => m.id),
    ['wasm', 'cpu', 'webgl'],
  );
  const rows = [];
  for (const model of models) {
    const features = model.inputs[0].shape[1];
    const x1 = batchFile(1, features);
    const xb = batchFile(1024, features);
    for (const [launcher, backend] of runtimes) {
      const one = timed(launcher, model.id, backend, x1, repeat, warmup);
      const big = timed(launcher, model.id, backend, xb, batchRepeat, batchWarmup);
      const where = launcher === 'deploykit-node' ? 'Node' : 'Chromium';
      const entry = launcherEntry({
        model: model.id,
        where,
        backend,
        timing: one,
        big,
        firstPredictionMs: where === 'Chromium' ? first[`${model.id}/${backend}`] : null,
        probedVariant: where === 'Node' && backend === 'wasm' ? await nodeWasmVariant() : null,
      });
      result.rows.push(entry);
      rows.push(
        `| ${model.id} | ${where} | ${entry.backend}${entry.wasm_variant ? ` (${entry.wasm_variant})` : ''} | ${entry.first_prediction_ms === null ? '–' : entry.first_prediction_ms.toFixed(0)} | ${one.load_ms.toFixed(1)} | ${one.latency_us.p50.toFixed(0)} | ${one.latency_us.p90.toFixed(0)} | ${entry.rows_per_s.toFixed(0)} |`,
      );
      process.stderr.write(`measured ${model.id} ${where} ${backend}\n`);
    }
  }
  console.log(
    '| model | runtime | backend | page start → first prediction (ms) | load (ms) | batch-1 p50 (µs) | batch-1 p90 (µs) | batch-1024 rows/s (p50) |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  console.log(rows.join('\n'));
}
if (values['first-prediction']) {
  const wanted = values['first-prediction'];
  const ids = selected.filter((m) => wanted.includes(m.id)).map((m) => m.id);
  result.first_prediction = await coldFirstPrediction(ids, Number(values['first-trials']));
  console.log('\n| model | page start → | cold visit, median (ms) | visits (ms) |');
  console.log('|---|---|---|---|');
  for (const f of result.first_prediction) {
    const visits = f.trials_ms.map((x) => x.toFixed(0)).join(', ');
    console.log(`| ${f.model} | ${f.until} | ${f.median_ms.toFixed(0)} | ${visits} |`);
  }
}
const withOnnx = models.filter((m) => m.artifacts.some((a) => a.format === 'onnx'));
result.peers = [...(withOnnx.length ? await peers(withOnnx) : []), ...skipped];
console.log(
  '\n| model | batch | TF.js wasm p50 (µs) | onnxruntime-web wasm p50 (µs) | TF.js / ort-web | how they ran |',
);
console.log('|---|---|---|---|---|---|');
for (const p of result.peers) {
  if (p.error || p.skipped) {
    console.log(`| ${p.model} | | | | | ${p.error || p.skipped} |`);
    continue;
  }
  for (const b of p.batches) {
    const [tf, ort] = [b.client_latency_us.p50, b.peer_latency_us.p50];
    console.log(
      `| ${p.model} | ${b.batch} | ${tf.toFixed(0)} | ${ort.toFixed(0)} | ${(tf / ort).toFixed(2)}x | TF.js ${p.tfjs_version} ${p.tfjs_backend} (${p.tfjs_wasm_variant}, ${p.tfjs_threads} thread(s)); onnxruntime-web ${p.peer_version} (${p.peer_wasm_binary}, ${p.peer_threads} thread(s)) |`,
    );
  }
}
if (values.json) fs.writeFileSync(values.json, JSON.stringify(result) + '\n');
fs.rmSync(work, { recursive: true, force: true });
