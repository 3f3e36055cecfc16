import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

import { NpyError, readNpy, writeNpy } from '../../src/common/npy.js';
import { npyBytes, testManifest, tfjsModels } from '../helpers/fixtures.js';

const manifest = testManifest();

describe('readNpy', () => {
  it('reads the golden files numpy wrote', () => {
    for (const model of tfjsModels(manifest)) {
      const bytes = fs.readFileSync(path.join(path.dirname(manifest), model.golden.input));
      const { data, shape } = readNpy(new Uint8Array(bytes));
      assert.deepEqual(shape, [64, model.inputs[0].shape[1]]);
      assert.equal(data.length, shape[0] * shape[1]);
    }
  });

  it('round-trips what writeNpy writes, NaN and Inf included', () => {
    const data = new Float32Array([1.5, NaN, Infinity, -Infinity, -0, 1e-40]);
    const bytes = writeNpy(data, [2, 3]);
    assert.equal((bytes.length - data.byteLength) % 64, 0, 'data starts on a 64-byte boundary like numpy');
    const back = readNpy(bytes);
    assert.deepEqual(back.shape, [2, 3]);
    assert.deepEqual(Array.from(back.data), Array.from(data));
    assert.ok(Object.is(back.data[4], -0));
  });

  it('accepts format 2.0', () => {
    assert.deepEqual(readNpy(new Uint8Array(npyBytes({ version: 2 }))).shape, [2, 3]);
  });

  const bad = {
    'float64': [npyBytes({ descr: '<f8', data: Buffer.alloc(48) }), /dtype must be '<f4'.*<f8/],
    'big-endian float32': [npyBytes({ descr: '>f4' }), /big-endian/],
    'int32': [npyBytes({ descr: '<i4' }), /dtype/],
    'Fortran order': [npyBytes({ fortran: true }), /fortran_order/],
    '1-D': [npyBytes({ shape: [6] }), /2-D/],
    '3-D': [npyBytes({ shape: [1, 2, 3] }), /2-D/],
    'truncated data': [npyBytes({ data: Buffer.alloc(20) }), /needs 24 data bytes, file has 20/],
    'trailing data': [npyBytes({ data: Buffer.alloc(28) }), /needs 24 data bytes, file has 28/],
    'bad magic': [Buffer.from('not an npy file at all'), /bad magic/],
    'version 3.0': [Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 3, 0, 0, 0])]), /version 3.0/],
    'truncated header': [npyBytes({}).subarray(0, 30), /truncated header/],
    'header not a dict': [npyBytes({ header: "['descr', '<f4']" }), /not a dict/],
    'header missing shape': [npyBytes({ header: "{'descr': '<f4', 'fortran_order': False, }" }), /no 'shape'/],
    'header with unknown key': [npyBytes({ header: "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': True, }" }), /unknown key/],
    'negative dimension': [npyBytes({ header: "{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }" }), /non-integer/],
  };
  for (const [name, [bytes, message]] of Object.entries(bad)) {
    it(`rejects ${name}`, () => {
      assert.throws(() => readNpy(new Uint8Array(bytes)), (e) => e instanceof NpyError && message.test(e.message));
    });
  }
});
