import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { checkLine, compare, pyFloat } from '../../src/common/compare.js';

const tol = { atol: 1e-5, rtol: 1e-4 };

describe('compare (DESIGN.md semantics)', () => {
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

  it('formats tolerances like Python', () => {
    assert.deepEqual([1e-5, 1e-4, 0, 0.5, 2e-7].map(pyFloat), ['1e-05', '0.0001', '0.0', '0.5', '2e-07']);
  });

  it('prints one summary line', () => {
    const line = checkLine('m/tfjs-graph', compare([1], [1], tol), tol);
    assert.equal(line, 'check m/tfjs-graph: pass max_abs=0.00e+00 (atol 1e-05 rtol 0.0001)');
  });
});

describe('interleave (the --timing loops)', () => {
  it('alternates blocks, flipping the order every round, after alternating warm-ups', async () => {
    const { interleave } = await import('../../src/cli/common.js');
    let order = '';
    const t = await interleave(() => { order += 'a'; }, async () => { order += 'b'; }, 5, 2, 2);
    assert.equal(order, 'abab' + 'aaabbb' + 'bbaa');
    assert.equal(t.a.length, 5);
    assert.equal(t.b.length, 5);
    assert.ok([...t.a, ...t.b].every((us) => Number.isFinite(us) && us >= 0));
    order = '';
    assert.equal((await interleave(() => { order += 'a'; }, null, 3, 1)).b.length, 0);
    assert.equal(order, 'aaaa');
    order = '';
    await interleave(() => { order += 'a'; }, () => { order += 'b'; }, 3);
    assert.equal(order, 'abbaab', 'more rounds than calls: blocks of one');
  });
});
