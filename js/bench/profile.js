#!/usr/bin/env node
// Where TF.js wasm's time goes (issue 17: a target out of reach is shown with a profile): one
// call per model on given inputs, profiled kernel by kernel with tf.profile (web/profile.js), in
// Node (deploykit's Node client on the wasm backend, in this process) and in headless Chromium
// (the runner page, cross-origin isolated, with the page's own wasm binary and threads).
// Usage: node bench/profile.js --jobs JOBS.json --json OUT.json [--where node] [--where chromium]
//          [--warmup 1] [--runs 3] manifest.json
// JOBS.json: [{"model": ID, "inputs": {NAME: "file.npy", ...}}, ...] (relative paths: from its
// folder). OUT.json: {"tfjs_version", "profiles": [{model, runtime: "node-wasm" | "chromium",
// ok, runs, wall_ms, kernels: [{name, ms, count}], wasm_binary, threads} | {model, runtime, ok:
// false, message}]}. `python -m builder bench` writes the jobs (bench/kernels.py) and reads OUT.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

import { isLocal, launchChromium } from '../src/browser/chromium.js';
import { readNpy } from '../src/common/npy.js';
import { startServer } from '../src/server/server.js';
import { kernelProfile } from '../web/profile.js';
import { wasmBinary, wire } from './peers.js';

const WHERE = ['node', 'chromium'];

function usage(message) {
  process.stderr.write(`error: ${message}\n`);
  process.exit(2);
}

let values;
let positionals;
try {
  ({ values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      jobs: { type: 'string' },
      json: { type: 'string' },
      where: { type: 'string', multiple: true },
      warmup: { type: 'string', default: '1' },
      runs: { type: 'string', default: '3' },
    },
  }));
} catch (e) {
  usage(e.message);
}
if (!values.jobs || !values.json || positionals.length !== 1)
  usage('usage: profile.js --jobs JOBS.json --json OUT.json [--where node|chromium ...] manifest.json');
const where = values.where ?? WHERE;
const bad = where.find((w) => !WHERE.includes(w));
if (bad) usage(`--where ${bad}: expected one of ${WHERE.join(', ')}`);
const [warmup, runs] = [Number(values.warmup), Number(values.runs)];
if (!Number.isInteger(warmup) || warmup < 0 || !Number.isInteger(runs) || runs < 1)
  usage('--warmup must be an integer >= 0 and --runs an integer >= 1');
const manifest = path.resolve(positionals[0]);
const jobsDir = path.dirname(path.resolve(values.jobs));
const jobs = JSON.parse(fs.readFileSync(values.jobs, 'utf8'));
const readInputs = (job) =>
  Object.fromEntries(
    Object.entries(job.inputs).map(([name, file]) => [name, readNpy(fs.readFileSync(path.resolve(jobsDir, file)))]),
  );

/** Each job in this process, on deploykit's Node client with the wasm backend. */
async function inNode() {
  const [{ load }, { tf }, wasm] = await Promise.all([
    import('../src/node/model.js'),
    import('../src/node/tf.js'),
    import('@tensorflow/tfjs-backend-wasm'),
  ]);
  const out = [];
  for (const job of jobs) {
    const base = { model: job.model, runtime: 'node-wasm' };
    try {
      const model = await load(manifest, job.model, { backend: 'wasm' });
      const x = readInputs(job);
      const profile = await kernelProfile(tf, () => model.predictTensors(x), { warmup, runs });
      const binary = wasmBinary(
        await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
        await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'),
      );
      out.push({ ...base, ok: true, ...profile, wasm_binary: binary, threads: wasm.getThreadsCount() });
      model.dispose();
    } catch (e) {
      out.push({ ...base, ok: false, message: String(e?.message || e) });
    }
    process.stderr.write(`profiled ${job.model} on Node wasm\n`);
  }
  return out;
}

/** Each job in the runner page of one headless Chromium, served by the demo server. */
async function inChromium() {
  const server = await startServer({ modelsDir: path.dirname(manifest) });
  const origin = server.url.replace(/\/$/, '');
  const browser = await launchChromium();
  const out = [];
  try {
    await browser.context.route('**/*', (route) =>
      isLocal(route.request().url(), origin) ? route.continue() : route.abort('blockedbyclient'),
    );
    for (const job of jobs) {
      const page = await browser.context.newPage();
      page.setDefaultTimeout(600_000);
      await page.goto(`${server.url}app/index.html?mode=runner`);
      await page.waitForFunction(() => globalThis.deploykit?.ready === true);
      const inputs = Object.fromEntries(Object.entries(readInputs(job)).map(([name, t]) => [name, wire(t)]));
      const result = await page.evaluate(async (arg) => (await import(arg.module)).profileInPage(arg.job), {
        module: '/app/profile.js',
        job: {
          modelId: job.model,
          manifestUrl: `/models/${encodeURIComponent(path.basename(manifest))}`,
          inputs,
          warmup,
          runs,
        },
      });
      out.push({ model: job.model, runtime: 'chromium', ...result });
      await page.close();
      process.stderr.write(`profiled ${job.model} in Chromium wasm\n`);
    }
  } finally {
    await browser.close();
    await server.close();
  }
  return out;
}

const require = createRequire(import.meta.url);
const result = { tfjs_version: require('@tensorflow/tfjs/package.json').version, profiles: [] };
if (where.includes('node')) result.profiles.push(...(await inNode()));
if (where.includes('chromium')) result.profiles.push(...(await inChromium()));
fs.writeFileSync(values.json, JSON.stringify(result) + '\n');
