// deploykit's TF.js client for Node: `load(manifestPath, modelId, {backend})`.
export { load, readManifest, Model, LoadError, ManifestError } from './node/model.js';
export { readNpy, writeNpy, NpyError } from './common/npy.js';
export { compare, checkLine } from './common/compare.js';
