// The completion box: for a character model (one whose manifest entry has a `vocabulary`,
// e.g. chargpt_torch), a person types a text and the page continues it greedily on the page's
// backend, a character at a time, with the decoder the CLIs use (src/common/generate.js: the same
// window, the same argmax, so the same text as bin/deploykit-node --generate).

import { CharDecoder, GenerateError, MAX_TOKENS } from '../src/common/generate.js';

/** Characters added per completion unless the person asks for another count. */
export const DEFAULT_TOKENS = 40;

/**
 * Wires the completion form.
 * @param {object} o
 * @param {(id: string) => HTMLElement} o.$
 * @param {() => any} o.model the page's loaded model (BrowserModel) or null
 * @param {(message: string) => void} o.onError
 * @returns {{update: () => void, complete: () => Promise<void>}} `update` after the model changes
 */
export function startCompletion({ $, model, onError }) {
  const form = /** @type {HTMLFormElement} */ ($('complete-form'));
  const prompt = /** @type {HTMLInputElement} */ ($('complete-prompt'));
  const count = /** @type {HTMLInputElement} */ ($('complete-tokens'));
  const button = /** @type {HTMLButtonElement} */ ($('complete-run'));
  const status = $('complete-status');
  const output = $('complete-output');
  count.value = String(DEFAULT_TOKENS);
  count.max = String(MAX_TOKENS);
  /** @type {AbortController | null} */
  let running = null;

  const setStatus = (state, text) => {
    status.dataset.state = state;
    status.textContent = text;
  };
  /** @param {string} state @param {string} typed @param {string} added */
  const show = (state, typed, added) => {
    output.dataset.state = state;
    output.dataset.text = typed + added;
    const [shown, more] = output.children;
    shown.textContent = typed;
    more.textContent = added;
  };

  /** The decoder of the page's model, or null (the box then says why). */
  const decoder = () => {
    const m = model();
    if (!m) return null;
    try {
      return { m, decoder: CharDecoder.of(m) };
    } catch (e) {
      if (!(e instanceof GenerateError)) throw e;
      return { m, why: e.message };
    }
  };

  const update = () => {
    running?.abort();
    running = null;
    show('idle', '', '');
    const d = decoder();
    const ok = Boolean(d?.decoder);
    form.dataset.model = ok ? d.m.id : '';
    prompt.disabled = button.disabled = count.disabled = !ok;
    if (!d) return setStatus('idle', 'no model loaded');
    if (!ok) return setStatus('idle', `${d.why}: pick one with a vocabulary, e.g. chargpt_torch.`);
    const { vocabulary, window } = d.decoder;
    prompt.placeholder = vocabulary
      .filter((c) => /\S/.test(c))
      .join('')
      .slice(0, 40);
    setStatus(
      'ready',
      `${d.m.id} on ${d.m.backend}: type a text (${vocabulary.length} characters in its vocabulary), ` +
        `press Enter; each character is one call on the last ${Number.isFinite(window) ? window : 'all'} characters.`,
    );
  };

  const complete = async () => {
    running?.abort();
    const d = decoder();
    if (!d?.decoder) return update();
    const tokens = count.value === '' ? NaN : Number(count.value);
    const text = prompt.value;
    const controller = new AbortController();
    running = controller;
    let added = '';
    show('running', text, '');
    setStatus('running', `${d.m.id} on ${d.m.backend}: generating…`);
    const start = performance.now();
    try {
      const all = await d.decoder.generate(text, tokens, {
        signal: controller.signal,
        onChar: (c) => {
          added += c;
          show('running', text, added);
        },
      });
      const ms = performance.now() - start;
      show('done', text, all.slice(text.length));
      output.dataset.backend = d.m.backend;
      setStatus(
        'ready',
        `${d.m.id} on ${d.m.backend}: ${tokens} characters in ${ms.toFixed(0)} ms (${tokens ? (ms / tokens).toFixed(1) : 0} ms each)`,
      );
    } catch (e) {
      if (controller.signal.aborted) return; // a newer completion or another model took over
      show('error', text, added);
      if (e instanceof GenerateError) setStatus('invalid', e.message);
      else {
        setStatus('error', `${d.m.id} on ${d.m.backend}: failed`);
        onError(`Text completion failed: ${e.message}`);
      }
    } finally {
      if (running === controller) running = null;
    }
  };

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void complete();
  });
  update();
  return { update, complete };
}
