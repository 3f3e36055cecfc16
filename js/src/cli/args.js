// The common client command line of docs/contract.md: flags -> a validated request. A request
// is one job (`--model ... --input ...`) or a jobs file (`--jobs FILE`); both end up as jobs of
// the same shape, whose tensor files are resolved once the model's specs are known.

import path from 'node:path';
import { parseArgs } from 'node:util';

import { MAX_TOKENS } from '../common/generate.js';
import { FORMAT } from '../common/manifest.js';

/** Bad flags or bad input files (exit 2). */
export class UsageError extends Error {
  constructor(message) {
    super(message);
    this.name = 'UsageError';
    this.exit = 2;
  }
}

/**
 * @param {string} prog
 * @param {{names: string[], default: string}} backends
 */
export function usage(prog, backends) {
  return `usage: ${prog} --manifest M --model ID [--format ${FORMAT}]
         --input NAME=FILE ... | --input FILE | --input-dir DIR
         [--output NAME=FILE ... | --output FILE | --output-dir DIR]
         [--check NAME=FILE ... | --check FILE | --check-dir DIR]
         [--repeat N] [--warmup K] [--timing timing.json] [--backend ${backends.names.join('|')}] [--verbose]
       ${prog} --manifest M --jobs jobs.jsonl [--backend ${backends.names.join('|')}] [--verbose]
       ${prog} --manifest M --model ID [--format ${FORMAT}] --generate PROMPT --tokens N [--backend ${backends.names.join('|')}]
       ${prog} --version

Runs a deploykit model's ${FORMAT} artifact on .npy tensors (one file per input).
  --input-dir  reads DIR/<name>.npy for every model input (a golden set's folder)
  --output-dir writes DIR/<name>.npy for every output; without an output flag nothing is written
  --check      compares outputs with reference files under the artifact's tolerance, one line each
  --jobs       JSON lines {id, model, format, inputs, outputs, check, repeat, warmup}: one load per
               (model, format), one JSON result line per job on stdout (with "timing" for a
               job that has "repeat")
  --generate   continues PROMPT with N characters (0 to ${MAX_TOKENS}) of a character model, greedily,
               and prints the prompt and its continuation (no newline)
  --backend    TF.js backend (default ${backends.default})
  --repeat N   after the first run, time N more runs (after K --warmup runs)
  --timing     write {load_ms, first_ms, batch, latency_us: {p50, p90, p99, mean}, ...}
exit codes: 0 ok, 1 --check mismatch, 2 usage or bad input, 3 model failed to load, its integrity
or safety check, or the manifest's schema_version is not 2`;
}

const OPTIONS = /** @type {const} */ ({
  manifest: { type: 'string' },
  model: { type: 'string' },
  format: { type: 'string' },
  input: { type: 'string', multiple: true },
  'input-dir': { type: 'string' },
  output: { type: 'string', multiple: true },
  'output-dir': { type: 'string' },
  check: { type: 'string', multiple: true },
  'check-dir': { type: 'string' },
  jobs: { type: 'string' },
  repeat: { type: 'string' },
  warmup: { type: 'string' },
  timing: { type: 'string' },
  generate: { type: 'string' },
  tokens: { type: 'string' },
  backend: { type: 'string' },
  verbose: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  version: { type: 'boolean', default: false },
});

/**
 * Tensor files of one side of a job: named files, one bare file, or a folder.
 * @typedef {{named: Record<string, string>, bare: string | null, dir: string | null}} FileSpec
 */

/**
 * `--input NAME=FILE` (repeatable; split at the first '='), a bare `--input FILE`, or
 * `--input-dir DIR`; at most one of the three forms.
 * @param {string} flag
 * @param {string[] | undefined} values the NAME=FILE and FILE arguments
 * @param {string | undefined} dir the -dir flag's folder
 * @returns {FileSpec | null} null when the side is not given
 */
export function fileSpec(flag, values, dir) {
  if ((!values || values.length === 0) && dir === undefined) return null;
  const spec = { named: {}, bare: null, dir: dir ?? null };
  for (const v of values || []) {
    const eq = v.indexOf('=');
    if (eq < 0) {
      if (spec.bare !== null)
        throw new UsageError(`--${flag} FILE without a name may be given once (use NAME=FILE for several tensors)`);
      spec.bare = v;
      continue;
    }
    const name = v.slice(0, eq);
    const file = v.slice(eq + 1);
    if (name === '' || file === '') throw new UsageError(`--${flag} ${v}: expected NAME=FILE`);
    if (Object.hasOwn(spec.named, name)) throw new UsageError(`--${flag} names ${name} twice`);
    spec.named[name] = file;
  }
  const forms = [Object.keys(spec.named).length > 0, spec.bare !== null, spec.dir !== null].filter(Boolean).length;
  if (forms > 1) throw new UsageError(`--${flag}: give NAME=FILE flags, one bare FILE or --${flag}-dir, not a mix`);
  if (spec.dir === '') throw new UsageError(`--${flag}-dir needs a folder`);
  return spec;
}

