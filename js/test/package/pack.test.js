// The npm package as a user gets it: `npm pack` (its prepack emits the .d.ts files), a fresh
// project (`npm init -y`) that installs the tarball, then the package used by name from that
// project: the library in Node (test/package/consumer/predict.js), its types under tsc
// (consumer/check.mts), the installed `deploykit-node` bin, and web/deploykit.js from a plain
// <script type="module"> in Chromium (consumer/index.html). Dependencies come from npm's cache
// (--prefer-offline; `make setup-js` filled it); nothing is downloaded at install time.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';

import { isLocal, launchChromium } from '../../src/browser/chromium.js';
import { runCli } from '../helpers/cli.js';
import { JS_ROOT, goldenSet, testManifest, tmpDir } from '../helpers/fixtures.js';

const manifest = testManifest();
const MODEL = 'mlp_keras';
const CONSUMER = path.join(JS_ROOT, 'test', 'package', 'consumer');
const NPM_INSTALL = ['--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'];

const exec = promisify(execFile);

/** Runs a command, failing with its stderr. */
async function run(cmd, args, cwd) {
  try {
    return (
      await exec(cmd, args, { cwd, maxBuffer: 16 << 20, env: { ...process.env, npm_config_update_notifier: 'false' } })
    ).stdout;
  } catch (e) {
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${e.code}): ${e.stderr}`, { cause: e });
  }
}

const TYPES = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
};

/** A plain static server, as a user's would be: `/` is the project, `/models/` the export. */
async function serve(project, models) {
  const server = http.createServer((req, res) => {
    const url = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const [root, rel] = url.startsWith('/models/') ? [models, url.slice(8)] : [project, url.slice(1) || 'index.html'];
    const file = path.resolve(root, rel);
    if (!file.startsWith(root + path.sep) || !fs.statSync(file, { throwIfNoEntry: false })?.isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return { origin: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(resolve)) };
}

describe('the npm package in a fresh project', () => {
  let tmp;
  let project;
  let packed;

  before(async () => {
    tmp = tmpDir('deploykit-pack-');
    await run('npm', ['pack', '--silent', '--pack-destination', tmp], JS_ROOT);
    const tarball = fs.readdirSync(tmp).find((f) => f.endsWith('.tgz'));
    assert.ok(tarball, `npm pack wrote no tarball into ${tmp}`);
    packed = (await run('tar', ['-tzf', path.join(tmp, tarball)], tmp)).split('\n').filter(Boolean);
    project = path.join(tmp, 'app');
    fs.mkdirSync(project);
    await run('npm', ['init', '-y'], project);
    await run('npm', ['install', path.join(tmp, tarball), ...NPM_INSTALL], project);
    fs.copyFileSync(path.join(CONSUMER, 'predict.js'), path.join(project, 'predict.mjs'));
    fs.copyFileSync(path.join(CONSUMER, 'check.mts'), path.join(project, 'check.mts'));
    fs.copyFileSync(path.join(CONSUMER, 'index.html'), path.join(project, 'index.html'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('ships the library, the browser module, the CLI, the types and the licence, and nothing else', () => {
    const want = [
      'package/package.json',
      'package/README.md',
      'package/LICENSE',
      'package/src/index.js',
      'package/src/cli/node.js',
      'package/web/deploykit.js',
      'package/types/src/index.d.ts',
      'package/types/web/deploykit.d.ts',
    ];
    for (const f of want) assert.ok(packed.includes(f), `${f} is not in the tarball`);
    const stray = packed.filter((f) => /^package\/(test|bench|node_modules|src\/server|src\/browser)\//.test(f));
    assert.deepEqual(stray, []);
    assert.deepEqual(packed.filter((f) => f.startsWith('package/web/')).sort(), [
      'package/web/deploykit.js',
      'package/web/loader.js',
    ]);
  });

  for (const backend of ['cpu', 'wasm']) {
    it(`imports 'deploykit' by name and matches the golden outputs (${backend})`, async () => {
      const line = await run('node', ['predict.mjs', manifest, MODEL, backend], project);
      const got = JSON.parse(line);
      assert.equal(got.resolved, `file://${project}/node_modules/deploykit/src/index.js`);
      assert.equal(got.set, 'golden');
      assert.ok(got.results.length > 0);
      for (const r of got.results) {
        assert.ok(r.pass, `${MODEL} ${r.name} on ${backend}: max_abs ${r.maxAbs}`);
        assert.ok(r.tensor, 'outputs are the package Tensor class');
      }
    });
  }

  it('types the Node and browser entry points for TypeScript users', async () => {
    const tsc = path.join(JS_ROOT, 'node_modules', '.bin', 'tsc');
    const flags = ['--noEmit', '--strict', '--skipLibCheck', '--target', 'es2023', '--module', 'nodenext'];
    await run(tsc, [...flags, '--lib', 'es2023,dom', 'check.mts'], project);
  });

  it('installs the deploykit-node bin: --help, --version and a golden check', async () => {
    const bin = path.join(project, 'node_modules', '.bin', 'deploykit-node');
    const help = await runCli(['--help'], bin);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^usage: deploykit-node --manifest M --model ID/);
    const version = await runCli(['--version'], bin);
    assert.match(version.stdout, /^deploykit-node \d+\.\d+\.\d+ \(tfjs 4\.22\.0, node /);
    const set = goldenSet(
      JSON.parse(fs.readFileSync(manifest, 'utf8')).models.find((m) => m.id === MODEL),
      'golden',
    );
    const dir = path.join(path.dirname(manifest), path.dirname(set.inputs.input));
    const args = [
      '--manifest',
      manifest,
      '--model',
      MODEL,
      '--input-dir',
      dir,
      '--check-dir',
      path.join(dir, 'expected'),
    ];
    const check = await runCli([...args, '--backend', 'wasm'], bin);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout + check.stderr, /check output: pass max_abs=/);
  });

  it('runs web/deploykit.js from a plain <script type="module"> in Chromium (wasm, cpu)', async () => {
    const server = await serve(project, path.dirname(manifest));
    const outside = [];
    const browser = await launchChromium({ onRequest: (u) => isLocal(u, server.origin) || outside.push(u) });
    try {
      for (const backend of ['wasm', 'cpu']) {
        const page = await browser.context.newPage();
        await page.goto(`${server.origin}/?model=${MODEL}&backend=${backend}`);
        await page.waitForFunction(() => globalThis.result !== undefined, null, { timeout: 60_000 });
        const got = await page.evaluate(() => globalThis.result);
        assert.equal(got.error, undefined, `${backend}: ${got.error}`);
        assert.equal(got.backend, backend);
        assert.ok(got.results.length > 0);
        for (const r of got.results)
          assert.ok(r.pass, `${MODEL} ${r.name} in Chromium (${backend}): max_abs ${r.maxAbs}`);
        await page.close();
      }
    } finally {
      await browser.close();
      await server.close();
    }
    assert.deepEqual(outside, [], 'the page requested something outside its own server');
  });
});
