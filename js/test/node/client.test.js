// The Node client's library API: golden parity on both backends at batch 1, 7 and the golden
// batch, the NaN/Inf set, integrity refusals, and no tensor leak.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';

import { compare } from '../../src/common/compare.js';
import { readNpy } from '../../src/common/npy.js';
import { LoadError, ManifestError, load } from '../../src/index.js';
import { tf } from '../../src/node/tf.js';
import { doctoredExport, flipByte, readJson, replaceOp, testManifest, tfjsModels } from '../helpers/fixtures.js';

const manifest = testManifest();
const root = path.dirname(manifest);
const npy = (rel) => readNpy(new Uint8Array(fs.readFileSync(path.join(root, rel))));
const rows = ({ data, shape }, n) => Array.from({ length: n }, (_, i) => Array.from(data.subarray(i * shape[1], (i + 1) * shape[1])));

const models = tfjsModels(manifest);
assert.deepEqual(models.map((m) => m.id).sort(), ['mlp_keras', 'wide_keras'], 'the test export has the two Keras tfjs-graph models');

for (const backend of ['cpu', 'wasm']) {
  describe(`Node client on ${backend}`, () => {
    for (const spec of models) {
      const tolerance = spec.artifacts.find((a) => a.format === 'tfjs-graph').tolerance;
      const input = npy(spec.golden.input);
      const expected = npy(spec.golden.expected);

      it(`${spec.id}: golden parity at batch 1, 7 and ${input.shape[0]}`, async () => {
        const model = await load(manifest, spec.id, { backend });
        try {
          assert.equal(tf.getBackend(), backend);
          for (const n of [1, 7, input.shape[0]]) {
            const out = await model.predict(rows(input, n));
            assert.ok(Array.isArray(out) && out.every((r) => Array.isArray(r) && r.length === spec.outputs[0].shape[1]), 'plain arrays');
            const res = compare(out.flat(), expected.data.subarray(0, n * expected.shape[1]), tolerance);
            assert.ok(res.pass, `batch ${n}: ${res.mismatches} mismatches, max_abs ${res.maxAbs}`);
          }
        } finally {
          model.dispose();
        }
      });

      it(`${spec.id}: NaN/Inf rows match the reference's pattern`, async () => {
        const x = npy(spec.golden.special_input);
        const want = npy(spec.golden.special_expected);
        assert.ok(Array.from(x.data).some(Number.isNaN) && Array.from(want.data).some(Number.isNaN), 'the special set has NaN');
        const model = await load(manifest, spec.id, { backend });
        try {
          const out = await model.predictFlat(x.data, x.shape[0]);
          const res = compare(out, want.data, tolerance);
          assert.ok(res.pass, `${res.mismatches} mismatches (first at ${res.worst}: got ${out[res.worst]}, want ${want.data[res.worst]})`);
        } finally {
          model.dispose();
        }
      });
    }

    it('frees every tensor: no growth across predict calls, none left after dispose', async () => {
      const before = tf.memory().numTensors;
      const model = await load(manifest, 'wide_keras', { backend });
      const loaded = tf.memory().numTensors;
      const x = rows(npy(models.find((m) => m.id === 'wide_keras').golden.input), 7);
      await model.predict(x);
      const first = tf.memory().numTensors;
      for (let i = 0; i < 20; i++) await model.predict(x);
      await Promise.all([model.predict(x), model.predict(x)]);
      assert.equal(tf.memory().numTensors, first, 'numTensors grew across calls');
      assert.equal(first, loaded, 'predict left tensors behind');
      model.dispose();
      assert.equal(tf.memory().numTensors, before, 'dispose left tensors behind');
    });

    it('directCall: the bare execute runs without leaking and frees its input', async () => {
      const model = await load(manifest, 'mlp_keras', { backend });
      try {
        const input = npy(models.find((m) => m.id === 'mlp_keras').golden.input);
        const want = await model.predictFlat(input.data, input.shape[0]);
        const before = tf.memory().numTensors;
        const direct = model.directCall(input.data, input.shape[0]);
        assert.match(direct.description, new RegExp(`execute.*dataSync.*${backend}`));
        for (let i = 0; i < 5; i++) direct.run();
        assert.equal(tf.memory().numTensors, before + 1, 'only the prebuilt input tensor is alive');
        direct.dispose();
        assert.equal(tf.memory().numTensors, before, 'dispose left the input behind');
        assert.throws(() => model.directCall(input.data, input.shape[0] + 1), RangeError);
      } finally {
        model.dispose();
      }
    });
  });
}

