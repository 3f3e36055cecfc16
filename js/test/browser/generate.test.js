// Text generation in Chromium: bin/deploykit-browser --generate (the Node CLI's text, exit 2
// lines before any browser starts) and the demo page's completion box (type, press Enter or the
// button, read the greedy completion), on the hand-written `chars` model and, once the test
// export has its tfjs-graph artifact, on chargpt_torch against bin/deploykit-node.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { isLocal, launchChromium } from '../../src/browser/chromium.js';
import { startServer } from '../../src/server/server.js';
import { runCli } from '../helpers/cli.js';
import { REPO, readJson, testManifest } from '../helpers/fixtures.js';
import { charsReference, syntheticCharExport } from '../helpers/synthetic.js';

const BROWSER = path.join(REPO, 'bin', 'deploykit-browser');
const NODE = path.join(REPO, 'bin', 'deploykit-node');
const manifest = testManifest();
const CHARGPT = 'chargpt_torch';
const chargpt = readJson(manifest).models.find((m) => m.id === CHARGPT);
const chargptSkip = !chargpt?.artifacts.some((a) => a.format === 'tfjs-graph')
  ? `${CHARGPT} has no tfjs-graph artifact in DEPLOYKIT_TEST_MANIFEST=${manifest} (regenerate the test export)`
  : false;
const PROMPT = 'def __init__(self, n';
const WINDOW = 8;

const gen = (manifestFile, model, prompt, tokens, ...more) => [
  '--manifest',
  manifestFile,
  '--model',
  model,
  '--generate',
  prompt,
  '--tokens',
  String(tokens),
  ...more,
];

describe('--generate in Chromium', { concurrency: 2, timeout: 300_000 }, () => {
  const chars = syntheticCharExport({ window: WINDOW });
  after(() => fs.rmSync(chars.dir, { recursive: true, force: true }));

  it('bin/deploykit-browser --generate: the reference text on wasm and cpu, N = 0 the prompt', async () => {
    const prompt = 'abé😀 a.';
    for (const backend of ['wasm', 'cpu']) {
      const r = await runCli(gen(chars.manifest, 'chars', prompt, 30, '--backend', backend), BROWSER);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      assert.equal(r.stdout, charsReference(prompt, 30, WINDOW), backend);
    }
    const zero = await runCli(gen(chars.manifest, 'chars', 'x\n', 0), BROWSER);
    assert.equal(zero.code, 0, zero.stderr);
    assert.equal(zero.stdout, 'x\n');
  });

  it('bin/deploykit-browser --generate refusals: exit 2, the contract line, no browser needed', async () => {
    const cases = [
      [gen(manifest, 'mlp_keras', 'ab', 3), '--generate: model mlp_keras is not a character model (no vocabulary)'],
      [
        gen(chars.manifest, 'chars', 'a\tb', 3),
        '--generate: character U+0009 at position 1 is not in the vocabulary of chars',
      ],
      [gen(chars.manifest, 'chars', 'ab', 10001), "--tokens must be an integer from 0 to 10000, got '10001'"],
      [gen(chars.manifest, 'chars', 'ab', 3, '--input', 'x.npy'), '--generate cannot be combined with --input'],
    ];
    for (const [args, line] of cases) {
      const r = await runCli(args, BROWSER, { ...process.env, DEPLOYKIT_CHROMIUM: '/nonexistent/chromium' });
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, `error: ${line}\n`);
    }
  });

  it(`${CHARGPT}: bin/deploykit-browser on wasm prints bin/deploykit-node's text`, { skip: chargptSkip }, async () => {
    const node = await runCli(gen(manifest, CHARGPT, PROMPT, 40), NODE);
    assert.equal(node.code, 0, node.stderr);
    const browser = await runCli(gen(manifest, CHARGPT, PROMPT, 40), BROWSER);
    assert.equal(browser.code, 0, browser.stderr);
    assert.equal(browser.stdout, node.stdout);
  });

  describe('the completion box of the demo page', { concurrency: 1 }, () => {
    const requests = [];
    const pageErrors = [];
    const servers = [];
    let browser;
    let page;

    before(async () => {
      servers.push(
        await startServer({ modelsDir: chars.dir }),
        await startServer({ modelsDir: path.dirname(manifest) }),
      );
      browser = await launchChromium({ onRequest: (url) => requests.push(url) });
      page = await browser.context.newPage();
      page.on('pageerror', (e) => pageErrors.push(e.message));
    });
    after(async () => {
      await browser?.close();
      for (const s of servers) await s.close();
    });

    /** Opens the page on `model` and waits until the box says it is ready. */
    async function open(server, model, backend = 'wasm') {
      await page.goto(`${server.url}app/?model=${model}&backend=${backend}`);
      await page.waitForSelector(`#status[data-state="ready"]`, { timeout: 120_000 });
    }
    /** Completes what is typed; `how` is Enter in the text box or the button. */
    async function complete(prompt, tokens, how) {
      await page.fill('#complete-tokens', String(tokens));
      await page.fill('#complete-prompt', prompt);
      if (how === 'enter') await page.press('#complete-prompt', 'Enter');
      else await page.click('#complete-run');
      await page.waitForSelector('#complete-output:is([data-state="done"], [data-state="error"])', {
        timeout: 120_000,
      });
      return page.locator('#complete-output').getAttribute('data-text');
    }

    it('chars: Enter and the button complete the typed text, as the Node CLI does', async () => {
      await open(servers[0], 'chars');
      assert.equal(await page.locator('#complete-status').getAttribute('data-state'), 'ready');
      assert.equal(await complete('abé😀 a.', 30, 'enter'), charsReference('abé😀 a.', 30, WINDOW));
      assert.equal(await complete('xyz', 40, 'button'), charsReference('xyz', 40, WINDOW));
      assert.equal(
        await page.locator('#complete-output .added').textContent(),
        charsReference('xyz', 40, WINDOW).slice(3),
      );
      // A character outside the vocabulary: said in the box, not the page's error box.
      await complete('ab\tc', 5, 'enter');
      assert.equal(await page.locator('#complete-status').getAttribute('data-state'), 'invalid');
      assert.equal(
        await page.locator('#complete-status').textContent(),
        'character U+0009 at position 2 is not in the vocabulary of chars',
      );
      assert.equal(await page.locator('#error').isHidden(), true);
    });

    it('a model that is not a character model: the box is disabled and says why', async () => {
      await open(servers[1], 'mlp_keras');
      assert.equal(await page.locator('#complete-run').isDisabled(), true);
      assert.match(
        await page.locator('#complete-status').textContent(),
        /^model mlp_keras is not a character model \(no vocabulary\)/,
      );
    });

    it(
      `${CHARGPT} on wasm: the page completes "${PROMPT}" with bin/deploykit-node's 40 characters`,
      { skip: chargptSkip },
      async () => {
        const node = await runCli(gen(manifest, CHARGPT, PROMPT, 40, '--backend', 'wasm'), NODE);
        assert.equal(node.code, 0, node.stderr);
        await open(servers[1], CHARGPT);
        assert.equal(await complete(PROMPT, 40, 'enter'), node.stdout);
      },
    );

    it('nothing left 127.0.0.1 and the page threw nothing', () => {
      const origins = servers.map((s) => s.url.slice(0, -1));
      assert.deepEqual(
        requests.filter((u) => !origins.some((o) => isLocal(u, o))),
        [],
      );
      assert.deepEqual(pageErrors, []);
    });
  });
});
