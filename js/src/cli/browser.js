#!/usr/bin/env node
// bin/deploykit-browser: the common client CLI, run inside headless Chromium. It serves the
// manifest's folder and the page on an ephemeral 127.0.0.1 port, opens the page in runner mode,
// hands it the batch, and reads the output (and the page's own timings) back.

import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

import { CHROMIUM, isLocal, launchChromium } from '../browser/chromium.js';
import { LoadError } from '../common/loader.js';
import { ManifestError } from '../common/manifest.js';
import { startServer } from '../server/server.js';
import { main } from './common.js';

const require = createRequire(import.meta.url);
const TFJS_VERSION = require('@tensorflow/tfjs/package.json').version;
const PAGE_TIMEOUT_MS = 240_000;

function chromiumVersion() {
  try {
    return execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'Chromium (version unknown)';
  }
}

/** @type {import('./common.js').Engine} */
const engine = {
  prog: 'deploykit-browser',
  runtime: 'tfjs-chromium',
  backends: { names: ['wasm', 'cpu', 'webgl'], default: 'wasm' },
  version: async () => `tfjs ${TFJS_VERSION} in ${chromiumVersion()} (backends wasm, cpu, webgl)`,
  run: async ({ manifest, model, input, backend, warmup, repeat, verbose }) => {
    const server = await startServer({ modelsDir: path.dirname(path.resolve(manifest)) });
    const origin = server.url.replace(/\/$/, '');
    let browser;
    try {
      browser = await launchChromium();
      // Nothing may leave 127.0.0.1: anything else is aborted (and would fail the run).
      const blocked = [];
      await browser.context.route('**/*', (route) => {
        const url = route.request().url();
        if (isLocal(url, origin)) return route.continue();
        blocked.push(url);
        return route.abort('blockedbyclient');
      });
      const page = await browser.context.newPage();
      page.setDefaultTimeout(PAGE_TIMEOUT_MS);
      if (verbose) page.on('console', (m) => process.stderr.write(`[page ${m.type()}] ${m.text()}\n`));
      await page.goto(`${server.url}app/index.html?mode=runner`);
      await page.waitForFunction(() => globalThis.deploykit?.ready === true);
      const bytes = new Uint8Array(input.data.buffer, input.data.byteOffset, input.data.byteLength);
      const result = await page.evaluate((job) => globalThis.deploykit.runBatch(job), {
        modelId: model.id,
        backend,
        input: Buffer.from(bytes).toString('base64'),
        rows: input.shape[0],
        warmup,
        repeat,
        manifestUrl: `/models/${encodeURIComponent(path.basename(manifest))}`,
      });
      if (blocked.length) throw new Error(`the page tried to reach ${blocked[0]} (blocked: only 127.0.0.1 is allowed)`);
      if (!result.ok) {
        if (result.kind === 'manifest') throw new ManifestError(result.message);
        if (['missing', 'integrity', 'unsafe', 'unsupported', 'load'].includes(result.kind)) throw new LoadError(result.kind, result.message);
        throw new Error(result.message);
      }
      if (result.backend !== backend) throw new LoadError('load', `asked for the ${backend} backend, the page ran ${result.backend}`);
      const out = Buffer.from(result.output, 'base64');
      const output = new Float32Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength));
      return { output, loadMs: result.loadMs, firstMs: result.firstMs, timesUs: result.timesUs };
    } finally {
      await browser?.close();
      await server.close();
    }
  },
};

process.exitCode = await main(process.argv.slice(2), engine);
