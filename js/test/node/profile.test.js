// web/profile.js's kernelProfile, with a stand-in for tf.profile: only kernels registered for the
// backend are counted (tf.profile also lists the op scopes around them, which would count their
// time twice), times and launches are per call, slowest first. The real profile of a model is
// checked from Python (tests/test_bench_kernels.py). No speeds are checked.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { kernelProfile } from '../../web/profile.js';

/** A tf with `profile` replaying `perCall` kernel lists (one per profiled call). */
function fakeTf(perCall) {
  let call = 0;
  return {
    getBackend: () => 'wasm',
    getKernel: (name, backend) => (backend === 'wasm' && !name.endsWith('__op') ? { kernelName: name } : undefined),
    profile: async (query) => {
      await query();
      return { kernels: perCall[call++] };
    },
  };
}

describe('kernelProfile', () => {
  it('averages registered kernels over the profiled calls, slowest first', async () => {
    const tf = fakeTf([
      [
        { name: 'fusedMatMul__op', kernelTimeMs: 9 },
        { name: '_FusedMatMul', kernelTimeMs: 8 },
        { name: 'Less', kernelTimeMs: 1 },
        { name: '_FusedMatMul', kernelTimeMs: 2 },
      ],
      [
        { name: '_FusedMatMul', kernelTimeMs: 6 },
        { name: 'Less', kernelTimeMs: 3 },
        { name: '_FusedMatMul', kernelTimeMs: 4 },
      ],
    ]);
    let calls = 0;
    const p = await kernelProfile(tf, async () => calls++, { warmup: 1, runs: 2 });
    assert.equal(calls, 3, 'one warm-up call and two profiled ones');
    assert.equal(p.runs, 2);
    assert.equal(p.wall_ms.length, 2);
    assert.deepEqual(p.kernels, [
      { name: '_FusedMatMul', ms: 10, count: 2 },
      { name: 'Less', ms: 2, count: 1 },
    ]);
  });

  it('refuses a run count that is not a positive integer', async () => {
    await assert.rejects(
      kernelProfile(fakeTf([]), async () => {}, { runs: 0 }),
      /runs must be a positive integer/,
    );
  });
});
