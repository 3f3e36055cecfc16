// A small hand-written TF.js graph model with two inputs and two outputs, written with a v2
// manifest into a temporary folder: the client's multi-tensor and boundary-cast paths run on it
// without the shared export.
//   tokens int64 (batch, seq) -> int32 at the boundary;  mask float32 (batch, seq)
//   weighted float32 (batch, seq) = float(tokens) * mask * scale   (scale = 0.5, a weight)
//   total    int64   (batch)      = sum(tokens, axis 1)            (int32 at the boundary)

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
      { name: 'scale', op: 'Const', attr: { dtype: dt('DT_FLOAT'), value: { tensor: { dtype: 'DT_FLOAT', tensorShape: {} } } } },
      { name: 'axis', op: 'Const', attr: { dtype: dt('DT_INT32'), value: { tensor: { dtype: 'DT_INT32', tensorShape: {} } } } },
      { name: 'as_float', op: 'Cast', input: ['tokens'], attr: { SrcT: dt('DT_INT32'), DstT: dt('DT_FLOAT') } },
      { name: 'masked', op: 'Mul', input: ['as_float', 'mask'], attr: { T: dt('DT_FLOAT') } },
      { name: 'scaled', op: 'Mul', input: ['masked', 'scale'], attr: { T: dt('DT_FLOAT') } },
      { name: 'Identity', op: 'Identity', input: ['scaled'], attr: { T: dt('DT_FLOAT') } },
      { name: 'sum', op: 'Sum', input: ['tokens', 'axis'], attr: { T: dt('DT_INT32'), Tidx: dt('DT_INT32'), keep_dims: { b: false } } },
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
    artifacts: [{
      format: 'tfjs-graph',
      path: `${id}/tfjs`,
      via: ['tensorflow', 'saved-model', 'tfjs-graph'],
      entry: 'model.json',
      signature: 'serving_default',
      input_keys: { tokens: 'tokens', mask: 'mask' },
      output_keys: { weighted: 'output_0', total: 'output_1' },
      boundary_dtypes: { tokens: 'int32', total: 'int32' },
      tolerance: { atol: 1e-6, rtol: 1e-6, outputs: { weighted: { atol: 1e-5, rtol: 1e-5 } } },
    }],
  };
}

/**
 * Writes the synthetic export: manifest.json and the model's tfjs folder.
 * @param {{mutate?: (doc: any) => void}} [options] edits the manifest before it is written
 * @returns {{dir: string, manifest: string, doc: any}}
 */
export function syntheticExport({ mutate } = {}) {
  const dir = tmpDir('deploykit-js-synthetic-');
  const model = syntheticModel();
  const artifact = model.artifacts[0];
  const folder = path.join(dir, artifact.path);
  fs.mkdirSync(folder, { recursive: true });
  const modelJson = {
    format: 'graph-model',
    generatedBy: 'deploykit test',
    convertedBy: 'hand-written',
    modelTopology: topology(),
    weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: [{ name: 'scale', shape: [], dtype: 'float32' }, { name: 'axis', shape: [], dtype: 'int32' }] }],
    signature: {
      inputs: { tokens: sig('tokens:0', 'DT_INT32', 2), mask: sig('mask:0', 'DT_FLOAT', 2) },
      outputs: { output_0: sig('Identity:0', 'DT_FLOAT', 2), output_1: sig('Identity_1:0', 'DT_INT32', 1) },
    },
  };
  fs.writeFileSync(path.join(folder, 'model.json'), JSON.stringify(modelJson));
  const weights = Buffer.alloc(8);
  weights.writeFloatLE(0.5, 0);
  weights.writeInt32LE(1, 4);
  fs.writeFileSync(path.join(folder, 'group1-shard1of1.bin'), weights);
  rehash(artifact, dir);
  const doc = { schema_version: 2, created: '2026-11-30T00:00:00Z', producer: { builder: 'test' }, models: [model] };
  mutate?.(doc);
  const manifest = path.join(dir, 'manifest.json');
  fs.writeFileSync(manifest, JSON.stringify(doc, null, 1));
  return { dir, manifest, doc };
}
