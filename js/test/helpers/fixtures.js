// Test inputs: the shared test export (DEPLOYKIT_TEST_MANIFEST, never written to) and doctored
// copies of it in temporary folders.

import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Tensor } from '../../src/common/tensor.js';

export const JS_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const REPO = path.resolve(JS_ROOT, '..');
export const OUTPUT_DIR = path.join(REPO, 'build', 'js-test-output');

/** The shared test manifest; a missing one FAILS the suite (it is not a reason to skip). */
export function testManifest() {
  const file = process.env.DEPLOYKIT_TEST_MANIFEST;
  if (!file)
    throw new Error(
      'DEPLOYKIT_TEST_MANIFEST is not set: run the suite with `make test-js` (it builds build/test-models)',
    );
  if (!fs.existsSync(file))
    throw new Error(`DEPLOYKIT_TEST_MANIFEST=${file} does not exist: run \`make test-fixtures\``);
  const version = readJson(file).schema_version;
  if (version !== 2)
    throw new Error(
      `DEPLOYKIT_TEST_MANIFEST=${file} has schema_version ${version}; this client reads 2: rebuild it with \`make test-fixtures\``,
    );
  return file;
}

export function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

export function tfjsModels(manifestFile) {
  return readJson(manifestFile).models.filter((m) => m.artifacts.some((a) => a.format === 'tfjs-graph'));
}

/** The models the v2 test export is known to hold with a tfjs-graph artifact (more may come). */
export const EXPECTED_TFJS_MODELS = ['mlp_keras', 'wide_keras'];

/** A golden set of a manifest model entry, by name. */
export function goldenSet(model, name) {
  const set = model.golden.find((s) => s.name === name);
  if (!set) throw new Error(`${model.id} has no golden set '${name}'`);
  return set;
}

/** The first `n` rows (first dim) of a tensor. */
export function firstRows(t, n) {
  const per = t.shape.slice(1).reduce((a, b) => a * b, 1);
  return new Tensor(t.dtype, [n, ...t.shape.slice(1)], t.data.slice(0, n * per));
}

export function tmpDir(prefix = 'deploykit-js-test-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export const sha256 = (bytes) => crypto.createHash('sha256').update(bytes).digest('hex');

/** Recomputes an artifact's per-file and folder hashes from what is on disk under `root`. */
export function rehash(artifact, root) {
  const dir = path.join(root, artifact.path);
  artifact.files = fs
    .readdirSync(dir)
    .sort()
    .map((name) => {
      const bytes = fs.readFileSync(path.join(dir, name));
      return { path: name, sha256: sha256(bytes), bytes: bytes.length };
    });
  const lines = [...artifact.files]
    .sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)))
    .map((f) => `${f.sha256}  ${f.path}\n`)
    .join('');
  artifact.sha256 = sha256(Buffer.from(lines));
}

/**
 * Copies models of the test export into a temporary folder under new ids and lets the caller
 * damage each copy; writes a manifest listing them.
 * @param {{id: string, from: string, mutate?: (dir: string) => void, rehash?: boolean, fields?: object}[]} variants
 *   `dir` is the copy's tfjs folder; `rehash` updates the manifest's hashes after mutating;
 *   `fields` are set on the copy's tfjs-graph artifact entry (e.g. `min_runtime`)
 * @returns {{dir: string, manifest: string}}
 */
