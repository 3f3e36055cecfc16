// Greedy text generation from a character model (docs/contract.md, "Text generation"), the same
// in every client: the vocabulary's code points are the token ids, the window is the input's max
// `seq`, one model call per generated character, and the contract's argmax (ties keep the lowest
// id, a NaN never wins). Shared by the Node library and CLI, bin/deploykit-browser and the page's
// completion box; the model call is whatever `predict` the caller hands in (the client's normal,
// checked call, so every input check and boundary cast applies).

import { InputError } from './errors.js';
import { Tensor } from './tensor.js';

/** The most characters one generation may add (`--tokens` is 0 to this). */
export const MAX_TOKENS = 10_000;

const INTEGER_INPUTS = new Set(['int32', 'int64', 'uint8']);
const FLOAT_OUTPUTS = new Set(['float32', 'float16']);

/**
 * A model or prompt that generation cannot use (exit 2). The message carries no flag name; the
 * CLI prefixes it with `--generate: `.
 */
export class GenerateError extends InputError {
  constructor(message) {
    super(message);
    this.name = 'GenerateError';
  }
}

/** `U+0009`, `U+1F600`: a code point as the contract names it. */
export function codePointName(cp) {
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * The contract's argmax, written exactly as it says: `best = 0`, then for `i` from 1 to `V - 1`,
 * `if logits[i] > logits[best]: best = i`. Ties keep the lowest id, and a NaN after index 0
 * never wins (a comparison with NaN is false). A NaN at index 0 is the loop's one corner: no
 * value is greater than it, so the loop returns 0; every client runs this same loop, so they
 * agree there too.
 * @param {ArrayLike<number>} logits one row, V values
 * @returns {number} the chosen token id
 */
export function argmax(logits) {
  let best = 0;
  for (let i = 1; i < logits.length; i++) {
    if (logits[i] > logits[best]) best = i;
  }
  return best;
}

/**
 * The contract's checks of a character model: a `vocabulary` string; exactly one input, of an
 * integer dtype and rank 2; exactly one output, float, of rank 3 whose last dim is the
 * vocabulary's length (in code points).
 * @param {any} model the manifest's model entry
 * @returns {{vocabulary: string[], input: any, output: any, window: number}} `window`: the
 *   input's max `seq` (Infinity without one)
 * @throws {GenerateError} `model <id> is not a character model (<what is missing>)`
 */
export function characterModel(model) {
  const refuse = (why) => {
    throw new GenerateError(`model ${model.id} is not a character model (${why})`);
  };
  if (typeof model.vocabulary !== 'string') refuse('no vocabulary');
  const vocabulary = Array.from(model.vocabulary);
  if (vocabulary.length === 0) refuse('its vocabulary is empty');
  const v = vocabulary.length;
  if (model.inputs.length !== 1) refuse(`${model.inputs.length} inputs, expected 1`);
  if (model.outputs.length !== 1) refuse(`${model.outputs.length} outputs, expected 1`);
  const [input] = model.inputs;
  const [output] = model.outputs;
  const inName = `input ${input.name}`;
  const outName = `output ${output.name}`;
  if (!INTEGER_INPUTS.has(input.dtype)) refuse(`${inName} is ${input.dtype}, not an integer dtype`);
  if (input.shape.length !== 2) refuse(`${inName} has rank ${input.shape.length}, not 2 [batch, seq]`);
  if (input.dtype === 'uint8' && v > 256) refuse(`${inName} is uint8, too narrow for ${v} token ids`);
  if (!FLOAT_OUTPUTS.has(output.dtype)) refuse(`${outName} is ${output.dtype}, not a float dtype`);
  if (output.shape.length !== 3) refuse(`${outName} has rank ${output.shape.length}, not 3 [batch, seq, vocabulary]`);
  const last = output.shape[2];
  if (last !== v) refuse(`the last dim of ${outName} is ${last}, not the vocabulary's length ${v}`);
  const seq = input.shape[1];
  const window = typeof seq === 'number' ? seq : (model.dims?.[seq]?.max ?? Infinity);
  if (window < 1) refuse(`${inName}'s seq dim takes no token (max ${window})`);
  return { vocabulary, input, output, window };
}

/**
 * Greedy decoding of one character model through one model call. Build it from a loaded model
 * (`CharDecoder.of(model)`: the Node client's Model or the page's BrowserModel) or from a
 * manifest entry and any `predict`.
 *
 * ```js
 * const decoder = CharDecoder.of(await load('models/manifest.json', 'chargpt_torch'));
 * const text = await decoder.generate('def __init__(self, ', 40); // the prompt + 40 characters
 * ```
 */
export class CharDecoder {
  /**
   * @param {any} model the manifest's model entry (its `vocabulary`, `inputs`, `outputs`, `dims`)
   * @param {(inputs: Record<string, Tensor>) => Promise<Record<string, Tensor>>} predict one
   *   call of the model: named Tensors (spec dtypes) in and out
   * @throws {GenerateError} when `model` is not a character model
   */
  constructor(model, predict) {
    const { vocabulary, input, output, window } = characterModel(model);
    this.id = model.id;
    this.vocabulary = vocabulary;
    this.input = input;
    this.output = output;
    /** The most token ids one call sees (Infinity: the whole text). */
    this.window = window;
    this.predict = predict;
    /** code point -> token id (a repeated code point keeps its first id) */
    this.ids = new Map();
    vocabulary.forEach((c, i) => {
      if (!this.ids.has(c)) this.ids.set(c, i);
    });
  }

  /**
   * A decoder over a loaded model's checked call (`predictTensors`).
   * @param {{loaded: {model: any}, predictTensors: (inputs: Record<string, Tensor>) => Promise<Record<string, Tensor>>}} loaded
   */
  static of(loaded) {
    return new CharDecoder(loaded.loaded.model, (inputs) => loaded.predictTensors(inputs));
  }

  /**
   * The token ids of a text, one per code point.
   * @param {string} text
   * @returns {number[]}
   * @throws {GenerateError} an empty text, or a code point outside the vocabulary (named with
   *   its position in code points)
   */
  encode(text) {
    if (text === '') throw new GenerateError('the prompt is empty');
    return Array.from(text, (c, position) => {
      const id = this.ids.get(c);
      if (id === undefined)
        throw new GenerateError(
          `character ${codePointName(c.codePointAt(0))} at position ${position} is not in the vocabulary of ${this.id}`,
        );
      return id;
    });
  }

  /** @param {number[]} ids @returns {string} */
  decode(ids) {
    return ids.map((id) => this.vocabulary[id]).join('');
  }

  /**
   * One step: the next token id after `ids`, from one call on the last `min(window, length)` ids.
   * @param {number[]} ids the text so far (not empty)
   * @returns {Promise<number>}
   */
  async next(ids) {
    const context = ids.slice(-Math.min(this.window, ids.length));
    const n = context.length;
    const { dtype, name } = this.input;
    const data = dtype === 'int64' ? BigInt64Array.from(context, BigInt) : context;
    const outputs = await this.predict({ [name]: new Tensor(dtype, [1, n], data) });
    const logits = outputs[this.output.name];
    const v = this.vocabulary.length;
    const shape = logits?.shape ?? [];
    if (!logits || shape.length !== 3 || shape[0] !== 1 || shape[1] !== n || shape[2] !== v)
      throw new Error(
        `model ${this.id}: output ${this.output.name} has shape (${shape.join(', ')}), expected (1, ${n}, ${v})`,
      );
    const values = /** @type {Float32Array | Float64Array} */ (logits.toNumbers());
    return argmax(values.subarray((n - 1) * v, n * v));
  }

  /**
   * The prompt followed by `tokens` greedily generated characters.
   * @param {string} prompt
   * @param {number} tokens an integer from 0 to MAX_TOKENS
   * @param {{onChar?: (char: string, index: number) => void, signal?: AbortSignal}} [options]
   *   `onChar` sees each character as it is generated; `signal` stops the loop before its next
   *   call (the promise rejects with the signal's reason)
   * @returns {Promise<string>}
   * @throws {GenerateError} a bad prompt or count; whatever `predict` throws
   */
  async generate(prompt, tokens, { onChar, signal } = {}) {
    if (!Number.isSafeInteger(tokens) || tokens < 0 || tokens > MAX_TOKENS)
      throw new GenerateError(`tokens must be an integer from 0 to ${MAX_TOKENS}, got ${tokens}`);
    const ids = this.encode(prompt);
    let text = prompt;
    for (let k = 0; k < tokens; k++) {
      signal?.throwIfAborted();
      const id = await this.next(ids);
      ids.push(id);
      text += this.vocabulary[id];
      onChar?.(this.vocabulary[id], k);
    }
    return text;
  }
}
