// A user's Node script (copied into a fresh project as predict.mjs): the package imported by
// name, one model of a deploykit export run on its first golden set and checked against the
// expected outputs under the artifact's tolerance. Prints one JSON line.
//   node predict.mjs MANIFEST MODEL_ID BACKEND

import fs from 'node:fs';
import path from 'node:path';

import { Tensor, compareTensors, load, readNpy } from 'deploykit';

const [manifestPath, modelId, backend] = process.argv.slice(2);
const root = path.dirname(manifestPath);
const readTensor = (rel) => readNpy(fs.readFileSync(path.join(root, rel)));

const doc = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
const set = doc.models.find((m) => m.id === modelId).golden[0];

const model = await load(manifestPath, modelId, { backend });
const inputs = Object.fromEntries(Object.entries(set.inputs).map(([name, rel]) => [name, readTensor(rel)]));
const outputs = await model.predictTensors(inputs);
const results = Object.entries(set.expected).map(([name, rel]) => {
  const tolerance = model.tolerance.outputs?.[name] ?? model.tolerance;
  const r = compareTensors(outputs[name], readTensor(rel), tolerance);
  return { name, pass: r.pass, maxAbs: r.maxAbs, tensor: outputs[name] instanceof Tensor };
});
model.dispose();

console.log(JSON.stringify({ resolved: import.meta.resolve('deploykit'), set: set.name, rows: set.rows, results }));
