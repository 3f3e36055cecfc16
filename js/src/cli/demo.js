#!/usr/bin/env node
// `make demo-js`: bin/deploykit-node --check on every tfjs-graph artifact of a manifest with
// both Node backends; one parity line each. Exits non-zero when any run fails.

import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { runnableModels } from '../common/manifest.js';
import { readManifest } from '../node/manifest_file.js';

const LAUNCHER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'deploykit-node');
const manifest = process.argv[2] || 'models/manifest.json';
let doc;
try {
  doc = await readManifest(manifest);
} catch (e) {
  console.error(`error: manifest: ${e.message} (run make export first)`);
  process.exit(2);
}
const dir = path.dirname(manifest);
let failed = 0;
for (const model of runnableModels(doc)) {
  for (const backend of ['cpu', 'wasm']) {
    const args = ['--manifest', manifest, '--model', model.id, '--input', path.join(dir, model.golden.input), '--output', '/dev/null',
      '--check', path.join(dir, model.golden.expected), '--backend', backend];
    const run = spawnSync(LAUNCHER, args, { encoding: 'utf8' });
    process.stdout.write(run.stdout);
    process.stderr.write(run.stderr);
    if (run.status !== 0) failed++;
  }
}
if (failed) {
  console.error(`demo-js: ${failed} run(s) failed`);
  process.exit(1);
}
