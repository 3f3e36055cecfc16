// Version skew end to end (docs/contract.md, "Version skew"): copies of mlp_keras from the test
// export whose tfjs-graph artifact claims a newer TF.js (refused before anything is read: exit 3,
// one line naming both versions), an older one (runs, --check passes), this client's own
// version, and only other families' versions (not checked): through bin/deploykit-node, its
// --jobs mode and the library API.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';

import { LoadError, load } from '../../src/index.js';
import { numericPrefix, tfjsVersion } from '../../src/common/versions.js';
import { tf } from '../../src/node/tf.js';
import { runCli } from '../helpers/cli.js';
import { REPO, doctoredExport } from '../helpers/fixtures.js';

const LAUNCHER = path.join(REPO, 'bin', 'deploykit-node');
// This client's runtime, read as the client reads it (never written into the test).
const HAVE = numericPrefix(tfjsVersion(tf));

describe('version skew', { concurrency: 4 }, () => {
  const fx = doctoredExport([
    { id: 'too_new', from: 'mlp_keras', fields: { min_runtime: { tfjs: '99.0.0' } } },
    { id: 'old_enough', from: 'mlp_keras', fields: { min_runtime: { tfjs: '1.0.0' } } },
    { id: 'same', from: 'mlp_keras', fields: { min_runtime: { tfjs: HAVE } } },
    {
      id: 'other_families',
      from: 'mlp_keras',
      fields: { min_runtime: { tensorflow: '99.0.0', torch: '99', onnxruntime: '99.1', some_future_runtime: '99' } },
    },
    // The version check comes before the hashes: a tampered shard is never read.
    {
      id: 'too_new_and_tampered',
      from: 'mlp_keras',
      fields: { min_runtime: { tfjs: '99.0.0' } },
      mutate: (dir) => fs.appendFileSync(path.join(dir, 'model.json'), ' '),
    },
  ]);
  after(() => fs.rmSync(fx.dir, { recursive: true, force: true }));
  const setDir = (id) => path.join(fx.dir, id, 'golden', 'golden');
  const args = (id) => [
    '--manifest',
    fx.manifest,
    '--model',
    id,
    '--input-dir',
    setDir(id),
    '--check-dir',
    path.join(setDir(id), 'expected'),
  ];
  const refusal = (id) => `${id}/tfjs-graph: built for tfjs >= 99.0.0, this client runs tfjs ${HAVE}`;

  for (const id of ['too_new', 'too_new_and_tampered']) {
    it(`${id}: the CLI exits 3 with exactly one line naming both versions`, async () => {
      for (const backend of ['cpu', 'wasm']) {
        const r = await runCli([...args(id), '--backend', backend], LAUNCHER);
        assert.equal(r.code, 3, r.stderr);
        assert.equal(r.stdout, '');
        assert.equal(r.stderr, `error: ${refusal(id)}\n`);
        assert.match(r.stderr, /99\.0\.0/);
        assert.ok(r.stderr.includes(`tfjs ${HAVE}`));
      }
    });
  }

  for (const id of ['old_enough', 'same', 'other_families']) {
    it(`${id}: the model runs and --check passes`, async () => {
      const r = await runCli(args(id), LAUNCHER);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      assert.match(r.stdout, /^check output: pass /);
    });
  }

  it('--jobs: a refused job is exit 3 with the line as its error; the others run', async () => {
    const jobs = path.join(fx.dir, 'jobs.jsonl');
    const job = (id) => ({
      id,
      model: id,
      format: 'tfjs-graph',
      inputs: { input: path.join(setDir(id), 'input.npy') },
      check: { output: path.join(setDir(id), 'expected', 'output.npy') },
    });
    fs.writeFileSync(
      jobs,
      [job('old_enough'), job('too_new'), job('same'), job('too_new')].map((j) => JSON.stringify(j)).join('\n'),
    );
    const r = await runCli(['--manifest', fx.manifest, '--jobs', jobs], LAUNCHER);
    assert.equal(r.code, 3, 'the first non-zero job exit');
    const results = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      results.map((x) => [x.id, x.exit, x.error]),
      [
        ['old_enough', 0, null],
        ['too_new', 3, refusal('too_new')],
        ['same', 0, null],
        ['too_new', 3, refusal('too_new')],
      ],
    );
  });

  it('the library API: load() rejects with LoadError(version), exit 3, and runs the others', async () => {
    await assert.rejects(
      load(fx.manifest, 'too_new'),
      (e) => e instanceof LoadError && e.kind === 'version' && e.exit === 3 && e.message === refusal('too_new'),
    );
    for (const id of ['old_enough', 'same', 'other_families']) {
      const m = await load(fx.manifest, id);
      try {
        const rows = await m.predictRows([[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]);
        assert.equal(rows.length, 1);
      } finally {
        m.dispose();
      }
    }
  });
});
