// The Node client: `load(manifestPath, modelId, {backend})` -> a Model whose `predict` takes
// plain arrays and returns plain arrays. Integrity first (sha256 of every file and of the
// folder, symlinks refused), then TF.js's GraphModel from the verified bytes.

import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

import { LoadError, loadVerifiedGraph, runGraphSync } from '../common/loader.js';
import { FORMAT, ManifestError, readDenyList, resolveArtifact } from '../common/manifest.js';
import { readManifest } from './manifest_file.js';
import { tf, useBackend } from './tf.js';

export { LoadError, ManifestError, readManifest };

/** @param {Uint8Array} bytes */
export function sha256hex(bytes) {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

/**
 * DESIGN.md's folder hash over the regular files really present under `dir`; refuses symlinks
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

/** A loaded tfjs-graph model. Calls may overlap (each allocates and frees its own tensors). */
export class Model {
  constructor({ graph, inputName, outputName, model, artifact, features, outputs, backend }) {
    this.graph = graph;
    this.inputName = inputName;
    this.outputName = outputName;
    this.id = model.id;
    this.artifact = artifact;
    this.tolerance = artifact.tolerance;
    this.features = features;
    this.outputs = outputs;
    this.backend = backend;
  }

  /**
   * Runs a batch given as row-major float32 values.
   * @param {Float32Array} data rows * features values
   * @param {number} rows
   * @returns {Promise<Float32Array>} rows * outputs values
   */
  async predictFlat(data, rows) {
    if (this.graph === null) throw new Error(`model ${this.id} is disposed`);
    if (!Number.isInteger(rows) || rows < 1 || data.length !== rows * this.features) {
      throw new RangeError(`expected ${this.features} features per row, got ${data.length} values for ${rows} rows`);
    }
    // Node runs only the cpu and wasm backends, whose reads are synchronous.
    return runGraphSync(tf, this, data, rows, this.features);
  }

  /**
   * The bare TF.js call that predictFlat wraps, for measuring the client's own overhead (the
   * CLI's --timing `direct_latency_us`): the input tensor is built once here, and each `run()`
   * is `graph.execute(input, outputName)` + `dataSync()` + disposing the output. Call
   * `dispose()` when done (it frees the input tensor).
   * @param {Float32Array} data rows * features values
   * @param {number} rows
   * @returns {{run: () => void, description: string, dispose: () => void}}
   */
  directCall(data, rows) {
    if (this.graph === null) throw new Error(`model ${this.id} is disposed`);
    if (!Number.isInteger(rows) || rows < 1 || data.length !== rows * this.features) {
      throw new RangeError(`expected ${this.features} features per row, got ${data.length} values for ${rows} rows`);
    }
    const { graph, outputName } = this;
    const x = tf.tensor2d(data, [rows, this.features], 'float32');
    return {
      run: () => {
        const y = graph.execute(x, outputName);
        y.dataSync();
        y.dispose();
      },
      description: `tf.GraphModel.execute(prebuilt tensor) + dataSync() + dispose() on the ${this.backend} backend`,
      dispose: () => x.dispose(),
    };
  }

  /**
   * @param {number[][]} batch rows of `features` numbers
   * @returns {Promise<number[][]>} rows of `outputs` numbers
   */
  async predict(batch) {
    if (!Array.isArray(batch) || batch.length === 0) throw new RangeError('predict expects a non-empty array of rows');
    const flat = new Float32Array(batch.length * this.features);
    batch.forEach((row, i) => {
      if (!row || row.length !== this.features) throw new RangeError(`row ${i} has ${row?.length} values, expected ${this.features}`);
      flat.set(row, i * this.features);
    });
    const out = await this.predictFlat(flat, batch.length);
    return Array.from({ length: batch.length }, (_, i) => Array.from(out.subarray(i * this.outputs, (i + 1) * this.outputs)));
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
 * @param {{backend?: 'cpu'|'wasm', format?: string, manifest?: any}} [options]
 * @returns {Promise<Model>}
 * @throws {ManifestError} bad manifest, unknown model or format (exit 2)
 * @throws {LoadError} missing file, sha256 mismatch, deny-listed or unsupported op (exit 3)
 */
export async function load(manifestPath, modelId, { backend = 'cpu', format = FORMAT, manifest } = {}) {
  const doc = manifest ?? (await readManifest(manifestPath));
  const { model, artifact, features, outputs } = resolveArtifact(doc, modelId, format);
  const root = path.resolve(path.dirname(manifestPath), artifact.path);
  const stat = await fs.lstat(root).catch(() => null);
  if (!stat) throw new LoadError('missing', `${modelId}/${FORMAT}: artifact folder ${root} does not exist`);
  if (stat.isSymbolicLink() || !stat.isDirectory()) throw new LoadError('integrity', `${modelId}/${FORMAT}: ${root} is not a plain folder`);
  let unsafeOps;
  try {
    unsafeOps = await readDenyList(doc, (rel) => fs.readFile(path.resolve(path.dirname(manifestPath), rel)).catch(() => null), async (b) => sha256hex(b));
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
  return new Model({ ...loaded, model, artifact, features, outputs, backend });
}
