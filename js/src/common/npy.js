// Strict reader and writer for the .npy files that cross deploykit's language boundary
// (DESIGN.md): format 1.0/2.0, dtype '<f4', C order, 2-D. Anything else is rejected with an
// NpyError whose message says why. Pure ES module (Uint8Array in, Uint8Array out): the Node
// CLI and the browser page share it.
//
// Why not an npm library: `npyjs` (the best-kept one) only reads, accepts big-endian and
// Fortran-ordered files and does not check the header's shape against the data length, and
// those are exactly the cases DESIGN.md requires us to refuse.

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
// Float32Array uses the host byte order; every platform TF.js runs on is little-endian.
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('npy.js needs a little-endian host');

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
  if (!body.startsWith('{') || !body.endsWith('}')) throw new NpyError(`header is not a dict: ${JSON.stringify(body.slice(0, 80))}`);
  const entry = /\s*'(\w+)'\s*:\s*('(?:[^'\\]|\\.)*'|True|False|\([^()]*\))\s*(?:,|$)/y;
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
  if (!fields.descr.startsWith("'")) throw new NpyError(`descr is not a string: ${fields.descr}`);
  if (fields.fortran_order !== 'True' && fields.fortran_order !== 'False') throw new NpyError(`fortran_order is not a bool: ${fields.fortran_order}`);
  if (!fields.shape.startsWith('(')) throw new NpyError(`shape is not a tuple: ${fields.shape}`);
  const dims = fields.shape.slice(1, -1).split(',').map((s) => s.trim()).filter((s) => s !== '');
  const shape = dims.map((d) => {
    if (!/^\d+$/.test(d)) throw new NpyError(`shape has a non-integer dimension: ${fields.shape}`);
    return Number(d);
  });
  return { descr: fields.descr.slice(1, -1), fortran_order: fields.fortran_order === 'True', shape };
}

/**
 * Reads a 2-D little-endian float32 C-order array.
 * @param {Uint8Array} bytes the whole file
 * @returns {{data: Float32Array, shape: [number, number]}}
 * @throws {NpyError} for any file DESIGN.md says to reject
 */
export function readNpy(bytes) {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('readNpy expects a Uint8Array');
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new NpyError('not an .npy file (bad magic)');
  const major = bytes[6];
  const minor = bytes[7];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen;
  let offset;
  if (major === 1 && minor === 0) {
    headerLen = view.getUint16(8, true);
    offset = 10;
  } else if (major === 2 && minor === 0) {
    if (bytes.length < 12) throw new NpyError('truncated header');
    headerLen = view.getUint32(8, true);
    offset = 12;
  } else {
    throw new NpyError(`unsupported .npy format version ${major}.${minor} (expected 1.0 or 2.0)`);
  }
  if (offset + headerLen > bytes.length) throw new NpyError('truncated header');
  const headerBytes = bytes.subarray(offset, offset + headerLen);
  if (headerBytes.some((b) => b > 0x7f)) throw new NpyError('header is not ASCII');
  const header = parseHeader(new TextDecoder('latin1').decode(headerBytes));
  if (header.descr !== '<f4') {
    const why = header.descr === '>f4' ? 'big-endian float32' : header.descr;
    throw new NpyError(`dtype must be '<f4' (little-endian float32), got ${why}`);
  }
  if (header.fortran_order) throw new NpyError('fortran_order is True (C order required)');
  if (header.shape.length !== 2) throw new NpyError(`expected a 2-D array (rows, features), got shape (${header.shape.join(', ')})`);
  const dataStart = offset + headerLen;
  const count = header.shape[0] * header.shape[1];
  const expected = count * 4;
  const actual = bytes.length - dataStart;
  if (actual !== expected) {
    throw new NpyError(`header shape (${header.shape.join(', ')}) needs ${expected} data bytes, file has ${actual}`);
  }
  // Copy so the Float32Array is aligned and owns its buffer.
  const data = new Float32Array(count);
  new Uint8Array(data.buffer).set(bytes.subarray(dataStart));
  return { data, shape: [header.shape[0], header.shape[1]] };
}

/**
 * Writes a 2-D float32 array as .npy format 1.0, '<f4', C order (numpy's own layout:
 * header padded with spaces and a newline so the data starts at a multiple of 64).
 * @param {Float32Array} data row-major values
 * @param {[number, number]} shape
 * @returns {Uint8Array}
 */
export function writeNpy(data, shape) {
  if (!(data instanceof Float32Array)) throw new TypeError('writeNpy expects a Float32Array');
  if (shape.length !== 2 || shape[0] * shape[1] !== data.length) throw new TypeError(`shape (${shape}) does not match ${data.length} values`);
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape[0]}, ${shape[1]}), }`;
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}
