// Version skew (docs/contract.md, "Version skew"), without a model run: reading a runtime's own
// version, comparing versions, the artifact check, and the manifest's `min_runtime` validation
// (a malformed version is exit 2, naming the model, format and family; also through the CLI).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';

import { LoadError } from '../../src/common/errors.js';
import { ManifestError, validateManifest } from '../../src/common/manifest.js';
import {
  FAMILY,
  checkRuntimeVersion,
  compareVersions,
  isVersion,
  numericPrefix,
  skewError,
  tfjsVersion,
} from '../../src/common/versions.js';
import { tf } from '../../src/node/tf.js';
import { runCli } from '../helpers/cli.js';
import { REPO, readJson, testManifest, tmpDir } from '../helpers/fixtures.js';

const LAUNCHER = path.join(REPO, 'bin', 'deploykit-node');

describe('version parse and compare', () => {
  it('reads a runtime version up to its first character that is neither a digit nor a dot', () => {
    assert.equal(numericPrefix('2.13.0+cu130'), '2.13.0');
    assert.equal(numericPrefix('4.22.0'), '4.22.0');
    assert.equal(numericPrefix('4.22.0-rc.1'), '4.22.0');
    assert.equal(numericPrefix('1.20.1.dev20240101'), '1.20.1');
    assert.equal(numericPrefix('2'), '2');
  });

  it('compares numerically per component, a missing component is 0', () => {
    assert.equal(compareVersions('2.19.0', '2.19.0'), 0, 'equal');
    assert.equal(compareVersions('2.18.0', '2.19.0'), -1, 'older');
    assert.equal(compareVersions('2.20.0', '2.19.0'), 1, 'newer');
    assert.equal(compareVersions('2.10.0', '2.9.0'), 1, 'numeric, not text');
    assert.equal(compareVersions(numericPrefix('2.13.0+cu130'), '2.13.0'), 0);
    assert.equal(compareVersions(numericPrefix('2.13.0+cu130'), '2.13.1'), -1);
    assert.equal(compareVersions('2', '2.0.0'), 0);
    assert.equal(compareVersions('2', '2.0.1'), -1);
    assert.equal(compareVersions('3', '2.99.99'), 1);
    assert.equal(compareVersions('2.19', '2.19.0'), 0);
    assert.equal(compareVersions('2.19', '2.18.7'), 1);
    assert.equal(compareVersions('2.19', '2.19.1'), -1);
  });

  it('isVersion: MAJOR[.MINOR[.PATCH]], digits only', () => {
    for (const v of ['2', '2.19', '2.19.0', '0.0.0', '10.200.3000']) assert.ok(isVersion(v), v);
    for (const v of ['', '2.', '.2', '2..0', '1.2.3.4', 'v2', '2.x', ' 2', '2 ', '-1', '1e3', '2.13.0+cu130', 2, null])
      assert.ok(!isVersion(v), JSON.stringify(v));
  });

  it('the client reads its runtime as tfjs-core (tf.version_core)', () => {
    assert.equal(FAMILY, 'tfjs');
    assert.equal(tfjsVersion(tf), tf.version_core);
    assert.equal(tfjsVersion({ version: { 'tfjs-core': '4.1.0' } }), '4.1.0');
    assert.throws(
      () => tfjsVersion({}),
      (e) => e instanceof LoadError && e.kind === 'load',
    );
  });
});

describe('the artifact check', () => {
  const artifact = (min_runtime) => ({ format: 'tfjs-graph', ...(min_runtime && { min_runtime }) });
  const model = { id: 'm' };

  it('no min_runtime, no entry for tfjs, or a runtime at least as new: no refusal', () => {
    assert.equal(skewError(artifact(undefined), '4.22.0'), null);
    assert.equal(skewError(artifact({ tensorflow: '99.0.0', torch: '99', future_rt: '7' }), '4.22.0'), null);
    assert.equal(skewError(artifact({ tfjs: '4.22.0' }), '4.22.0'), null, 'equal');
    assert.equal(skewError(artifact({ tfjs: '4.22' }), '4.22.0'), null);
    assert.equal(skewError(artifact({ tfjs: '4' }), '4.22.0'), null);
    assert.equal(skewError(artifact({ tfjs: '1.0.0' }), '4.22.0'), null, 'older requirement');
    assert.equal(skewError(artifact({ tensorflow: '2.13.0' }), '2.13.0+cu130', 'tensorflow'), null);
  });

  it('an older runtime: the contract line, naming both versions', () => {
    assert.equal(
      skewError(artifact({ tfjs: '4.22.1' }), '4.22.0'),
      'built for tfjs >= 4.22.1, this client runs tfjs 4.22.0',
    );
    assert.equal(skewError(artifact({ tfjs: '5' }), '4.22.0'), 'built for tfjs >= 5, this client runs tfjs 4.22.0');
    assert.equal(
      skewError(artifact({ tensorflow: '2.19.0' }), '2.18.0-rc0', 'tensorflow'),
      'built for tensorflow >= 2.19.0, this client runs tensorflow 2.18.0',
    );
  });

  it('checkRuntimeVersion: LoadError(version), exit 3, "<model>/<format>: built for ..."', () => {
    const fake = { version_core: '4.22.0' };
    checkRuntimeVersion(fake, model, artifact(undefined));
    checkRuntimeVersion(fake, model, artifact({ tfjs: '4.22.0', onnxruntime: '99' }));
    assert.throws(
      () => checkRuntimeVersion(fake, model, artifact({ tfjs: '99.0.0' })),
      (e) =>
        e instanceof LoadError &&
        e.kind === 'version' &&
        e.exit === 3 &&
        e.message === 'm/tfjs-graph: built for tfjs >= 99.0.0, this client runs tfjs 4.22.0',
    );
    // The version TF.js reports is read the same way as any runtime's ("+build" is ignored).
    assert.throws(
      () => checkRuntimeVersion({ version_core: '4.22.0+local' }, model, artifact({ tfjs: '4.23' })),
      /this client runs tfjs 4\.22\.0$/,
    );
  });
});

