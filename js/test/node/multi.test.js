// Several named inputs and outputs, int64 through the boundary cast, and the command line's
// NAME=FILE / --input-dir / --output-dir / --check-dir / --jobs flags, on the hand-written
// two-input, two-output graph of helpers/synthetic.js (no shared export needed).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';

import { readNpy, writeNpy } from '../../src/common/npy.js';
import { InputError, LoadError, Tensor, load } from '../../src/index.js';
import { tf } from '../../src/node/tf.js';
import { runCli } from '../helpers/cli.js';
import { REPO } from '../helpers/fixtures.js';
import { syntheticExport } from '../helpers/synthetic.js';

const LAUNCHER = path.join(REPO, 'bin', 'deploykit-node');
const fx = syntheticExport();
const noCast = syntheticExport({ mutate: (doc) => delete doc.models[0].artifacts[0].boundary_dtypes.tokens });
after(() => [fx.dir, noCast.dir].forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const tokens = new Tensor('int64', [2, 3], [1n, 2n, 3n, 4n, 5n, 6n]);
const mask = new Tensor('float32', [2, 3], [1, 0, 1, 1, 1, 0]);
const want = { weighted: [0.5, 0, 1.5, 2, 2.5, 0], total: [6n, 15n] };

for (const backend of ['cpu', 'wasm']) {
  describe(`two inputs, two outputs on ${backend}`, () => {
    it('predictTensors: named Tensors in, named Tensors of the spec dtypes out', async () => {
      const model = await load(fx.manifest, 'pair', { backend });
      try {
        const out = await model.predictTensors({ tokens, mask });
        assert.deepEqual(Object.keys(out), ['weighted', 'total']);
        assert.equal(out.weighted.dtype, 'float32');
        assert.deepEqual(out.weighted.shape, [2, 3]);
        assert.deepEqual(Array.from(out.weighted.data), want.weighted);
        assert.equal(out.total.dtype, 'int64', 'cast back from the int32 boundary');
        assert.deepEqual(Array.from(out.total.data), want.total);
      } finally {
        model.dispose();
      }
    });

    it('predict: named tf.Tensors in and out (int32 for the int64 input)', async () => {
      const model = await load(fx.manifest, 'pair', { backend });
      const x = {
        tokens: tf.tensor(
          [
            [1, 2, 3],
            [4, 5, 6],
          ],
          [2, 3],
          'int32',
        ),
        mask: tf.tensor(mask.data, [2, 3]),
      };
      try {
        const y = await model.predict(x);
        assert.deepEqual(Array.from(await y.weighted.data()), want.weighted);
        assert.deepEqual(Array.from(await y.total.data()), [6, 15]);
        tf.dispose(Object.values(y));
        await assert.rejects(
          model.predict({ tokens: x.tokens }),
          (e) => e instanceof InputError && /input mask: missing/.test(e.message),
        );
        await assert.rejects(
          model.predict({ tokens: x.mask, mask: x.mask }),
          (e) => e instanceof InputError && /input tokens: expected int64, got float32/.test(e.message),
        );
      } finally {
        tf.dispose(Object.values(x));
        model.dispose();
      }
    });

    it('refuses bad calls before running, naming the input', async () => {
      const model = await load(fx.manifest, 'pair', { backend });
      const before = tf.memory().numTensors;
      const refuses = (inputs, message) =>
        assert.rejects(model.predictTensors(inputs), (e) => e instanceof InputError && message.test(e.message));
      try {
        await refuses({ tokens }, /^input mask: missing \(model inputs: tokens, mask\)$/);
        await refuses({ tokens, mask, extra: mask }, /^input extra: unknown input "extra"/);
        await refuses({ tokens: new Tensor('int32', [2, 3]), mask }, /^input tokens: expected int64, got int32$/);
        await refuses({ tokens: new Tensor('int64', [6]), mask }, /^input tokens: expected rank 2/);
        await refuses(
          { tokens: new Tensor('int64', [2, 17]), mask: new Tensor('float32', [2, 17]) },
          /dim 1 \(seq\) is 17, outside \[1, 16\]/,
        );
        await refuses(
          { tokens, mask: new Tensor('float32', [3, 3]) },
          /^input mask: dim 0 \(batch\) is 3, but input tokens has 2$/,
        );
        await refuses(
          { tokens: new Tensor('int64', [1, 2], [1n, -(2n ** 31n) - 1n]), mask: new Tensor('float32', [1, 2]) },
          /^input tokens: value -2147483649 at index 1 does not fit int32$/,
        );
        assert.equal(tf.memory().numTensors, before, 'nothing was allocated');
        const ok = await model.predictTensors({
          tokens: new Tensor('int64', [1, 2], [2n ** 31n - 1n, -(2n ** 31n)]),
          mask: new Tensor('float32', [1, 2]),
        });
        assert.deepEqual(Array.from(ok.total.data), [-1n], 'the int32 extremes fit');
      } finally {
        model.dispose();
      }
    });

    it('no tensor leak across calls; dispose frees everything', async () => {
      const before = tf.memory().numTensors;
      const model = await load(fx.manifest, 'pair', { backend });
      const loaded = tf.memory().numTensors;
      await Promise.all([model.predictTensors({ tokens, mask }), model.predictTensors({ tokens, mask })]);
      const direct = model.directCall({ tokens, mask });
      direct.run();
      direct.dispose();
      assert.equal(tf.memory().numTensors, loaded);
      model.dispose();
      assert.equal(tf.memory().numTensors, before);
    });
  });
}

it('an int64 input without a recorded boundary cast: LoadError(unsupported), exit 3', async () => {
  await assert.rejects(
    load(noCast.manifest, 'pair'),
    (e) =>
      e instanceof LoadError &&
      e.kind === 'unsupported' &&
      /input tokens is int64, which TF.js cannot hold, and the artifact records no boundary cast/.test(e.message),
  );
  const dir = path.join(noCast.dir, 'in');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'tokens.npy'), writeNpy(tokens));
  fs.writeFileSync(path.join(dir, 'mask.npy'), writeNpy(mask));
  const r = await runCli(['--manifest', noCast.manifest, '--model', 'pair', '--input-dir', dir], LAUNCHER);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /^error: pair\/tfjs-graph: input tokens is int64, which TF.js cannot hold/);
});

