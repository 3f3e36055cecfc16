// Verified loading of a tfjs-graph artifact, shared by Node and the browser. The caller gives
// the TF.js namespace, a way to read a file of the artifact and a sha256; this module checks
// every file against the manifest before TF.js sees a byte, then hands TF.js exactly the bytes
// it hashed (a custom IOHandler, so nothing is re-read after the check). It also runs a call:
// named inputs in, named outputs out, through the artifact's signature keys.

import { fromBoundary, tfjsDtypes, toBoundary } from './checks.js';
import { LoadError } from './errors.js';
import { folderHash, signatureNames } from './manifest.js';
import { REWRITE_RELU, nanSafeRelu } from './rewrite.js';
import { Tensor } from './tensor.js';

export { LoadError };
export { nanSafeRelu } from './rewrite.js';

/**
 * Loads and verifies a tfjs-graph artifact.
 * @param {object} args
 * @param {any} args.tf the TF.js namespace
 * @param {any} args.model the manifest's model entry
 * @param {any} args.artifact its tfjs-graph artifact entry
 * @param {(relPath: string) => Promise<Uint8Array<ArrayBuffer>>} args.readFile reads a file of the artifact;
 *   rejects with a LoadError('missing', ...) when it is absent
 * @param {(bytes: Uint8Array<ArrayBuffer>) => Promise<string>} args.sha256hex
 * @param {(files: {path: string, sha256: string}[]) => Promise<string>} [args.folderSha256]
 *   the folder hash over the files really present (Node walks the folder); defaults to the
 *   hash over the manifest's file list (a browser cannot list a folder)
 * @param {Map<string, string>} [args.unsafeOps] the manifest's deny-list (op -> why)
 * @returns {Promise<Loaded>}
 */