/**
 * Resolves a FileSpec against the model's tensor names.
 * @param {'input'|'output'|'check'} side
 * @param {FileSpec | null} spec
 * @param {string[]} names the model's inputs (for input) or outputs (for output and check)
 * @returns {Record<string, string>} name -> file (unknown names are kept for inputs, whose
 *   checks report them; refused for outputs and checks)
 */
export function resolveFiles(side, spec, names) {
  if (!spec) return {};
  const what = side === 'input' ? 'input' : 'output';
  if (spec.dir !== null) return Object.fromEntries(names.map((n) => [n, path.join(spec.dir, `${n}.npy`)]));
  if (spec.bare !== null) {
    if (names.length !== 1)
      throw new UsageError(
        `--${side} ${spec.bare}: a file without a name needs a one-${what} model; this one has ${names.length} ${what}s (${names.join(', ')}): use NAME=FILE`,
      );
    return { [names[0]]: spec.bare };
  }
  if (side !== 'input') {
    for (const name of Object.keys(spec.named)) {
      if (!names.includes(name))
        throw new UsageError(`--${side} ${name}: unknown output "${name}" (model outputs: ${names.join(', ')})`);
    }
  }
  return { ...spec.named };
}

/**
 * A checked command line: --help or --version; or --jobs; or one job (model and files).
 * @typedef {object} CliOptions
 * @property {boolean} help
 * @property {boolean} version
 * @property {boolean} verbose
 * @property {string} [backend] the engine's default when not given (except with --help/--version)
 * @property {string} [manifest]
 * @property {string} [jobs]
 * @property {string} [model]
 * @property {string} [format]
 * @property {FileSpec} [inputs]
 * @property {FileSpec | null} [outputs]
 * @property {FileSpec | null} [checks]
 * @property {number} [warmup]
 * @property {number} [repeat] 0: not timed
 * @property {string} [timing] the --timing file
 * @property {string} [generate] --generate's prompt (text generation mode)
 * @property {number} [tokens] --tokens: how many characters to generate
 */

/** The flags of a call on tensor files and of --jobs, none of which goes with --generate. */
const NOT_WITH_GENERATE = [
  'input',
  'input-dir',
  'output',
  'output-dir',
  'check',
  'check-dir',
  'repeat',
  'warmup',
  'timing',
  'jobs',
];

/**
 * Text generation mode (docs/contract.md, "Text generation"): --generate PROMPT --tokens N.
 * @param {Record<string, any>} values parseArgs's values
 * @returns {{generate: string, tokens: number}}
 */
function generateOptions(values) {
  if (values.generate === undefined) throw new UsageError('--tokens goes with --generate PROMPT');
  const other = NOT_WITH_GENERATE.find((k) => values[k] !== undefined);
  if (other) throw new UsageError(`--generate cannot be combined with --${other}`);
  const n = values.tokens;
  if (n === undefined) throw new UsageError('--generate needs --tokens N');
  if (!/^\d+$/.test(n) || Number(n) > MAX_TOKENS)
    throw new UsageError(`--tokens must be an integer from 0 to ${MAX_TOKENS}, got '${n}'`);
  if (!values.model) throw new UsageError('--model is required');
  return { generate: values.generate, tokens: Number(n) };
}

/**
 * `--generate X` and `--tokens X` always take the next argument as their value, even one that
 * starts with '-' (a prompt "- item", a count "-1" that then gets --tokens's own message):
 * parseArgs would refuse those as ambiguous, so they become `--generate=X` first.
 * @param {string[]} argv
 */
function joinValues(argv) {
  const out = [];
  for (let i = 0; i < argv.length; i++) {
    if ((argv[i] === '--generate' || argv[i] === '--tokens') && i + 1 < argv.length)
      out.push(`${argv[i]}=${argv[++i]}`);
    else out.push(argv[i]);
  }
  return out;
}

/**
 * @param {string[]} argv arguments after the program name
 * @param {{names: string[], default: string}} backends
 * @returns {CliOptions}
 */
