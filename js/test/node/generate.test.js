// --generate PROMPT --tokens N (docs/contract.md, "Text generation") through bin/deploykit-node
// and the library: every refusal with its exit 2 line, N = 0, the hand-written `chars` model
// against a reference computed without TF.js, and chargpt_torch from the test export (a slid
// window, the same text on cpu, wasm and the library API).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';

import { CharDecoder, load } from '../../src/index.js';
import { runCli } from '../helpers/cli.js';
import { REPO, readJson, testManifest } from '../helpers/fixtures.js';
import { CHAR_VOCABULARY, charsReference, syntheticCharExport } from '../helpers/synthetic.js';

const LAUNCHER = path.join(REPO, 'bin', 'deploykit-node');
const manifest = testManifest();
const chars = syntheticCharExport({ window: 8 });
after(() => fs.rmSync(chars.dir, { recursive: true, force: true }));

const run = (args) => runCli(args, LAUNCHER);
const gen = (model, prompt, tokens, ...more) => [
  '--manifest',
  model === 'chars' ? chars.manifest : manifest,
  '--model',
  model,
  '--generate',
  prompt,
  '--tokens',
  String(tokens),
  ...more,
];

/** Exit 2, nothing on stdout, exactly `error: <line>` on stderr. */
function assertRefused(r, line) {
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, `error: ${line}\n`);
}

// chargpt_torch's tfjs-graph artifact (the test export gains it when it is regenerated).
const CHARGPT = 'chargpt_torch';
const chargpt = readJson(manifest).models.find((m) => m.id === CHARGPT);
const chargptSkip = !chargpt
  ? `${CHARGPT} is not in DEPLOYKIT_TEST_MANIFEST=${manifest}`
  : !chargpt.artifacts.some((a) => a.format === 'tfjs-graph')
    ? `${CHARGPT} has no tfjs-graph artifact in DEPLOYKIT_TEST_MANIFEST=${manifest} (it has: ${chargpt.artifacts.map((a) => a.format).join(', ')}); regenerate the test export`
    : false;
const PROMPT = 'def __init__(self, n'; // 20 code points: with 40 more, past a window of 48

describe('deploykit-node --generate', { concurrency: 4 }, () => {
  it('a model without a vocabulary: exit 2 with the contract line', async () => {
    assertRefused(
      await run(gen('mlp_keras', 'abc', 5)),
      '--generate: model mlp_keras is not a character model (no vocabulary)',
    );
  });

  it('a model with a vocabulary but not one input and one [batch, seq, V] output: exit 2', async () => {
    assertRefused(
      await run(gen('textcls_keras', 'abc', 5)),
      '--generate: model textcls_keras is not a character model (2 inputs, expected 1)',
    );
  });

  it('a prompt character outside the vocabulary: its U+XXXX and its position in code points', async () => {
    assertRefused(
      await run(gen('chars', 'ab😀\tc', 5)),
      '--generate: character U+0009 at position 3 is not in the vocabulary of chars',
    );
    assertRefused(
      await run(gen('chars', 'aé🙂', 5)),
      '--generate: character U+1F642 at position 2 is not in the vocabulary of chars',
    );
  });

  it('an empty prompt: exit 2', async () => {
    assertRefused(await run(gen('chars', '', 5)), '--generate: the prompt is empty');
  });

  it('N negative, not an integer or over 10000: exit 2', async () => {
    for (const n of ['-1', '1.5', 'ten', '', '10001', '1e3', '0x10'])
      assertRefused(await run(gen('chars', 'ab', n)), `--tokens must be an integer from 0 to 10000, got '${n}'`);
  });

  it('--generate with --input (or another flag of a tensor call, or --jobs): exit 2', async () => {
    const cases = [
      [['--input', 'x.npy'], 'input'],
      [['--input-dir', '/tmp'], 'input-dir'],
      [['--output', 'y.npy'], 'output'],
      [['--check-dir', '/tmp'], 'check-dir'],
      [['--repeat', '3'], 'repeat'],
      [['--warmup', '1'], 'warmup'],
      [['--timing', 't.json'], 'timing'],
      [['--jobs', 'jobs.jsonl'], 'jobs'],
    ];
    for (const [flags, name] of cases)
      assertRefused(await run(gen('chars', 'ab', 3, ...flags)), `--generate cannot be combined with --${name}`);
    assertRefused(
      await run(['--manifest', chars.manifest, '--model', 'chars', '--generate', 'ab']),
      '--generate needs --tokens N',
    );
    assertRefused(
      await run(['--manifest', chars.manifest, '--model', 'chars', '--tokens', '3']),
      '--tokens goes with --generate PROMPT',
    );
  });

  it('N = 0 prints exactly the prompt (no newline), on both backends', async () => {
    for (const backend of ['cpu', 'wasm']) {
      const r = await run(gen('chars', 'a😀\n', 0, '--backend', backend));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      assert.equal(r.stdout, 'a😀\n');
    }
  });

  it('chars: the reference text on cpu and wasm; the window of 8 slides', async () => {
    const prompt = 'abé😀 a.';
    const want = charsReference(prompt, 30, 8);
    assert.notEqual(want, charsReference(prompt, 30, 1000), 'the window matters for this prompt');
    for (const backend of ['cpu', 'wasm']) {
      const r = await run(gen('chars', prompt, 30, '--backend', backend));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, want, backend);
    }
  });

  it('the library: Model.generate and CharDecoder give the CLI text', async () => {
    const m = await load(chars.manifest, 'chars');
    try {
      const seen = [];
      const text = await CharDecoder.of(m).generate('xyz', 12, { onChar: (c) => seen.push(c) });
      assert.equal(text, charsReference('xyz', 12, 8));
      assert.equal(await m.generate('xyz', 12), text);
      assert.equal(seen.join(''), text.slice(3));
      assert.ok(Array.from(text).every((c) => CHAR_VOCABULARY.includes(c)));
    } finally {
      m.dispose();
    }
  });

  it(
    `${CHARGPT}: a 20-character prompt + 40 characters, identical on cpu, wasm and the library`,
    { skip: chargptSkip, timeout: 300_000 },
    async () => {
      const vocabulary = Array.from(chargpt.vocabulary);
      const seq = chargpt.inputs[0].shape[1];
      assert.ok(Array.from(PROMPT).length + 40 > chargpt.dims[seq].max, 'the window slides');
      const texts = {};
      for (const backend of ['cpu', 'wasm']) {
        const r = await run(gen(CHARGPT, PROMPT, 40, '--backend', backend));
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stderr, '');
        const text = r.stdout;
        assert.ok(text.startsWith(PROMPT), JSON.stringify(text));
        const added = Array.from(text.slice(PROMPT.length));
        assert.equal(added.length, 40, JSON.stringify(text));
        assert.ok(
          added.every((c) => vocabulary.includes(c)),
          JSON.stringify(text),
        );
        texts[backend] = text;
      }
      assert.equal(texts.wasm, texts.cpu);
      const m = await load(manifest, CHARGPT);
      try {
        assert.equal(await m.generate(PROMPT, 40), texts.cpu);
      } finally {
        m.dispose();
      }
      const zero = await run(gen(CHARGPT, PROMPT, 0));
      assert.equal(zero.stdout, PROMPT);
      process.stderr.write(
        `# ${CHARGPT} --generate ${JSON.stringify(PROMPT)} --tokens 40: ${JSON.stringify(texts.cpu)}\n`,
      );
    },
  );
});
