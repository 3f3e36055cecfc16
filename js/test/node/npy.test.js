// The .npy reader and writer beyond the conformance fixtures: every dtype round-trips at ranks
// 0-8, float16 conversion, numpy's layout, and the reader's refusals with their messages.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { NpyError, readNpy, writeNpy } from '../../src/common/npy.js';
import { DTYPES, Tensor, f16bits, f16value } from '../../src/common/tensor.js';
import { npyBytes } from '../helpers/fixtures.js';

const sample = {
  float32: (n) => Array.from({ length: n }, (_, i) => [1.5, NaN, Infinity, -Infinity, -0, 1e-40][i % 6]),
  float16: (n) => Array.from({ length: n }, (_, i) => [1, -2.5, 65504, 6e-8, Infinity, NaN][i % 6]),
  int32: (n) => Array.from({ length: n }, (_, i) => [0, -1, 2147483647, -2147483648][i % 4]),
  int64: (n) => Array.from({ length: n }, (_, i) => [0n, -1n, 2n ** 63n - 1n, -(2n ** 63n)][i % 4]),
  uint8: (n) => Array.from({ length: n }, (_, i) => [0, 255, 7][i % 3]),
  bool: (n) => Array.from({ length: n }, (_, i) => i % 2),
};

describe('npy round trip', () => {
  for (const dtype of Object.keys(DTYPES)) {
    it(`${dtype} at ranks 0-8 and with an empty dim`, () => {
      for (let rank = 0; rank <= 8; rank++) {
        const shape = Array.from({ length: rank }, (_, i) => (i % 3) + 1);
        const t = new Tensor(dtype, shape, sample[dtype](shape.reduce((a, b) => a * b, 1)));
        const bytes = writeNpy(t);
        assert.equal((bytes.length - t.bytes().length) % 64, 0, 'data starts on a 64-byte boundary like numpy');
        const back = readNpy(bytes);
        assert.equal(back.dtype, dtype);
        assert.deepEqual(back.shape, shape);
        assert.deepEqual(back.bytes(), t.bytes());
      }
      const empty = readNpy(writeNpy(new Tensor(dtype, [0, 3])));
      assert.deepEqual([empty.shape, empty.size], [[0, 3], 0]);
    });
  }

  it("writes numpy's header: 1-D shapes with a trailing comma, rank 0 as ()", () => {
    const header = (t) => new TextDecoder().decode(writeNpy(t).subarray(10, 80));
    assert.match(header(new Tensor('int64', [3])), /^\{'descr': '<i8', 'fortran_order': False, 'shape': \(3,\), \}/);
    assert.match(header(new Tensor('bool', [])), /^\{'descr': '\|b1', 'fortran_order': False, 'shape': \(\), \}/);
    assert.match(header(new Tensor('uint8', [2, 2])), /'descr': '\|u1'/);
  });

  it('reads format 2.0 and 3.0', () => {
    assert.deepEqual(readNpy(new Uint8Array(npyBytes({ version: 2 }))).shape, [2, 3]);
    assert.deepEqual(readNpy(new Uint8Array(npyBytes({ version: 3 }))).shape, [2, 3]);
  });
});

describe('float16', () => {
  it('decodes and encodes like numpy (round to nearest even, subnormals, Inf, NaN)', () => {
    assert.deepEqual([0x3c00, 0xc100, 0x7bff, 0x0001, 0x7c00, 0xfc00, 0x8000].map(f16value), [
      1,
      -2.5,
      65504,
      2 ** -24,
      Infinity,
      -Infinity,
      -0,
    ]);
    assert.ok(Number.isNaN(f16value(0x7e00)));
    assert.deepEqual(
      [1, -2.5, 65504, 65520, 1e6, 2 ** -24, 2 ** -26, 1 + 2 ** -11, 1 + 3 * 2 ** -11].map(f16bits),
      [0x3c00, 0xc100, 0x7bff, 0x7c00, 0x7c00, 0x0001, 0x0000, 0x3c00, 0x3c02],
    );
    assert.equal(f16bits(NaN) & 0x7c00, 0x7c00);
    assert.ok(f16bits(NaN) & 0x3ff, 'NaN stays NaN');
  });
});

describe('npy refusals', () => {
  /** @type {Record<string, [Uint8Array, RegExp]>} */
  const bad = {
    float64: [npyBytes({ descr: '<f8', data: Buffer.alloc(48) }), /dtype <f8 is not one of the contract's/],
    'big-endian float32': [npyBytes({ descr: '>f4' }), /big-endian >f4/],
    int8: [npyBytes({ descr: '|i1', data: Buffer.alloc(6) }), /\|i1/],
    'Fortran order': [npyBytes({ fortran: true }), /fortran_order/],
    'rank 9': [npyBytes({ shape: [1, 1, 1, 1, 1, 1, 1, 1, 1], data: Buffer.alloc(4) }), /rank 9 is over 8/],
    'truncated data': [npyBytes({ data: Buffer.alloc(20) }), /needs 24 data bytes, file has 20/],
    'trailing data': [npyBytes({ data: Buffer.alloc(28) }), /needs 24 data bytes, file has 28/],
    'bool byte 2': [npyBytes({ descr: '|b1', data: Buffer.from([0, 1, 2, 0, 0, 0]) }), /bool element 2 is 2/],
    'bad magic': [Buffer.from('not an npy file at all'), /bad magic/],
    'empty file': [Buffer.alloc(0), /empty/],
    'version 4.0': [Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 4, 0, 0, 0]), /version 4.0/],
    'truncated header': [npyBytes({}).subarray(0, 30), /truncated header/],
    'header not a dict': [npyBytes({ header: "['descr', '<f4']" }), /not a dict/],
    'header missing shape': [npyBytes({ header: "{'descr': '<f4', 'fortran_order': False, }" }), /no 'shape'/],
    'header with unknown key': [
      npyBytes({ header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': True, }" }),
      /unknown key/,
    ],
    'negative dimension': [
      npyBytes({ header: "{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }" }),
      /negative/,
    ],
  };
  for (const [name, [bytes, message]] of Object.entries(bad)) {
    it(`rejects ${name}`, () => {
      assert.throws(
        () => readNpy(new Uint8Array(bytes)),
        (e) => e instanceof NpyError && message.test(e.message),
      );
    });
  }
});
