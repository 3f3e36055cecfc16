// The greedy decoder of src/common/generate.js without TF.js: the contract's argmax loop (ties,
// NaN at index 0 and elsewhere), the character-model checks, code points (not UTF-16 units)
// as tokens, and the window, on a fake model call that records what it is given.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { CharDecoder, GenerateError, MAX_TOKENS, argmax, characterModel } from '../../src/index.js';
import { Tensor } from '../../src/common/tensor.js';

/** A manifest entry of a character model over `vocabulary`. */
function charEntry({ vocabulary = 'ab😀c\n', dtype = 'int64', max = 4, id = 'toy' } = {}) {
  const v = Array.from(vocabulary).length;
  return {
    id,
    vocabulary,
    inputs: [{ name: 'tokens', dtype, shape: ['batch', 'seq'] }],
    outputs: [{ name: 'logits', dtype: 'float32', shape: ['batch', 'seq', v] }],
    dims: { batch: { min: 1 }, seq: max === null ? { min: 1 } : { min: 1, max } },
  };
}

/**
 * A fake call: logits whose last row prefers `pick(ids)`; every call's ids are recorded.
 * @param {number} v
 * @param {(ids: number[]) => number} pick
 */
function fakeModel(v, pick) {
  const calls = [];
  /** @param {Record<string, Tensor>} inputs */
  const predict = async (inputs) => {
    const { tokens } = inputs;
    const ids = Array.from(tokens.data, Number);
    calls.push({ dtype: tokens.dtype, shape: tokens.shape, ids });
    const n = ids.length;
    const data = new Float32Array(n * v).fill(-1);
    data[(n - 1) * v + pick(ids)] = 1; // earlier rows are ignored by the decoder
    data[0] = 5; // row 0 (not the last unless n = 1) must not matter
    if (n === 1) data[0] = -1;
    return { logits: new Tensor('float32', [1, n, v], data) };
  };
  return { calls, predict };
}

describe('argmax (the contract loop)', () => {
  it('picks the largest value', () => {
    assert.equal(argmax([0.1, 2, -3, 1.5]), 1);
    assert.equal(argmax(Float32Array.of(-5, -4, -3)), 2);
    assert.equal(argmax([7]), 0);
  });

  it('ties keep the lowest id', () => {
    assert.equal(argmax([1, 3, 3, 2]), 1);
    assert.equal(argmax([4, 4, 4]), 0);
    assert.equal(argmax([-Infinity, -Infinity]), 0);
    assert.equal(argmax([0, Infinity, Infinity]), 1);
  });

  it('a NaN after index 0 never wins', () => {
    assert.equal(argmax([1, NaN, 0.5]), 0);
    assert.equal(argmax([1, NaN, 3]), 2);
    assert.equal(argmax([0, 2, NaN, NaN, 1]), 1);
    assert.equal(argmax(Float32Array.of(-Infinity, NaN, -1e30)), 2);
  });

  it('a NaN at index 0: nothing compares greater, so the loop returns 0 (every client does the same)', () => {
    assert.equal(argmax([NaN, 1, 2]), 0);
    assert.equal(argmax([NaN, NaN, Infinity]), 0);
    assert.equal(argmax([NaN]), 0);
  });
});

describe('characterModel', () => {
  const refused = (entry, why) =>
    assert.throws(
      () => characterModel(entry),
      (e) => e instanceof GenerateError && e.exit === 2 && e.message === `model toy is not a character model (${why})`,
    );

  it('reads the vocabulary in code points and the window from dims', () => {
    const m = characterModel(charEntry());
    assert.deepEqual(m.vocabulary, ['a', 'b', '😀', 'c', '\n']);
    assert.equal(m.window, 4);
    assert.equal(characterModel(charEntry({ max: null })).window, Infinity);
  });

  it('refuses what is not a character model, saying what is missing', () => {
    const base = charEntry();
    refused({ ...base, vocabulary: undefined }, 'no vocabulary');
    refused({ ...base, vocabulary: '' }, 'its vocabulary is empty');
    refused(
      { ...base, inputs: [...base.inputs, { name: 'mask', dtype: 'float32', shape: ['batch', 'seq'] }] },
      '2 inputs, expected 1',
    );
    refused({ ...base, outputs: [...base.outputs, base.outputs[0]] }, '2 outputs, expected 1');
    refused(charEntry({ dtype: 'float32' }), 'input tokens is float32, not an integer dtype');
    refused(
      { ...base, inputs: [{ name: 'tokens', dtype: 'int32', shape: ['seq'] }] },
      'input tokens has rank 1, not 2 [batch, seq]',
    );
    refused(
      { ...base, outputs: [{ name: 'logits', dtype: 'int32', shape: ['batch', 'seq', 5] }] },
      'output logits is int32, not a float dtype',
    );
    refused(
      { ...base, outputs: [{ name: 'logits', dtype: 'float32', shape: ['batch', 5] }] },
      'output logits has rank 2, not 3 [batch, seq, vocabulary]',
    );
    // 5 code points, 6 UTF-16 units: the length is counted in code points.
    refused(
      { ...base, outputs: [{ name: 'logits', dtype: 'float32', shape: ['batch', 'seq', 6] }] },
      "the last dim of output logits is 6, not the vocabulary's length 5",
    );
    refused(
      {
        ...base,
        vocabulary: 'x'.repeat(300),
        outputs: [{ name: 'logits', dtype: 'float32', shape: ['batch', 'seq', 300] }],
        inputs: [{ name: 'tokens', dtype: 'uint8', shape: ['batch', 'seq'] }],
      },
      'input tokens is uint8, too narrow for 300 token ids',
    );
  });
});

