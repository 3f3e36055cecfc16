// Strict reader and writer for the .npy files that cross deploykit's language boundary
// (docs/contract.md, "Tensor files"): format 1.0, 2.0 or 3.0, one of the contract's six dtypes
// (little-endian), C order, rank 0-8. Anything else is rejected with an NpyError whose message
// says why. Pure ES module (Uint8Array in, Uint8Array out): Node and the browser page share it.
//
// Why not an npm library: `npyjs` only reads, accepts big-endian and Fortran-ordered files and
// does not check the header's shape against the data length, exactly the cases the contract
// requires us to refuse.

import { DTYPES, MAX_RANK, Tensor, elementCount } from './tensor.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
// Typed arrays use the host byte order; every platform TF.js runs on is little-endian.
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('npy.js needs a little-endian host');

/** descr -> dtype: the table's descrs plus '<u1' and '<b1' (same meaning). */
const BY_DESCR = {
  ...Object.fromEntries(Object.entries(DTYPES).map(([dtype, { descr }]) => [descr, dtype])),
  '<u1': 'uint8',
  '<b1': 'bool',
};

/** A malformed or unsupported .npy file (the CLI maps it to exit code 2). */
export class NpyError extends Error {
  constructor(message) {
    super(message);
    this.name = 'NpyError';
  }
}

/**
 * Parses the Python-literal header dict numpy writes, e.g.
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (64, 10), }`.
 * Only the three keys numpy emits are accepted, each exactly once.
 * @param {string} text
 * @returns {{descr: string, fortran_order: boolean, shape: number[]}}
 */
function parseHeader(text) {
  const body = text.trim();
  if (!body.startsWith('{') || !body.endsWith('}'))
    throw new NpyError(`header is not a dict: ${JSON.stringify(body.slice(0, 80))}`);
  const entry = /\s*'(\w+)'\s*:\s*('(?:[^'\\]|\\.)*'|True|False|\([^()]*\)|\[[^\]]*\]|[^,]+)\s*(?:,|$)/y;
  const inner = body.slice(1, -1);
  const fields = {};
  entry.lastIndex = 0;
  while (entry.lastIndex < inner.length && inner.slice(entry.lastIndex).trim() !== '') {
    const start = entry.lastIndex;
    const m = entry.exec(inner);
    if (!m) throw new NpyError(`cannot parse header near ${JSON.stringify(inner.slice(start, start + 40))}`);
    if (m[1] in fields) throw new NpyError(`header repeats key '${m[1]}'`);
    fields[m[1]] = m[2];
  }
  for (const key of ['descr', 'fortran_order', 'shape']) {
    if (!(key in fields)) throw new NpyError(`header has no '${key}'`);
  }
  const extra = Object.keys(fields).filter((k) => !['descr', 'fortran_order', 'shape'].includes(k));
  if (extra.length) throw new NpyError(`header has unknown key '${extra[0]}'`);
  if (!fields.descr.startsWith("'"))
    throw new NpyError(`dtype ${fields.descr.slice(0, 40)} is not one of the contract's (structured or object dtype)`);
  if (fields.fortran_order !== 'True' && fields.fortran_order !== 'False')
    throw new NpyError(`fortran_order is not a bool: ${fields.fortran_order}`);
  if (!fields.shape.startsWith('(')) throw new NpyError(`shape is not a tuple: ${fields.shape}`);
  const dims = fields.shape
    .slice(1, -1)
    .split(',')
    .map((s) => s.trim());
  if (dims.length > 1 && dims[dims.length - 1] === '') dims.pop();
  if (dims.length === 1 && dims[0] === '') dims.pop();
  const shape = dims.map((d) => {
    if (!/^\d+$/.test(d)) throw new NpyError(`shape has a negative or non-integer dimension: ${fields.shape}`);
    return Number(d);
  });
  return { descr: fields.descr.slice(1, -1), fortran_order: fields.fortran_order === 'True', shape };
}

function describeDescr(descr) {
  if (descr.startsWith('>') && BY_DESCR[`<${descr.slice(1)}`]) return `big-endian ${descr}`;
  return descr;
}

/**
 * Reads a tensor of the contract.
 * @param {Uint8Array} bytes the whole file
 * @returns {Tensor}
 * @throws {NpyError} for any file the contract says to reject
 */
export function readNpy(bytes) {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('readNpy expects a Uint8Array');
  if (bytes.length === 0) throw new NpyError('not an .npy file (empty)');
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new NpyError('not an .npy file (bad magic)');
  const major = bytes[6];
  const minor = bytes[7];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen;
  let offset;
  if (major === 1 && minor === 0) {
    headerLen = view.getUint16(8, true);
    offset = 10;
  } else if ((major === 2 || major === 3) && minor === 0) {
    if (bytes.length < 12) throw new NpyError('truncated header');
    headerLen = view.getUint32(8, true);
    offset = 12;
  } else {
    throw new NpyError(`unsupported .npy format version ${major}.${minor} (expected 1.0, 2.0 or 3.0)`);
  }
  if (offset + headerLen > bytes.length) throw new NpyError('truncated header');
  const headerBytes = bytes.subarray(offset, offset + headerLen);
  let text;
  try {
    text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1', { fatal: true }).decode(headerBytes);
  } catch {
    throw new NpyError('header is not valid UTF-8');
  }
  if (major < 3 && headerBytes.some((b) => b > 0x7f)) throw new NpyError('header is not ASCII');
  const header = parseHeader(text);
  const dtype = BY_DESCR[header.descr];
  if (!dtype)
    throw new NpyError(
      `dtype ${describeDescr(header.descr)} is not one of the contract's (<f4, <f2, <i4, <i8, |u1, |b1)`,
    );
  if (header.fortran_order) throw new NpyError('fortran_order is True (C order required)');
  if (header.shape.length > MAX_RANK) throw new NpyError(`rank ${header.shape.length} is over ${MAX_RANK}`);
  const dataStart = offset + headerLen;
  const expected = elementCount(header.shape) * DTYPES[dtype].bytes;
  const actual = bytes.length - dataStart;
  if (actual !== expected) {
    throw new NpyError(
      `header shape (${header.shape.join(', ')}) of ${dtype} needs ${expected} data bytes, file has ${actual}`,
    );
  }
  const data = bytes.subarray(dataStart);
  if (dtype === 'bool') {
    const bad = data.findIndex((b) => b > 1);
    if (bad >= 0) throw new NpyError(`bool element ${bad} is ${data[bad]} (only 0 and 1 are valid)`);
  }
  return Tensor.fromBytes(dtype, header.shape, data);
}

/**
 * Writes a tensor as .npy format 1.0 with the contract's descrs, C order (numpy's own layout:
 * header padded with spaces and a newline so the data starts at a multiple of 64).
 * @param {Tensor | {dtype: string, shape: number[], data: ArrayLike<number|bigint>}} tensor
 * @returns {Uint8Array}
 */
export function writeNpy(tensor) {
  const t = tensor instanceof Tensor ? tensor : new Tensor(tensor.dtype, tensor.shape, tensor.data);
  const dims = t.shape.length === 1 ? `${t.shape[0]},` : t.shape.join(', ');
  let header = `{'descr': '${DTYPES[t.dtype].descr}', 'fortran_order': False, 'shape': (${dims}), }`;
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const body = t.bytes();
  const out = new Uint8Array(10 + header.length + body.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(body, 10 + header.length);
  return out;
}
