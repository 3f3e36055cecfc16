// End to end in Debian's Chromium (headless, via playwright-core): the demo page's parity panel
// for every tfjs-graph model and golden set on every backend the browser offers, the sliders
// against the Node client, the digit pad (cnn_keras), the error messages, and no request leaving
// 127.0.0.1.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { isLocal, launchChromium } from '../../src/browser/chromium.js';
import { compare } from '../../src/common/compare.js';
import { Tensor } from '../../src/common/tensor.js';
import { load } from '../../src/index.js';
import { startServer } from '../../src/server/server.js';
import { OUTPUT_DIR, doctoredExport, flipByte, replaceOp, testManifest, tfjsModels } from '../helpers/fixtures.js';
import { syntheticCnnExport } from '../helpers/synthetic.js';

const manifest = testManifest();
const models = tfjsModels(manifest);
const tolerance = (id) => models.find((m) => m.id === id).artifacts.find((a) => a.format === 'tfjs-graph').tolerance;
const hasCnn = models.some((m) => m.id === 'cnn_keras');

describe('demo page in headless Chromium', { timeout: 240_000 }, () => {
  const requests = [];
  const pageErrors = [];
  const origins = [];
  let server;
  let broken;
  let brokenServer;
  let browser;
  let page;
  let available;

  async function select(id, backend) {
    await page.selectOption('#model', id);
    await page.selectOption('#backend', backend);
    await page.waitForFunction(
      ([want]) => {
        const s = document.getElementById('status');
        return s.textContent === want && s.dataset.state === 'ready';
      },
      [`${id} on ${backend}: ready`],
      { timeout: 60_000 },
    );
  }
  const prediction = async () =>
    page
      .locator('#prediction')
      .evaluate((el) => ({ values: JSON.parse(el.dataset.values), features: JSON.parse(el.dataset.features || '[]') }));

  before(async () => {
    fs.mkdirSync(OUTPUT_DIR, { recursive: true });
    server = await startServer({ modelsDir: path.dirname(manifest) });
    const shard = (dir) =>
      path.join(
        dir,
        fs.readdirSync(dir).find((f) => f.endsWith('.bin')),
      );
    broken = doctoredExport([
      { id: 'tampered', from: 'mlp_keras', mutate: (dir) => flipByte(shard(dir), 2) },
      { id: 'missing_files', from: 'mlp_keras', mutate: (dir) => fs.rmSync(shard(dir)) },
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
      { id: 'too_new', from: 'mlp_keras', fields: { min_runtime: { tfjs: '99.0.0' } } },
    ]);
    brokenServer = await startServer({ modelsDir: broken.dir });
    origins.push(server.url.slice(0, -1), brokenServer.url.slice(0, -1));
    browser = await launchChromium({ onRequest: (url) => requests.push(url) });
    page = await browser.context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // Four logical cores, whatever this machine has: TF.js starts two wasm threads, so every parity
    // run below is on the threaded SIMD build (a 2-core machine would get the single-threaded one).
    await page.addInitScript(() =>
      Object.defineProperty(Navigator.prototype, 'hardwareConcurrency', { get: () => 4, configurable: true }),
    );
    const start = Date.now();
    await page.goto(`${server.url}app/`);
    await page.waitForFunction(() => document.getElementById('backend')?.dataset.available, null, { timeout: 60_000 });
    available = JSON.parse(await page.locator('#backend').getAttribute('data-available'));
    const first = await page.locator('#first-ms').getAttribute('data-ms');
    process.stderr.write(
      `# chromium backends: ${available.join(', ')}; first prediction ${Number(first).toFixed(0)} ms after navigation start (${Date.now() - start} ms wall incl. goto)\n` +
        `# ${await page.locator('#wasm-info').innerText()}\n# ${await page.locator('#backend-choice').innerText()}\n`,
    );
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await brokenServer?.close();
    if (broken) fs.rmSync(broken.dir, { recursive: true, force: true });
  });

  it('offers wasm and cpu (webgl where the browser has a GL context)', () => {
    assert.ok(available.includes('wasm') && available.includes('cpu'), `available: ${available}`);
  });

  it('is cross-origin isolated and, with 4 cores, runs the threaded SIMD wasm build', async () => {
    const { isolated, cores } = await page.evaluate(() => ({
      isolated: globalThis.crossOriginIsolated,
      cores: navigator.hardwareConcurrency,
    }));
    assert.equal(isolated, true);
    assert.equal(cores, 4);
    const info = page.locator('#wasm-info');
    assert.equal(await info.getAttribute('data-isolated'), 'true');
    assert.equal(await info.getAttribute('data-binary'), 'tfjs-backend-wasm-threaded-simd.wasm');
    // The page asks for one thread per logical core; TF.js 4.22's wasm backend caps the pool at
    // hardwareConcurrency / 2 (it assumes two hardware threads per core), at least 1, at most 8
    // (tfjs-backend-wasm/src/cc/backend.cc, init_with_threads_count).
    assert.equal(Number(await info.getAttribute('data-threads')), Math.min(8, Math.max(1, Math.floor(cores / 2))));
    assert.ok(
      requests.some((url) => url.endsWith('/vendor/tfjs-backend-wasm-threaded-simd.wasm')),
      'the threaded SIMD binary came from /vendor/',
    );
  });

  it('the default backend is the fastest that passed parity, and passes the parity panel', async () => {
    const box = page.locator('#backend-choice');
    assert.equal(await box.getAttribute('data-state'), 'done', await box.innerText());
    const chosen = await box.getAttribute('data-chosen');
    const modelId = await box.getAttribute('data-model');
    const candidates = JSON.parse(await box.getAttribute('data-candidates'));
    assert.deepEqual(
      candidates.map((c) => c.backend),
      available,
      'every available backend was tried',
    );
    const winner = candidates.find((c) => c.backend === chosen);
    assert.ok(winner?.pass, `${chosen} passed parity: ${JSON.stringify(candidates)}`);
    for (const c of candidates.filter((c) => c.pass))
      assert.ok(winner.ms <= c.ms, `${chosen} is not slower than ${c.backend}`);
    assert.equal(await page.locator('#backend').inputValue(), chosen);
    assert.match(
      await box.innerText(),
      new RegExp(`^Default backend for ${modelId}: ${chosen}: fastest that passed parity`),
    );
    await page.waitForFunction(
      ([want]) => document.getElementById('status').textContent === want,
      [`${modelId} on ${chosen}: ready`],
      { timeout: 60_000 },
    );
    await page.click('#parity-run');
    await page.waitForFunction(
      () => ['done', 'error'].includes(document.getElementById('parity').dataset.state),
      null,
      {
        timeout: 60_000,
      },
    );
    const rows = await page.locator('#parity tbody tr').evaluateAll((trs) => trs.map((tr) => ({ ...tr.dataset })));
    assert.ok(rows.length > 0);
    for (const r of rows) assert.deepEqual([r.backend, r.pass], [chosen, 'true'], `${r.set}: max abs ${r.maxAbs}`);
  });

  it('with 2 cores (TF.js would start one thread), isolated, loads the single-threaded SIMD build', async () => {
    const two = await browser.context.newPage();
    two.on('pageerror', (e) => pageErrors.push(e.message));
    await two.addInitScript(() =>
      Object.defineProperty(Navigator.prototype, 'hardwareConcurrency', { get: () => 2, configurable: true }),
    );
    const fetched = [];
    two.on('request', (r) => fetched.push(r.url()));
    try {
      await two.goto(`${server.url}app/?model=mlp_keras&backend=wasm`);
      await two.waitForFunction(() => document.getElementById('wasm-info')?.dataset.binary, null, {
        timeout: 60_000,
      });
      assert.equal(await two.evaluate(() => globalThis.crossOriginIsolated), true);
      const info = two.locator('#wasm-info');
      assert.equal(await info.getAttribute('data-binary'), 'tfjs-backend-wasm-simd.wasm');
      assert.equal(await info.getAttribute('data-threads'), '1');
      assert.ok(!fetched.some((u) => u.endsWith('threaded-simd.wasm')), 'the threaded build was not fetched');
      assert.ok(Number(await two.locator('#first-ms').getAttribute('data-ms')) > 0, 'a first prediction');
    } finally {
      await two.close();
    }
  });

  it('works without cross-origin isolation: single-threaded SIMD wasm', async () => {
    const plain = await browser.context.newPage();
    plain.on('pageerror', (e) => pageErrors.push(e.message));
    // The same server with its isolation headers taken off.
    await plain.route('**/*', async (route) => {
      const response = await route.fetch();
      const headers = { ...response.headers() };
      delete headers['cross-origin-opener-policy'];
      delete headers['cross-origin-embedder-policy'];
      await route.fulfill({ response, headers });
    });
    try {
      await plain.goto(`${server.url}app/?model=mlp_keras&backend=wasm`);
      await plain.waitForFunction(() => document.getElementById('wasm-info')?.dataset.binary, null, {
        timeout: 60_000,
      });
      assert.equal(await plain.evaluate(() => globalThis.crossOriginIsolated), false);
      const info = plain.locator('#wasm-info');
      assert.equal(await info.getAttribute('data-isolated'), 'false');
      assert.equal(await info.getAttribute('data-binary'), 'tfjs-backend-wasm-simd.wasm');
      assert.equal(await info.getAttribute('data-threads'), '1');
      assert.equal(await plain.locator('#status').innerText(), 'mlp_keras on wasm: ready');
    } finally {
      await plain.close();
    }
  });

  it('raw webgl Relu turns -Inf into NaN (why loader.js rewrites Relu on webgl)', async (t) => {
    if (!available.includes('webgl')) return t.todo('webgl is not available in this browser');
    const got = await page.evaluate(async () => {
      const tf = globalThis.tf; // the page's global, from /vendor/tf.es2017.min.js
      const prev = tf.getBackend();
      await tf.setBackend('webgl');
      const y = tf.relu(tf.tensor1d([-Infinity, -1, 2]));
      const out = Array.from(await y.data()).map(String);
      y.dispose();
      await tf.setBackend(prev);
      return out;
    });
    assert.deepEqual(got, ['NaN', '0', '2'], 'TF.js 4.22.0 webgl Relu is x * (x >= 0); TensorFlow gives 0 for -Inf');
  });

  it('parity panel passes for every tfjs-graph model on every available backend', async () => {
    assert.ok(models.length >= 2);
    const lines = [];
    for (const { id } of models) {
      for (const backend of ['wasm', 'cpu', 'webgl'].filter((b) => available.includes(b))) {
        await select(id, backend);
        await page.click('#parity-run');
        await page.waitForFunction(
          () => ['done', 'error'].includes(document.getElementById('parity').dataset.state),
          null,
          { timeout: 60_000 },
        );
        const rows = await page.locator('#parity tbody tr').evaluateAll((trs) => trs.map((tr) => ({ ...tr.dataset })));
        const spec = models.find((m) => m.id === id);
        const sets = spec.golden.map((g) => g.name);
        // The contract gives `special` to models with a float input (chargpt_torch has none).
        const floatInput = spec.inputs.some((s) => s.dtype.startsWith('float'));
        assert.ok(
          sets.includes('golden') && (sets.includes('special') || !floatInput),
          `${id}: golden and special sets`,
        );
        assert.deepEqual(
          rows.map((r) => r.set),
          sets,
          `${id}/${backend}: every set ran`,
        );
        for (const r of rows) {
          assert.equal(r.model, id);
          assert.equal(r.backend, backend);
          assert.equal(r.pass, 'true', `${id} ${backend} ${r.set}: max abs ${r.maxAbs}`);
          assert.equal(Number(r.outputs), models.find((m) => m.id === id).outputs.length, 'every output compared');
          lines.push(`${id} ${backend} ${r.set} max_abs=${Number(r.maxAbs).toExponential(2)}`);
        }
      }
    }
    process.stderr.write(lines.map((l) => `# parity ${l}\n`).join(''));
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'parity.png'), fullPage: true });
  });

  for (const backend of ['cpu', 'wasm']) {
    it(`a slider changes the prediction, which equals the Node client's (${backend})`, async () => {
      await select('mlp_keras', backend);
      const before = await prediction();
      await page.locator('#f0').fill('2.75');
      await page.waitForFunction(
        (old) => document.getElementById('prediction').dataset.values !== old,
        JSON.stringify(before.values),
      );
      const afterMove = await prediction();
      assert.equal(afterMove.features[0], 2.75);
      assert.notDeepEqual(afterMove.values, before.values);
      const node = await load(manifest, 'mlp_keras', { backend });
      try {
        const [want] = await node.predictRows([afterMove.features]);
        const res = compare(afterMove.values, want, tolerance('mlp_keras'));
        assert.ok(res.pass, `browser ${afterMove.values} vs node ${want}`);
      } finally {
        node.dispose();
      }
      await page.screenshot({ path: path.join(OUTPUT_DIR, `demo-mlp_keras-${backend}.png`), fullPage: true });
    });
  }

  it('wide_keras: seed and slider controls change the 256-feature input; browser equals Node', async () => {
    await select('wide_keras', 'wasm');
    const before = await prediction();
    assert.equal(before.features.length, 256);
    await page.locator('#seed').fill('7');
    await page.waitForFunction(
      (old) => document.getElementById('prediction').dataset.values !== old,
      JSON.stringify(before.values),
    );
    await page.locator('#f3').fill('-2.5');
    await page.waitForFunction(() => JSON.parse(document.getElementById('prediction').dataset.features)[3] === -2.5);
    const now = await prediction();
    assert.notDeepEqual(now.features.slice(8), before.features.slice(8), 'the seed changed the generated features');
    const node = await load(manifest, 'wide_keras', { backend: 'wasm' });
    try {
      const [want] = await node.predictRows([now.features]);
      assert.ok(compare(now.values, want, tolerance('wide_keras')).pass, `browser ${now.values} vs node ${want}`);
    } finally {
      node.dispose();
    }
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'demo-wide_keras-wasm.png'), fullPage: true });
  });

  /** Draws a stroke on the pad (fractions of its box), waits for the classification. */
  async function drawStroke(points) {
    await page.click('#pad-clear');
    const box = await page.locator('#pad').boundingBox();
    const at = ([fx, fy]) => [box.x + box.width * fx, box.y + box.height * fy];
    await page.mouse.move(...at(points[0]));
    await page.mouse.down();
    for (const p of points.slice(1)) await page.mouse.move(...at(p), { steps: 4 });
    await page.mouse.up();
    await page.waitForFunction(
      () =>
        JSON.parse(document.getElementById('pad-probs').dataset.probs).length === 10 &&
        document.getElementById('pad-class').dataset.digit !== undefined,
      null,
      { timeout: 60_000 },
    );
    await page.waitForTimeout(300); // the classification after pointerup
    const probs = JSON.parse(await page.locator('#pad-probs').getAttribute('data-probs'));
    const digit = Number(await page.locator('#pad-class').getAttribute('data-digit'));
    const grid = JSON.parse(await page.locator('#pad-preview').getAttribute('data-grid'));
    assert.equal(probs.length, 10);
    assert.ok(probs.every((p) => p >= 0 && p <= 1));
    assert.ok(Math.abs(probs.reduce((a, b) => a + b, 0) - 1) < 1e-6, `sum ${probs.reduce((a, b) => a + b, 0)}`);
    assert.equal(digit, probs.indexOf(Math.max(...probs)));
    assert.equal(grid.length, 64);
    assert.ok(Math.max(...grid) === 1 && grid.every((v) => v >= 0 && v <= 1), 'ink intensities in [0, 1], full ink 1');
    return { probs, digit, grid };
  }

  /** The Node client's softmax(cnn_keras(grid)) on wasm. */
  async function nodeProbs(manifestFile, grid) {
    const node = await load(manifestFile, 'cnn_keras', { backend: 'wasm' });
    try {
      const spec = node.spec.inputs[0];
      const out = await node.predictTensors({
        [spec.name]: new Tensor(
          'float32',
          spec.shape.map((d) => (typeof d === 'number' ? d : 1)),
          grid,
        ),
      });
      const logits = Array.from(out[node.spec.outputs[0].name].data);
      const m = Math.max(...logits);
      const e = logits.map((v) => Math.exp(v - m));
      return e.map((v) => v / e.reduce((a, b) => a + b, 0));
    } finally {
      node.dispose();
    }
  }

  it('digit pad on a cnn_keras stand-in: a corner stroke is centred on the 8x8 grid; probabilities equal Node', async () => {
    const fx = syntheticCnnExport();
    const cnnServer = await startServer({ modelsDir: fx.dir });
    origins.push(cnnServer.url.slice(0, -1));
    try {
      await page.goto(`${cnnServer.url}app/?backend=wasm`);
      await page.waitForFunction(() => document.getElementById('pad-status')?.dataset.state === 'ready', null, {
        timeout: 60_000,
      });
      // An "L" in the top-left corner of the pad.
      const { probs, grid } = await drawStroke([
        [0.1, 0.05],
        [0.1, 0.35],
        [0.3, 0.35],
      ]);
      const mass = grid.reduce((a, b) => a + b, 0);
      const cx = grid.reduce((s, v, i) => s + v * (i % 8), 0) / mass;
      const cy = grid.reduce((s, v, i) => s + v * Math.floor(i / 8), 0) / mass;
      assert.ok(
        Math.abs(cx - 3.5) < 1.5 && Math.abs(cy - 3.5) < 1.5,
        `ink centred on the grid: centroid (${cx}, ${cy})`,
      );
      assert.ok(grid.filter((v) => v > 0.2).length >= 6, 'the stroke spans the grid');
      assert.ok(compare(probs, await nodeProbs(fx.manifest, grid), { atol: 1e-5, rtol: 1e-4 }).pass);
      await page.screenshot({ path: path.join(OUTPUT_DIR, 'digit-pad-stand-in.png'), fullPage: true });
      await page.click('#pad-clear');
      assert.equal(await page.locator('#pad-probs').getAttribute('data-probs'), '[]');
      assert.equal(await page.locator('#pad-class').innerText(), 'draw a digit');
    } finally {
      await cnnServer.close();
      fs.rmSync(fx.dir, { recursive: true, force: true });
    }
  });

  it('digit pad with the exported cnn_keras: a mouse-drawn "1" gives 10 probabilities and a class, equal to Node', async (t) => {
    await page.goto(`${server.url}app/?model=mlp_keras&backend=wasm`);
    await page.waitForFunction(
      () => ['ready', 'missing', 'error'].includes(document.getElementById('pad-status')?.dataset.state),
      null,
      { timeout: 60_000 },
    );
    const status = page.locator('#pad-status');
    if (!hasCnn) {
      assert.equal(await status.getAttribute('data-state'), 'missing');
      assert.match(await status.innerText(), /cnn_keras is not in this export/);
      assert.notEqual(
        process.env.DEPLOYKIT_REQUIRE_CNN,
        '1',
        'DEPLOYKIT_REQUIRE_CNN=1: the test export must hold cnn_keras with a tfjs-graph artifact',
      );
      return t.skip('cnn_keras is not in the test export yet (the pad says so)');
    }
    assert.equal(await status.getAttribute('data-state'), 'ready', await status.innerText());
    const { probs, digit } = await drawStroke([
      [0.5, 0.15],
      [0.52, 0.5],
      [0.54, 0.85],
    ]);
    process.stderr.write(`# digit pad: a drawn "1" -> ${digit} (p = ${probs[digit].toFixed(3)})\n`);
    const grid = JSON.parse(await page.locator('#pad-preview').getAttribute('data-grid'));
    assert.ok(compare(probs, await nodeProbs(manifest, grid), { atol: 1e-4, rtol: 1e-3 }).pass);
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'digit-pad.png'), fullPage: true });
  });

  /** @type {[string, RegExp][]} */
  const failures = [
    ['tampered', /sha256 mismatch for \S+\.bin/],
    ['missing_files', /\S+\.bin is missing \(HTTP 404\)/],
    ['unsupported_op', /XlaCallModule/],
    ['deny_listed', /refusing op ReadFile/],
  ];
  for (const [id, message] of failures) {
    it(`${id}: the page shows a clear error`, async () => {
      await page.goto(`${brokenServer.url}app/?model=${id}&backend=cpu`);
      await page.waitForFunction(() => document.getElementById('status')?.dataset.state === 'error', null, {
        timeout: 60_000,
      });
      const text = await page.locator('#error').innerText();
      assert.ok(await page.locator('#error').isVisible());
      assert.match(text, new RegExp(`Could not load ${id} on the cpu backend`));
      assert.match(text, message);
      await page.screenshot({ path: path.join(OUTPUT_DIR, `error-${id}.png`), fullPage: true });
    });
  }

  it('too_new: built for a newer TF.js, the page shows the one-line refusal and fetches none of it', async () => {
    await page.goto(`${brokenServer.url}app/?model=too_new&backend=cpu`);
    await page.waitForFunction(() => document.getElementById('status')?.dataset.state === 'error', null, {
      timeout: 60_000,
    });
    // The page's runtime, read as the client reads it there.
    const have = await page.evaluate(() => globalThis.tf.version_core);
    assert.deepEqual((await page.locator('#error').innerText()).split('\n'), [
      'Could not load too_new on the cpu backend:',
      `too_new/tfjs-graph: built for tfjs >= 99.0.0, this client runs tfjs ${have}`,
    ]);
    assert.deepEqual(
      requests.filter((url) => url.includes('/models/too_new/')),
      [],
      'no file of the artifact was fetched',
    );
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'error-too_new.png'), fullPage: true });
  });

  it('no manifest: the page says so', async () => {
    const empty = await startServer({ modelsDir: path.join(broken.dir, 'tampered') });
    origins.push(empty.url.slice(0, -1));
    try {
      await page.goto(`${empty.url}app/`);
      await page.locator('#error').waitFor({ state: 'visible' });
      assert.match(await page.locator('#error').innerText(), /cannot fetch \/models\/manifest\.json: HTTP 404/);
    } finally {
      await empty.close();
    }
  });

  it('made no request outside 127.0.0.1 and threw no uncaught page error', () => {
    assert.ok(requests.length > 20, `recorded ${requests.length} requests`);
    const outside = requests.filter((url) => !origins.some((o) => isLocal(url, o)));
    assert.deepEqual(outside, []);
    assert.deepEqual(pageErrors, []);
    fs.writeFileSync(path.join(OUTPUT_DIR, 'requests.txt'), requests.join('\n') + '\n');
  });
});
