// Small hand-written TF.js graph models, written with a v2 manifest into a temporary folder, so
// the client's multi-tensor, boundary-cast and digit-pad paths run without the shared export.
// `pair` (syntheticExport):
//   tokens int64 (batch, seq) -> int32 at the boundary;  mask float32 (batch, seq)
//   weighted float32 (batch, seq) = float(tokens) * mask * scale   (scale = 0.5, a weight)
//   total    int64   (batch)      = sum(tokens, axis 1)            (int32 at the boundary)
// `cnn_keras` stand-in (syntheticCnnExport): image float32 (batch, 8, 8, 1) -> logits
//   float32 (batch, 10) = reshape(image, (-1, 64)) @ W, a fixed W.
// `chars` (syntheticCharExport), a character model for --generate: tokens int64 (batch, seq)
//   -> logits float32 (batch, seq, V) = cumsum over seq of NEXT[tokens], NEXT[c] the one-hot row
//   of token (c + 1) % V: the logits at a position count each token's successor among the
//   tokens so far, so the greedy choice depends on the whole window (and ties are common).

import fs from 'node:fs';
import path from 'node:path';

import { rehash, tmpDir } from './fixtures.js';

const dt = (type) => ({ type });
const shapeOf = (dims) => ({ dim: dims.map((d) => ({ size: String(d) })) });

function topology() {
  return {
    node: [
      { name: 'tokens', op: 'Placeholder', attr: { dtype: dt('DT_INT32'), shape: { shape: shapeOf([-1, -1]) } } },
      { name: 'mask', op: 'Placeholder', attr: { dtype: dt('DT_FLOAT'), shape: { shape: shapeOf([-1, -1]) } } },
      {
        name: 'scale',
        op: 'Const',
        attr: { dtype: dt('DT_FLOAT'), value: { tensor: { dtype: 'DT_FLOAT', tensorShape: {} } } },
      },
      {
        name: 'axis',
        op: 'Const',
        attr: { dtype: dt('DT_INT32'), value: { tensor: { dtype: 'DT_INT32', tensorShape: {} } } },
      },
      { name: 'as_float', op: 'Cast', input: ['tokens'], attr: { SrcT: dt('DT_INT32'), DstT: dt('DT_FLOAT') } },
      { name: 'masked', op: 'Mul', input: ['as_float', 'mask'], attr: { T: dt('DT_FLOAT') } },
      { name: 'scaled', op: 'Mul', input: ['masked', 'scale'], attr: { T: dt('DT_FLOAT') } },
      { name: 'Identity', op: 'Identity', input: ['scaled'], attr: { T: dt('DT_FLOAT') } },
      {
        name: 'sum',
        op: 'Sum',
        input: ['tokens', 'axis'],
        attr: { T: dt('DT_INT32'), Tidx: dt('DT_INT32'), keep_dims: { b: false } },
      },
      { name: 'Identity_1', op: 'Identity', input: ['sum'], attr: { T: dt('DT_INT32') } },
    ],
    library: {},
    versions: { producer: 1 },
  };
}

const sig = (name, dtype, rank) => ({ name, dtype, tensorShape: shapeOf(new Array(rank).fill(-1)) });

/** The synthetic model's manifest entry (v2). */
export function syntheticModel(id = 'pair') {
  return {
    id,
    source: 'tensorflow',
    parameters: 1,
    inputs: [
      { name: 'tokens', dtype: 'int64', shape: ['batch', 'seq'], range: [0, 100] },
      { name: 'mask', dtype: 'float32', shape: ['batch', 'seq'] },
    ],
    outputs: [
      { name: 'weighted', dtype: 'float32', shape: ['batch', 'seq'] },
      { name: 'total', dtype: 'int64', shape: ['batch'] },
    ],
    dims: { batch: { min: 1 }, seq: { min: 1, max: 16 } },
    golden: [],
    artifacts: [
      {
        format: 'tfjs-graph',
        path: `${id}/tfjs`,
        via: ['tensorflow', 'saved-model', 'tfjs-graph'],
        entry: 'model.json',
        signature: 'serving_default',
        input_keys: { tokens: 'tokens', mask: 'mask' },
        output_keys: { weighted: 'output_0', total: 'output_1' },
        boundary_dtypes: { tokens: 'int32', total: 'int32' },
        tolerance: { atol: 1e-6, rtol: 1e-6, outputs: { weighted: { atol: 1e-5, rtol: 1e-5 } } },
      },
    ],
  };
}

/**
 * Writes the synthetic export: manifest.json and the model's tfjs folder.
 * @param {{mutate?: (doc: any) => void}} [options] edits the manifest before it is written
 * @returns {{dir: string, manifest: string, doc: any}}
 */
