// The Node client: `load(manifestPath, modelId, {backend})` -> a Model whose `predict` maps
// named tf.Tensors to named tf.Tensors, and whose `predictTensors` maps named Tensors (typed
// arrays) to named Tensors after the contract's input checks. Integrity first (sha256 of every
// file and of the folder, symlinks refused), then TF.js's GraphModel from the verified bytes.

import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

import { checkInputs } from '../common/checks.js';
import { InputError, LoadError } from '../common/errors.js';
import { CharDecoder } from '../common/generate.js';
import { bareCall, boundaryInputs, loadVerifiedGraph, runGraph, specOutputs } from '../common/loader.js';
import { FORMAT, ManifestError, readDenyList, resolveArtifact } from '../common/manifest.js';
import { Tensor } from '../common/tensor.js';
import { checkRuntimeVersion } from '../common/versions.js';
import { readManifest } from './manifest_file.js';
import { tf, useBackend } from './tf.js';

export { LoadError, ManifestError, readManifest };

/** @param {Uint8Array} bytes */
export function sha256hex(bytes) {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

/**
 * the contract's folder hash over the regular files really present under `dir`; refuses symlinks
 * and anything that is neither a file nor a folder.
 * @param {string} dir
 */
export async function folderSha256(dir) {
  const lines = [];
  const walk = async (rel) => {
    const entries = await fs.readdir(path.join(dir, rel), { withFileTypes: true });
    for (const e of entries) {
      const relPath = rel ? `${rel}/${e.name}` : e.name;
      if (e.isSymbolicLink()) throw new LoadError('integrity', `refusing symlink ${relPath} in ${dir}`);
      if (e.isDirectory()) await walk(relPath);
      else if (e.isFile()) lines.push({ path: relPath, sha256: sha256hex(await fs.readFile(path.join(dir, relPath))) });
      else throw new LoadError('integrity', `refusing special file ${relPath} in ${dir}`);
    }
  };
  await walk('');
  lines.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  return sha256hex(Buffer.from(lines.map((l) => `${l.sha256}  ${l.path}\n`).join('')));
}

/**
 * A loaded tfjs-graph model. Calls may overlap (each allocates and frees its own tensors); TF.js
 * runs them on the one JS thread. `dispose()` frees the weights.
 */
export class Model {
  /** @param {import('../common/loader.js').Loaded & {backend: string}} loaded */
  constructor(loaded) {
    this.loaded = loaded;
    this.graph = loaded.graph;
    this.spec = loaded.model;
    this.id = loaded.model.id;
    this.artifact = loaded.artifact;
    this.tolerance = loaded.artifact.tolerance;
    this.backend = loaded.backend;
  }

  #alive() {
    if (this.graph === null) throw new Error(`model ${this.id} is disposed`);
  }

  /**
   * The contract's call: named Tensors (spec dtypes) in, named Tensors (spec dtypes) out. The
   * inputs are checked first (names, dtype, rank, dims, boundary casts).
   * @param {Record<string, Tensor | {dtype: string, shape: number[], data: ArrayLike<any>}>} inputs
   * @returns {Promise<Record<string, Tensor>>}
   * @throws {import('../common/errors.js').InputError}
   */
  async predictTensors(inputs) {
    this.#alive();
    const checked = Object.fromEntries(
      Object.entries(inputs).map(([k, v]) => [k, v instanceof Tensor ? v : new Tensor(v.dtype, v.shape, v.data)]),
    );
    checkInputs(this.spec, checked, this.artifact);
    // Node runs only the cpu and wasm backends, whose reads are synchronous.
    const out = await runGraph(tf, this.loaded, boundaryInputs(this.loaded, checked), { sync: true });
    return specOutputs(this.loaded, out);
  }

  /**
   * Named tf.Tensors in, named tf.Tensors out (the caller disposes both). Inputs carry the
   * TF.js dtype of each input (its boundary dtype: int32 for an int64 input); their shapes are
   * checked against the specs like predictTensors's.
   * @param {Record<string, import('@tensorflow/tfjs').Tensor>} inputs
   * @returns {Promise<Record<string, import('@tensorflow/tfjs').Tensor>>}
   */
  async predict(inputs) {
    this.#alive();
    const { model, names, dtypes } = this.loaded;
    const shapes = {};
    for (const [name, t] of Object.entries(inputs)) {
      if (!(t instanceof tf.Tensor)) throw new TypeError(`input ${name}: expected a tf.Tensor`);
      // A tensor in the input's TF.js dtype stands for the spec dtype (int32 for int64).
      const spec = model.inputs.find((s) => s.name === name);
      shapes[name] = { dtype: spec && t.dtype === dtypes.inputs[name] ? spec.dtype : t.dtype, shape: t.shape };
    }
    checkInputs(model, shapes);
    const casts = [];
    const x = {};
    for (const s of model.inputs) {
      let t = inputs[s.name];
      // A spec-dtype tensor TF.js holds (bool) goes through its boundary cast (int32).
      if (t.dtype !== dtypes.inputs[s.name]) casts.push((t = tf.cast(t, dtypes.inputs[s.name])));
      x[names.inputs[s.name]] = t;
    }
    try {
      const ys = [
        this.graph.execute(
          x,
          model.outputs.map((s) => names.outputs[s.name]),
        ),
      ].flat();
      return Object.fromEntries(model.outputs.map((s, i) => [s.name, ys[i]]));
    } finally {
      tf.dispose(casts);
    }
  }

  /**
   * The one-input, one-output float32 convenience.
   * @param {Float32Array} data the input's values, C order
   * @param {number} rows the first dim (the input's other dims come from its spec)
   * @returns {Promise<Float32Array>} the one output's values
   */
  async predictFlat(data, rows) {
    const [inSpec] = this.spec.inputs;
    if (this.spec.inputs.length !== 1 || this.spec.outputs.length !== 1)
      throw new TypeError(
        `predictFlat needs a one-input, one-output model; ${this.id} has ${this.spec.inputs.length} and ${this.spec.outputs.length}`,
      );
    const rest = inSpec.shape.slice(1);
    if (!rest.every((d) => typeof d === 'number'))
      throw new TypeError(
        `predictFlat needs fixed dims after the first; ${this.id}'s input is (${inSpec.shape.join(', ')})`,
      );
    const perRow = rest.reduce((a, b) => a * b, 1);
    let shape = [rows, ...rest];
    if (data.length !== rows * perRow) {
      // Let the contract's checks name the wrong dim where the values still make whole rows.
      if (rest.length !== 1 || !Number.isInteger(rows) || rows < 1 || data.length % rows) {
        throw new InputError(
          `input ${inSpec.name}: ${data.length} values do not make ${rows} rows of (${rest.join(', ')})`,
        );
      }
      shape = [rows, data.length / rows];
    }
    const out = await this.predictTensors({ [inSpec.name]: new Tensor('float32', shape, Float32Array.from(data)) });
    return Float32Array.from(out[this.spec.outputs[0].name].toNumbers());
  }

  /**
   * @param {number[][]} batch rows of numbers for a one-input model whose input is (batch, N)
   * @returns {Promise<number[][]>} rows of the one output
   */
  async predictRows(batch) {
    if (!Array.isArray(batch) || batch.length === 0)
      throw new RangeError('predictRows expects a non-empty array of rows');
    const width = batch[0]?.length ?? 0;
    const flat = new Float32Array(batch.length * width);
    batch.forEach((row, i) => {
      if (!row || row.length !== width) throw new RangeError(`row ${i} has ${row?.length} values, expected ${width}`);
      flat.set(row, i * width);
    });
    const out = await this.predictFlat(flat, batch.length);
    const n = out.length / batch.length;
    return Array.from({ length: batch.length }, (_, i) => Array.from(out.subarray(i * n, (i + 1) * n)));
  }

  /**
   * The bare TF.js call that predictTensors wraps, for measuring the client's own overhead
   * (the CLI's --timing `direct_latency_us`): the input tensors are built once here, and each
   * `run()` is `graph.execute(inputs, outputNames)` + `dataSync()` + disposing the outputs.
   * Call `dispose()` when done (it frees the input tensors).
   * @param {Record<string, Tensor>} inputs checked inputs in spec dtypes
   * @returns {{run: () => void, description: string, dispose: () => void}}
   */
  directCall(inputs) {
    this.#alive();
    checkInputs(this.spec, inputs, this.artifact);
    const { run, dispose } = bareCall(tf, this.loaded, inputs, { sync: true });
    return {
      run,
      dispose,
      description: `tf.GraphModel.execute(prebuilt tensors) + dataSync() + dispose() on the ${this.backend} backend`,
    };
  }

  /**
   * Greedy text generation (docs/contract.md, "Text generation") for a character model: the
   * prompt followed by `tokens` characters, one predictTensors call each. For more control
   * (a callback per character, encode/decode), use `CharDecoder.of(model)`.
   * @param {string} prompt
   * @param {number} tokens 0 to MAX_TOKENS
   * @returns {Promise<string>}
   * @throws {import('../common/generate.js').GenerateError} not a character model, an empty
   *   prompt or one with a character outside the vocabulary, a bad count
   */
  async generate(prompt, tokens) {
    this.#alive();
    return CharDecoder.of(this).generate(prompt, tokens);
  }

  /** Frees the weights. */
  dispose() {
    if (this.graph) this.graph.dispose();
    this.graph = null;
  }
}

