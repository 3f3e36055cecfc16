// The Node client's library API on the v2 test export: every tfjs-graph artifact, every golden
// set, per output, on both backends (and at batch 1 and 7 for the golden set), integrity and
// safety refusals, and no tensor leak.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';

import { compare, compareTensors } from '../../src/common/compare.js';
import { toleranceFor } from '../../src/common/manifest.js';
import { readNpy } from '../../src/common/npy.js';
import { InputError, LoadError, ManifestError, Tensor, load } from '../../src/index.js';
import { tf } from '../../src/node/tf.js';
import {
  EXPECTED_TFJS_MODELS,
  doctoredExport,
  exportWithout,
  firstRows,
  flipByte,
  goldenSet,
  readJson,
  replaceOp,
  testManifest,
  tfjsModels,
} from '../helpers/fixtures.js';

const manifest = testManifest();
const root = path.dirname(manifest);
const npy = (rel) => readNpy(new Uint8Array(fs.readFileSync(path.join(root, rel))));
const readSet = (set) => ({
  inputs: Object.fromEntries(Object.entries(set.inputs).map(([k, rel]) => [k, npy(rel)])),
  expected: Object.fromEntries(Object.entries(set.expected).map(([k, rel]) => [k, npy(rel)])),
});

const models = tfjsModels(manifest);
const ids = models.map((m) => m.id);
assert.ok(
  EXPECTED_TFJS_MODELS.every((id) => ids.includes(id)),
  `the test export has ${EXPECTED_TFJS_MODELS.join(', ')} as tfjs-graph (has: ${ids.join(', ')})`,
);
if (process.env.DEPLOYKIT_REQUIRE_CNN === '1')
  assert.ok(ids.includes('cnn_keras'), 'DEPLOYKIT_REQUIRE_CNN=1: cnn_keras must have a tfjs-graph artifact');

/** Runs a set and asserts every output against its reference under its own tolerance. */
function assertOutputs(spec, artifact, out, expected, label) {
  assert.deepEqual(
    Object.keys(out),
    spec.outputs.map((s) => s.name),
    `${label}: every output, in order`,
  );
  for (const [name, want] of Object.entries(expected)) {
    const res = compareTensors(out[name], want, toleranceFor(artifact, name));
    assert.ok(
      res.pass,
      `${label} ${name}: ${res.mismatches}/${res.count} mismatches, max_abs ${res.maxAbs}${res.why ? ` (${res.why})` : ''}`,
    );
  }
}

