#!/usr/bin/env node
// bin/deploykit-node: the common client CLI on TF.js in Node (backends cpu and wasm).

import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

import { interleave, main } from './common.js';

// TF.js is imported only once the arguments and input files have passed their checks, so a
// bad command line answers at once.
const tfjs = () => Promise.all([import('../node/model.js'), import('../node/tf.js')]);
const TFJS_VERSION = createRequire(import.meta.url)('@tensorflow/tfjs/package.json').version;

/** @type {import('./common.js').Engine} */
const engine = {
  prog: 'deploykit-node',
  runtime: 'tfjs-node-js',
  backends: { names: ['cpu', 'wasm'], default: 'cpu' },
  version: async () => `tfjs ${TFJS_VERSION}, node ${process.versions.node}; backends cpu, wasm`,
  session: ({ manifest, doc, backend }) => ({
    load: async (model, artifact) => {
      const [{ load }] = await tfjs();
      const start = performance.now();
      const m = await load(manifest, model.id, { backend, format: artifact.format, manifest: doc });
      return {
        loadMs: performance.now() - start,
        predict: (inputs) => m.predictTensors(inputs),
        // With --timing, the bare TF.js call (Model.directCall) is timed too, in blocks
        // alternating with predictTensors's.
        time: async (inputs, { warmup, repeat, direct }) => {
          const bare = direct ? m.directCall(inputs) : null;
          try {
            const t = await interleave(() => m.predictTensors(inputs), bare?.run ?? null, repeat, warmup);
            return { timesUs: t.a, blocks: t.blocks, ...(bare && { directUs: t.b, direct: bare.description }) };
          } finally {
            bare?.dispose();
          }
        },
        dispose: () => m.dispose(),
      };
    },
    close: async () => {},
  }),
};

process.exitCode = await main(process.argv.slice(2), engine);
