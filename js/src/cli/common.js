// The common client command line of DESIGN.md, shared by bin/deploykit-node (TF.js in Node)
// and bin/deploykit-browser (TF.js in headless Chromium). Each passes an `engine` that loads
// the model and runs the batch; everything else (flags, files, --check, --timing, exit codes)
// is here so the two behave identically.

import fs from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

import { checkLine, compare } from '../common/compare.js';
import { LoadError } from '../common/loader.js';
import { FORMAT, ManifestError, resolveArtifact } from '../common/manifest.js';
import { NpyError, readNpy, writeNpy } from '../common/npy.js';
import { readManifest } from '../node/manifest_file.js';

export const EXIT = { ok: 0, mismatch: 1, usage: 2, load: 3 };

/** Bad flags or bad input files (exit 2). */
export class UsageError extends Error {
  constructor(message) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * @param {string} prog
 * @param {{names: string[], default: string}} backends
 */
export function usage(prog, backends) {
  return `usage: ${prog} --manifest M --model ID [--format ${FORMAT}] --input in.npy --output out.npy
       [--check expected.npy] [--repeat N] [--warmup K] [--timing timing.json]
       [--backend ${backends.names.join('|')}] [--verbose]

Runs a deploykit model's ${FORMAT} artifact on a (rows, features) '<f4' .npy batch.
  --backend    TF.js backend (default ${backends.default})
  --check      compare the output with expected.npy under the artifact's tolerance
  --repeat N   after the first run, time N more runs (after K --warmup runs)
  --timing     write {load_ms, first_ms, batch, latency_us: {p50, p90, p99, mean}}
               (deploykit-node adds direct_latency_us, direct: the bare TF.js call, interleaved)
  --version    print the runtime's version
exit codes: 0 ok, 1 --check mismatch, 2 usage or bad input, 3 model failed to load or its integrity check`;
}

const OPTIONS = {
  manifest: { type: 'string' },
  model: { type: 'string' },
  format: { type: 'string' },
  input: { type: 'string' },
  output: { type: 'string' },
  check: { type: 'string' },
  repeat: { type: 'string' },
  warmup: { type: 'string' },
  timing: { type: 'string' },
  backend: { type: 'string' },
  verbose: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  version: { type: 'boolean', default: false },
};

/**
 * @param {string[]} argv arguments after the program name
 * @param {{names: string[], default: string}} backends
 */
export function parseCli(argv, backends) {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new UsageError(e.message.split('\n')[0]);
  }
  if (values.help || values.version) return values;
  for (const name of ['manifest', 'model', 'input', 'output']) {
    if (!values[name]) throw new UsageError(`--${name} is required`);
  }
  const count = (name, min, fallback) => {
    if (values[name] === undefined) return fallback;
    if (!/^\d+$/.test(values[name]) || Number(values[name]) < min) throw new UsageError(`--${name} must be an integer >= ${min}, got '${values[name]}'`);
    return Number(values[name]);
  };
  values.warmup = count('warmup', 0, 0);
  values.repeat = count('repeat', 1, values.timing ? 1 : 0);
  values.backend = values.backend ?? backends.default;
  if (!backends.names.includes(values.backend)) throw new UsageError(`--backend must be one of ${backends.names.join(', ')}, got '${values.backend}'`);
  return values;
}