export function syntheticExport({ mutate } = {}) {
  const weights = Buffer.alloc(8);
  weights.writeFloatLE(0.5, 0);
  weights.writeInt32LE(1, 4);
  return writeExport(
    syntheticModel(),
    {
      format: 'graph-model',
      generatedBy: 'deploykit test',
      convertedBy: 'hand-written',
      modelTopology: topology(),
      weightsManifest: [
        {
          paths: ['group1-shard1of1.bin'],
          weights: [
            { name: 'scale', shape: [], dtype: 'float32' },
            { name: 'axis', shape: [], dtype: 'int32' },
          ],
        },
      ],
      signature: {
        inputs: { tokens: sig('tokens:0', 'DT_INT32', 2), mask: sig('mask:0', 'DT_FLOAT', 2) },
        outputs: { output_0: sig('Identity:0', 'DT_FLOAT', 2), output_1: sig('Identity_1:0', 'DT_INT32', 1) },
      },
    },
    weights,
    mutate,
  );
}

/** The weight of the cnn_keras stand-in: W[i][j], i the 8x8 cell, j the class. */
export const cnnWeight = (i, j) => (((i * 7 + j * 13) % 17) - 8) / 8;

/** An export whose `cnn_keras` is a hand-written linear stand-in with the real one's signature. */
export function syntheticCnnExport() {
  const model = {
    id: 'cnn_keras',
    source: 'tensorflow',
    parameters: 640,
    inputs: [{ name: 'image', dtype: 'float32', shape: ['batch', 8, 8, 1] }],
    outputs: [{ name: 'logits', dtype: 'float32', shape: ['batch', 10] }],
    dims: { batch: { min: 1 } },
    golden: [],
    artifacts: [
      {
        format: 'tfjs-graph',
        path: 'cnn_keras/tfjs',
        via: ['tensorflow', 'saved-model', 'tfjs-graph'],
        entry: 'model.json',
        signature: 'serving_default',
        input_keys: { image: 'image' },
        output_keys: { logits: 'logits' },
        tolerance: { atol: 1e-5, rtol: 1e-4 },
      },
    ],
  };
  const node = (name, op, input, attr) => ({ name, op, input, attr });
  const weights = Buffer.alloc(8 + 64 * 10 * 4);
  weights.writeInt32LE(-1, 0);
  weights.writeInt32LE(64, 4);
  for (let i = 0; i < 64; i++) for (let j = 0; j < 10; j++) weights.writeFloatLE(cnnWeight(i, j), 8 + (i * 10 + j) * 4);
  return writeExport(
    model,
    {
      format: 'graph-model',
      generatedBy: 'deploykit test',
      convertedBy: 'hand-written',
      modelTopology: {
        node: [
          node('image', 'Placeholder', undefined, { dtype: dt('DT_FLOAT'), shape: { shape: shapeOf([-1, 8, 8, 1]) } }),
          node('flat_shape', 'Const', undefined, {
            dtype: dt('DT_INT32'),
            value: { tensor: { dtype: 'DT_INT32', tensorShape: shapeOf([2]) } },
          }),
          node('w', 'Const', undefined, {
            dtype: dt('DT_FLOAT'),
            value: { tensor: { dtype: 'DT_FLOAT', tensorShape: shapeOf([64, 10]) } },
          }),
          node('flat', 'Reshape', ['image', 'flat_shape'], { T: dt('DT_FLOAT'), Tshape: dt('DT_INT32') }),
          node('mm', 'MatMul', ['flat', 'w'], {
            T: dt('DT_FLOAT'),
            transpose_a: { b: false },
            transpose_b: { b: false },
          }),
          node('Identity', 'Identity', ['mm'], { T: dt('DT_FLOAT') }),
        ],
        library: {},
        versions: { producer: 1 },
      },
      weightsManifest: [
        {
          paths: ['group1-shard1of1.bin'],
          weights: [
            { name: 'flat_shape', shape: [2], dtype: 'int32' },
            { name: 'w', shape: [64, 10], dtype: 'float32' },
          ],
        },
      ],
      signature: {
        inputs: { image: sig('image:0', 'DT_FLOAT', 4) },
        outputs: { logits: sig('Identity:0', 'DT_FLOAT', 2) },
      },
    },
    weights,
  );
}

/** The `chars` model's vocabulary: 12 code points, one outside the BMP (two UTF-16 units). */
export const CHAR_VOCABULARY = 'abcdé😀 \n.xyz';

/**
 * What the `chars` model generates, computed without TF.js: at each step the successor that
 * occurs most often among the last `window` tokens' successors (ties: the lowest id).
 * @param {string} prompt
 * @param {number} tokens
 * @param {number} window
 */