describe('manifest: min_runtime', () => {
  const doc = readJson(testManifest());
  /** The test export with min_runtime set on mlp_keras's tfjs-graph artifact. */
  const withMinRuntime = (value) => {
    const copy = structuredClone(doc);
    copy.models.find((m) => m.id === 'mlp_keras').artifacts.find((a) => a.format === 'tfjs-graph').min_runtime = value;
    return copy;
  };

  it('accepts valid versions of every family, unknown families included (stored as given)', () => {
    const value = { tfjs: '4.22.0', tensorflow: '2.19', torch: '2', some_future_runtime: '1.2.3' };
    const got = validateManifest(withMinRuntime(value));
    const a = got.models.find((m) => m.id === 'mlp_keras').artifacts.find((x) => x.format === 'tfjs-graph');
    assert.deepEqual(a.min_runtime, value);
    validateManifest(withMinRuntime({}));
  });

  const malformed = [
    [{ tfjs: '4.x' }, 'tfjs'],
    [{ tfjs: '' }, 'tfjs'],
    [{ tfjs: '1.2.3.4' }, 'tfjs'],
    [{ tfjs: 'v4.22.0' }, 'tfjs'],
    [{ tfjs: '4.22.0+cu130' }, 'tfjs'],
    [{ tfjs: '4.' }, 'tfjs'],
    [{ tfjs: 4 }, 'tfjs'],
    [{ tfjs: null }, 'tfjs'],
    [{ tfjs: '4.22.0', torch: '2.x' }, 'torch'],
    [{ some_future_runtime: 'latest' }, 'some_future_runtime'],
  ];
  for (const [value, family] of malformed) {
    it(`refuses ${JSON.stringify(value)}: exit 2 naming the model, format and family`, () => {
      assert.throws(
        () => validateManifest(withMinRuntime(value), 'manifest.json'),
        (e) =>
          e instanceof ManifestError &&
          e.exit === 2 &&
          e.message.startsWith(`manifest.json: model mlp_keras: artifact tfjs-graph min_runtime.${family} is `) &&
          e.message.endsWith('(expected MAJOR[.MINOR[.PATCH]], digits only)'),
      );
    });
  }
  for (const value of ['4.22.0', ['4.22.0'], null]) {
    it(`refuses min_runtime ${JSON.stringify(value)}: not an object, exit 2`, () => {
      assert.throws(
        () => validateManifest(withMinRuntime(value), 'manifest.json'),
        (e) =>
          e instanceof ManifestError &&
          e.exit === 2 &&
          e.message === 'manifest.json: model mlp_keras: artifact tfjs-graph min_runtime is not an object',
      );
    });
  }

  const work = tmpDir();
  after(() => fs.rmSync(work, { recursive: true, force: true }));
  it('the CLI: a malformed min_runtime is exit 2 with one error line, before any load', async () => {
    const manifest = path.join(work, 'manifest.json');
    fs.writeFileSync(manifest, JSON.stringify(withMinRuntime({ tfjs: '4.22.x' })));
    // The manifest's folder holds no models: the refusal must come before anything is read.
    const input = path.join(path.dirname(testManifest()), 'mlp_keras', 'golden', 'golden', 'input.npy');
    const r = await runCli(['--manifest', manifest, '--model', 'mlp_keras', '--input', input], LAUNCHER);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(
      r.stderr,
      `error: ${manifest}: model mlp_keras: artifact tfjs-graph min_runtime.tfjs is "4.22.x" (expected MAJOR[.MINOR[.PATCH]], digits only)\n`,
    );
  });
});
