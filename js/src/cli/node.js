#!/usr/bin/env node
// bin/deploykit-node: the common client CLI on TF.js in Node (backends cpu and wasm).

import { performance } from 'node:perf_hooks';

import { interleave, main } from './common.js';

// TF.js is imported only once the arguments and input files have passed their checks, so a
// bad command line answers at once.
const tfjs = () => Promise.all([import('../node/model.js'), import('../node/tf.js')]);

/** @type {import('./common.js').Engine} */
const engine = {
  prog: 'deploykit-node',
  runtime: 'tfjs-node-js',
  backends: { names: ['cpu', 'wasm'], default: 'cpu' },
  version: async () => `tfjs ${(await tfjs())[1].tf.version.tfjs} (node ${process.versions.node}; backends cpu, wasm)`,
  run: async ({ manifest, manifestDoc, model, artifact, input, backend, warmup, repeat, timing }) => {
    const [{ load }] = await tfjs();
    let start = performance.now();
    const m = await load(manifest, model.id, { backend, format: artifact.format, manifest: manifestDoc });
    const loadMs = performance.now() - start;
    try {
      const rows = input.shape[0];
      start = performance.now();
      const output = await m.predictFlat(input.data, rows);
      const firstMs = performance.now() - start;
      // With --timing, the bare TF.js call (Model.directCall) is timed too, in blocks
      // alternating with predictFlat's.
      const direct = timing ? m.directCall(input.data, rows) : null;
      try {
        const t = await interleave(() => m.predictFlat(input.data, rows), direct?.run ?? null, repeat, warmup);
        return { output, loadMs, firstMs, timesUs: t.a, ...(direct && { directUs: t.b, direct: direct.description }) };
      } finally {
        direct?.dispose();
      }
    } finally {
      m.dispose();
    }
  },
};

process.exitCode = await main(process.argv.slice(2), engine);
