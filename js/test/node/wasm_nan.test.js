// Pins the tfjs-backend-wasm behaviour that loader.js works around (nanSafeRelu): its Relu
// (fused into MatMul, and the standalone kernel for NaNs with the sign bit set) turns NaN
// into 0, unlike TensorFlow. When TF.js
// fixes this, the first test fails and the workaround can go.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { nanSafeRelu } from '../../src/common/loader.js';
import { tf, useBackend } from '../../src/node/tf.js';

describe('wasm backend and NaN', () => {
  it('raw kernels: fused MatMul+Relu, fused Conv2D+Relu and Relu drop NaN (TF.js 4.22.0)', async () => {
    await useBackend('wasm');
    const x = tf.tensor2d([[NaN, 1]]);
    const eye = tf.tensor2d([
      [1, 0],
      [0, 1],
    ]);
    const fused = tf.fused.matMul({ a: x, b: eye, activation: 'relu' });
    // [NaN, 1] x I = [NaN + 0, NaN * 0 + 1] = [NaN, NaN] in IEEE arithmetic (and in TensorFlow).
    assert.deepEqual(Array.from(fused.dataSync()), [0, 0]);
    // The standalone kernel drops NaNs whose sign bit is set (the NaN that Inf - Inf gives on
    // x86 and in wasm is 0xffc00000), as an integer max would; the canonical 0x7fc00000 survives.
    const negativeNaN = new Float32Array(new Uint32Array(8).fill(0xffc00000).buffer);
    const relu = tf.relu(tf.tensor1d(negativeNaN));
    assert.deepEqual(Array.from(relu.dataSync()), new Array(8).fill(0));
    // The same clamp in the fused convolution (cnn_keras's layers on wasm).
    const image = tf.tensor4d([NaN, 1, 2, 3], [1, 2, 2, 1]);
    const conv = tf.fused.conv2d({
      x: image,
      filter: tf.ones([1, 1, 1, 1]),
      strides: 1,
      pad: 'same',
      activation: 'relu',
      bias: tf.zeros([1]),
    });
    assert.deepEqual(Array.from(conv.dataSync()), [0, 1, 2, 3]);
    tf.dispose([x, eye, fused, relu, image, conv]);
    await useBackend('cpu');
    const cpu = tf.relu(tf.tensor1d(negativeNaN));
    assert.ok(Array.from(cpu.dataSync()).every(Number.isNaN), 'the cpu backend keeps NaN, like TensorFlow');
    cpu.dispose();
  });

  it('nanSafeRelu keeps node names and turns fused Relu into SelectV2(Less(x, 0), 0, x)', () => {
    const b64 = (s) => Buffer.from(s).toString('base64');
    const topology = {
      node: [
        { name: 'x', op: 'Placeholder' },
        {
          name: 'd/Relu',
          op: '_FusedMatMul',
          input: ['x', 'w', 'b'],
          attr: { fused_ops: { list: { s: [b64('BiasAdd'), b64('Relu')] } }, num_args: { i: '1' } },
        },
        { name: 'r', op: 'Relu', input: ['d/Relu'] },
        { name: 'y', op: 'Identity', input: ['r'] },
        {
          name: 'c/Relu',
          op: '_FusedConv2D',
          input: ['img', 'k', 'b'],
          attr: { fused_ops: { list: { s: [b64('BiasAdd'), b64('Relu')] } }, num_args: { i: '1' } },
        },
      ],
    };
    const out = nanSafeRelu(topology);
    const byName = Object.fromEntries(out.node.map((n) => [n.name, n]));
    assert.equal(byName['d/Relu'].op, 'SelectV2');
    assert.deepEqual(byName['d/Relu/deploykit_linear'].attr.fused_ops.list.s, [b64('BiasAdd')]);
    assert.equal(byName.r.op, 'SelectV2');
    assert.deepEqual(byName.r.input, ['r/deploykit_negative', 'r/deploykit_zeros', 'd/Relu']);
    assert.equal(byName.y.op, 'Identity');
    assert.equal(byName['c/Relu'].op, 'SelectV2');
    assert.deepEqual(byName['c/Relu/deploykit_linear'].attr.fused_ops.list.s, [b64('BiasAdd')]);
    assert.equal(byName['c/Relu/deploykit_linear'].op, '_FusedConv2D');
    assert.equal(topology.node[1].op, '_FusedMatMul', 'the input topology is not modified');
  });
});