for (const backend of ['cpu', 'wasm']) {
  describe(`Node client on ${backend}`, () => {
    for (const spec of models) {
      const artifact = spec.artifacts.find((a) => a.format === 'tfjs-graph');
      it(`${spec.id}: every golden set (${spec.golden.map((s) => s.name).join(', ')}), every output`, async () => {
        const model = await load(manifest, spec.id, { backend });
        try {
          assert.equal(tf.getBackend(), backend);
          assert.ok(
            spec.golden.some((s) => s.name === 'golden'),
            'a golden set named golden',
          );
          for (const set of spec.golden) {
            const { inputs, expected } = readSet(set);
            assert.deepEqual(
              Object.keys(expected).sort(),
              spec.outputs.map((s) => s.name).sort(),
              `${set.name}: a reference per output`,
            );
            assertOutputs(spec, artifact, await model.predictTensors(inputs), expected, `${spec.id} ${set.name}`);
          }
          const { inputs, expected } = readSet(goldenSet(spec, 'golden'));
          for (const n of [1, 7]) {
            const cut = (m) => Object.fromEntries(Object.entries(m).map(([k, t]) => [k, firstRows(t, n)]));
            assertOutputs(
              spec,
              artifact,
              await model.predictTensors(cut(inputs)),
              cut(expected),
              `${spec.id} batch ${n}`,
            );
          }
        } finally {
          model.dispose();
        }
      });

      const special = spec.golden.find((s) => s.name === 'special');
      if (special && spec.inputs.some((s) => s.dtype === 'float32')) {
        // A model whose NaN/Inf behaviour is implementation-defined marks its special set
        // "values": "finite" (docs/contract.md): finite extremes only, the reason in its description.
        const finite = special.values === 'finite';
        it(`${spec.id}: the special set really holds ${finite ? 'finite extremes only' : 'NaN and Inf'}`, () => {
          const { inputs } = readSet(special);
          const values = Object.values(inputs).flatMap((t) => (t.dtype === 'float32' ? Array.from(t.data) : []));
          if (finite) {
            assert.ok(
              values.every(Number.isFinite) && values.some((v) => Math.abs(v) === Math.fround(1e30)),
              'finite extremes',
            );
            assert.match(special.description, /outside/);
          } else {
            assert.ok(
              values.some(Number.isNaN) && values.some((v) => v === Infinity) && values.some((v) => v === -Infinity),
            );
          }
        });
      }
    }

    it('one-input conveniences: predictFlat and predictRows agree with predictTensors', async () => {
      const spec = models.find((m) => m.id === 'mlp_keras');
      const x = readSet(goldenSet(spec, 'golden')).inputs.input;
      const model = await load(manifest, 'mlp_keras', { backend });
      try {
        const flat = await model.predictFlat(x.data, x.shape[0]);
        const full = await model.predictTensors({ input: x });
        assert.deepEqual(Array.from(flat), Array.from(full.output.data));
        const rows = await model.predictRows([Array.from(x.data.subarray(0, 10)), Array.from(x.data.subarray(10, 20))]);
        assert.ok(compare(rows.flat(), full.output.data.subarray(0, 2), { atol: 0, rtol: 0 }).pass);
      } finally {
        model.dispose();
      }
    });

    it('frees every tensor: no growth across calls, none left after dispose', async () => {
      const before = tf.memory().numTensors;
      const model = await load(manifest, 'wide_keras', { backend });
      const loaded = tf.memory().numTensors;
      const x = {
        input: firstRows(
          readSet(
            goldenSet(
              models.find((m) => m.id === 'wide_keras'),
              'golden',
            ),
          ).inputs.input,
          7,
        ),
      };
      await model.predictTensors(x);
      for (let i = 0; i < 20; i++) await model.predictTensors(x);
      await Promise.all([model.predictTensors(x), model.predictTensors(x)]);
      assert.equal(tf.memory().numTensors, loaded, 'predictTensors left tensors behind');
      const xin = tf.tensor(x.input.data, x.input.shape);
      const y = await model.predict({ input: xin });
      assert.deepEqual(y.output.shape, [7, 10]);
      tf.dispose([xin, y.output]);
      assert.equal(tf.memory().numTensors, loaded, 'predict left tensors behind');
      model.dispose();
      assert.equal(tf.memory().numTensors, before, 'dispose left tensors behind');
    });

    it('directCall: the bare execute runs without leaking and frees its inputs', async () => {
      const model = await load(manifest, 'mlp_keras', { backend });
      try {
        const input = readSet(
          goldenSet(
            models.find((m) => m.id === 'mlp_keras'),
            'golden',
          ),
        ).inputs.input;
        const before = tf.memory().numTensors;
        const direct = model.directCall({ input });
        assert.match(direct.description, new RegExp(`execute.*dataSync.*${backend}`));
        for (let i = 0; i < 5; i++) direct.run();
        assert.equal(tf.memory().numTensors, before + 1, 'only the prebuilt input tensor is alive');
        direct.dispose();
        assert.equal(tf.memory().numTensors, before, 'dispose left the input behind');
        assert.throws(() => model.directCall({ input: new Tensor('float32', [2, 9]) }), InputError);
      } finally {
        model.dispose();
      }
    });
  });
}

