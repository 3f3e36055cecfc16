#!/usr/bin/env node
// `make demo-js`: bin/deploykit-node --jobs over every tfjs-graph artifact and golden set of a
// manifest, once per Node backend (one process each); one check line per output. Exits non-zero
// when any job fails.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { runnableModels } from '../common/manifest.js';
import { readManifest } from '../node/manifest_file.js';

const LAUNCHER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'deploykit-node');
const manifest = path.resolve(process.argv[2] || 'models/manifest.json');
let doc;
try {
  doc = await readManifest(manifest);
} catch (e) {
  console.error(`error: ${e.message} (run make export first)`);
  process.exit(e.exit ?? 2);
}
const dir = path.dirname(manifest);
const abs = (files) => Object.fromEntries(Object.entries(files).map(([k, rel]) => [k, path.join(dir, rel)]));
const jobs = runnableModels(doc).flatMap((m) =>
  m.golden.map((set) => ({
    id: `${m.id}/tfjs-graph/${set.name}`,
    model: m.id,
    format: 'tfjs-graph',
    inputs: abs(set.inputs),
    check: abs(set.expected),
  })),
);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'deploykit-demo-js-'));
const jobsFile = path.join(work, 'jobs.jsonl');
fs.writeFileSync(jobsFile, jobs.map((j) => JSON.stringify(j)).join('\n') + '\n');
let failed = 0;
for (const backend of ['cpu', 'wasm']) {
  const run = spawnSync(LAUNCHER, ['--manifest', manifest, '--jobs', jobsFile, '--backend', backend], {
    encoding: 'utf8',
  });
  for (const line of run.stdout.split('\n').filter(Boolean)) {
    const r = JSON.parse(line);
    console.log(`${r.id} [node ${backend}]: ${r.exit === 0 ? 'pass' : `exit ${r.exit}: ${r.error}`}`);
    if (r.exit !== 0) failed++;
  }
  process.stderr.write(run.stderr);
  if (run.status !== 0 && failed === 0) failed++;
}
fs.rmSync(work, { recursive: true, force: true });
if (failed) {
  console.error(`demo-js: ${failed} job(s) failed`);
  process.exit(1);
}