describe('deploykit-node with named tensors', { concurrency: 4 }, () => {
  const work = path.join(fx.dir, 'work');
  const inDir = path.join(work, 'in');
  const refDir = path.join(work, 'ref');
  fs.mkdirSync(inDir, { recursive: true });
  fs.mkdirSync(refDir, { recursive: true });
  const put = (dir, name, t) => {
    const p = path.join(dir, `${name}.npy`);
    fs.writeFileSync(p, writeNpy(t));
    return p;
  };
  const tokFile = put(inDir, 'tokens', tokens);
  const maskFile = put(inDir, 'mask', mask);
  fs.writeFileSync(path.join(inDir, 'notes.npy'), 'extra files in the folder are ignored');
  put(refDir, 'weighted', new Tensor('float32', [2, 3], want.weighted));
  put(refDir, 'total', new Tensor('int64', [2], want.total));
  const wrongTotal = put(work, 'wrong_total', new Tensor('int64', [2], [6n, 16n]));
  const base = ['--manifest', fx.manifest, '--model', 'pair'];
  const run = (args) => runCli([...base, ...args], LAUNCHER);
  const one = (r, re) => {
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr.trim(), re);
  };

  it('--input NAME=FILE, --output NAME=FILE: writes only the named output', async () => {
    const o = path.join(work, 'w.npy');
    const r = await run(['--input', `tokens=${tokFile}`, '--input', `mask=${maskFile}`, '--output', `weighted=${o}`]);
    assert.equal(r.code, 0, r.stderr);
    const t = readNpy(new Uint8Array(fs.readFileSync(o)));
    assert.deepEqual([t.dtype, t.shape, Array.from(t.data)], ['float32', [2, 3], want.weighted]);
  });

  it('--input-dir, --output-dir (created), --check-dir: one line per output, exit 0', async () => {
    const out = path.join(work, 'out', 'nested');
    const r = await run(['--input-dir', inDir, '--output-dir', out, '--check-dir', refDir]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), [
      'check weighted: pass max_abs=0.00e+00 mismatches=0/6',
      'check total: pass max_abs=0.00e+00 mismatches=0/2',
    ]);
    const total = readNpy(new Uint8Array(fs.readFileSync(path.join(out, 'total.npy'))));
    assert.equal(total.dtype, 'int64');
    assert.deepEqual(Array.from(total.data), want.total);
  });

  it('integer outputs compare exactly: off by one is exit 1', async () => {
    const r = await run(['--input-dir', inDir, '--check', `total=${wrongTotal}`]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout.trim(), 'check total: FAIL max_abs=1.00e+00 mismatches=1/2');
  });

  it('a check file of another shape or dtype fails the output (exit 1), no crash', async () => {
    const r = await run(['--input-dir', inDir, '--check', `weighted=${tokFile}`]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^check weighted: FAIL .*\(got float32 \(2, 3\), reference is int64 \(2, 3\)\)/);
  });

  const usage = {
    'bare --input for a two-input model': [
      ['--input', tokFile],
      /^error: --input .*needs a one-input model; this one has 2 inputs \(tokens, mask\)/,
    ],
    'bare --output for a two-output model': [
      ['--input-dir', inDir, '--output', path.join(work, 'x.npy')],
      /one-output model/,
    ],
    'missing input': [['--input', `tokens=${tokFile}`], /^error: input mask: missing \(model inputs: tokens, mask\)$/],
    'unknown input name': [['--input-dir', inDir, '--input', `x=${tokFile}`], /not a mix/],
    'unknown input via NAME=FILE': [
      ['--input', `tokens=${tokFile}`, '--input', `mask=${maskFile}`, '--input', `tokenz=${tokFile}`],
      /^error: input tokenz: unknown input "tokenz" \(model inputs: tokens, mask\)$/,
    ],
    'input named twice': [['--input', `tokens=${tokFile}`, '--input', `tokens=${tokFile}`], /names tokens twice/],
    'unknown output name': [
      ['--input-dir', inDir, '--output', `logits=${path.join(work, 'l.npy')}`],
      /^error: --output logits: unknown output "logits" \(model outputs: weighted, total\)$/,
    ],
    'wrong dtype': [
      ['--input', `tokens=${maskFile}`, '--input', `mask=${maskFile}`],
      /^error: input tokens: expected int64, got float32$/,
    ],
    'missing file in --input-dir': [
      ['--input-dir', refDir],
      /^error: input tokens .*tokens\.npy: cannot read: no such file$/,
    ],
    'missing check file': [
      ['--input-dir', inDir, '--check-dir', inDir],
      /^error: check weighted .*: cannot read: no such file$/,
    ],
    'no input at all': [[], /^error: --input or --input-dir is required$/],
  };
  for (const [name, [args, re]] of Object.entries(usage)) {
    it(`${name}: exit 2, one line`, async () => {
      const r = await run(args);
      assert.equal(r.code, 2, r.stderr);
      one(r, re);
    });
  }

  it('boundary-cast overflow: exit 2 naming the value', async () => {
    const big = put(work, 'big', new Tensor('int64', [2, 3], [1n, 2n, 3n, 4n, 5n, 3000000000n]));
    const r = await run(['--input', `tokens=${big}`, '--input', `mask=${maskFile}`]);
    assert.equal(r.code, 2);
    one(r, /^error: input tokens: value 3000000000 at index 5 does not fit int32$/);
  });

  it('--jobs: one load, one JSON line per job in order, failures do not stop the others', async () => {
    const jobs = path.join(work, 'jobs.jsonl');
    fs.writeFileSync(
      jobs,
      [
        {
          id: 'ok',
          model: 'pair',
          format: 'tfjs-graph',
          inputs: { tokens: 'in/tokens.npy', mask: 'in/mask.npy' },
          outputs: { total: 'jobs-out/total.npy' },
          check: { weighted: 'ref/weighted.npy', total: 'ref/total.npy' },
        },
        {
          id: 'mismatch',
          model: 'pair',
          inputs: { tokens: 'in/tokens.npy', mask: 'in/mask.npy' },
          check: { total: 'wrong_total.npy' },
        },
        { id: 'missing', model: 'pair', inputs: { tokens: 'in/tokens.npy' } },
        { id: 'unknown', model: 'nope', inputs: { x: 'in/tokens.npy' } },
        { model: 'pair', inputs: { tokens: 'in/tokens.npy', mask: 'in/mask.npy' } },
      ]
        .map((j) => JSON.stringify(j))
        .join('\n') + '\n\n',
    );
    fs.mkdirSync(path.join(work, 'jobs-out'), { recursive: true });
    const r = await runCli(['--manifest', fx.manifest, '--jobs', jobs], LAUNCHER);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => [l.id, l.index, l.exit]),
      [
        ['ok', 0, 0],
        ['mismatch', 1, 1],
        ['missing', 2, 2],
        ['unknown', 3, 2],
        [null, 4, 0],
      ],
    );
    assert.equal(lines[0].error, null);
    assert.match(lines[1].error, /check total: FAIL/);
    assert.equal(lines[2].error, 'input mask: missing (model inputs: tokens, mask)');
    assert.match(lines[3].error, /unknown model/);
    assert.ok(lines.every((l) => typeof l.seconds === 'number' && l.seconds >= 0));
    assert.equal(r.code, 1, 'the first non-zero job exit');
    assert.deepEqual(
      Array.from(readNpy(new Uint8Array(fs.readFileSync(path.join(work, 'jobs-out', 'total.npy')))).data),
      want.total,
    );
  });

  it('--jobs: timed jobs gain the --timing object; untimed and failed jobs have no timing key', async () => {
    const jobs = path.join(work, 'timed.jsonl');
    const inputs = { tokens: 'in/tokens.npy', mask: 'in/mask.npy' };
    fs.writeFileSync(
      jobs,
      [
        { id: 't1', model: 'pair', inputs, check: { total: 'ref/total.npy' }, repeat: 7, warmup: 2 },
        { id: 'plain', model: 'pair', inputs },
        { id: 't2', model: 'pair', format: 'tfjs-graph', inputs, repeat: 1 },
        { id: 'missing', model: 'pair', inputs: { tokens: 'in/tokens.npy' }, repeat: 3 },
        { id: 'mismatch', model: 'pair', inputs, check: { total: 'wrong_total.npy' }, repeat: 2, warmup: 0 },
      ]
        .map((j) => JSON.stringify(j))
        .join('\n'),
    );
    const r = await runCli(['--manifest', fx.manifest, '--jobs', jobs, '--backend', 'wasm'], LAUNCHER);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => [l.id, l.exit]),
      [
        ['t1', 0],
        ['plain', 0],
        ['t2', 0],
        ['missing', 2],
        ['mismatch', 1],
      ],
      r.stderr,
    );
    assert.equal(r.code, 2, 'the first non-zero job exit');
    for (const l of lines.filter((x) => x.id !== 't1' && x.id !== 't2'))
      assert.ok(!('timing' in l), `${l.id} has no timing key`);
    const [t1, , t2] = lines.map((l) => l.timing);
    for (const t of [t1, t2]) {
      for (const k of ['load_ms', 'first_ms', 'batch', 'latency_us', 'direct_latency_us', 'direct'])
        assert.ok(k in t, k);
      assert.equal(t.batch, 2, "the first input's first dim");
      assert.equal(t.backend, 'wasm');
      assert.ok(t.load_ms > 0 && t.first_ms > 0);
      for (const key of ['latency_us', 'direct_latency_us']) {
        const { p50, p90, p99, mean } = t[key];
        for (const v of [p50, p90, p99, mean])
          assert.ok(typeof v === 'number' && Number.isFinite(v) && v > 0, `${key}: ${JSON.stringify(t[key])}`);
        assert.ok(p50 <= p90 && p90 <= p99, `${key}: ${JSON.stringify(t[key])}`);
      }
      assert.match(t.direct, /execute.*wasm/);
    }
    assert.equal(t1.load_ms, t2.load_ms, 'one load of (pair, tfjs-graph), the same figure for both jobs');
    assert.notEqual(t1.first_ms, t2.first_ms, "first_ms is each job's own first call");
    // A single repeat is one timed call: every percentile is that call.
    assert.equal(t2.latency_us.p50, t2.latency_us.p99);
  });

  // Each malformed form, and the start of its one error line after `<file>:3: `.
  /** @type {Record<string, [object, string]>} */
  const malformed = {
    'repeat 0': [{ repeat: 0 }, '"repeat" must be an integer >= 1, got 0'],
    'negative repeat': [{ repeat: -2 }, '"repeat" must be an integer >= 1, got -2'],
    'non-integer repeat': [{ repeat: 1.5 }, '"repeat" must be an integer >= 1, got 1.5'],
    'string repeat': [{ repeat: '3' }, '"repeat" must be an integer >= 1, got "3"'],
    'boolean repeat': [{ repeat: true }, '"repeat" must be an integer >= 1, got true'],
    'negative warmup': [{ repeat: 3, warmup: -1 }, '"warmup" must be an integer >= 0, got -1'],
    'non-integer warmup': [{ repeat: 3, warmup: 0.5 }, '"warmup" must be an integer >= 0, got 0.5'],
    'string warmup': [{ repeat: 3, warmup: '1' }, '"warmup" must be an integer >= 0, got "1"'],
    'warmup without repeat': [{ warmup: 2 }, '"warmup" needs "repeat"'],
  };
  for (const [name, [extra, message]] of Object.entries(malformed)) {
    it(`--jobs: ${name} is a malformed line, exit 2 before any job runs`, async () => {
      const jobs = path.join(work, `malformed-${name.replace(/ /g, '-')}.jsonl`);
      const out = path.join(work, `malformed-${name.replace(/ /g, '-')}.npy`);
      const good = { model: 'pair', inputs: { tokens: 'in/tokens.npy', mask: 'in/mask.npy' }, outputs: { total: out } };
      fs.writeFileSync(jobs, [good, { ...good, ...extra }].map((j) => JSON.stringify(j)).join('\n\n'));
      const r = await runCli(['--manifest', fx.manifest, '--jobs', jobs], LAUNCHER);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '', 'no job ran');
      assert.ok(!fs.existsSync(out), 'the valid first line did not run either');
      one(r, /^error: \S+\.jsonl:3: /);
      assert.ok(r.stderr.includes(`.jsonl:3: ${message}`), r.stderr);
    });
  }

  it('--jobs: a malformed line is exit 2 before any job runs', async () => {
    const jobs = path.join(work, 'bad.jsonl');
    fs.writeFileSync(
      jobs,
      `${JSON.stringify({ model: 'pair', inputs: { tokens: 'in/tokens.npy', mask: 'in/mask.npy' } })}\n{"model": "pair", "inputs": 7}\n`,
    );
    const r = await runCli(['--manifest', fx.manifest, '--jobs', jobs], LAUNCHER);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '', 'no job ran');
    one(r, /^error: .*bad\.jsonl:2: "inputs" must be an object/);
    const mixed = await runCli(['--manifest', fx.manifest, '--jobs', jobs, '--model', 'pair'], LAUNCHER);
    assert.equal(mixed.code, 2);
    one(mixed, /--model does not go with it/);
  });
});