/**
 * Loads a model's tfjs-graph artifact from a manifest.
 * @param {string} manifestPath path to manifest.json
 * @param {string} modelId e.g. "mlp_keras"
 * @param {{backend?: string, format?: string, manifest?: any}} [options] backend 'cpu' (default) or
 *   'wasm' (another: RangeError)
 * @returns {Promise<Model>}
 * @throws {ManifestError} bad manifest, unknown model or format (exit 2; 3 for a schema_version other than 2)
 * @throws {LoadError} built for a newer TF.js (kind 'version', checked first), missing file,
 *   sha256 mismatch, deny-listed or unsupported op (exit 3)
 */
export async function load(manifestPath, modelId, { backend = 'cpu', format = FORMAT, manifest } = {}) {
  const doc = manifest ?? (await readManifest(manifestPath));
  const { model, artifact } = resolveArtifact(doc, modelId, format);
  checkRuntimeVersion(tf, model, artifact);
  const root = path.resolve(path.dirname(manifestPath), artifact.path);
  const stat = await fs.lstat(root).catch(() => null);
  if (!stat) throw new LoadError('missing', `${modelId}/${FORMAT}: artifact folder ${root} does not exist`);
  if (stat.isSymbolicLink() || !stat.isDirectory())
    throw new LoadError('integrity', `${modelId}/${FORMAT}: ${root} is not a plain folder`);
  let unsafeOps;
  try {
    unsafeOps = await readDenyList(
      doc,
      (rel) => fs.readFile(path.resolve(path.dirname(manifestPath), rel)).catch(() => null),
      async (b) => sha256hex(b),
    );
  } catch (e) {
    throw new LoadError(e.kind ?? 'integrity', e.message);
  }
  await useBackend(backend);
  const loaded = await loadVerifiedGraph({
    unsafeOps,
    tf,
    model,
    artifact,
    sha256hex: async (bytes) => sha256hex(bytes),
    folderSha256: () => folderSha256(root),
    readFile: async (rel) => {
      const file = path.join(root, rel);
      const st = await fs.lstat(file).catch(() => null);
      if (!st) throw new LoadError('missing', `${modelId}/${FORMAT}: ${rel} is missing from ${root}`);
      if (!st.isFile()) throw new LoadError('integrity', `${modelId}/${FORMAT}: ${rel} is not a regular file`);
      return new Uint8Array(await fs.readFile(file));
    },
  });
  return new Model({ ...loaded, backend });
}
