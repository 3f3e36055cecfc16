// bin/deploykit-browser: the common CLI, run inside headless Chromium (what `python -m builder
// verify --runtimes chromium` drives).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';

import { readNpy } from '../../src/common/npy.js';
import { REPO, doctoredExport, flipByte, testManifest, tmpDir } from '../helpers/fixtures.js';
import { runCli } from '../helpers/cli.js';

const manifest = testManifest();
const root = path.dirname(manifest);
const LAUNCHER = path.join(REPO, 'bin', 'deploykit-browser');
const golden = (id, name) => path.join(root, id, 'golden', name);

describe('deploykit-browser CLI', { concurrency: 2, timeout: 240_000 }, () => {
  const work = tmpDir();
  const shard = (dir) => path.join(dir, fs.readdirSync(dir).find((f) => f.endsWith('.bin')));
  const broken = doctoredExport([{ id: 'flipped', from: 'mlp_keras', mutate: (dir) => flipByte(shard(dir), 1) }]);
  after(() => [work, broken.dir].forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it('runs the golden batch on wasm: parity line, output .npy, timing measured in the page', async () => {
    const out = path.join(work, 'out.npy');
    const timing = path.join(work, 'timing.json');
    const r = await runCli(['--manifest', manifest, '--model', 'wide_keras', '--input', golden('wide_keras', 'input.npy'), '--output', out,
      '--check', golden('wide_keras', 'expected.npy'), '--repeat', '3', '--warmup', '1', '--timing', timing], LAUNCHER);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout.trim(), /^check wide_keras\/tfjs-graph: pass max_abs=\S+ \(atol 0\.0001 rtol 0\.0001\) \[tfjs-chromium wasm\]$/);
    assert.deepEqual(readNpy(new Uint8Array(fs.readFileSync(out))).shape, [64, 10]);
    const doc = JSON.parse(fs.readFileSync(timing, 'utf8'));
    assert.equal(doc.batch, 64);
    assert.equal(doc.backend, 'wasm');
    for (const k of ['p50', 'p90', 'p99', 'mean']) assert.ok(doc.latency_us[k] > 0, k);
  });

  it('NaN/Inf rows on cpu match the reference', async () => {
    const r = await runCli(['--manifest', manifest, '--model', 'mlp_keras', '--input', golden('mlp_keras', 'special_input.npy'), '--output', path.join(work, 's.npy'),
      '--check', golden('mlp_keras', 'special_expected.npy'), '--backend', 'cpu'], LAUNCHER);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  it('a tampered weight shard: exit 3 with one error line', async () => {
    const r = await runCli(['--manifest', broken.manifest, '--model', 'flipped', '--input', golden('mlp_keras', 'input.npy'), '--output', path.join(work, 'x.npy')], LAUNCHER);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr.trim(), /^error: integrity: flipped\/tfjs-graph: sha256 mismatch for group1-shard1of1\.bin/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });

  it('bad input and usage errors: exit 2 before any browser starts', async () => {
    // With no Chromium to start, any attempt to launch one would end in exit 3.
    const noBrowser = { ...process.env, DEPLOYKIT_CHROMIUM: path.join(work, 'no-chromium') };
    const bad = await runCli(['--manifest', manifest, '--model', 'mlp_keras', '--input', golden('wide_keras', 'input.npy'), '--output', path.join(work, 'y.npy')], LAUNCHER, noBrowser);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /^error: usage: input .*expected 10 features per row/);
    const none = await runCli([], LAUNCHER, noBrowser);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /--backend wasm\|cpu\|webgl/);
    const good = await runCli(['--manifest', manifest, '--model', 'mlp_keras', '--input', golden('mlp_keras', 'input.npy'), '--output', path.join(work, 'z.npy')], LAUNCHER, noBrowser);
    assert.equal(good.code, 3, 'a valid run does try to start the browser');
    assert.match(good.stderr, /Chromium not found/);
  });
});
