#!/usr/bin/env node
// bin/deploykit-browser: the common client CLI, run inside headless Chromium. It serves the
// manifest's folder and the page on an ephemeral 127.0.0.1 port, opens the page in runner mode
// once per process (at the first model to load), and runs every call of the command, or every
// job of a --jobs file, in that one page session. Timings are taken inside the page.

import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

import { CHROMIUM, isLocal, launchChromium } from '../browser/chromium.js';
import { InputError, LoadError } from '../common/errors.js';
import { ManifestError } from '../common/manifest.js';
import { Tensor } from '../common/tensor.js';
import { startServer } from '../server/server.js';
import { main } from './common.js';

const require = createRequire(import.meta.url);
const TFJS_VERSION = require('@tensorflow/tfjs/package.json').version;
const PAGE_TIMEOUT_MS = 240_000;

/** `Chromium <version>` from `chromium --version` (no page is started), or why not. */
function chromiumVersion() {
  let out;
  try {
    out = execFileSync(CHROMIUM, ['--version'], {
      encoding: 'utf8',
      timeout: 30_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    return `Chromium not found at ${CHROMIUM}`;
  }
  const m = /Chromium (\d+(?:\.\d+)+)/.exec(out);
  return m ? `Chromium ${m[1]}` : `Chromium (unrecognised version: ${out.trim().split('\n')[0]})`;
}

/** Turns the page's {ok: false, kind, message} into the matching error. */
function pageError(result) {
  if (result.kind === 'manifest') return new ManifestError(result.message, result.exit ?? 2);
  if (result.kind === 'input') return new InputError(result.message);
  if (['missing', 'integrity', 'unsafe', 'unsupported', 'load', 'version'].includes(result.kind))
    return new LoadError(result.kind, result.message);
  return new Error(result.message);
}

/** One server, one Chromium and one page for the whole process, started on first use. */
function pageSession({ manifest, backend, verbose }) {
  let started = null;
  const blocked = [];
  const start = async () => {
    const server = await startServer({ modelsDir: path.dirname(manifest) });
    const origin = server.url.replace(/\/$/, '');
    let browser;
    try {
      browser = await launchChromium();
      // Nothing may leave 127.0.0.1: anything else is aborted (and fails the run).
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
      return { server, browser, page };
    } catch (e) {
      await browser?.close();
      await server.close();
      throw e;
    }
  };
  const call = async (fn, arg) => {
    started ??= start();
    const { page } = await started;
    const result = await page.evaluate(fn, arg);
    if (blocked.length) throw new Error(`the page tried to reach ${blocked[0]} (blocked: only 127.0.0.1 is allowed)`);
    if (!result.ok) throw pageError(result);
    return result;
  };
  const wire = (inputs) =>
    Object.fromEntries(
      Object.entries(inputs).map(([k, t]) => [
        k,
        { dtype: t.dtype, shape: t.shape, b64: Buffer.from(t.bytes()).toString('base64') },
      ]),
    );
  return {
    load: async (model) => {
      const loaded = await call((job) => globalThis.deploykit.load(job), {
        modelId: model.id,
        backend,
        manifestUrl: `/models/${encodeURIComponent(path.basename(manifest))}`,
      });
      if (loaded.backend !== backend)
        throw new LoadError('load', `asked for the ${backend} backend, the page ran ${loaded.backend}`);
      const job = (inputs, extra) => ({ handle: loaded.handle, inputs: wire(inputs), ...extra });
      const runner = {
        loadMs: loaded.loadMs,
        lastMs: undefined,
        predict: async (inputs) => {
          const r = await call((j) => globalThis.deploykit.run(j), job(inputs));
          runner.lastMs = r.firstMs;
          return Object.fromEntries(
            Object.entries(r.outputs).map(([k, v]) => [
              k,
              Tensor.fromBytes(v.dtype, v.shape, Buffer.from(v.b64, 'base64')),
            ]),
          );
        },
        // Timed in the page: predictTensors interleaved with the bare TF.js call there.
        time: async (inputs, { warmup, repeat, direct }) => {
          const t = await call((j) => globalThis.deploykit.time(j), job(inputs, { warmup, repeat, direct }));
          return {
            timesUs: t.timesUs,
            blocks: t.blocks,
            ...(t.directUs && { directUs: t.directUs, direct: t.direct }),
          };
        },
        dispose: async () => {
          const { page } = await started;
          await page.evaluate((h) => globalThis.deploykit.unload(h), loaded.handle).catch(() => {});
        },
      };
      return runner;
    },
    close: async () => {
      if (!started) return;
      const s = await started.catch(() => null);
      await s?.browser.close();
      await s?.server.close();
    },
  };
}

/** @type {import('./common.js').Engine} */
const engine = {
  prog: 'deploykit-browser',
  runtime: 'tfjs-chromium',
  backends: { names: ['wasm', 'cpu', 'webgl'], default: 'wasm' },
  version: async () => `tfjs ${TFJS_VERSION}, ${chromiumVersion()}`,
  session: pageSession,
};

process.exitCode = await main(process.argv.slice(2), engine);
