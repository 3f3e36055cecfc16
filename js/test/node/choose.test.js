// The demo page's default backend (web/choose.js): the fastest backend that passed parity.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { chooseBackend, median } from '../../web/choose.js';

describe('chooseBackend (the page default)', () => {
  it('picks the fastest backend that passed parity', () => {
    const { backend, reason } = chooseBackend([
      { backend: 'webgl', pass: true, ms: 2.5 },
      { backend: 'wasm', pass: true, ms: 0.3 },
      { backend: 'cpu', pass: true, ms: 0.9 },
    ]);
    assert.equal(backend, 'wasm');
    assert.match(
      reason,
      /^wasm: fastest that passed parity \(300 µs per prediction\); then webgl 2\.50 ms, cpu 900 µs$/,
    );
  });

  it('never picks a backend that failed parity, however fast', () => {
    const { backend, reason } = chooseBackend([
      { backend: 'webgl', pass: false, ms: 0.01, why: 'special/output: 3 of 10' },
      { backend: 'wasm', pass: true, ms: 0.4 },
      { backend: 'cpu', pass: false, ms: null, why: 'the backend failed to start' },
    ]);
    assert.equal(backend, 'wasm');
    assert.match(reason, /webgl failed \(special\/output: 3 of 10\)/);
    assert.match(reason, /cpu failed \(the backend failed to start\)/);
  });

  it('skips a passing backend that was not timed', () => {
    assert.equal(
      chooseBackend([
        { backend: 'webgl', pass: true, ms: null },
        { backend: 'cpu', pass: true, ms: 5 },
      ]).backend,
      'cpu',
    );
  });

  it('breaks ties by the order of the candidates', () => {
    const tie = [
      { backend: 'wasm', pass: true, ms: 1 },
      { backend: 'cpu', pass: true, ms: 1 },
    ];
    assert.equal(chooseBackend(tie).backend, 'wasm');
    assert.equal(chooseBackend([...tie].reverse()).backend, 'cpu');
  });

  it('chooses nothing when nothing passed, and says why', () => {
    const none = chooseBackend([{ backend: 'wasm', pass: false, ms: null, why: 'golden/output: 1 of 64' }]);
    assert.equal(none.backend, null);
    assert.equal(none.reason, 'no backend passed parity; wasm failed (golden/output: 1 of 64)');
    assert.equal(chooseBackend([]).backend, null);
  });

  it('median', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
  });
});