export function parseCli(argv, backends) {
  let values;
  try {
    ({ values } = parseArgs({ args: joinValues(argv), options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (e) {
    throw new UsageError(e.message.split('\n')[0]);
  }
  const { help, version, verbose } = values;
  if (help || version) return { help, version, verbose, backend: values.backend };
  if (!values.manifest) throw new UsageError('--manifest is required');
  const backend = values.backend ?? backends.default;
  if (!backends.names.includes(backend))
    throw new UsageError(`--backend must be one of ${backends.names.join(', ')}, got '${backend}'`);
  const common = { help, version, verbose, backend, manifest: values.manifest };
  if (values.generate !== undefined || values.tokens !== undefined)
    return { ...common, model: values.model, format: values.format, ...generateOptions(values) };
  if (values.jobs !== undefined) {
    const single = [
      'model',
      'format',
      'input',
      'input-dir',
      'output',
      'output-dir',
      'check',
      'check-dir',
      'repeat',
      'warmup',
      'timing',
    ].filter((k) => values[k] !== undefined);
    if (single.length)
      throw new UsageError(`--jobs takes its models and files from the jobs file; --${single[0]} does not go with it`);
    return { ...common, jobs: values.jobs };
  }
  if (!values.model) throw new UsageError('--model is required');
  const inputs = fileSpec('input', values.input, values['input-dir']);
  if (!inputs) throw new UsageError('--input or --input-dir is required');
  const outputs = fileSpec('output', values.output, values['output-dir']);
  const checks = fileSpec('check', values.check, values['check-dir']);
  /** @param {'warmup' | 'repeat'} name */
  const count = (name, min, fallback) => {
    const v = values[name];
    if (v === undefined) return fallback;
    if (!/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`--${name} must be an integer >= ${min}, got '${v}'`);
    return Number(v);
  };
  const warmup = count('warmup', 0, 0);
  const repeat = count('repeat', 1, values.timing ? 1 : 0);
  return {
    ...common,
    model: values.model,
    format: values.format,
    inputs,
    outputs,
    checks,
    warmup,
    repeat,
    timing: values.timing,
  };
}

/**
 * Reads and validates a jobs file (JSON lines): every line is checked before any job runs.
 * Paths are relative to the jobs file's folder.
 * @param {string} text
 * @param {string} file the jobs file (for relative paths and messages)
 * @returns {{id: any, model: string, format?: string, inputs: FileSpec, outputs: FileSpec|null, checks: FileSpec|null, repeat?: number, warmup?: number}[]}
 */
export function parseJobs(text, file) {
  const base = path.dirname(path.resolve(file));
  const abs = (p) => path.resolve(base, p);
  const jobs = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const where = `${file}:${i + 1}`;
    let job;
    try {
      job = JSON.parse(line);
    } catch (e) {
      throw new UsageError(`${where}: not valid JSON: ${e.message}`);
    }
    if (job === null || typeof job !== 'object' || Array.isArray(job))
      throw new UsageError(`${where}: a job is a JSON object`);
    if (typeof job.model !== 'string' || job.model === '')
      throw new UsageError(`${where}: "model" must be a non-empty string`);
    if (job.format !== undefined && typeof job.format !== 'string')
      throw new UsageError(`${where}: "format" must be a string`);
    const side = (key, required) => {
      const v = job[key];
      if (v === undefined || v === null) {
        if (required) throw new UsageError(`${where}: "${key}" is required`);
        return null;
      }
      if (typeof v === 'string' && v !== '') return { named: {}, bare: abs(v), dir: null };
      if (typeof v !== 'object' || Array.isArray(v) || Object.keys(v).length === 0)
        throw new UsageError(`${where}: "${key}" must be an object {name: file} or one file`);
      for (const [k, f] of Object.entries(v))
        if (typeof f !== 'string' || f === '') throw new UsageError(`${where}: "${key}".${k} must be a file path`);
      return { named: Object.fromEntries(Object.entries(v).map(([k, f]) => [k, abs(f)])), bare: null, dir: null };
    };
    // A timed job: "repeat" N >= 1, and "warmup" K >= 0 only with it (absent or null: not given).
    const count = (key, min) => {
      const v = job[key];
      if (v === undefined || v === null) return undefined;
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)
        throw new UsageError(`${where}: "${key}" must be an integer >= ${min}, got ${JSON.stringify(v)}`);
      return v;
    };
    const repeat = count('repeat', 1);
    const warmup = count('warmup', 0);
    if (warmup !== undefined && repeat === undefined)
      throw new UsageError(`${where}: "warmup" needs "repeat" (a timed job)`);
    jobs.push({
      id: job.id ?? null,
      model: job.model,
      format: job.format,
      inputs: side('inputs', true),
      outputs: side('outputs', false),
      checks: side('check', false),
      ...(repeat !== undefined && { repeat, warmup: warmup ?? 0 }),
    });
  });
  return jobs;
}
