// The demo server serves the page, its assets and the models folder, and nothing else.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { startServer } from '../../src/server/server.js';
import { testManifest, tmpDir } from '../helpers/fixtures.js';

testManifest(); // the suite runs against the shared export; fail early without it

/** A raw GET (fetch would normalise `..` away before sending). */
function get(port, rawPath, method = 'GET') {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: rawPath, method }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('demo server', () => {
  let server;
  let models;
  before(async () => {
    models = tmpDir();
    fs.writeFileSync(path.join(models, 'manifest.json'), '{"schema_version": 2, "models": []}');
    fs.mkdirSync(path.join(models, 'm'));
    fs.writeFileSync(path.join(models, 'm', 'a.bin'), 'weights');
    fs.writeFileSync(path.join(path.dirname(models), 'deploykit-secret.txt'), 'secret');
    fs.symlinkSync('/etc/passwd', path.join(models, 'passwd'));
    fs.symlinkSync(path.dirname(models), path.join(models, 'up'));
    server = await startServer({ modelsDir: models });
  });
  after(async () => {
    await server.close();
    fs.rmSync(models, { recursive: true, force: true });
    fs.rmSync(path.join(path.dirname(models), 'deploykit-secret.txt'), { force: true });
  });

  it('listens on 127.0.0.1 only', () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  /** @type {[string, RegExp][]} */
  const allowed = [
    ['/app/', /<title>deploykit/],
    ['/app/index.js', /startUi/],
    ['/src/common/npy.js', /readNpy/],
    ['/vendor/tf.es2017.min.js', /./],
    ['/vendor/tfjs-backend-wasm-simd.wasm', /./],
    ['/vendor/tfjs-backend-wasm-threaded-simd.wasm', /./],
    ['/models/manifest.json', /schema_version/],
    ['/models/m/a.bin', /weights/],
  ];
  for (const [p, body] of allowed) {
    it(`serves ${p}`, async () => {
      const r = await get(server.port, p);
      assert.equal(r.status, 200);
      assert.match(r.body, body);
      // Cross-origin isolation (the wasm backend's threads need SharedArrayBuffer).
      assert.equal(r.headers['cross-origin-opener-policy'], 'same-origin');
      assert.equal(r.headers['cross-origin-embedder-policy'], 'require-corp');
      assert.equal(r.headers['cross-origin-resource-policy'], 'same-origin');
    });
  }

  it('sends the isolation headers on errors and redirects too', async () => {
    for (const p of ['/', '/nowhere']) {
      const r = await get(server.port, p);
      assert.equal(r.headers['cross-origin-opener-policy'], 'same-origin', p);
      assert.equal(r.headers['cross-origin-embedder-policy'], 'require-corp', p);
    }
  });

  const refused = [
    '/models/../package.json',
    '/models/%2e%2e/%2e%2e/package.json',
    '/models/..%2fdeploykit-secret.txt',
    '/models/%2e%2e%2fdeploykit-secret.txt',
    '/models/..\\deploykit-secret.txt',
    '/models/m/%00a.bin',
    '/models/passwd',
    '/models/up/deploykit-secret.txt',
    '/app/../package.json',
    '/app/..%2f..%2fpackage.json',
    '/src/common/../node/model.js',
    '/src/common/%2e%2e/node/model.js',
    '/common/npy.js',
    '/src/node/model.js',
    '/vendor/../../package.json',
    '/vendor/package.json',
    '/vendor/%2e%2e%2ftf.min.js',
    '/node_modules/@tensorflow/tfjs/package.json',
    '/package.json',
    '/src/server/server.js',
    '//etc/passwd',
    '/etc/passwd',
    '/models/%ZZ',
  ];
  for (const p of refused) {
    it(`refuses ${p}`, async () => {
      const r = await get(server.port, p);
      assert.equal(r.status, 404, `${p} -> ${r.status} ${r.body.slice(0, 40)}`);
      assert.doesNotMatch(r.body, /secret|root:|"name"|deploykit-js/);
    });
  }

  it('refuses methods other than GET and HEAD', async () => {
    assert.equal((await get(server.port, '/models/manifest.json', 'POST')).status, 405);
    assert.equal((await get(server.port, '/models/manifest.json', 'HEAD')).status, 200);
  });
});
