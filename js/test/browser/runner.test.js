// bin/deploykit-browser: the common CLI, run inside headless Chromium (what `python -m builder
// verify` drives through --jobs): every tfjs-graph model's golden sets per output, one page
// session for a whole jobs file, and the error paths.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';

import { readNpy } from '../../src/common/npy.js';
import { numericPrefix, tfjsVersion } from '../../src/common/versions.js';
import { tf } from '../../src/node/tf.js';
import { REPO, doctoredExport, flipByte, testManifest, tfjsModels, tmpDir } from '../helpers/fixtures.js';
import { runCli } from '../helpers/cli.js';
import { syntheticExport } from '../helpers/synthetic.js';

const manifest = testManifest();
const root = path.dirname(manifest);
const LAUNCHER = path.join(REPO, 'bin', 'deploykit-browser');
const setDir = (id, set = 'golden') => path.join(root, id, 'golden', set);

describe('deploykit-browser CLI', { concurrency: 2, timeout: 240_000 }, () => {
  const work = tmpDir();
  const shard = (dir) =>
    path.join(
      dir,
      fs.readdirSync(dir).find((f) => f.endsWith('.bin')),
    );
  const broken = doctoredExport([
    { id: 'flipped', from: 'mlp_keras', mutate: (dir) => flipByte(shard(dir), 1) },
    { id: 'too_new', from: 'mlp_keras', fields: { min_runtime: { tfjs: '99.0.0' } } },
  ]);
  const synthetic = syntheticExport();
  after(() => [work, broken.dir, synthetic.dir].forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it('runs the golden set on wasm: a line per output, output .npy, timing measured in the page', async () => {
    const out = path.join(work, 'out');
    const timing = path.join(work, 'timing.json');
    const r = await runCli(
      [
        '--manifest',
        manifest,
        '--model',
        'wide_keras',
        '--input-dir',
        setDir('wide_keras'),
        '--output-dir',
        out,
        '--check-dir',
        path.join(setDir('wide_keras'), 'expected'),
        '--repeat',
        '3',
        '--warmup',
        '1',
        '--timing',
        timing,
      ],
      LAUNCHER,
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout.trim(), /^check output: pass max_abs=\S+ mismatches=0\/640$/);
    assert.deepEqual(readNpy(new Uint8Array(fs.readFileSync(path.join(out, 'output.npy')))).shape, [64, 10]);
    const doc = JSON.parse(fs.readFileSync(timing, 'utf8'));
    assert.equal(doc.batch, 64);
    assert.equal(doc.backend, 'wasm');
    for (const k of ['p50', 'p90', 'p99', 'mean']) assert.ok(doc.latency_us[k] > 0, k);
  });

  it('--jobs: every tfjs-graph model and golden set on cpu in one page session, one JSON line each', async () => {
    const jobs = [];
    for (const m of tfjsModels(manifest)) {
      for (const set of m.golden)
        jobs.push({
          id: `${m.id}/tfjs-graph/${set.name}`,
          model: m.id,
          format: 'tfjs-graph',
          inputs: set.inputs,
          check: set.expected,
        });
    }
    const abs = (files) => Object.fromEntries(Object.entries(files).map(([k, rel]) => [k, path.join(root, rel)]));
    jobs.push({ id: 'bad', model: 'mlp_keras', inputs: { image: 'mlp_keras/golden/golden/input.npy' } });
    const file = path.join(work, 'jobs.jsonl');
    fs.writeFileSync(
      file,
      jobs
        .map((j) => JSON.stringify({ ...j, inputs: abs(j.inputs), ...(j.check && { check: abs(j.check) }) }))
        .join('\n'),
    );
    const r = await runCli(['--manifest', manifest, '--jobs', file, '--backend', 'cpu'], LAUNCHER);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => [l.id, l.exit]),
      jobs.map((j) => [j.id, j.id === 'bad' ? 2 : 0]),
      r.stderr,
    );
    assert.match(lines.at(-1).error, /^input image: unknown input "image"/);
    assert.equal(r.code, 2);
  });

  it('--jobs with timed jobs for several models: one Chromium start, timings measured in the page', async () => {
    // A Chromium that counts its launches (Chromium's own child processes do not come back here).
    const launches = path.join(work, 'launches.txt');
    const wrapper = path.join(work, 'chromium-counting');
    fs.writeFileSync(
      wrapper,
      `#!/bin/sh\necho launch >> '${launches}'\nexec '${process.env.DEPLOYKIT_CHROMIUM || '/usr/bin/chromium'}' "$@"\n`,
      { mode: 0o755 },
    );
    const abs = (files) => Object.fromEntries(Object.entries(files).map(([k, rel]) => [k, path.join(root, rel)]));
    const models = tfjsModels(manifest);
    assert.ok(models.length >= 2, 'several tfjs-graph models');
    const jobs = [];
    for (const [i, m] of models.entries()) {
      const set = m.golden[0];
      jobs.push({
        id: `${m.id}/timed`,
        model: m.id,
        format: 'tfjs-graph',
        inputs: abs(set.inputs),
        check: abs(set.expected),
        repeat: 4 + i,
        ...(i % 2 && { warmup: 1 }),
      });
    }
    const [first] = models;
    jobs.push({ id: `${first.id}/untimed`, model: first.id, inputs: abs(first.golden[0].inputs) });
    jobs.push({ id: `${first.id}/again`, model: first.id, inputs: abs(first.golden[0].inputs), repeat: 2, warmup: 0 });
    const file = path.join(work, 'timed.jsonl');
    fs.writeFileSync(file, jobs.map((j) => JSON.stringify(j)).join('\n'));
    const r = await runCli(['--manifest', manifest, '--jobs', file], LAUNCHER, {
      ...process.env,
      DEPLOYKIT_CHROMIUM: wrapper,
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(fs.readFileSync(launches, 'utf8'), 'launch\n', 'one Chromium for the whole file');
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => [l.id, l.exit]),
      jobs.map((j) => [j.id, 0]),
    );
    assert.ok(!('timing' in lines.at(-2)), 'an untimed job has no timing key');
    for (const [i, l] of lines.entries()) {
      if (!jobs[i].repeat) continue;
      const t = l.timing;
      const model = models.find((m) => m.id === jobs[i].model);
      const firstInput = readNpy(new Uint8Array(fs.readFileSync(jobs[i].inputs[model.inputs[0].name])));
      assert.equal(t.batch, firstInput.shape[0], l.id);
      assert.equal(t.backend, 'wasm');
      assert.equal(t.runtime, 'tfjs-chromium');
      assert.ok(t.load_ms > 0 && t.first_ms > 0, l.id);
      for (const key of ['latency_us', 'direct_latency_us']) {
        const { p50, p90, p99, mean } = t[key];
        for (const v of [p50, p90, p99, mean])
          assert.ok(typeof v === 'number' && v > 0, `${l.id} ${key}: ${JSON.stringify(t[key])}`);
        assert.ok(p50 <= p90 && p90 <= p99, `${l.id} ${key}: ${JSON.stringify(t[key])}`);
      }
      assert.match(t.direct, /execute.*wasm.*Chromium/);
      // The runner page is cross-origin isolated: on 2+ logical cores the threaded SIMD build ran
      // with one thread per core (at most 8), on one core the single-threaded SIMD build.
      const cores = os.availableParallelism();
      const [binary, threads] = cores >= 2 ? ['threaded-simd', Math.min(cores, 8)] : ['simd', 1];
      assert.match(
        t.direct,
        new RegExp(`wasm backend \\(tfjs-backend-wasm-${binary}\\.wasm, ${threads} thread\\(s\\)\\)`),
      );
      assert.equal(t.samples_us.latency.length, jobs[i].repeat, l.id);
      assert.equal(t.samples_us.direct.length, jobs[i].repeat, l.id);
      assert.equal(t.samples_us.blocks, Math.min(10, jobs[i].repeat), l.id);
    }
    assert.equal(
      lines[0].timing.load_ms,
      lines.at(-1).timing.load_ms,
      'one load per (model, format): the same load_ms',
    );
  });

  it('--jobs: a malformed timed line is exit 2 before any browser starts', async () => {
    const file = path.join(work, 'bad-timed.jsonl');
    fs.writeFileSync(
      file,
      `${JSON.stringify({ model: 'mlp_keras', inputs: path.join(setDir('mlp_keras'), 'input.npy'), repeat: 2 })}\n${JSON.stringify({ model: 'mlp_keras', inputs: path.join(setDir('mlp_keras'), 'input.npy'), repeat: 0 })}\n`,
    );
    const r = await runCli(['--manifest', manifest, '--jobs', file], LAUNCHER, {
      ...process.env,
      DEPLOYKIT_CHROMIUM: path.join(work, 'no-chromium'),
    });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr.trim(), /^error: \S+bad-timed\.jsonl:2: "repeat" must be an integer >= 1, got 0$/);
  });

  it('two inputs, two outputs and int64 through the boundary cast, in the page', async () => {
    const { writeNpy } = await import('../../src/common/npy.js');
    const { Tensor } = await import('../../src/common/tensor.js');
    const dir = path.join(work, 'pair');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'tokens.npy'), writeNpy(new Tensor('int64', [2, 3], [1n, 2n, 3n, 4n, 5n, 6n])));
    fs.writeFileSync(path.join(dir, 'mask.npy'), writeNpy(new Tensor('float32', [2, 3], [1, 0, 1, 1, 1, 0])));
    const out = path.join(work, 'pair-out');
    const r = await runCli(
      ['--manifest', synthetic.manifest, '--model', 'pair', '--input-dir', dir, '--output-dir', out],
      LAUNCHER,
    );
    assert.equal(r.code, 0, r.stderr);
    const total = readNpy(new Uint8Array(fs.readFileSync(path.join(out, 'total.npy'))));
    assert.deepEqual([total.dtype, Array.from(total.data)], ['int64', [6n, 15n]]);
    const weighted = readNpy(new Uint8Array(fs.readFileSync(path.join(out, 'weighted.npy'))));
    assert.deepEqual(Array.from(weighted.data), [0.5, 0, 1.5, 2, 2.5, 0]);
  });

  it('a tampered weight shard: exit 3 with one error line', async () => {
    const r = await runCli(
      ['--manifest', broken.manifest, '--model', 'flipped', '--input-dir', setDir('mlp_keras')],
      LAUNCHER,
    );
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr.trim(), /^error: flipped\/tfjs-graph: sha256 mismatch for \S+\.bin/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });

  it('an artifact built for a newer TF.js: exit 3 with the one version line', async () => {
    const r = await runCli(
      ['--manifest', broken.manifest, '--model', 'too_new', '--input-dir', setDir('mlp_keras')],
      LAUNCHER,
    );
    assert.equal(r.code, 3, r.stderr);
    // The page runs the bundle of the TF.js package the Node client imports: the same version.
    const have = numericPrefix(tfjsVersion(tf));
    assert.equal(r.stderr, `error: too_new/tfjs-graph: built for tfjs >= 99.0.0, this client runs tfjs ${have}\n`);
  });

  it('bad input and usage errors: exit 2 before any browser starts', async () => {
    // With no Chromium to start, any attempt to launch one would end in exit 3.
    const noBrowser = { ...process.env, DEPLOYKIT_CHROMIUM: path.join(work, 'no-chromium') };
    const bad = await runCli(
      ['--manifest', manifest, '--model', 'mlp_keras', '--input', path.join(setDir('wide_keras'), 'input.npy')],
      LAUNCHER,
      noBrowser,
    );
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /^error: input input: dim 1 is 256, expected 10$/m);
    const none = await runCli([], LAUNCHER, noBrowser);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /--backend wasm\|cpu\|webgl/);
    const good = await runCli(
      ['--manifest', manifest, '--model', 'mlp_keras', '--input-dir', setDir('mlp_keras')],
      LAUNCHER,
      noBrowser,
    );
    assert.equal(good.code, 3, 'a valid run does try to start the browser');
    assert.match(good.stderr, /Chromium not found/);
  });
});