export async function loadVerifiedGraph({
  tf,
  model,
  artifact,
  readFile,
  sha256hex,
  folderSha256,
  unsafeOps = new Map(),
}) {
  const label = `${model.id}/${artifact.format}`;
  const verified = new Map();
  for (const file of artifact.files) {
    if (
      typeof file.path !== 'string' ||
      file.path.startsWith('/') ||
      file.path.split('/').some((p) => p === '..' || p === '' || p === '.')
    ) {
      throw new LoadError('integrity', `${label}: manifest lists an unsafe path ${JSON.stringify(file.path)}`);
    }
    const bytes = await readFile(file.path);
    const digest = await sha256hex(bytes);
    if (digest !== file.sha256) {
      throw new LoadError(
        'integrity',
        `${label}: sha256 mismatch for ${file.path} (manifest ${short(file.sha256)}, file ${short(digest)})`,
      );
    }
    verified.set(file.path, bytes);
  }
  const listed = artifact.files.map((f) => ({ path: f.path, sha256: f.sha256 }));
  const folder = folderSha256 ? await folderSha256(listed) : await folderHash(listed, sha256hex);
  if (folder !== artifact.sha256) {
    throw new LoadError(
      'integrity',
      `${label}: folder sha256 mismatch (manifest ${short(artifact.sha256)}, folder ${short(folder)})`,
    );
  }

  const entry = artifact.entry || 'model.json';
  if (!verified.has(entry)) throw new LoadError('integrity', `${label}: ${entry} is not among the artifact's files`);
  let modelJson;
  try {
    modelJson = JSON.parse(new TextDecoder().decode(verified.get(entry)));
  } catch (e) {
    throw new LoadError('load', `${label}: ${entry} is not valid JSON (${e.message})`);
  }
  const dir = entry.includes('/') ? entry.slice(0, entry.lastIndexOf('/') + 1) : '';
  const weightSpecs = [];
  const shards = [];
  for (const group of modelJson.weightsManifest || []) {
    weightSpecs.push(...group.weights);
    for (const p of group.paths) {
      const bytes = verified.get(dir + p);
      if (!bytes)
        throw new LoadError('integrity', `${label}: weight shard ${p} is not among the artifact's verified files`);
      shards.push(bytes);
    }
  }
  const total = shards.reduce((n, s) => n + s.length, 0);
  const weightData = new Uint8Array(total);
  let offset = 0;
  for (const s of shards) {
    weightData.set(s, offset);
    offset += s.length;
  }

  const denied = graphOps(modelJson.modelTopology).filter((op) => unsafeOps.has(op));
  if (denied.length) {
    throw new LoadError(
      'unsafe',
      `${label}: refusing op ${denied.map((op) => `${op} (${unsafeOps.get(op)})`).join(', ')}: on the manifest's deny-list`,
    );
  }

  let names;
  let dtypes;
  try {
    names = signatureNames(model, artifact, modelJson.signature);
  } catch (e) {
    throw new LoadError('load', `${label}: ${e.message}`);
  }
  dtypes = tfjsDtypes(model, artifact);
  const backend = tf.getBackend();
  const topology = REWRITE_RELU.has(backend) ? nanSafeRelu(modelJson.modelTopology) : modelJson.modelTopology;
  const handler = {
    load: async () => ({
      modelTopology: topology,
      format: modelJson.format,
      generatedBy: modelJson.generatedBy,
      convertedBy: modelJson.convertedBy,
      signature: modelJson.signature,
      userDefinedMetadata: modelJson.userDefinedMetadata,
      modelInitializer: modelJson.modelInitializer,
      initializerSignature: modelJson.initializerSignature,
      weightSpecs,
      weightData: weightData.buffer,
    }),
  };
  let graph;
  try {
    graph = await tf.loadGraphModel(handler);
  } catch (e) {
    throw new LoadError('load', `${label}: tf.loadGraphModel failed: ${e.message}`);
  }
  const loaded = { graph, model, artifact, names, dtypes };
  // TF.js maps ops lazily: an op it cannot run (XlaCallModule from jax2tf, a kernel missing on
  // this backend) only fails at the first execute. One validation run on zeros at the smallest
  // valid shape makes that a load error instead of a surprise at the first prediction.
  try {
    await runGraph(tf, loaded, zeroInputs(model, dtypes.inputs));
  } catch (e) {
    graph.dispose();
    const ops = graphOps(modelJson.modelTopology).join(', ');
    throw new LoadError(
      'unsupported',
      `${label}: TF.js cannot run this graph on the '${tf.getBackend()}' backend: ${firstLine(e.message)} (graph ops: ${ops})`,
    );
  }
  return loaded;
}

/**
 * @typedef {object} Loaded
 * @property {any} graph tf.GraphModel
 * @property {any} model the manifest's model entry
 * @property {any} artifact its tfjs-graph artifact
 * @property {{inputs: Record<string, string>, outputs: Record<string, string>}} names graph tensor names
 * @property {ReturnType<typeof tfjsDtypes>} dtypes TF.js dtypes
 */

/** Zero inputs (in TF.js dtypes) at each dynamic dim's smallest size, at least 1 where allowed. */
function zeroInputs(model, dtypes) {
  const size = (d) => {
    if (typeof d === 'number') return d;
    const { min = 0, max = Infinity } = model.dims?.[d] ?? {};
    return Math.min(Math.max(min, 1), max);
  };
  return Object.fromEntries(model.inputs.map((s) => [s.name, new Tensor(dtypes[s.name], s.shape.map(size))]));
}

/**
 * Casts checked inputs (spec dtypes) to the artifact's boundary dtypes.
 * @param {Loaded} loaded
 * @param {Record<string, Tensor>} inputs
 */
export function boundaryInputs({ model, artifact }, inputs) {
  return Object.fromEntries(
    model.inputs.map((s) => [
      s.name,
      toBoundary(s.name, inputs[s.name], artifact.boundary_dtypes?.[s.name] ?? s.dtype),
    ]),
  );
}

