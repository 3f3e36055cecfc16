import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { checkLine, compare, compareTensors, pyFloat } from '../../src/common/compare.js';
import { toleranceFor } from '../../src/common/manifest.js';
import { Tensor, f16bits } from '../../src/common/tensor.js';

const tol = { atol: 1e-5, rtol: 1e-4 };

describe('compare (the contract semantics)', () => {
  it('fails only where both atol and rtol are exceeded', () => {
    assert.equal(compare([1000.05], [1000], tol).pass, true, 'within rtol');
    assert.equal(compare([5e-6], [0], tol).pass, true, 'within atol');
    const r = compare([0, 1.001], [0, 1], tol);
    assert.equal(r.pass, false);
    assert.equal(r.mismatches, 1);
    assert.equal(r.worst, 1);
    assert.ok(Math.abs(r.maxAbs - 0.001) < 1e-9);
  });

  it('needs NaN at the same places and exact infinities', () => {
    assert.equal(compare([NaN, Infinity, -Infinity], [NaN, Infinity, -Infinity], tol).pass, true);
    assert.equal(compare([0], [NaN], tol).pass, false);
    assert.equal(compare([NaN], [0], tol).pass, false);
    assert.equal(compare([Infinity], [-Infinity], tol).pass, false);
    assert.equal(compare([3e38], [Infinity], tol).pass, false);
  });

  it('integer and bool tensors compare exactly, whatever the tolerance', () => {
    const loose = { atol: 10, rtol: 10 };
    const r = compareTensors(
      new Tensor('int64', [3], [1n, 2n, 2n ** 40n]),
      new Tensor('int64', [3], [1n, 3n, 2n ** 40n + 5n]),
      loose,
    );
    assert.deepEqual([r.pass, r.mismatches, r.maxAbs, r.count], [false, 2, 5, 3]);
    assert.equal(compareTensors(new Tensor('int32', [2], [4, 5]), new Tensor('int32', [2], [4, 5]), loose).pass, true);
    assert.equal(compareTensors(new Tensor('bool', [2], [1, 0]), new Tensor('bool', [2], [1, 1]), loose).mismatches, 1);
    assert.equal(compareTensors(new Tensor('uint8', [1], [255]), new Tensor('uint8', [1], [0]), loose).maxAbs, 255);
  });

  it('float16 tensors compare their values', () => {
    const a = new Tensor('float16', [2], Uint16Array.from([1, 2.001], f16bits));
    const b = new Tensor('float16', [2], Uint16Array.from([1, 2], f16bits));
    assert.equal(compareTensors(a, b, { atol: 1e-3, rtol: 1e-3 }).pass, true);
    assert.equal(compareTensors(a, b, tol).pass, false);
  });

  it('a shape or dtype difference fails the output and says so', () => {
    const r = compareTensors(new Tensor('float32', [2, 3]), new Tensor('float32', [3, 2]), tol);
    assert.equal(r.pass, false);
    assert.match(
      checkLine('logits', r),
      /^check logits: FAIL max_abs=nan mismatches=6\/6 \(got float32 \(2, 3\), reference is float32 \(3, 2\)\)$/,
    );
    assert.equal(compareTensors(new Tensor('int32', [2]), new Tensor('int64', [2]), tol).pass, false);
  });

  it('per-output tolerance overrides', () => {
    const artifact = { tolerance: { atol: 1e-5, rtol: 1e-4, outputs: { embedding: { atol: 2e-5, rtol: 1e-3 } } } };
    assert.deepEqual(toleranceFor(artifact, 'embedding'), { atol: 2e-5, rtol: 1e-3 });
    assert.deepEqual(toleranceFor(artifact, 'logits'), { atol: 1e-5, rtol: 1e-4 });
  });

  it('formats tolerances like Python', () => {
    assert.deepEqual([1e-5, 1e-4, 0, 0.5, 2e-7].map(pyFloat), ['1e-05', '0.0001', '0.0', '0.5', '2e-07']);
  });

  it('prints the contract summary line', () => {
    assert.equal(checkLine('output', compare([1], [1], tol)), 'check output: pass max_abs=0.00e+00 mismatches=0/1');
    assert.equal(
      checkLine('output', compare([1, 2], [1, 2.5], tol)),
      'check output: FAIL max_abs=5.00e-01 mismatches=1/2',
    );
  });
});

describe('interleave (the --timing loops)', () => {
  it('alternates blocks, flipping the order every round, after alternating warm-ups', async () => {
    const { interleave } = await import('../../src/cli/common.js');
    let order = '';
    const t = await interleave(
      () => {
        order += 'a';
      },
      async () => {
        order += 'b';
      },
      5,
      2,
      2,
    );
    assert.equal(order, 'abab' + 'aaabbb' + 'bbaa', 'blocks of 5 / 2, the first with the remainder');
    assert.equal(t.a.length, 5);
    assert.equal(t.b.length, 5);
    assert.equal(t.blocks, 2);
    assert.ok([...t.a, ...t.b].every((us) => Number.isFinite(us) && us >= 0));
    order = '';
    assert.equal(
      (
        await interleave(
          () => {
            order += 'a';
          },
          null,
          3,
          1,
        )
      ).b.length,
      0,
    );
    assert.equal(order, 'aaaa');
    order = '';
    await interleave(
      () => {
        order += 'a';
      },
      () => {
        order += 'b';
      },
      3,
    );
    assert.equal(order, 'abbaab', 'more rounds than calls: blocks of one');
    assert.equal((await interleave(() => {}, null, 0)).blocks, 0, 'no timed call, no block');
  });

  it('splits n calls into min(rounds, n) blocks of n / blocks, the first ones one more', async () => {
    const { blockBounds, interleave } = await import('../../src/common/timing.js');
    assert.deepEqual(blockBounds(23, 10), [0, 3, 6, 9, 11, 13, 15, 17, 19, 21, 23]);
    assert.deepEqual(blockBounds(20, 10), [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20]);
    assert.deepEqual(blockBounds(3, 10), [0, 1, 2, 3]);
    assert.deepEqual(blockBounds(1), [0, 1]);
    // interleave runs exactly those blocks: a then b in even rounds, b then a in odd ones.
    let order = '';
    const t = await interleave(
      () => {
        order += 'a';
      },
      () => {
        order += 'b';
      },
      23,
      0,
      10,
    );
    assert.equal(t.blocks, 10);
    const bounds = blockBounds(23, 10);
    const want = bounds
      .slice(1)
      .map((end, k) => {
        const n = end - bounds[k];
        return k % 2 === 0 ? 'a'.repeat(n) + 'b'.repeat(n) : 'b'.repeat(n) + 'a'.repeat(n);
      })
      .join('');
    assert.equal(order, want);
  });
});
