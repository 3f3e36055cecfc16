// The v2 manifest (docs/contract.md, "Manifest"): validation of everything a client relies on,
// and the look-ups shared by Node and the browser (model, artifact, signature keys, golden
// sets). Pure functions over the parsed manifest.json.

import { DTYPES, MAX_RANK } from './tensor.js';
import { isVersion } from './versions.js';

/** The format this client runs. */
export const FORMAT = 'tfjs-graph';
export const SCHEMA_VERSION = 2;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const KEYED_FORMATS = new Set(['onnx', 'saved-model', 'tflite', 'tfjs-graph']);
/** spec dtype -> boundary dtypes the contract allows. */
export const BOUNDARY_CASTS = { int64: ['int32'], bool: ['int32'], uint8: ['int32'], float16: ['float32'] };

/**
 * A manifest/model/format problem. `exit` is the CLI's code: 2 for a malformed manifest or an
 * unknown model/format, 3 for a schema_version this client does not read.
 */
export class ManifestError extends Error {
  constructor(message, exit = 2) {
    super(message);
    this.name = 'ManifestError';
    this.exit = exit;
  }
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A relative path with `/` separators that stays inside the manifest's folder. */
export function safeRelPath(p) {
  return (
    typeof p === 'string' &&
    p !== '' &&
    !p.startsWith('/') &&
    !p.includes('\\') &&
    !/^[A-Za-z]:/.test(p) &&
    !p.split('/').some((part) => part === '..' || part === '.' || part === '')
  );
}

function checkSpecs(model, side, fail) {
  const specs = model[side];
  if (!Array.isArray(specs) || specs.length === 0) fail(`'${side}' must be a non-empty list`);
  const seen = new Set();
  specs.forEach((spec, i) => {
    if (!isObject(spec)) fail(`${side}[${i}] is not an object`);
    const what = `${side.slice(0, -1)} ${JSON.stringify(spec.name)}`;
    if (typeof spec.name !== 'string' || !NAME.test(spec.name))
      fail(`${side}[${i}] has a bad name ${JSON.stringify(spec.name)}`);
    if (seen.has(spec.name)) fail(`${what} is listed twice`);
    seen.add(spec.name);
    if (!Object.hasOwn(DTYPES, spec.dtype))
      fail(`${what} has dtype ${JSON.stringify(spec.dtype)} (expected one of ${Object.keys(DTYPES).join(', ')})`);
    if (!Array.isArray(spec.shape)) fail(`${what} has no shape list`);
    if (spec.shape.length > MAX_RANK) fail(`${what} has rank ${spec.shape.length}, over ${MAX_RANK}`);
    spec.shape.forEach((d, k) => {
      if (typeof d === 'string') {
        if (!NAME.test(d)) fail(`${what} dim ${k} has a bad name ${JSON.stringify(d)}`);
      } else if (!Number.isSafeInteger(d) || d < 0) {
        fail(`${what} dim ${k} is ${JSON.stringify(d)} (a non-negative integer or a dim name)`);
      }
    });
    if (
      spec.range !== undefined &&
      (!Array.isArray(spec.range) || spec.range.length !== 2 || !spec.range.every(Number.isFinite))
    ) {
      fail(`${what} has a bad range ${JSON.stringify(spec.range)}`);
    }
  });
}

function checkDims(model, fail) {
  if (model.dims === undefined) return;
  if (!isObject(model.dims)) fail("'dims' is not an object");
  const used = new Set(
    [...model.inputs, ...model.outputs].flatMap((s) => s.shape.filter((d) => typeof d === 'string')),
  );
  for (const [name, range] of Object.entries(model.dims)) {
    if (!NAME.test(name)) fail(`dims has a bad name ${JSON.stringify(name)}`);
    if (!used.has(name)) fail(`dims names '${name}', which no shape uses`);
    if (!isObject(range)) fail(`dims.${name} is not an object`);
    for (const key of ['min', 'max']) {
      if (range[key] !== undefined && (!Number.isSafeInteger(range[key]) || range[key] < 0))
        fail(`dims.${name}.${key} is ${JSON.stringify(range[key])} (a non-negative integer)`);
    }
    if (range.min !== undefined && range.max !== undefined && range.min > range.max)
      fail(`dims.${name}: min ${range.min} > max ${range.max}`);
  }
}

function checkArtifact(model, artifact, i, fail) {
  if (!isObject(artifact) || typeof artifact.format !== 'string') fail(`artifacts[${i}] has no format`);
  const label = `artifact ${artifact.format}`;
  if (!safeRelPath(artifact.path))
    fail(`${label} path ${JSON.stringify(artifact.path)} is not a relative path inside the export`);
  const specs = { input: model.inputs, output: model.outputs };
  for (const side of ['input', 'output']) {
    const keys = artifact[`${side}_keys`];
    if (keys === undefined && !KEYED_FORMATS.has(artifact.format)) continue;
    if (!isObject(keys)) fail(`${label} has no ${side}_keys`);
    const names = specs[side].map((s) => s.name);
    for (const name of Object.keys(keys)) {
      if (!names.includes(name)) fail(`${label} ${side}_keys names ${side} '${name}', which the model does not have`);
      if (typeof keys[name] !== 'string') fail(`${label} ${side}_keys.${name} is not a string`);
    }
    const missing = names.filter((n) => !Object.hasOwn(keys, n));
    if (missing.length) fail(`${label} ${side}_keys has no entry for ${side} '${missing[0]}'`);
  }
  if (artifact.boundary_dtypes !== undefined) {
    if (!isObject(artifact.boundary_dtypes)) fail(`${label} boundary_dtypes is not an object`);
    for (const [name, to] of Object.entries(artifact.boundary_dtypes)) {
      const spec = [...model.inputs, ...model.outputs].find((s) => s.name === name);
      if (!spec) fail(`${label} boundary_dtypes names tensor '${name}', which the model does not have`);
      if (!(BOUNDARY_CASTS[spec.dtype] || []).includes(to))
        fail(`${label} boundary cast of tensor '${name}' ${spec.dtype} -> ${to} is not allowed`);
    }
  }
  // Every family is checked, unknown ones too (they are stored and otherwise ignored).
  if (artifact.min_runtime !== undefined) {
    if (!isObject(artifact.min_runtime)) fail(`${label} min_runtime is not an object`);
    for (const [family, version] of Object.entries(artifact.min_runtime)) {
      if (!isVersion(version))
        fail(
          `${label} min_runtime.${family} is ${JSON.stringify(version)} (expected MAJOR[.MINOR[.PATCH]], digits only)`,
        );
    }
  }
  const tol = artifact.tolerance;
  if (tol !== undefined) {
    const num = (t, where) => {
      if (!isObject(t) || !Number.isFinite(t.atol) || !Number.isFinite(t.rtol) || t.atol < 0 || t.rtol < 0)
        fail(`${label} ${where} needs non-negative atol and rtol`);
    };
    num(tol, 'tolerance');
    if (tol.outputs !== undefined) {
      if (!isObject(tol.outputs)) fail(`${label} tolerance.outputs is not an object`);
      for (const [name, t] of Object.entries(tol.outputs)) {
        if (!model.outputs.some((s) => s.name === name))
          fail(`${label} tolerance names output '${name}', which the model does not have`);
        num(t, `tolerance of output '${name}'`);
      }
    }
  }
  if (artifact.files !== undefined) {
    if (!Array.isArray(artifact.files)) fail(`${label} files is not a list`);
    for (const f of artifact.files)
      if (!isObject(f) || !safeRelPath(f.path)) fail(`${label} lists an unsafe file path ${JSON.stringify(f?.path)}`);
  }
}

function checkGolden(model, fail) {
  if (model.golden === undefined) return;
  if (!Array.isArray(model.golden)) fail("'golden' is not a list of named sets");
  for (const set of model.golden) {
    if (!isObject(set) || typeof set.name !== 'string') fail('a golden set has no name');
    for (const side of ['inputs', 'expected']) {
      if (!isObject(set[side])) fail(`golden set '${set.name}' has no ${side} map`);
      for (const p of Object.values(set[side]))
        if (!safeRelPath(p)) fail(`golden set '${set.name}' has an unsafe path ${JSON.stringify(p)}`);
    }
  }
}

/**
 * Checks a parsed manifest against the contract; unknown fields are ignored.
 * @param {any} doc parsed manifest.json
 * @returns {any} the same document
 * @throws {ManifestError} exit 3 for a schema_version other than 2, exit 2 for anything malformed
 */
export function validateManifest(doc, label = 'manifest') {
  if (!isObject(doc)) throw new ManifestError(`${label}: is not a JSON object`);
  if (doc.schema_version !== SCHEMA_VERSION) {
    const v = doc.schema_version === undefined ? '(missing)' : JSON.stringify(doc.schema_version);
    throw new ManifestError(`${label}: schema_version ${v} is not supported (this client reads ${SCHEMA_VERSION})`, 3);
  }
  if (!Array.isArray(doc.models)) throw new ManifestError(`${label}: 'models' is not a list`);
  const ids = new Set();
  doc.models.forEach((model, i) => {
    const id = isObject(model) && typeof model.id === 'string' ? model.id : `models[${i}]`;
    const fail = (why) => {
      throw new ManifestError(`${label}: model ${id}: ${why}`);
    };
    if (!isObject(model) || typeof model.id !== 'string' || model.id === '') fail('has no id');
    if (ids.has(model.id)) fail('is listed twice');
    ids.add(model.id);
    checkSpecs(model, 'inputs', fail);
    checkSpecs(model, 'outputs', fail);
    checkDims(model, fail);
    if (!Array.isArray(model.artifacts)) fail("'artifacts' is not a list");
    model.artifacts.forEach((a, k) => checkArtifact(model, a, k, fail));
    checkGolden(model, fail);
  });
  return doc;
}

/**
 * @param {any} doc validated manifest
 * @param {string} modelId
 * @param {string} [format] defaults to the one format this client runs
 * @returns {{model: any, artifact: any}}
 * @throws {ManifestError} (exit 2) unknown model or format, or an artifact this client cannot use
 */
export function resolveArtifact(doc, modelId, format) {
  const model = doc.models.find((m) => m.id === modelId);
  if (!model)
    throw new ManifestError(
      `model ${modelId}: unknown model (manifest has: ${doc.models.map((m) => m.id).join(', ')})`,
    );
  const wanted = format ?? FORMAT;
  if (wanted !== FORMAT) throw new ManifestError(`format ${wanted}: not supported by this client (it runs ${FORMAT})`);
  const artifacts = model.artifacts.filter((a) => a.format === wanted);
  if (artifacts.length === 0) {
    throw new ManifestError(
      `model ${modelId}: no ${wanted} artifact (it has: ${model.artifacts.map((a) => a.format).join(', ')})`,
    );
  }
  if (artifacts.length > 1) throw new ManifestError(`model ${modelId}: lists ${artifacts.length} ${wanted} artifacts`);
  const artifact = artifacts[0];
  for (const key of ['sha256', 'tolerance']) {
    if (artifact[key] == null) throw new ManifestError(`${modelId}/${wanted} artifact has no '${key}'`);
  }
  if (!Array.isArray(artifact.files) || artifact.files.length === 0)
    throw new ManifestError(`${modelId}/${wanted} artifact lists no files`);
  return { model, artifact };
}

/** The tolerance of one output: its override, or the artifact's. */
export function toleranceFor(artifact, outputName) {
  const tol = artifact.tolerance || {};
  const own = tol.outputs?.[outputName];
  return { atol: (own ?? tol).atol, rtol: (own ?? tol).rtol };
}

/** Models of the manifest that have an artifact this client runs. */
export function runnableModels(doc) {
  return doc.models.filter((m) => m.artifacts.some((a) => a.format === FORMAT));
}

/** A golden set of a model by name (undefined when absent). */
export function goldenSet(model, name) {
  return (model.golden || []).find((s) => s.name === name);
}

/**
 * Maps the manifest's input/output keys through the graph model's signature to the graph's
 * tensor names (e.g. "input:0", "Identity:0"); never guesses op names.
 * @param {any} model manifest model entry
 * @param {any} artifact its tfjs-graph artifact
 * @param {any} signature model.json's "signature" ({inputs: {key: {name}}, outputs: {...}})
 * @returns {{inputs: Record<string, string>, outputs: Record<string, string>}} model tensor
 *   name -> graph tensor name
 */
export function signatureNames(model, artifact, signature) {
  if (!signature || !signature.inputs || !signature.outputs) throw new Error('model.json has no signature');
  const pick = (side, name) => {
    const key = artifact[`${side}_keys`][name];
    const entry = signature[`${side}s`][key];
    if (!entry || !entry.name)
      throw new Error(
        `signature has no ${side} '${key}' for ${side} ${name} (has: ${Object.keys(signature[`${side}s`]).join(', ')})`,
      );
    return entry.name;
  };
  return {
    inputs: Object.fromEntries(model.inputs.map((s) => [s.name, pick('input', s.name)])),
    outputs: Object.fromEntries(model.outputs.map((s) => [s.name, pick('output', s.name)])),
  };
}

/**
 * The folder hash of docs/contract.md from per-file hashes: sha256 over the lines
 * "<sha256hex>  <relpath>\n" sorted by the relative path's UTF-8 bytes.
 * @param {{path: string, sha256: string}[]} files
 * @param {(bytes: Uint8Array<ArrayBuffer>) => Promise<string>} sha256hex
 */
export async function folderHash(files, sha256hex) {
  const enc = new TextEncoder();
  const sorted = [...files].sort((a, b) => compareBytes(enc.encode(a.path), enc.encode(b.path)));
  const text = sorted.map((f) => `${f.sha256}  ${f.path}\n`).join('');
  return sha256hex(enc.encode(text));
}

function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/**
 * The manifest's TF op deny-list (top-level `safety.unsafe_ops`: {path, sha256}, the file beside
 * the manifest), verified and parsed. TF.js has no kernels for these ops anyway; the client still
 * refuses a graph that names one, with the deny-list's reason, instead of a TF.js error.
 * @param {any} doc the manifest
 * @param {(relPath: string) => Promise<Uint8Array<ArrayBuffer> | null>} readFile null when the file is absent
 * @param {(bytes: Uint8Array<ArrayBuffer>) => Promise<string>} sha256hex
 * @returns {Promise<Map<string, string>>} op -> why (empty when the manifest names no deny-list)
 * @throws {Error & {kind: 'integrity'}} listed but missing, tampered or malformed
 */
export async function readDenyList(doc, readFile, sha256hex) {
  const entry = doc.safety?.unsafe_ops;
  if (!entry) return new Map();
  const fail = (why) => Object.assign(new Error(`deny-list ${entry.path}: ${why}`), { kind: 'integrity' });
  if (!safeRelPath(entry.path) || typeof entry.sha256 !== 'string')
    throw fail('safety.unsafe_ops needs a relative path and a sha256');
  const bytes = await readFile(entry.path);
  if (!bytes) throw fail('is missing beside the manifest');
  const digest = await sha256hex(bytes);
  if (digest !== entry.sha256)
    throw fail(`sha256 mismatch (manifest ${entry.sha256.slice(0, 12)}…, file ${digest.slice(0, 12)}…)`);
  let list;
  try {
    list = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw fail(`not valid JSON (${e.message})`);
  }
  if (!Array.isArray(list?.ops)) throw fail("has no 'ops' list");
  return new Map(list.ops.map((o) => [o.op, o.why ?? '']));
}
