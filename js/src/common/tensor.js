// The client's one tensor type: a dtype of the contract, a shape and a typed array holding the
// elements in C order. Kept apart from the .npy reader and from TF.js (shared by Node and the
// browser page). float16 elements are kept as their IEEE bits in a Uint16Array; bool as 0/1
// bytes in a Uint8Array; int64 as a BigInt64Array.

/**
 * @typedef {'float32' | 'float16' | 'int32' | 'int64' | 'uint8' | 'bool'} DType
 * @typedef {Float32Array | Uint16Array | Int32Array | BigInt64Array | Uint8Array} TypedArray
 * @typedef {{new (length: number): TypedArray, from(data: ArrayLike<any>, map?: (v: any) => any): TypedArray}} TypedArrayClass
 */

/**
 * The contract's six dtypes: .npy descr, bytes per element and the typed array holding them.
 * @type {Record<DType, {descr: string, bytes: number, Array: TypedArrayClass}>}
 */
export const DTYPES = {
  float32: { descr: '<f4', bytes: 4, Array: Float32Array },
  float16: { descr: '<f2', bytes: 2, Array: Uint16Array },
  int32: { descr: '<i4', bytes: 4, Array: Int32Array },
  int64: { descr: '<i8', bytes: 8, Array: BigInt64Array },
  uint8: { descr: '|u1', bytes: 1, Array: Uint8Array },
  bool: { descr: '|b1', bytes: 1, Array: Uint8Array },
};

export const MAX_RANK = 8;

/** Number of elements of a shape (1 for rank 0). */
export function elementCount(shape) {
  return shape.reduce((n, d) => n * d, 1);
}

/** A dtype, a shape and the elements in C order. */
export class Tensor {
  /**
   * @param {string} dtype a key of DTYPES (another: TypeError)
   * @param {number[]} shape
   * @param {ArrayLike<number|bigint>} [data] copied into a new typed array of the dtype's kind
   *   unless it already is one; zeros when absent
   */
  constructor(dtype, shape, data) {
    const info = DTYPES[dtype];
    if (!info) throw new TypeError(`unknown dtype '${dtype}' (expected one of ${Object.keys(DTYPES).join(', ')})`);
    if (!Array.isArray(shape) || shape.length > MAX_RANK || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new TypeError(`bad shape ${JSON.stringify(shape)} (0 to ${MAX_RANK} non-negative integers)`);
    }
    const count = elementCount(shape);
    let values;
    if (data === undefined) values = new info.Array(count);
    else if (data instanceof info.Array) values = data;
    else if (dtype === 'int64') values = BigInt64Array.from(data, (v) => BigInt(v));
    else values = info.Array.from(data, dtype === 'float16' ? f16bits : Number);
    if (values.length !== count)
      throw new RangeError(`shape (${shape.join(', ')}) holds ${count} values, got ${values.length}`);
    if (dtype === 'bool' && values.some((v) => v !== 0 && v !== 1)) throw new RangeError('bool values must be 0 or 1');
    this.dtype = /** @type {DType} */ (dtype);
    this.shape = [...shape];
    this.data = values;
  }

  get size() {
    return this.data.length;
  }

  /** The elements as JS numbers (float16 decoded, int64 through Number). */
  toNumbers() {
    if (this.dtype === 'float16') return Float64Array.from(this.data, f16value);
    if (this.dtype === 'int64') return Array.from(this.data, Number);
    return this.data;
  }

  /** The elements' little-endian bytes (a view, no copy). */
  bytes() {
    return new Uint8Array(this.data.buffer, this.data.byteOffset, this.data.byteLength);
  }

  /** Builds a tensor from little-endian element bytes (copied, so the array is aligned). */
  static fromBytes(dtype, shape, bytes) {
    const info = DTYPES[dtype];
    if (!info) throw new TypeError(`unknown dtype '${dtype}'`);
    const count = elementCount(shape);
    if (bytes.length !== count * info.bytes)
      throw new RangeError(
        `shape (${shape.join(', ')}) of ${dtype} needs ${count * info.bytes} bytes, got ${bytes.length}`,
      );
    const data = new info.Array(count);
    new Uint8Array(data.buffer).set(bytes);
    return new Tensor(dtype, shape, data);
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half bits -> number. */
export function f16value(bits) {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** number -> IEEE half bits, rounding to nearest even (as numpy's astype(float16)). */
export function f16bits(value) {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    let half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rest > mid || (rest === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
  return sign | half;
}
