// The common client command line of docs/contract.md, shared by bin/deploykit-node (TF.js in
// Node) and bin/deploykit-browser (TF.js in headless Chromium). Each passes an `engine` that
// loads models and runs calls; everything else (flags, files, input checks, --check, --timing,
// --jobs, exit codes) is here so the two behave identically.

import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

import { checkInputs } from '../common/checks.js';
import { checkLine, compareTensors } from '../common/compare.js';
import { CharDecoder, GenerateError } from '../common/generate.js';
import { ManifestError, resolveArtifact, toleranceFor } from '../common/manifest.js';
import { NpyError, readNpy, writeNpy } from '../common/npy.js';
import { interleave, latencySummary, percentile } from '../common/timing.js';
import { readManifest } from '../node/manifest_file.js';
import { UsageError, parseCli, parseJobs, resolveFiles, usage } from './args.js';

export { UsageError, interleave, latencySummary, percentile };
export const EXIT = { ok: 0, mismatch: 1, usage: 2, load: 3 };
/** The project's version: package.json's "version", kept equal to the repository's VERSION file. */
export const VERSION = createRequire(import.meta.url)('../../package.json').version;

async function readTensor(file, what) {
  let bytes;
  try {
    bytes = await fs.readFile(file);
  } catch (e) {
    throw new UsageError(`${what} ${file}: cannot read: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
  try {
    return readNpy(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    if (e instanceof NpyError) throw new UsageError(`${what} ${file}: ${e.message}`);
    throw e;
  }
}

async function readAll(files, what) {
  const out = {};
  for (const [name, file] of Object.entries(files)) out[name] = await readTensor(file, `${what} ${name}`);
  return out;
}

/**
 * @typedef {object} Runner a loaded model in an engine
 * @property {(inputs: Record<string, import('../common/tensor.js').Tensor>) => Promise<Record<string, import('../common/tensor.js').Tensor>>} predict
 * @property {(inputs: Record<string, import('../common/tensor.js').Tensor>, o: {warmup: number, repeat: number, direct: boolean}) => Promise<{timesUs: number[], blocks: number, directUs?: number[], direct?: string}>} time
 * @property {number} loadMs
 * @property {number} [lastMs] the last predict's own duration, where the engine measures it
 * @property {() => Promise<void> | void} dispose
 *
 * @typedef {object} Engine
 * @property {string} prog launcher name for usage
 * @property {string} runtime
 * @property {{names: string[], default: string}} backends
 * @property {(backend?: string) => Promise<string>} version the runtime versions, shown as
 *   `<prog> <VERSION> (<this>)`
 * @property {(o: {manifest: string, doc: any, backend: string, verbose: boolean}) => {load: (model: any, artifact: any) => Promise<Runner>, close: () => Promise<void>}} session
 */

/**
 * Runs one job: resolve, read and check the inputs, load (through `loadOnce`), run, write,
 * check. `timing` ({warmup, repeat, file?, report?, backend, runtime}, or null) times the call
 * after the first; returns the lines to print, the exit code and `timing`: --timing's object
 * (written to `timing.file` when given), null unless `timing.file` or `timing.report`. Throws
 * for exit 2/3 failures.
 */
async function runJob(job, { doc, loadOnce, timing }) {
  const { model, artifact } = resolveArtifact(doc, job.model, job.format);
  const inNames = model.inputs.map((s) => s.name);
  const outNames = model.outputs.map((s) => s.name);
  const inputs = await readAll(resolveFiles('input', job.inputs, inNames), 'input');
  const outFiles = resolveFiles('output', job.outputs, outNames);
  const checks = await readAll(resolveFiles('check', job.checks, outNames), 'check');
  checkInputs(model, inputs, artifact);
  const runner = await loadOnce(model, artifact);
  const start = performance.now();
  const outputs = await runner.predict(inputs);
  // An engine that times inside its runtime (the browser page) reports its own figure.
  const firstMs = runner.lastMs ?? performance.now() - start;
  if (job.outputs?.dir) {
    try {
      await fs.mkdir(job.outputs.dir, { recursive: true });
    } catch (e) {
      throw new UsageError(`--output-dir ${job.outputs.dir}: cannot create: ${e.message}`);
    }
  }
  for (const [name, file] of Object.entries(outFiles)) {
    try {
      await fs.writeFile(file, writeNpy(outputs[name]));
    } catch (e) {
      throw new UsageError(`output ${name} ${file}: cannot write: ${e.message}`);
    }
  }
  let timed = null;
  if (timing) {
    // --repeat/--warmup/--timing and a timed job share this: K untimed calls, then N timed
    // calls interleaved with N of the bare runtime call (engines that have one).
    const report = Boolean(timing.file) || timing.report;
    const t = await runner.time(inputs, { warmup: timing.warmup, repeat: timing.repeat, direct: report });
    if (report) {
      const first = model.inputs[0].name;
      timed = {
        load_ms: runner.loadMs,
        first_ms: firstMs,
        batch: inputs[first].shape.length ? inputs[first].shape[0] : 1,
        latency_us: latencySummary(t.timesUs.length ? t.timesUs : [firstMs * 1e3]),
        backend: timing.backend,
        runtime: timing.runtime,
      };
      // samples_us: the calls behind both summaries, in call order, for bench's block bootstrap.
      if (t.directUs?.length)
        Object.assign(timed, {
          direct_latency_us: latencySummary(t.directUs),
          direct: t.direct,
          samples_us: { latency: t.timesUs, direct: t.directUs, blocks: t.blocks },
        });
    }
    if (timing.file) {
      try {
        await fs.writeFile(timing.file, JSON.stringify(timed, null, 2) + '\n');
      } catch (e) {
        throw new UsageError(`timing ${timing.file}: cannot write: ${e.message}`);
      }
    }
  }
  const lines = [];
  let exit = EXIT.ok;
  for (const [name, want] of Object.entries(checks)) {
    const res = compareTensors(outputs[name], want, toleranceFor(artifact, name));
    lines.push(checkLine(name, res));
    if (!res.pass) exit = EXIT.mismatch;
  }
  return { exit, lines, timing: timed };
}

/** Maps an error to its exit code and one line (without the `error: ` prefix). */
function describe(e, runtime) {
  const line = String(e?.message ?? e).split('\n')[0];
  if (e instanceof GenerateError) return { exit: EXIT.usage, error: `--generate: ${line}` };
  if (e instanceof UsageError || e instanceof ManifestError || e?.name === 'InputError')
    return { exit: e.exit ?? EXIT.usage, error: line };
  if (e?.name === 'LoadError') return { exit: EXIT.load, error: line };
  return { exit: EXIT.load, error: `${runtime}: ${line}` };
}

/** A per-process cache: each (model, format) loads once; a failed load fails every job using it. */
function loader(session) {
  const cache = new Map();
  return {
    loadOnce: (model, artifact) => {
      const key = `${model.id}\0${artifact.format}`;
      if (!cache.has(key)) cache.set(key, session.load(model, artifact));
      return cache.get(key);
    },
    dispose: async () => {
      for (const p of cache.values())
        await p.then(
          (r) => r.dispose(),
          () => {},
        );
    },
  };
}

/**
 * --generate PROMPT --tokens N (docs/contract.md, "Text generation"): the model and the prompt
 * are checked before the artifact loads; then one call per character through the engine's
 * normal call (input checks and boundary casts included). Returns the prompt and its
 * continuation.
 */
async function runGenerate(opts, { doc, loadOnce }) {
  const { model, artifact } = resolveArtifact(doc, opts.model, opts.format);
  /** @type {Runner} */
  let runner;
  const decoder = new CharDecoder(model, (inputs) => runner.predict(inputs));
  decoder.encode(opts.generate);
  runner = await loadOnce(model, artifact);
  return decoder.generate(opts.generate, opts.tokens);
}

/**
 * Runs the CLI; returns the exit code (never throws).
 * @param {string[]} argv
 * @param {Engine} engine
 * @param {{stdout: (s: string) => void, stderr: (s: string) => void, write?: (s: string) => void}} [io]
 *   stdout and stderr print a line; write prints exactly its text (--generate's output)
 */
export async function main(
  argv,
  engine,
  io = {
    stdout: (s) => process.stdout.write(s + '\n'),
    stderr: (s) => process.stderr.write(s + '\n'),
    write: (s) => process.stdout.write(s),
  },
) {
  if (argv.length === 0) {
    io.stderr(usage(engine.prog, engine.backends));
    return EXIT.usage;
  }
  const verbose = argv.includes('--verbose');
  let session;
  let cache;
  try {
    const opts = parseCli(argv, engine.backends);
    if (opts.help) {
      io.stdout(usage(engine.prog, engine.backends));
      return EXIT.ok;
    }
    if (opts.version) {
      io.stdout(`${engine.prog} ${VERSION} (${await engine.version(opts.backend)})`);
      return EXIT.ok;
    }
    let jobs = null;
    if (opts.jobs !== undefined) {
      let text;
      try {
        text = await fs.readFile(opts.jobs, 'utf8');
      } catch (e) {
        throw new UsageError(`jobs ${opts.jobs}: cannot read: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
      }
      jobs = parseJobs(text, opts.jobs);
    }
    const doc = await readManifest(opts.manifest);
    session = engine.session({ manifest: path.resolve(opts.manifest), doc, backend: opts.backend, verbose });
    cache = loader(session);
    if (opts.generate !== undefined) {
      const text = await runGenerate(opts, { doc, loadOnce: cache.loadOnce });
      if (io.write) io.write(text);
      else io.stdout(text);
      return EXIT.ok;
    }
    if (jobs) return await runJobs(jobs, { doc, cache, io, verbose, backend: opts.backend, runtime: engine.runtime });
    const job = {
      id: null,
      model: opts.model,
      format: opts.format,
      inputs: opts.inputs,
      outputs: opts.outputs,
      checks: opts.checks,
    };
    const timing =
      opts.repeat > 0 || opts.timing
        ? {
            warmup: opts.warmup,
            repeat: opts.repeat,
            file: opts.timing,
            backend: opts.backend,
            runtime: engine.runtime,
          }
        : null;
    const { exit, lines } = await runJob(job, { doc, loadOnce: cache.loadOnce, timing });
    for (const l of lines) io.stdout(l);
    return exit;
  } catch (e) {
    if (verbose) io.stderr(e?.stack || String(e));
    const { exit, error } = describe(e, engine.runtime);
    io.stderr(`error: ${error}`);
    return exit;
  } finally {
    await cache?.dispose();
    await session?.close();
  }
}