describe('CharDecoder', () => {
  it('encodes code points and names a missing one with its U+XXXX and code-point position', () => {
    const d = new CharDecoder(charEntry(), async () => ({}));
    assert.deepEqual(d.encode('a😀c\n'), [0, 2, 3, 4]);
    // '\t' is the third code point (position 2) but the fourth UTF-16 unit.
    assert.throws(
      () => d.encode('😀b\tc'),
      (e) =>
        e instanceof GenerateError && e.message === 'character U+0009 at position 2 is not in the vocabulary of toy',
    );
    assert.throws(() => d.encode('ab🙂'), {
      message: 'character U+1F642 at position 2 is not in the vocabulary of toy',
    });
    assert.throws(() => d.encode(''), { name: 'GenerateError', message: 'the prompt is empty' });
  });

  it('one call per character on the last min(window, length) ids, as a [1, length] int64 tensor', async () => {
    const v = 5;
    const { calls, predict } = fakeModel(v, (ids) => (ids[ids.length - 1] + 1) % v);
    const d = new CharDecoder(charEntry(), predict);
    const text = await d.generate('ab', 6);
    assert.equal(text, 'ab😀c\nab😀');
    assert.equal(calls.length, 6);
    assert.deepEqual(
      calls.map((c) => c.shape),
      [
        [1, 2],
        [1, 3],
        [1, 4],
        [1, 4],
        [1, 4],
        [1, 4],
      ],
    );
    assert.ok(calls.every((c) => c.dtype === 'int64'));
    assert.deepEqual(calls[5].ids, [3, 4, 0, 1]); // 'c', '\n', 'a', 'b': the window slid
  });

  it('without a max seq the whole text is the window; int32 inputs stay int32', async () => {
    const { calls, predict } = fakeModel(5, () => 0);
    const d = new CharDecoder(charEntry({ max: null, dtype: 'int32' }), predict);
    assert.equal(await d.generate('bbbbbb', 3), 'bbbbbbaaa');
    assert.deepEqual(
      calls.map((c) => [c.dtype, c.shape[1]]),
      [
        ['int32', 6],
        ['int32', 7],
        ['int32', 8],
      ],
    );
  });

  it('0 tokens: the prompt, no call; a bad count is refused', async () => {
    const { calls, predict } = fakeModel(5, () => 0);
    const d = new CharDecoder(charEntry(), predict);
    assert.equal(await d.generate('a😀', 0), 'a😀');
    assert.equal(calls.length, 0);
    for (const n of [-1, 1.5, MAX_TOKENS + 1, NaN])
      await assert.rejects(d.generate('a', n), {
        name: 'GenerateError',
        message: /^tokens must be an integer from 0 to 10000/,
      });
  });

  it('refuses logits of the wrong shape; stops on an aborted signal; reports each character', async () => {
    const bad = new CharDecoder(charEntry(), async () => ({ logits: new Tensor('float32', [1, 1, 5]) }));
    await assert.rejects(bad.generate('ab', 1), {
      message: 'model toy: output logits has shape (1, 1, 5), expected (1, 2, 5)',
    });
    const { predict } = fakeModel(5, () => 3);
    const d = new CharDecoder(charEntry(), predict);
    const seen = [];
    assert.equal(await d.generate('a', 2, { onChar: (c, i) => seen.push([c, i]) }), 'acc');
    assert.deepEqual(seen, [
      ['c', 0],
      ['c', 1],
    ]);
    const controller = new AbortController();
    controller.abort(new Error('stopped'));
    await assert.rejects(d.generate('a', 2, { signal: controller.signal }), { message: 'stopped' });
  });
});
