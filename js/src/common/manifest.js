// Manifest look-ups shared by Node and the browser: the model, its tfjs-graph artifact and
// the signature names. Pure functions over the parsed manifest.json (DESIGN.md).

/** The format this client runs. */
export const FORMAT = 'tfjs-graph';

/** A manifest/model/format problem the user can fix (CLI exit code 2). */
export class ManifestError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ManifestError';
  }
}

/**
 * Checks the fields this client relies on; unknown fields are ignored (DESIGN.md).
 * @param {any} doc parsed manifest.json
 */
export function validateManifest(doc) {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new ManifestError('manifest is not a JSON object');
  if (doc.schema_version !== 1) throw new ManifestError(`unsupported schema_version ${JSON.stringify(doc.schema_version)} (expected 1)`);
  if (!Array.isArray(doc.models)) throw new ManifestError("manifest has no 'models' list");
  return doc;
}

/**
 * @param {any} doc validated manifest
 * @param {string} modelId
 * @param {string} [format] defaults to the one format this client runs
 * @returns {{model: any, artifact: any, features: number, outputs: number}}
 */
export function resolveArtifact(doc, modelId, format) {
  const model = doc.models.find((m) => m && m.id === modelId);
  if (!model) {
    const ids = doc.models.map((m) => m && m.id).join(', ');
    throw new ManifestError(`unknown model '${modelId}' (manifest has: ${ids})`);
  }
  const wanted = format ?? FORMAT;
  if (wanted !== FORMAT) throw new ManifestError(`format '${wanted}' is not supported by this client (it runs ${FORMAT})`);
  const artifacts = (model.artifacts || []).filter((a) => a && a.format === wanted);
  if (artifacts.length === 0) {
    const have = (model.artifacts || []).map((a) => a && a.format).join(', ');
    throw new ManifestError(`model '${modelId}' has no ${wanted} artifact (it has: ${have})`);
  }
  if (artifacts.length > 1) throw new ManifestError(`model '${modelId}' lists ${artifacts.length} ${wanted} artifacts`);
  const artifact = artifacts[0];
  for (const key of ['path', 'sha256', 'tolerance', 'input_keys', 'output_keys']) {
    if (artifact[key] == null) throw new ManifestError(`${modelId}/${wanted} artifact has no '${key}'`);
  }
  if (!Array.isArray(artifact.files) || artifact.files.length === 0) throw new ManifestError(`${modelId}/${wanted} artifact lists no files`);
  const features = width(model.inputs, 'inputs', modelId);
  const outputs = width(model.outputs, 'outputs', modelId);
  return { model, artifact, features, outputs };
}

function width(specs, what, modelId) {
  const shape = Array.isArray(specs) && specs[0] && specs[0].shape;
  if (!Array.isArray(shape) || shape.length !== 2 || !Number.isInteger(shape[1]) || shape[1] <= 0) {
    throw new ManifestError(`model '${modelId}' ${what}[0].shape must be [-1, N]`);
  }
  return shape[1];
}

/** Models of the manifest that have an artifact this client runs. */
export function runnableModels(doc) {
  return doc.models.filter((m) => (m.artifacts || []).some((a) => a.format === FORMAT));
}

/**
 * Maps the manifest's input/output keys through the graph model's signature to the graph's
 * tensor names (e.g. "input:0", "Identity:0"); never guesses op names.
 * @param {any} model manifest model entry
 * @param {any} artifact its tfjs-graph artifact
 * @param {any} signature model.json's "signature" ({inputs: {key: {name}}, outputs: {...}})
 * @returns {{inputName: string, outputName: string}}
 */
export function signatureNames(model, artifact, signature) {
  if (!signature || !signature.inputs || !signature.outputs) throw new Error('model.json has no signature');
  const pick = (side, manifestName) => {
    const key = artifact[`${side}_keys`][manifestName];
    if (key == null) throw new Error(`artifact ${side}_keys has no entry for '${manifestName}'`);
    const entry = signature[`${side}s`][key];
    if (!entry || !entry.name) throw new Error(`signature has no ${side} '${key}' (has: ${Object.keys(signature[`${side}s`]).join(', ')})`);
    return entry.name;
  };
  return { inputName: pick('input', model.inputs[0].name), outputName: pick('output', model.outputs[0].name) };
}

/**
 * The folder hash of DESIGN.md from per-file hashes: sha256 over the lines
 * "<sha256hex>  <relpath>\n" sorted by the relative path's UTF-8 bytes.
 * @param {{path: string, sha256: string}[]} files
 * @param {(bytes: Uint8Array) => Promise<string>} sha256hex
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
 * @param {(relPath: string) => Promise<Uint8Array|null>} readFile null when the file is absent
 * @param {(bytes: Uint8Array) => Promise<string>} sha256hex
 * @returns {Promise<Map<string, string>>} op -> why (empty when the manifest names no deny-list)
 * @throws {Error & {kind: 'integrity'}} listed but missing, tampered or malformed
 */
export async function readDenyList(doc, readFile, sha256hex) {
  const entry = doc.safety?.unsafe_ops;
  if (!entry) return new Map();
  const fail = (why) => Object.assign(new Error(`deny-list ${entry.path}: ${why}`), { kind: 'integrity' });
  if (typeof entry.path !== 'string' || typeof entry.sha256 !== 'string') throw fail('safety.unsafe_ops needs path and sha256');
  const bytes = await readFile(entry.path);
  if (!bytes) throw fail('is missing beside the manifest');
  const digest = await sha256hex(bytes);
  if (digest !== entry.sha256) throw fail(`sha256 mismatch (manifest ${entry.sha256.slice(0, 12)}…, file ${digest.slice(0, 12)}…)`);
  let list;
  try {
    list = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw fail(`not valid JSON (${e.message})`);
  }
  if (!Array.isArray(list?.ops)) throw fail("has no 'ops' list");
  return new Map(list.ops.map((o) => [o.op, o.why ?? '']));
}