/**
 * The --jobs loop: one JSON line per job. A timed job (`repeat`, `warmup`) that exits 0 gains
 * `timing`, the object --timing writes; a failed one has no `timing` key.
 */
async function runJobs(jobs, { doc, cache, io, verbose, backend, runtime }) {
  let first = EXIT.ok;
  for (const [index, job] of jobs.entries()) {
    const start = performance.now();
    let result;
    try {
      const timing =
        job.repeat === undefined ? null : { warmup: job.warmup, repeat: job.repeat, report: true, backend, runtime };
      const { exit, lines, timing: timed } = await runJob(job, { doc, loadOnce: cache.loadOnce, timing });
      // stdout carries only the JSON lines; the check lines go to stderr.
      for (const l of lines) io.stderr(`${job.id ?? index}: ${l}`);
      result = {
        exit,
        error: exit === EXIT.ok ? null : lines.filter((l) => / FAIL /.test(l)).join('; '),
        ...(exit === EXIT.ok && timed && { timing: timed }),
      };
    } catch (e) {
      if (verbose) io.stderr(e?.stack || String(e));
      result = describe(e, runtime);
    }
    io.stdout(
      JSON.stringify({
        id: job.id,
        index,
        exit: result.exit,
        error: result.error,
        seconds: (performance.now() - start) / 1e3,
        ...(result.timing && { timing: result.timing }),
      }),
    );
    if (first === EXIT.ok && result.exit !== EXIT.ok) first = result.exit;
  }
  return first;
}
