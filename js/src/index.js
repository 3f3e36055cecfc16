// deploykit's TF.js client for Node: `load(manifestPath, modelId, {backend})`.
export { load, readManifest, Model, LoadError, ManifestError } from './node/model.js';
export { Tensor, DTYPES } from './common/tensor.js';
export { InputError } from './common/errors.js';
export { checkInputs } from './common/checks.js';
export { readNpy, writeNpy, NpyError } from './common/npy.js';
export { compare, compareTensors, checkLine } from './common/compare.js';
export { CharDecoder, GenerateError, MAX_TOKENS, argmax, characterModel } from './common/generate.js';
