#!/usr/bin/env node
// bin/deploykit-node: the common client CLI on TF.js in Node (backends cpu and wasm).

import { performance } from 'node:perf_hooks';

import { main } from './common.js';

// TF.js is imported only once the arguments and input files have passed their checks, so a
// bad command line answers at once.
const tfjs = () => Promise.all([import('../node/model.js'), import('../node/tf.js')]);

/** @type {import('./common.js').Engine} */
const engine = {
  prog: 'deploykit-node',
  runtime: 'tfjs-node-js',
  backends: { names: ['cpu', 'wasm'], default: 'cpu' },
  version: async () => `tfjs ${(await tfjs())[1].tf.version.tfjs} (node ${process.versions.node}; backends cpu, wasm)`,
  run: async ({ manifest, manifestDoc, model, artifact, input, backend, warmup, repeat }) => {
    const [{ load }] = await tfjs();
    let start = performance.now();
    const m = await load(manifest, model.id, { backend, format: artifact.format, manifest: manifestDoc });
    const loadMs = performance.now() - start;
    try {
      const rows = input.shape[0];
      start = performance.now();
      const output = await m.predictFlat(input.data, rows);
      const firstMs = performance.now() - start;
      for (let i = 0; i < warmup; i++) await m.predictFlat(input.data, rows);
      const timesUs = [];
      for (let i = 0; i < repeat; i++) {
        start = performance.now();
        await m.predictFlat(input.data, rows);
        timesUs.push((performance.now() - start) * 1e3);
      }
      return { output, loadMs, firstMs, timesUs };
    } finally {
      m.dispose();
    }
  },
};

process.exitCode = await main(process.argv.slice(2), engine);