/** numpy's default (linear) percentile. */
export function percentile(sorted, q) {
  if (sorted.length === 1) return sorted[0];
  const pos = (q / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** @param {number[]} micros */
export function latencySummary(micros) {
  const sorted = [...micros].sort((a, b) => a - b);
  const mean = sorted.reduce((s, v) => s + v, 0) / sorted.length;
  return { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), mean };
}

/**
 * Per-call microseconds of `a` and `b` (each may be async), `n` calls each, after `warmup`
 * untimed calls of each (alternating). The timed calls run in min(rounds, n) blocks whose sizes
 * differ by at most one, a then b, then b then a, ..., so that machine noise hits both alike.
 * A null `b` is skipped (its list stays empty).
 * @param {() => unknown} a
 * @param {(() => unknown) | null} b
 * @returns {Promise<{a: number[], b: number[]}>}
 */
export async function interleave(a, b, n, warmup = 0, rounds = 10) {
  for (let i = 0; i < warmup; i++) {
    await a();
    if (b) await b();
  }
  const times = { a: [], b: [] };
  const block = async (fn, calls, out) => {
    for (let i = 0; i < calls; i++) {
      const start = performance.now();
      await fn();
      out.push((performance.now() - start) * 1e3);
    }
  };
  rounds = Math.max(1, Math.min(rounds, n));
  for (let r = 0; r < rounds && n > 0; r++) {
    const calls = Math.floor(n / rounds) + (r < n % rounds ? 1 : 0);
    if (r % 2 === 0 || !b) {
      await block(a, calls, times.a);
      if (b) await block(b, calls, times.b);
    } else {
      await block(b, calls, times.b);
      await block(a, calls, times.a);
    }
  }
  return times;
}

async function readNpyFile(file, what) {
  let bytes;
  try {
    bytes = await fs.readFile(file);
  } catch (e) {
    throw new UsageError(`cannot read ${what} ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
  try {
    return readNpy(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    if (e instanceof NpyError) throw new UsageError(`${what} ${file}: ${e.message}`);
    throw e;
  }
}

/**
 * @typedef {object} Engine
 * @property {string} prog launcher name for usage
 * @property {{names: string[], default: string}} backends
 * @property {(backend?: string) => Promise<string>} version one line
 * @property {(job: object) => Promise<{output: Float32Array, loadMs: number, firstMs: number, timesUs: number[], directUs?: number[], direct?: string}>} run
 */

/**
 * Runs the CLI; returns the exit code (never throws).
 * @param {string[]} argv
 * @param {Engine} engine
 * @param {{stdout: (s: string) => void, stderr: (s: string) => void}} [io]
 */
export async function main(argv, engine, io = { stdout: (s) => process.stdout.write(s + '\n'), stderr: (s) => process.stderr.write(s + '\n') }) {
  if (argv.length === 0) {
    io.stderr(usage(engine.prog, engine.backends));
    return EXIT.usage;
  }
  const verbose = argv.includes('--verbose');
  try {
    const opts = parseCli(argv, engine.backends);
    if (opts.help) {
      io.stdout(usage(engine.prog, engine.backends));
      return EXIT.ok;
    }
    if (opts.version) {
      io.stdout(await engine.version(opts.backend));
      return EXIT.ok;
    }
    const doc = await readManifest(opts.manifest);
    const { model, artifact, features, outputs } = resolveArtifact(doc, opts.model, opts.format);
    const input = await readNpyFile(opts.input, 'input');
    if (input.shape[1] !== features) throw new UsageError(`input ${opts.input}: expected ${features} features per row for ${model.id}, got shape (${input.shape.join(', ')})`);
    if (input.shape[0] === 0) throw new UsageError(`input ${opts.input}: has no rows`);
    const expected = opts.check ? await readNpyFile(opts.check, 'expected') : null;
    if (expected && (expected.shape[0] !== input.shape[0] || expected.shape[1] !== outputs)) {
      throw new UsageError(`expected ${opts.check}: shape (${expected.shape.join(', ')}) does not match the output shape (${input.shape[0]}, ${outputs})`);
    }
    const result = await engine.run({ ...opts, manifestDoc: doc, model, artifact, features, outputs, input });
    try {
      await fs.writeFile(opts.output, writeNpy(result.output, [input.shape[0], outputs]));
    } catch (e) {
      throw new UsageError(`cannot write output ${opts.output}: ${e.message}`);
    }
    if (opts.timing) {
      const timing = { load_ms: result.loadMs, first_ms: result.firstMs, batch: input.shape[0], latency_us: latencySummary(result.timesUs.length ? result.timesUs : [result.firstMs * 1e3]), backend: opts.backend, runtime: engine.runtime };
      // The bare runtime call timed alongside (engines that can: bin/deploykit-node).
      if (result.directUs?.length) Object.assign(timing, { direct_latency_us: latencySummary(result.directUs), direct: result.direct });
      try {
        await fs.writeFile(opts.timing, JSON.stringify(timing, null, 2) + '\n');
      } catch (e) {
        throw new UsageError(`cannot write timing ${opts.timing}: ${e.message}`);
      }
    }
    if (expected) {
      const res = compare(result.output, expected.data, artifact.tolerance);
      io.stdout(checkLine(`${model.id}/${artifact.format}`, res, artifact.tolerance) + ` [${engine.runtime} ${opts.backend}]`);
      return res.pass ? EXIT.ok : EXIT.mismatch;
    }
    return EXIT.ok;
  } catch (e) {
    if (verbose) io.stderr(e.stack || String(e));
    if (e instanceof UsageError || e instanceof ManifestError) {
      io.stderr(`error: ${e instanceof ManifestError ? 'manifest' : 'usage'}: ${e.message}`);
      return EXIT.usage;
    }
    if (e instanceof LoadError) {
      io.stderr(`error: ${{ integrity: 'integrity', unsafe: 'safety' }[e.kind] ?? 'load'}: ${e.message}`);
      return EXIT.load;
    }
    io.stderr(`error: ${engine.runtime}: ${String(e.message || e).split('\n')[0]}`);
    return EXIT.load;
  }
}
