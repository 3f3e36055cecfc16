// bin/deploykit-node through DESIGN.md's command line: every bad input with its exit code, one
// `error: <what>: <why>` line and no stack trace; --check, --timing, NaN inputs.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';

import { readNpy, writeNpy } from '../../src/common/npy.js';
import { runCli } from '../helpers/cli.js';
import { REPO, doctoredExport, flipByte, npyBytes, replaceOp, testManifest, tmpDir } from '../helpers/fixtures.js';

const manifest = testManifest();
const root = path.dirname(manifest);
const LAUNCHER = path.join(REPO, 'bin', 'deploykit-node');
const golden = (id, name) => path.join(root, id, 'golden', name);

const run = (args) => runCli(args, LAUNCHER);

const work = tmpDir();
after(() => fs.rmSync(work, { recursive: true, force: true }));
const file = (name, bytes) => {
  const p = path.join(work, name);
  fs.writeFileSync(p, bytes);
  return p;
};
const out = path.join(work, 'out.npy');
const base = (id = 'mlp_keras') => ['--manifest', manifest, '--model', id, '--output', out];

function assertOneErrorLine(stderr, what) {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${stderr}`);
  assert.match(lines[0], new RegExp(`^error: ${what}: `));
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
}

describe('deploykit-node CLI', { concurrency: 4 }, () => {
  it('no arguments: usage on stderr, exit 2', async () => {
    const r = await run([]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^usage: deploykit-node --manifest M --model ID/);
  });

  it('--help: usage on stdout, exit 0; --version names TF.js', async () => {
    const r = await run(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /--backend cpu\|wasm/);
    const v = await run(['--version']);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^tfjs 4\.22\.0 \(node /);
  });

  it('--check pass: one parity line, exit 0, output written as <f4 (rows, outputs)', async () => {
    const o = path.join(work, 'check.npy');
    const r = await run(['--manifest', manifest, '--model', 'wide_keras', '--input', golden('wide_keras', 'input.npy'), '--output', o, '--check', golden('wide_keras', 'expected.npy'), '--backend', 'wasm']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.trim(), /^check wide_keras\/tfjs-graph: pass max_abs=\S+ \(atol 0\.0001 rtol 0\.0001\) \[tfjs-node-js wasm\]$/);
    assert.deepEqual(readNpy(new Uint8Array(fs.readFileSync(o))).shape, [64, 10]);
  });

  it('--check mismatch: exit 1', async () => {
    const want = readNpy(new Uint8Array(fs.readFileSync(golden('mlp_keras', 'expected.npy'))));
    want.data[5] += 0.01;
    const r = await run([...base(), '--input', golden('mlp_keras', 'input.npy'), '--check', file('wrong.npy', writeNpy(want.data, want.shape))]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^check mlp_keras\/tfjs-graph: FAIL 1\/64 mismatched/);
  });

  it('NaN/Inf inputs are run (exit 0) and match the special reference', async () => {
    for (const backend of ['cpu', 'wasm']) {
      const r = await run([...base('wide_keras'), '--input', golden('wide_keras', 'special_input.npy'), '--check', golden('wide_keras', 'special_expected.npy'), '--backend', backend]);
      assert.equal(r.code, 0, `${backend}: ${r.stdout}${r.stderr}`);
    }
  });

  it('--repeat/--warmup/--timing writes the timing document', async () => {
    const t = path.join(work, 'timing.json');
    const r = await run([...base(), '--input', golden('mlp_keras', 'input.npy'), '--repeat', '5', '--warmup', '2', '--timing', t]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(fs.readFileSync(t, 'utf8'));
    assert.equal(doc.batch, 64);
    for (const k of ['load_ms', 'first_ms']) assert.ok(typeof doc[k] === 'number' && doc[k] > 0, k);
    for (const k of ['p50', 'p90', 'p99', 'mean']) assert.ok(typeof doc.latency_us[k] === 'number' && doc.latency_us[k] > 0, k);
    assert.ok(doc.latency_us.p50 <= doc.latency_us.p99);
    // The bare TF.js call, timed alongside over the same repeats.
    for (const k of ['p50', 'p90', 'p99', 'mean']) {
      const v = doc.direct_latency_us[k];
      assert.ok(typeof v === 'number' && Number.isFinite(v) && v > 0, `direct_latency_us.${k} = ${v}`);
    }
    assert.ok(doc.direct_latency_us.p50 <= doc.direct_latency_us.p90 && doc.direct_latency_us.p90 <= doc.direct_latency_us.p99);
    assert.ok(typeof doc.direct === 'string' && doc.direct.trim() !== '' && !doc.direct.includes('\n'), doc.direct);
    assert.match(doc.direct, /execute/);
  });

  it('--repeat without --timing does not time the bare call', async () => {
    const r = await run([...base(), '--input', golden('mlp_keras', 'input.npy'), '--repeat', '3']);
    assert.equal(r.code, 0, r.stderr);
  });

  it('--verbose shows the stack of a failure', async () => {
    const r = await run([...base(), '--input', path.join(work, 'absent.npy'), '--verbose']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /\n\s+at /);
  });

  const f4 = (shape) => Buffer.from(new Float32Array(shape.reduce((a, b) => a * b, 1)).buffer);
  const badInputs = {
    'missing input file': [() => path.join(work, 'absent.npy'), 'usage', /no such file/],
    'float64 input': [() => file('f8.npy', npyBytes({ descr: '<f8', shape: [2, 10], data: Buffer.alloc(160) })), 'usage', /dtype must be '<f4'/],
    'int32 input': [() => file('i4.npy', npyBytes({ descr: '<i4', shape: [2, 10], data: Buffer.alloc(80) })), 'usage', /dtype/],
    'big-endian input': [() => file('be.npy', npyBytes({ descr: '>f4', shape: [2, 10], data: f4([2, 10]) })), 'usage', /big-endian/],
    'Fortran-order input': [() => file('fortran.npy', npyBytes({ fortran: true, shape: [2, 10], data: f4([2, 10]) })), 'usage', /fortran_order/],
    '1-D input': [() => file('1d.npy', npyBytes({ shape: [10], data: f4([10]) })), 'usage', /2-D/],
    '3-D input': [() => file('3d.npy', npyBytes({ shape: [1, 2, 10], data: f4([1, 2, 10]) })), 'usage', /2-D/],
    'header shape longer than the data': [() => file('short.npy', npyBytes({ shape: [3, 10], data: f4([2, 10]) })), 'usage', /needs 120 data bytes, file has 80/],
    'header shape shorter than the data': [() => file('long.npy', npyBytes({ shape: [1, 10], data: f4([2, 10]) })), 'usage', /needs 40 data bytes, file has 80/],
    'not an npy file': [() => file('text.npy', 'hello'), 'usage', /bad magic/],
    'wrong width': [() => file('w7.npy', npyBytes({ shape: [2, 7], data: f4([2, 7]) })), 'usage', /expected 10 features per row/],
    'zero rows': [() => file('empty.npy', npyBytes({ shape: [0, 10], data: Buffer.alloc(0) })), 'usage', /no rows/],
  };
  for (const [name, [make, what, message]] of Object.entries(badInputs)) {
    it(`${name}: exit 2`, async () => {
      const r = await run([...base(), '--input', make()]);
      assert.equal(r.code, 2, r.stderr);
      assertOneErrorLine(r.stderr, what);
      assert.match(r.stderr, message);
    });
  }

  const input = ['--input', golden('mlp_keras', 'input.npy')];
  const badArgs = {
    'unknown flag': [[...base(), ...input, '--bogus'], 'usage', /Unknown option '--bogus'/],
    'missing --model': [['--manifest', manifest, ...input, '--output', out], 'usage', /--model is required/],
    'missing --output': [['--manifest', manifest, '--model', 'mlp_keras', ...input], 'usage', /--output is required/],
    'bad --repeat': [[...base(), ...input, '--repeat', 'x'], 'usage', /--repeat must be an integer/],
    'bad --backend': [[...base(), ...input, '--backend', 'webgl'], 'usage', /--backend must be one of cpu, wasm/],
    'missing manifest': [['--manifest', path.join(work, 'none.json'), '--model', 'mlp_keras', ...input, '--output', out], 'manifest', /no such file/],
    'malformed manifest': [['--manifest', file('bad.json', '{"models": ['), '--model', 'mlp_keras', ...input, '--output', out], 'manifest', /not valid JSON/],
    'manifest of the wrong shape': [['--manifest', file('shape.json', '{"schema_version": 1}'), '--model', 'mlp_keras', ...input, '--output', out], 'manifest', /no 'models' list/],
    'unknown model': [[...base('nope'), ...input], 'manifest', /unknown model 'nope'/],
    'model without a tfjs-graph artifact': [[...base('mlp_flax'), ...input], 'manifest', /no tfjs-graph artifact/],
    'unsupported format': [[...base(), ...input, '--format', 'saved-model'], 'manifest', /format 'saved-model' is not supported/],
    'expected file of the wrong shape': [[...base(), ...input, '--check', golden('mlp_keras', 'input.npy')], 'usage', /does not match the output shape \(64, 1\)/],
    'unwritable output': [['--manifest', manifest, '--model', 'mlp_keras', ...input, '--output', path.join(work, 'no', 'such', 'dir', 'o.npy')], 'usage', /cannot write output/],
  };
  for (const [name, [args, what, message]] of Object.entries(badArgs)) {
    it(`${name}: exit 2`, async () => {
      const r = await run(args);
      assert.equal(r.code, 2, r.stderr);
      assertOneErrorLine(r.stderr, what);
      assert.match(r.stderr, message);
    });
  }

  const shard = (dir) => path.join(dir, fs.readdirSync(dir).find((f) => f.endsWith('.bin')));
  const broken = doctoredExport([
    { id: 'flipped', from: 'mlp_keras', mutate: (dir) => flipByte(shard(dir), 1) },
    { id: 'missing', from: 'mlp_keras', mutate: (dir) => fs.rmSync(shard(dir)) },
    { id: 'deny_listed', from: 'mlp_keras', mutate: (dir) => replaceOp(path.join(dir, 'model.json'), 'Sigmoid', 'ReadFile'), rehash: true },
  ]);
  after(() => fs.rmSync(broken.dir, { recursive: true, force: true }));
  for (const [id, what, message] of [['flipped', 'integrity', /sha256 mismatch/], ['missing', 'load', /is missing/], ['deny_listed', 'safety', /refusing op ReadFile/]]) {
    it(`${id}: exit 3`, async () => {
      const r = await run(['--manifest', broken.manifest, '--model', id, ...input, '--output', out]);
      assert.equal(r.code, 3, r.stderr);
      assertOneErrorLine(r.stderr, what);
      assert.match(r.stderr, message);
    });
  }
});
