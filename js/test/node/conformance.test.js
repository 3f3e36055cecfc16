// The contract's conformance fixtures (testdata/conformance/verdicts.json): every .npy verdict
// (dtype, shape, data sha256), every manifest verdict with its exit code, and every input-check
// call against the model's specs and the given format's boundary casts, without a model run.
// A handful of verdicts also go through bin/deploykit-node, to pin the CLI's exit codes.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

import { checkInputs } from '../../src/common/checks.js';
import { InputError } from '../../src/common/errors.js';
import { ManifestError } from '../../src/common/manifest.js';
import { NpyError, readNpy, writeNpy } from '../../src/common/npy.js';
import { readManifest } from '../../src/node/manifest_file.js';
import { runCli } from '../helpers/cli.js';
import { REPO, readJson, sha256 } from '../helpers/fixtures.js';

const ROOT = path.join(REPO, 'testdata', 'conformance');
const verdicts = readJson(path.join(ROOT, 'verdicts.json'));
const npyFile = (rel) => readNpy(new Uint8Array(fs.readFileSync(path.join(ROOT, rel))));
const LAUNCHER = path.join(REPO, 'bin', 'deploykit-node');

describe('conformance: npy', () => {
  it('covers every dtype and the invalid cases', () => {
    const dtypes = new Set(verdicts.npy.filter((v) => v.valid).map((v) => v.dtype));
    assert.deepEqual([...dtypes].sort(), ['bool', 'float16', 'float32', 'int32', 'int64', 'uint8']);
    assert.ok(verdicts.npy.filter((v) => !v.valid).length >= 15);
  });
  for (const v of verdicts.npy) {
    if (v.valid) {
      it(`reads ${v.file}: ${v.dtype} (${v.shape.join(', ')}); writes it back identically`, () => {
        const t = npyFile(v.file);
        assert.equal(t.dtype, v.dtype);
        assert.deepEqual(t.shape, v.shape);
        assert.equal(sha256(t.bytes()), v.data_sha256);
        const back = readNpy(writeNpy(t));
        assert.equal(back.dtype, v.dtype);
        assert.deepEqual(back.shape, v.shape);
        assert.equal(sha256(back.bytes()), v.data_sha256);
      });
    } else {
      it(`rejects ${v.file} (${v.why})`, () => {
        assert.throws(
          () => npyFile(v.file),
          (e) => e instanceof NpyError && e.message.length > 0,
        );
      });
    }
  }
});

describe('conformance: manifests', () => {
  for (const v of verdicts.manifests) {
    const file = path.join(ROOT, v.file);
    if (v.valid) {
      it(`accepts ${v.file} with the listed specs`, async () => {
        const doc = await readManifest(file);
        const got = doc.models.map((m) => ({
          id: m.id,
          inputs: m.inputs,
          outputs: m.outputs,
          ...(m.dims && { dims: m.dims }),
        }));
        assert.deepEqual(got, v.models);
      });
    } else {
      it(`refuses ${v.file} with exit ${v.exit} (${v.why})`, async () => {
        await assert.rejects(readManifest(file), (e) => e instanceof ManifestError && e.exit === v.exit);
      });
    }
  }

  it('the CLI exits 3 for another schema_version and 2 for a malformed manifest, one line each', async () => {
    const input = path.join(ROOT, 'npy', 'calls', 'input_4x10.npy');
    for (const v of verdicts.manifests.filter((m) => !m.valid)) {
      const r = await runCli(['--manifest', path.join(ROOT, v.file), '--model', 'm', '--input', input], LAUNCHER);
      assert.equal(r.code, v.exit, `${v.file}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /^error: /);
      if (v.exit === 3) assert.match(r.stderr, /schema_version .* is not supported \(this client reads 2\)/);
    }
  });
});

describe('conformance: input checks', () => {
  for (const c of verdicts.calls) {
    const label = `${c.model} ${c.format ?? '(spec only)'}: ${c.why}`;
    it(`${c.valid ? 'accepts' : `refuses (exit ${c.exit})`} ${label}`, async () => {
      const doc = await readManifest(path.join(ROOT, c.manifest));
      const model = doc.models.find((m) => m.id === c.model);
      const artifact = c.format ? model.artifacts.find((a) => a.format === c.format) : undefined;
      if (c.format) assert.ok(artifact, `${c.model} has a ${c.format} artifact`);
      const inputs = Object.fromEntries(Object.entries(c.inputs).map(([name, f]) => [name, npyFile(f)]));
      if (c.valid) {
        checkInputs(model, inputs, artifact);
      } else {
        assert.throws(
          () => checkInputs(model, inputs, artifact),
          (e) => e instanceof InputError && e.exit === c.exit && /^input \w+: /.test(e.message),
        );
      }
    });
  }
});