export function charsReference(prompt, tokens, window) {
  const vocab = Array.from(CHAR_VOCABULARY);
  const ids = Array.from(prompt, (c) => vocab.indexOf(c));
  for (let k = 0; k < tokens; k++) {
    const counts = new Array(vocab.length).fill(0);
    for (const id of ids.slice(-window)) counts[(id + 1) % vocab.length]++;
    ids.push(counts.indexOf(Math.max(...counts)));
  }
  return ids.map((i) => vocab[i]).join('');
}

/**
 * An export whose `chars` is a hand-written character model (see the top of this file).
 * @param {{window?: number}} [options] dims.seq.max, the decoder's window
 */
export function syntheticCharExport({ window = 8 } = {}) {
  const v = Array.from(CHAR_VOCABULARY).length;
  const model = {
    id: 'chars',
    source: 'tensorflow',
    parameters: v * v,
    vocabulary: CHAR_VOCABULARY,
    inputs: [{ name: 'tokens', dtype: 'int64', shape: ['batch', 'seq'], range: [0, v - 1] }],
    outputs: [{ name: 'logits', dtype: 'float32', shape: ['batch', 'seq', v] }],
    dims: { batch: { min: 1 }, seq: { min: 1, max: window } },
    golden: [],
    artifacts: [
      {
        format: 'tfjs-graph',
        path: 'chars/tfjs',
        via: ['tensorflow', 'saved-model', 'tfjs-graph'],
        entry: 'model.json',
        signature: 'serving_default',
        input_keys: { tokens: 'tokens' },
        output_keys: { logits: 'logits' },
        boundary_dtypes: { tokens: 'int32' },
        tolerance: { atol: 1e-6, rtol: 1e-6 },
      },
    ],
  };
  const node = (name, op, input, attr) => ({ name, op, input, attr });
  const scalar = (name) =>
    node(name, 'Const', undefined, {
      dtype: dt('DT_INT32'),
      value: { tensor: { dtype: 'DT_INT32', tensorShape: {} } },
    });
  const weights = Buffer.alloc(8 + v * v * 4);
  weights.writeInt32LE(0, 0); // gather axis
  weights.writeInt32LE(1, 4); // cumsum axis
  for (let c = 0; c < v; c++) weights.writeFloatLE(1, 8 + (c * v + ((c + 1) % v)) * 4);
  return writeExport(
    model,
    {
      format: 'graph-model',
      generatedBy: 'deploykit test',
      convertedBy: 'hand-written',
      modelTopology: {
        node: [
          node('tokens', 'Placeholder', undefined, { dtype: dt('DT_INT32'), shape: { shape: shapeOf([-1, -1]) } }),
          scalar('gather_axis'),
          scalar('seq_axis'),
          node('next', 'Const', undefined, {
            dtype: dt('DT_FLOAT'),
            value: { tensor: { dtype: 'DT_FLOAT', tensorShape: shapeOf([v, v]) } },
          }),
          node('rows', 'GatherV2', ['next', 'tokens', 'gather_axis'], {
            Tparams: dt('DT_FLOAT'),
            Tindices: dt('DT_INT32'),
            Taxis: dt('DT_INT32'),
            batch_dims: { i: '0' },
          }),
          node('counts', 'Cumsum', ['rows', 'seq_axis'], {
            T: dt('DT_FLOAT'),
            Tidx: dt('DT_INT32'),
            exclusive: { b: false },
            reverse: { b: false },
          }),
          node('Identity', 'Identity', ['counts'], { T: dt('DT_FLOAT') }),
        ],
        library: {},
        versions: { producer: 1 },
      },
      weightsManifest: [
        {
          paths: ['group1-shard1of1.bin'],
          weights: [
            { name: 'gather_axis', shape: [], dtype: 'int32' },
            { name: 'seq_axis', shape: [], dtype: 'int32' },
            { name: 'next', shape: [v, v], dtype: 'float32' },
          ],
        },
      ],
      signature: {
        inputs: { tokens: sig('tokens:0', 'DT_INT32', 2) },
        outputs: { logits: sig('Identity:0', 'DT_FLOAT', 3) },
      },
    },
    weights,
  );
}

function writeExport(model, modelJson, weights, mutate) {
  const dir = tmpDir('deploykit-js-synthetic-');
  const artifact = model.artifacts[0];
  const folder = path.join(dir, artifact.path);
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(path.join(folder, 'model.json'), JSON.stringify(modelJson));
  fs.writeFileSync(path.join(folder, 'group1-shard1of1.bin'), weights);
  rehash(artifact, dir);
  const doc = { schema_version: 2, created: '2026-11-30T00:00:00Z', producer: { builder: 'test' }, models: [model] };
  mutate?.(doc);
  const manifest = path.join(dir, 'manifest.json');
  fs.writeFileSync(manifest, JSON.stringify(doc, null, 1));
  return { dir, manifest, doc };
}
