// bin/deploykit-node through the contract's command line on the v2 test export: every bad input
// with its exit code, one `error: <what>: <why>` line and no stack trace; --check per output,
// --timing, NaN inputs, --jobs over the real models.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';

import { readNpy, writeNpy } from '../../src/common/npy.js';
import { runCli } from '../helpers/cli.js';
import {
  REPO,
  doctoredExport,
  exportWithout,
  flipByte,
  npyBytes,
  replaceOp,
  testManifest,
  tfjsModels,
  tmpDir,
} from '../helpers/fixtures.js';

const manifest = testManifest();
const root = path.dirname(manifest);
const LAUNCHER = path.join(REPO, 'bin', 'deploykit-node');
const setDir = (id, set = 'golden') => path.join(root, id, 'golden', set);
const expectedDir = (id, set = 'golden') => path.join(setDir(id, set), 'expected');

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

function assertOneErrorLine(stderr, message) {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got:\n${stderr}`);
  assert.match(lines[0], /^error: \S/);
  assert.match(lines[0], message);
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
}

describe('deploykit-node CLI', { concurrency: 4 }, () => {
  it('no arguments: usage on stderr, exit 2', async () => {
    const r = await run([]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^usage: deploykit-node --manifest M --model ID/);
  });

  it('--help: usage on stdout, exit 0; --version: the project version, TF.js and Node', async () => {
    const r = await run(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /--backend cpu\|wasm/);
    assert.match(r.stdout, /--input NAME=FILE/);
    const v = await run(['--version']);
    assert.equal(v.code, 0);
    // package.json's "version" is the repository's VERSION.
    const version = fs.readFileSync(path.join(REPO, 'VERSION'), 'utf8').trim();
    assert.equal(
      v.stdout,
      `deploykit-node ${version} (tfjs 4.22.0, node ${process.versions.node}; backends cpu, wasm)\n`,
    );
  });

  for (const { id, inputs, golden } of tfjsModels(manifest)) {
    // The contract gives `special` to models with a float input (chargpt_torch has none).
    const sets = inputs.some((s) => s.dtype.startsWith('float')) ? ['golden', 'special'] : ['golden'];
    for (const backend of ['cpu', 'wasm']) {
      it(`${id} on ${backend}: --input-dir/--check-dir pass for the ${sets.join(' and ')} sets`, async () => {
        assert.deepEqual(
          sets.filter((set) => !golden.some((g) => g.name === set)),
          [],
          `${id} has its golden sets`,
        );
        for (const set of sets) {
          const r = await run([
            '--manifest',
            manifest,
            '--model',
            id,
            '--input-dir',
            setDir(id, set),
            '--check-dir',
            expectedDir(id, set),
            '--backend',
            backend,
          ]);
          assert.equal(r.code, 0, `${set}: ${r.stdout}${r.stderr}`);
          assert.match(r.stdout.trim(), /^(check \w+: pass max_abs=\S+ mismatches=0\/\d+\n?)+$/);
        }
      });
    }
  }

  it('bare --input/--output/--check for a one-input, one-output model; output written as <f4 (rows, 10)', async () => {
    const o = path.join(work, 'check.npy');
    const r = await run([
      '--manifest',
      manifest,
      '--model',
      'wide_keras',
      '--input',
      path.join(setDir('wide_keras'), 'input.npy'),
      '--output',
      o,
      '--check',
      path.join(expectedDir('wide_keras'), 'output.npy'),
      '--backend',
      'wasm',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.trim(), /^check output: pass max_abs=\S+ mismatches=0\/640$/);
    const t = readNpy(new Uint8Array(fs.readFileSync(o)));
    assert.deepEqual([t.dtype, t.shape], ['float32', [64, 10]]);
  });

  it('--check mismatch: exit 1', async () => {
    const want = readNpy(new Uint8Array(fs.readFileSync(path.join(expectedDir('mlp_keras'), 'output.npy'))));
    want.data[5] += 0.01;
    const r = await run([
      ...base(),
      '--input-dir',
      setDir('mlp_keras'),
      '--check',
      `output=${file('wrong.npy', writeNpy(want))}`,
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^check output: FAIL max_abs=1\.00e-02 mismatches=1\/64$/m);
  });

  it('--repeat/--warmup/--timing writes the timing document', async () => {
    const t = path.join(work, 'timing.json');
    const r = await run([
      ...base(),
      '--input-dir',
      setDir('mlp_keras'),
      '--repeat',
      '5',
      '--warmup',
      '2',
      '--timing',
      t,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(fs.readFileSync(t, 'utf8'));
    assert.equal(doc.batch, 64);
    for (const k of ['load_ms', 'first_ms']) assert.ok(typeof doc[k] === 'number' && doc[k] > 0, k);
    for (const k of ['p50', 'p90', 'p99', 'mean'])
      assert.ok(typeof doc.latency_us[k] === 'number' && doc.latency_us[k] > 0, k);
    assert.ok(doc.latency_us.p50 <= doc.latency_us.p99);
    // The bare TF.js call, timed alongside over the same repeats.
    for (const k of ['p50', 'p90', 'p99', 'mean']) {
      const v = doc.direct_latency_us[k];
      assert.ok(typeof v === 'number' && Number.isFinite(v) && v > 0, `direct_latency_us.${k} = ${v}`);
    }
    assert.ok(
      doc.direct_latency_us.p50 <= doc.direct_latency_us.p90 && doc.direct_latency_us.p90 <= doc.direct_latency_us.p99,
    );
    assert.ok(typeof doc.direct === 'string' && doc.direct.trim() !== '' && !doc.direct.includes('\n'), doc.direct);
    assert.match(doc.direct, /execute/);
    // samples_us: the 5 timed calls of each behind the summaries, in 5 blocks of one.
    const { latency, direct, blocks } = doc.samples_us;
    assert.equal(blocks, 5);
    for (const [name, list, summary] of [
      ['latency', latency, doc.latency_us],
      ['direct', direct, doc.direct_latency_us],
    ]) {
      assert.equal(list.length, 5, name);
      assert.ok(
        list.every((v) => typeof v === 'number' && v > 0),
        `${name}: ${list}`,
      );
      const sorted = [...list].sort((x, y) => x - y);
      assert.equal(summary.p50, sorted[2], `${name}: p50 is the samples' median`);
    }
  });

  it('--verbose shows the stack of a failure', async () => {
    const r = await run([...base(), '--input', path.join(work, 'absent.npy'), '--verbose']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /\n\s+at /);
  });

  it('--jobs over real models: one JSON line per job, each (model, format) loaded once', async () => {
    const jobs = path.join(work, 'jobs.jsonl');
    const lines = [];
    for (const id of ['mlp_keras', 'wide_keras']) {
      for (const set of ['golden', 'special']) {
        lines.push({
          id: `${id}/tfjs-graph/${set}`,
          model: id,
          format: 'tfjs-graph',
          inputs: { input: path.join(setDir(id, set), 'input.npy') },
          check: { output: path.join(expectedDir(id, set), 'output.npy') },
        });
      }
    }
    fs.writeFileSync(jobs, lines.map((l) => JSON.stringify(l)).join('\n'));
    const r = await runCli(['--manifest', manifest, '--jobs', jobs, '--backend', 'wasm'], LAUNCHER);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const results = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      results.map((x) => [x.id, x.index, x.exit, x.error]),
      lines.map((l, i) => [l.id, i, 0, null]),
    );
  });

  const f4 = (shape) => Buffer.from(new Float32Array(shape.reduce((a, b) => a * b, 1)).buffer);
  /** @type {Record<string, [() => string, RegExp]>} */
  const badInputs = {
    'missing input file': [
      () => path.join(work, 'absent.npy'),
      /^error: input input .*absent\.npy: cannot read: no such file$/,
    ],
    'float64 input': [
      () => file('f8.npy', npyBytes({ descr: '<f8', shape: [2, 10], data: Buffer.alloc(160) })),
      /dtype <f8 is not one of the contract's/,
    ],
    'int32 input': [
      () => file('i4.npy', npyBytes({ descr: '<i4', shape: [2, 10], data: Buffer.alloc(80) })),
      /^error: input input: expected float32, got int32$/,
    ],
    'big-endian input': [
      () => file('be.npy', npyBytes({ descr: '>f4', shape: [2, 10], data: f4([2, 10]) })),
      /big-endian/,
    ],
    'Fortran-order input': [
      () => file('fortran.npy', npyBytes({ fortran: true, shape: [2, 10], data: f4([2, 10]) })),
      /fortran_order/,
    ],
    '1-D input': [
      () => file('1d.npy', npyBytes({ shape: [10], data: f4([10]) })),
      /^error: input input: expected rank 2 \(batch, 10\), got rank 1 \(10\)$/,
    ],
    '3-D input': [() => file('3d.npy', npyBytes({ shape: [1, 2, 10], data: f4([1, 2, 10]) })), /expected rank 2/],
    'header shape longer than the data': [
      () => file('short.npy', npyBytes({ shape: [3, 10], data: f4([2, 10]) })),
      /needs 120 data bytes, file has 80/,
    ],
    'not an npy file': [() => file('text.npy', 'hello'), /bad magic/],
    'wrong width': [
      () => file('w7.npy', npyBytes({ shape: [2, 7], data: f4([2, 7]) })),
      /^error: input input: dim 1 is 7, expected 10$/,
    ],
    'zero rows': [
      () => file('empty.npy', npyBytes({ shape: [0, 10], data: Buffer.alloc(0) })),
      /^error: input input: dim 0 \(batch\) is 0, outside \[1, inf\]$/,
    ],
  };
  for (const [name, [make, message]] of Object.entries(badInputs)) {
    it(`${name}: exit 2`, async () => {
      const r = await run([...base(), '--input', make()]);
      assert.equal(r.code, 2, r.stderr);
      assertOneErrorLine(r.stderr, message);
    });
  }

  const input = ['--input-dir', setDir('mlp_keras')];
  const noTfjs = exportWithout('mlp_torch', 'tfjs-graph');
  after(() => fs.rmSync(noTfjs.dir, { recursive: true, force: true }));
  const badArgs = {
    'unknown flag': [[...base(), ...input, '--bogus'], /Unknown option '--bogus'/],
    'missing --model': [['--manifest', manifest, ...input], /--model is required/],
    'bad --repeat': [[...base(), ...input, '--repeat', 'x'], /--repeat must be an integer/],
    'bad --backend': [[...base(), ...input, '--backend', 'webgl'], /--backend must be one of cpu, wasm/],
    'missing manifest': [
      ['--manifest', path.join(work, 'none.json'), '--model', 'mlp_keras', ...input],
      /none\.json: cannot read: no such file/,
    ],
    'malformed manifest': [
      ['--manifest', file('bad.json', '{"models": ['), '--model', 'mlp_keras', ...input],
      /not valid JSON/,
    ],
    'unknown model': [[...base('nope'), ...input], /model nope: unknown model/],
    'model without a tfjs-graph artifact': [
      ['--manifest', noTfjs.manifest, '--model', 'mlp_torch', '--output', out, ...input],
      /no tfjs-graph artifact/,
    ],
    'unsupported format': [[...base(), ...input, '--format', 'saved-model'], /format saved-model: not supported/],
    'unknown input name': [
      [...base(), '--input', `image=${path.join(setDir('mlp_keras'), 'input.npy')}`],
      /^error: input image: unknown input "image" \(model inputs: input\)$/,
    ],
    'check file that is not npy': [
      [...base(), ...input, '--check', file('check.txt', 'x')],
      /^error: check output .*bad magic/,
    ],
    'unwritable output': [
      [
        '--manifest',
        manifest,
        '--model',
        'mlp_keras',
        ...input,
        '--output',
        path.join(work, 'no', 'such', 'dir', 'o.npy'),
      ],
      /cannot write/,
    ],
  };
  for (const [name, [args, message]] of Object.entries(badArgs)) {
    it(`${name}: exit 2`, async () => {
      const r = await run(args);
      assert.equal(r.code, 2, r.stderr);
      assertOneErrorLine(r.stderr, message);
    });
  }

  it('a check file of another shape: FAIL line, exit 1', async () => {
    const r = await run([...base(), ...input, '--check', path.join(setDir('mlp_keras'), 'input.npy')]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout.trim(), /^check output: FAIL .*\(got float32 \(64, 1\), reference is float32 \(64, 10\)\)$/);
  });

  it('schema_version 1: exit 3 with the contract line', async () => {
    const doc = JSON.parse(fs.readFileSync(manifest, 'utf8'));
    const m = file('v1.json', JSON.stringify({ ...doc, schema_version: 1 }));
    const r = await run(['--manifest', m, '--model', 'mlp_keras', ...input]);
    assert.equal(r.code, 3);
    assertOneErrorLine(
      r.stderr,
      new RegExp(`^error: ${m}: schema_version 1 is not supported \\(this client reads 2\\)$`),
    );
  });

  const shard = (dir) =>
    path.join(
      dir,
      fs.readdirSync(dir).find((f) => f.endsWith('.bin')),
    );
  const broken = doctoredExport([
    { id: 'flipped', from: 'mlp_keras', mutate: (dir) => flipByte(shard(dir), 1) },
    { id: 'missing', from: 'mlp_keras', mutate: (dir) => fs.rmSync(shard(dir)) },
    {
      id: 'deny_listed',
      from: 'mlp_keras',
      mutate: (dir) => replaceOp(path.join(dir, 'model.json'), 'Sigmoid', 'ReadFile'),
      rehash: true,
    },
  ]);
  after(() => fs.rmSync(broken.dir, { recursive: true, force: true }));
  for (const [id, message] of [
    ['flipped', /sha256 mismatch/],
    ['missing', /is missing/],
    ['deny_listed', /refusing op ReadFile/],
  ]) {
    it(`${id}: exit 3`, async () => {
      const r = await run(['--manifest', broken.manifest, '--model', id, ...input, '--output', out]);
      assert.equal(r.code, 3, r.stderr);
      assertOneErrorLine(r.stderr, message);
    });
  }
});
