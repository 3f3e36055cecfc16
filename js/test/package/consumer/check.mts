// A user's TypeScript (copied into the fresh project): the package's .d.ts files, found through
// package.json's "exports" types conditions, type the Node and the browser entry points.

import { load, Tensor, type Model } from 'deploykit';
import { load as loadInPage, type BrowserModel } from 'deploykit/browser';

const model: Model = await load('models/manifest.json', 'mlp_keras', { backend: 'wasm' });
const out: Record<string, Tensor> = await model.predictTensors({
    input: new Tensor('float32', [1, 10], new Float32Array(10)),
});
const pageModel: BrowserModel = await loadInPage('models/manifest.json', 'mlp_keras', { backend: 'webgl' });

// @ts-expect-error: a model id is a string (with untyped exports this line would not be an error)
await load('models/manifest.json', 42);
// @ts-expect-error: the browser entry has no 'gpu' backend
await loadInPage('models/manifest.json', 'mlp_keras', { backend: 'gpu' });

export { out, pageModel };
