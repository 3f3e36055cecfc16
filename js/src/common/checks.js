// The contract's input checks (docs/contract.md, "Input checks"), run before any call, and the
// artifact's boundary casts (TF.js has no int64, uint8 or float16 tensors: those cross as int32
// or float32 and come back as the spec's dtype). Pure functions over Tensor; shared by Node,
// the browser page and the conformance tests.

import { InputError, LoadError } from './errors.js';
import { Tensor, f16bits, f16value } from './tensor.js';

/** The dtypes a TF.js tensor can hold. */
/** @typedef {'float32' | 'int32' | 'bool'} TfjsDType the dtypes TF.js holds that the contract has */
/** @type {Set<string>} */
export const TFJS_DTYPES = new Set(['float32', 'int32', 'bool']);
const INT32_MIN = -(2n ** 31n);
const INT32_MAX = 2n ** 31n - 1n;

const fail = (name, why) => {
  throw new InputError(`input ${name}: ${why}`);
};

/**
 * Checks a call's inputs against the model's specs, in the contract's order: names, dtype,
 * rank, fixed dims, dynamic dims (range and consistency), boundary casts.
 * @param {any} model the manifest's model entry
 * @param {Record<string, Tensor | {dtype: string, shape: number[]}>} inputs (data is only read
 *   for the boundary casts)
 * @param {any} [artifact] when given, its boundary casts must fit
 * @returns {Record<string, number>} the size of every dynamic dim the inputs fix
 * @throws {InputError}
 */
export function checkInputs(model, inputs, artifact) {
  const names = model.inputs.map((s) => s.name);
  const list = names.join(', ');
  for (const name of Object.keys(inputs)) {
    if (!names.includes(name)) fail(name, `unknown input "${name}" (model inputs: ${list})`);
  }
  for (const name of names) {
    if (!Object.hasOwn(inputs, name)) fail(name, `missing (model inputs: ${list})`);
  }
  const sizes = {};
  const where = {};
  for (const spec of model.inputs) {
    const t = inputs[spec.name];
    if (!t || typeof t.dtype !== 'string' || !Array.isArray(t.shape))
      fail(spec.name, 'is not a tensor (dtype and shape)');
    if (t.dtype !== spec.dtype) fail(spec.name, `expected ${spec.dtype}, got ${t.dtype}`);
    if (t.shape.length !== spec.shape.length)
      fail(
        spec.name,
        `expected rank ${spec.shape.length} (${spec.shape.join(', ')}), got rank ${t.shape.length} (${t.shape.join(', ')})`,
      );
    spec.shape.forEach((want, k) => {
      const got = t.shape[k];
      if (typeof want === 'number') {
        if (got !== want) fail(spec.name, `dim ${k} is ${got}, expected ${want}`);
        return;
      }
      const { min = 0, max = Infinity } = model.dims?.[want] ?? {};
      if (got < min || got > max)
        fail(spec.name, `dim ${k} (${want}) is ${got}, outside [${min}, ${max === Infinity ? 'inf' : max}]`);
      if (Object.hasOwn(sizes, want) && sizes[want] !== got)
        fail(spec.name, `dim ${k} (${want}) is ${got}, but input ${where[want]} has ${sizes[want]}`);
      sizes[want] = got;
      where[want] ??= spec.name;
    });
  }
  if (artifact?.boundary_dtypes) {
    for (const spec of model.inputs) {
      const to = artifact.boundary_dtypes[spec.name];
      if (to) toBoundary(spec.name, inputs[spec.name], to);
    }
  }
  return sizes;
}

/**
 * Casts an input from its spec dtype to the artifact's boundary dtype.
 * @returns {Tensor}
 * @throws {InputError} naming the first value that does not fit
 */
export function toBoundary(name, tensor, to) {
  const from = tensor.dtype;
  if (from === to) return tensor;
  if (from === 'int64' && to === 'int32') {
    const out = new Int32Array(tensor.size);
    tensor.data.forEach((v, i) => {
      if (v < INT32_MIN || v > INT32_MAX) fail(name, `value ${v} at index ${i} does not fit int32`);
      out[i] = Number(v);
    });
    return new Tensor('int32', tensor.shape, out);
  }
  if ((from === 'uint8' || from === 'bool') && to === 'int32')
    return new Tensor('int32', tensor.shape, Int32Array.from(tensor.data));
  if (from === 'float16' && to === 'float32')
    return new Tensor('float32', tensor.shape, Float32Array.from(tensor.data, f16value));
  throw new InputError(`input ${name}: no boundary cast ${from} -> ${to}`);
}

/**
 * Casts an output from the runtime's dtype back to the spec dtype.
 * @param {string} name
 * @param {Tensor} tensor as the runtime returned it
 * @param {string} dtype the spec's
 * @returns {Tensor}
 */
export function fromBoundary(name, tensor, dtype) {
  const from = tensor.dtype;
  if (from === dtype) return tensor;
  const bad = (i, v) => {
    throw new LoadError('load', `output ${name}: value ${v} at index ${i} does not fit ${dtype}`);
  };
  if (dtype === 'int64' && from === 'int32')
    return new Tensor(
      'int64',
      tensor.shape,
      BigInt64Array.from(tensor.data, (v) => BigInt(v)),
    );
  if (dtype === 'uint8' && from === 'int32') {
    tensor.data.forEach((v, i) => (v < 0 || v > 255) && bad(i, v));
    return new Tensor('uint8', tensor.shape, Uint8Array.from(tensor.data));
  }
  if (dtype === 'bool' && from === 'int32') {
    tensor.data.forEach((v, i) => v !== 0 && v !== 1 && bad(i, v));
    return new Tensor('bool', tensor.shape, Uint8Array.from(tensor.data));
  }
  if (dtype === 'float16' && from === 'float32')
    return new Tensor('float16', tensor.shape, Uint16Array.from(tensor.data, f16bits));
  throw new LoadError('load', `output ${name}: the runtime returned ${from}, the spec says ${dtype}`);
}

/**
 * The TF.js dtype of every input and output of a tfjs-graph artifact: the spec's dtype, or
 * its boundary cast. A dtype TF.js cannot hold without a recorded cast is refused.
 * @returns {{inputs: Record<string, TfjsDType>, outputs: Record<string, TfjsDType>}}
 * @throws {LoadError} ('unsupported')
 */
export function tfjsDtypes(model, artifact) {
  const plan = { inputs: {}, outputs: {} };
  for (const side of ['inputs', 'outputs']) {
    for (const spec of model[side]) {
      const dtype = artifact.boundary_dtypes?.[spec.name] ?? spec.dtype;
      if (!TFJS_DTYPES.has(dtype)) {
        throw new LoadError(
          'unsupported',
          `${model.id}/${artifact.format}: ${side.slice(0, -1)} ${spec.name} is ${spec.dtype}, which TF.js cannot hold, and the artifact records no boundary cast for it`,
        );
      }
      plan[side][spec.name] = dtype;
    }
  }
  return plan;
}