export function doctoredExport(variants) {
  const src = testManifest();
  const srcDir = path.dirname(src);
  const doc = readJson(src);
  const dir = tmpDir();
  const models = [];
  for (const v of variants) {
    const model = structuredClone(doc.models.find((m) => m.id === v.from));
    const artifact = model.artifacts.find((a) => a.format === 'tfjs-graph');
    const from = path.join(srcDir, artifact.path);
    model.id = v.id;
    artifact.path = `${v.id}/tfjs`;
    model.artifacts = [Object.assign(artifact, v.fields)];
    fs.cpSync(from, path.join(dir, artifact.path), { recursive: true });
    for (const set of model.golden) {
      for (const side of ['inputs', 'expected']) {
        for (const [name, rel] of Object.entries(set[side])) {
          const to = `${v.id}/golden/${set.name}/${side === 'expected' ? 'expected/' : ''}${name}.npy`;
          fs.mkdirSync(path.dirname(path.join(dir, to)), { recursive: true });
          fs.copyFileSync(path.join(srcDir, rel), path.join(dir, to));
          set[side][name] = to;
        }
      }
    }
    v.mutate?.(path.join(dir, artifact.path));
    if (v.rehash) rehash(artifact, dir);
    models.push(model);
  }
  const denyList = doc.safety?.unsafe_ops?.path;
  if (denyList) fs.copyFileSync(path.join(srcDir, denyList), path.join(dir, denyList));
  const manifest = path.join(dir, 'manifest.json');
  fs.writeFileSync(manifest, JSON.stringify({ ...doc, models }, null, 1));
  return { dir, manifest };
}

/**
 * Writes a copy of the test export's manifest into a temporary folder with model `id`'s
 * `format` artifact removed (the export now has every format for every model), so a test can
 * ask for a model that lacks that format. Only the manifest (and its deny-list) is copied: the
 * refusal comes before any artifact is read.
 * @returns {{dir: string, manifest: string}}
 */
export function exportWithout(id, format = 'tfjs-graph') {
  const src = testManifest();
  const doc = readJson(src);
  const model = doc.models.find((m) => m.id === id);
  if (!model) throw new Error(`${id} is not in DEPLOYKIT_TEST_MANIFEST=${src}`);
  const before = model.artifacts.length;
  model.artifacts = model.artifacts.filter((a) => a.format !== format);
  if (model.artifacts.length === before) throw new Error(`${id} has no ${format} artifact to remove`);
  const dir = tmpDir();
  const denyList = doc.safety?.unsafe_ops?.path;
  if (denyList) {
    fs.mkdirSync(path.dirname(path.join(dir, denyList)), { recursive: true });
    fs.copyFileSync(path.join(path.dirname(src), denyList), path.join(dir, denyList));
  }
  const manifest = path.join(dir, 'manifest.json');
  fs.writeFileSync(manifest, JSON.stringify(doc, null, 1));
  return { dir, manifest };
}

/** Flips one byte of a file. */
export function flipByte(file, offset = 0) {
  const bytes = fs.readFileSync(file);
  bytes[offset] ^= 0xff;
  fs.writeFileSync(file, bytes);
}

/** Replaces every node of op `from` in a model.json with op `to` (keeps the graph shape). */
export function replaceOp(modelJsonFile, from, to) {
  const doc = readJson(modelJsonFile);
  let n = 0;
  for (const node of doc.modelTopology.node) {
    if (node.op === from) {
      node.op = to;
      n++;
    }
  }
  if (n === 0) throw new Error(`no ${from} node in ${modelJsonFile}`);
  fs.writeFileSync(modelJsonFile, JSON.stringify(doc));
}

/**
 * Bytes of an .npy file with an arbitrary header (for the reader's rejection tests).
 * @param {object} o
 * @param {string} [o.descr]
 * @param {boolean} [o.fortran]
 * @param {number[]} [o.shape]
 * @param {Uint8Array} [o.data] the data bytes; float32 0, 1, 2, ... by default
 * @param {number} [o.version] 1, 2 or 3
 * @param {string} [o.header] the header text, instead of one made from descr, fortran and shape
 * @returns {Buffer}
 */
export function npyBytes({ descr = '<f4', fortran = false, shape = [2, 3], data, version = 1, header }) {
  let text =
    header ??
    `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const pre = version === 1 ? 10 : 12; // 2.0 and 3.0 have a 4-byte header length
  text += ' '.repeat((64 - ((pre + text.length + 1) % 64)) % 64) + '\n';
  const head = Buffer.alloc(pre);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]).copy(head);
  if (version === 1) head.writeUInt16LE(text.length, 8);
  else head.writeUInt32LE(text.length, 8);
  const count = shape.reduce((a, b) => a * b, 1);
  const body = data ?? Buffer.from(new Float32Array(count).map((_, i) => i).buffer); // float32 by default
  return Buffer.concat([head, Buffer.from(text, 'latin1'), body]);
}