/** Casts the runtime's outputs back to the spec dtypes. */
export function specOutputs({ model }, outputs) {
  return Object.fromEntries(model.outputs.map((s) => [s.name, fromBoundary(s.name, outputs[s.name], s.dtype)]));
}

/**
 * Builds the TF.js input tensors (boundary dtypes) keyed by graph tensor name.
 * @param {any} tf
 * @param {Loaded} loaded
 * @param {Record<string, Tensor>} inputs in TF.js dtypes
 */
export function feeds(tf, { model, names }, inputs) {
  const made = {};
  try {
    for (const s of model.inputs) {
      const t = inputs[s.name];
      made[names.inputs[s.name]] = tf.tensor(t.data, t.shape, t.dtype);
    }
  } catch (e) {
    tf.dispose(Object.values(made));
    throw e;
  }
  return made;
}

/**
 * Runs one call on tensors in TF.js dtypes; frees every tensor it made, whatever happens.
 * @param {any} tf
 * @param {Loaded} loaded
 * @param {Record<string, Tensor>} inputs in TF.js dtypes
 * @param {{sync?: boolean}} [options] sync: read with dataSync() (cpu and wasm only: it would
 *   block on webgl), which saves ~10-15 µs per call in Node at batch 1
 * @returns {Promise<Record<string, Tensor>>} outputs as TF.js returned them
 */
export async function runGraph(tf, loaded, inputs, { sync = false } = {}) {
  const x = feeds(tf, loaded, inputs);
  const outNames = loaded.model.outputs.map((s) => loaded.names.outputs[s.name]);
  let ys = [];
  try {
    ys = [loaded.graph.execute(x, outNames)].flat();
    const out = {};
    for (const [i, s] of loaded.model.outputs.entries()) {
      const y = ys[i];
      const data = sync ? y.dataSync() : await y.data();
      out[s.name] = new Tensor(y.dtype, y.shape, y.dtype === 'bool' ? Uint8Array.from(data) : data);
    }
    return out;
  } finally {
    tf.dispose([...Object.values(x), ...ys]);
  }
}

/**
 * The bare TF.js call that runGraph wraps, for timing the client's own overhead (--timing's
 * `direct_latency_us`): the input tensors are built once here; each `run()` is
 * `graph.execute(inputs, outputNames)`, a read of every output (dataSync() with `sync`, else
 * `await data()`, as runGraph reads) and disposing the outputs. `dispose()` frees the inputs.
 * @param {any} tf
 * @param {Loaded} loaded
 * @param {Record<string, Tensor>} inputs checked inputs in spec dtypes
 * @param {{sync?: boolean}} [options]
 * @returns {{run: () => void | Promise<void>, dispose: () => void}}
 */
export function bareCall(tf, loaded, inputs, { sync = false } = {}) {
  const x = feeds(tf, loaded, boundaryInputs(loaded, inputs));
  const outNames = loaded.model.outputs.map((s) => loaded.names.outputs[s.name]);
  const { graph } = loaded;
  return {
    run: sync
      ? () => {
          const ys = [graph.execute(x, outNames)].flat();
          try {
            for (const y of ys) y.dataSync();
          } finally {
            tf.dispose(ys);
          }
        }
      : async () => {
          const ys = [graph.execute(x, outNames)].flat();
          try {
            for (const y of ys) await y.data();
          } finally {
            tf.dispose(ys);
          }
        },
    dispose: () => tf.dispose(Object.values(x)),
  };
}

function firstLine(text) {
  return String(text)
    .split('\n')[0]
    .replace(/\. File an issue at \S+.*$/, '');
}

function short(hex) {
  return String(hex).slice(0, 12) + '…';
}

/** Every op name in the graph, its functions included. */
export function graphOps(topology) {
  const ops = new Set();
  for (const n of topology?.node || []) ops.add(n.op);
  for (const fn of topology?.library?.function || []) for (const n of fn.nodeDef || []) ops.add(n.op);
  return [...ops].sort();
}