describe('Node client refusals', () => {
  const temp = [];
  after(() => temp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  const shard = (dir) =>
    path.join(
      dir,
      fs.readdirSync(dir).find((f) => f.endsWith('.bin')),
    );
  const fixture = doctoredExport([
    { id: 'flipped_shard', from: 'mlp_keras', mutate: (dir) => flipByte(shard(dir), 3) },
    {
      id: 'edited_model_json',
      from: 'mlp_keras',
      mutate: (dir) => fs.appendFileSync(path.join(dir, 'model.json'), ' '),
    },
    { id: 'missing_shard', from: 'mlp_keras', mutate: (dir) => fs.rmSync(shard(dir)) },
    { id: 'extra_file', from: 'mlp_keras', mutate: (dir) => fs.writeFileSync(path.join(dir, 'notes.txt'), 'unlisted') },
    {
      id: 'symlinked_file',
      from: 'mlp_keras',
      mutate: (dir) => fs.symlinkSync('/etc/hostname', path.join(dir, 'link')),
    },
    {
      id: 'unsupported_op',
      from: 'mlp_keras',
      mutate: (dir) => replaceOp(path.join(dir, 'model.json'), 'Sigmoid', 'XlaCallModule'),
      rehash: true,
    },
    {
      id: 'deny_listed',
      from: 'mlp_keras',
      mutate: (dir) => replaceOp(path.join(dir, 'model.json'), 'Sigmoid', 'ReadFile'),
      rehash: true,
    },
  ]);
  temp.push(fixture.dir);
  const shardName = path.basename(shard(path.join(fixture.dir, 'flipped_shard', 'tfjs')));

  const refuses = (id, kind, message) =>
    it(`${id}: LoadError(${kind})`, async () => {
      await assert.rejects(
        load(fixture.manifest, id),
        (e) => e instanceof LoadError && e.kind === kind && message.test(e.message),
      );
    });
  refuses('flipped_shard', 'integrity', new RegExp(`sha256 mismatch for ${shardName.replace('.', '\\.')}`));
  refuses('edited_model_json', 'integrity', /sha256 mismatch for model\.json/);
  refuses('missing_shard', 'missing', /\.bin is missing/);
  refuses('extra_file', 'integrity', /folder sha256 mismatch/);
  refuses('symlinked_file', 'integrity', /refusing symlink link/);
  refuses('unsupported_op', 'unsupported', /XlaCallModule/);
  refuses('deny_listed', 'unsafe', /refusing op ReadFile \(.+\): on the manifest's deny-list/);

  it('deny-list tampered or missing: LoadError(integrity)', async () => {
    const fx = doctoredExport([{ id: 'plain', from: 'mlp_keras' }]);
    temp.push(fx.dir);
    const list = path.join(fx.dir, readJson(fx.manifest).safety.unsafe_ops.path);
    (await load(fx.manifest, 'plain')).dispose();
    fs.appendFileSync(list, ' ');
    await assert.rejects(
      load(fx.manifest, 'plain'),
      (e) =>
        e instanceof LoadError &&
        e.kind === 'integrity' &&
        /deny-list unsafe_ops\.json: sha256 mismatch/.test(e.message),
    );
    fs.rmSync(list);
    await assert.rejects(
      load(fx.manifest, 'plain'),
      (e) => e instanceof LoadError && e.kind === 'integrity' && /is missing beside the manifest/.test(e.message),
    );
  });

  it('unknown model, model without tfjs-graph, other format: ManifestError (exit 2)', async () => {
    await assert.rejects(
      load(manifest, 'nope'),
      (e) => e instanceof ManifestError && e.exit === 2 && /unknown model/.test(e.message),
    );
    const noTfjs = exportWithout('mlp_torch', 'tfjs-graph');
    try {
      await assert.rejects(
        load(noTfjs.manifest, 'mlp_torch'),
        (e) => e instanceof ManifestError && /no tfjs-graph artifact/.test(e.message),
      );
    } finally {
      fs.rmSync(noTfjs.dir, { recursive: true, force: true });
    }
    await assert.rejects(
      load(manifest, 'mlp_keras', { format: 'onnx' }),
      (e) => e instanceof ManifestError && /not supported/.test(e.message),
    );
  });

  it('wrong width: InputError before anything runs', async () => {
    const model = await load(manifest, 'mlp_keras');
    try {
      await assert.rejects(
        model.predictRows([[1, 2, 3]]),
        (e) => e instanceof InputError && /^input input: dim 1 is 3, expected 10$/.test(e.message),
      );
    } finally {
      model.dispose();
    }
  });

  it('the shared export is untouched', () => {
    assert.ok(readJson(manifest).models.length >= 2);
  });
});
