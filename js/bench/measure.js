#!/usr/bin/env node
// Measures TF.js in Node and in headless Chromium for every tfjs-graph model of a manifest:
// time to first prediction in the demo page (navigation start -> first result shown),
// batch-1 latency and batch-1024 throughput per backend. The launchers time themselves
// (the contract's --repeat/--warmup/--timing; in Chromium the clock runs inside the page).
// Usage: node bench/measure.js [manifest.json] [--repeat N]   (prints a Markdown table)

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { launchChromium } from '../src/browser/chromium.js';
import { runnableModels } from '../src/common/manifest.js';
import { writeNpy } from '../src/common/npy.js';
import { Tensor } from '../src/common/tensor.js';
import { readManifest } from '../src/node/manifest_file.js';
import { startServer } from '../src/server/server.js';

/* global document -- firstPrediction's page.waitForFunction callback runs in the page */

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin');
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { repeat: { type: 'string', default: '200' } },
});
const manifest = path.resolve(positionals[0] || 'models/manifest.json');
const repeat = Number(values.repeat);
const doc = await readManifest(manifest);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'deploykit-measure-'));

/** Seeded N(0, 1) batch (xorshift + Box-Muller) of a one-input float32 (batch, N) model, as an .npy file. */
function batchFile(rows, features) {
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
  const file = path.join(work, `x_${rows}x${features}.npy`);
  fs.writeFileSync(file, writeNpy(new Tensor('float32', [rows, features], data)));
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

const runtimes = [
  ['deploykit-node', 'cpu'],
  ['deploykit-node', 'wasm'],
  ['deploykit-browser', 'wasm'],
  ['deploykit-browser', 'cpu'],
  ['deploykit-browser', 'webgl'],
];
// The batch sweep needs one float32 (batch, N) input; other signatures are left to verify/bench.
const models = runnableModels(doc).filter(
  (m) =>
    m.inputs.length === 1 &&
    m.inputs[0].dtype === 'float32' &&
    m.inputs[0].shape.length === 2 &&
    typeof m.inputs[0].shape[1] === 'number',
);
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
    const one = timed(launcher, model.id, backend, x1, repeat, Math.max(1, repeat / 10));
    const big = timed(launcher, model.id, backend, xb, 5, 1);
    const where = launcher === 'deploykit-node' ? 'Node' : 'Chromium';
    rows.push(
      `| ${model.id} | ${where} | ${backend} | ${where === 'Chromium' ? first[`${model.id}/${backend}`].toFixed(0) : '–'} | ${one.load_ms.toFixed(1)} | ${one.latency_us.p50.toFixed(0)} | ${one.latency_us.p90.toFixed(0)} | ${(1024 / (big.latency_us.p50 / 1e6)).toFixed(0)} |`,
    );
    process.stderr.write(`measured ${model.id} ${where} ${backend}\n`);
  }
}
console.log(
  '| model | runtime | backend | page start → first prediction (ms) | load (ms) | batch-1 p50 (µs) | batch-1 p90 (µs) | batch-1024 rows/s (p50) |',
);
console.log('|---|---|---|---|---|---|---|---|');
console.log(rows.join('\n'));
fs.rmSync(work, { recursive: true, force: true });