describe('Node client refusals', () => {
  const temp = [];
  after(() => temp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  const shard = (dir) => path.join(dir, fs.readdirSync(dir).find((f) => f.endsWith('.bin')));
  const fixture = doctoredExport([
    { id: 'flipped_shard', from: 'mlp_keras', mutate: (dir) => flipByte(shard(dir), 3) },
    { id: 'edited_model_json', from: 'mlp_keras', mutate: (dir) => fs.appendFileSync(path.join(dir, 'model.json'), ' ') },
    { id: 'missing_shard', from: 'mlp_keras', mutate: (dir) => fs.rmSync(shard(dir)) },
    { id: 'extra_file', from: 'mlp_keras', mutate: (dir) => fs.writeFileSync(path.join(dir, 'notes.txt'), 'unlisted') },
    { id: 'symlinked_file', from: 'mlp_keras', mutate: (dir) => fs.symlinkSync('/etc/hostname', path.join(dir, 'link')) },
    { id: 'unsupported_op', from: 'mlp_keras', mutate: (dir) => replaceOp(path.join(dir, 'model.json'), 'Sigmoid', 'XlaCallModule'), rehash: true },
    { id: 'deny_listed', from: 'mlp_keras', mutate: (dir) => replaceOp(path.join(dir, 'model.json'), 'Sigmoid', 'ReadFile'), rehash: true },
  ]);
  temp.push(fixture.dir);

  const refuses = (id, kind, message) => it(`${id}: LoadError(${kind})`, async () => {
    await assert.rejects(load(fixture.manifest, id), (e) => e instanceof LoadError && e.kind === kind && message.test(e.message));
  });
  refuses('flipped_shard', 'integrity', /sha256 mismatch for group1-shard1of1\.bin/);
  refuses('edited_model_json', 'integrity', /sha256 mismatch for model\.json/);
  refuses('missing_shard', 'missing', /group1-shard1of1\.bin is missing/);
  refuses('extra_file', 'integrity', /folder sha256 mismatch/);
  refuses('symlinked_file', 'integrity', /refusing symlink link/);
  refuses('unsupported_op', 'unsupported', /XlaCallModule/);
  refuses('deny_listed', 'unsafe', /refusing op ReadFile \(reads any file the process can read\): on the manifest's deny-list/);

  it('deny-list tampered or missing: LoadError(integrity)', async () => {
    const fx = doctoredExport([{ id: 'plain', from: 'mlp_keras' }]);
    temp.push(fx.dir);
    const list = path.join(fx.dir, readJson(fx.manifest).safety.unsafe_ops.path);
    assert.ok((await load(fx.manifest, 'plain')).dispose() === undefined, 'the untouched copy loads');
    fs.appendFileSync(list, ' ');
    await assert.rejects(load(fx.manifest, 'plain'), (e) => e instanceof LoadError && e.kind === 'integrity' && /deny-list unsafe_ops\.json: sha256 mismatch/.test(e.message));
    fs.rmSync(list);
    await assert.rejects(load(fx.manifest, 'plain'), (e) => e instanceof LoadError && e.kind === 'integrity' && /is missing beside the manifest/.test(e.message));
  });

  it('unknown model, model without tfjs-graph, other format: ManifestError', async () => {
    await assert.rejects(load(manifest, 'nope'), (e) => e instanceof ManifestError && /unknown model 'nope'/.test(e.message));
    await assert.rejects(load(manifest, 'mlp_torch'), (e) => e instanceof ManifestError && /no tfjs-graph artifact/.test(e.message));
    await assert.rejects(load(manifest, 'mlp_keras', { format: 'onnx' }), (e) => e instanceof ManifestError && /not supported/.test(e.message));
  });

  it('wrong width: RangeError before anything runs', async () => {
    const model = await load(manifest, 'mlp_keras');
    try {
      await assert.rejects(model.predict([[1, 2, 3]]), RangeError);
    } finally {
      model.dispose();
    }
  });

  it('the shared export is untouched', () => {
    assert.ok(readJson(manifest).models.length >= 2);
  });
});
