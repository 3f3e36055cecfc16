// The demo page: pick a model and a backend, edit the feature vector (one-input float models),
// watch the prediction, run the parity panel over the model's golden sets, draw a digit for
// cnn_keras, complete a text with a character model (complete.js). Every failure ends up in the
// #error box, never a blank page.

import { compareTensors, formatSci } from '../src/common/compare.js';
import { runnableModels, toleranceFor } from '../src/common/manifest.js';
import { Tensor } from '../src/common/tensor.js';
import { chooseBackend, median } from './choose.js';
import { startCompletion } from './complete.js';
import { BACKENDS, fetchManifest, fetchNpy, loadModel, probeBackend, useBackend, wasmInfo } from './loader.js';
import { PAD_MODEL, startPad } from './pad.js';

/** The page's element `id` (index.html has every one this module asks for). */
const $ = (id) => document.getElementById(id);
/** @returns {HTMLInputElement} */
const $input = (id) => /** @type {HTMLInputElement} */ ($(id));
/** @returns {HTMLSelectElement} */
const $select = (id) => /** @type {HTMLSelectElement} */ ($(id));
const MANY = 16; // above this width the input is a seed/scale control plus a few sliders
const SLIDERS_WHEN_MANY = 8;
const TIMED_TRIALS = 5; // batch-1 predictions timed per backend when choosing the default
// The backend the page starts on before it has chosen: wasm starts fastest (no shaders to compile).
const FIRST_BACKEND = 'wasm';

const state = {
  doc: null,
  model: null,
  padModel: null,
  features: null,
  busy: false,
  pending: false,
  firstShown: false,
  loading: 0,
};

/** `name dtype (shape)` for each spec. */
const signature = (specs) => specs.map((s) => `${s.name} ${s.dtype} (${s.shape.join(', ')})`).join(', ');

/** The width N of a model whose one input is float32 (batch, N): sliders can drive it. */
function sliderWidth(model) {
  const [spec] = model.inputs;
  const ok =
    model.inputs.length === 1 &&
    model.outputs.length === 1 &&
    spec.dtype === 'float32' &&
    spec.shape.length === 2 &&
    typeof spec.shape[1] === 'number';
  return ok ? spec.shape[1] : null;
}

/** Deterministic N(0, 1) values from a seed (mulberry32 + Box-Muller). */
export function seededNormals(seed, n) {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(uniform(), 1e-12);
    const v = uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

export function showError(message) {
  const box = $('error');
  box.textContent = message;
  box.hidden = false;
}

function clearError() {
  $('error').hidden = true;
  $('error').textContent = '';
}

function fmtMs(ms) {
  return ms >= 100 ? `${ms.toFixed(0)} ms` : ms >= 1 ? `${ms.toFixed(2)} ms` : `${(ms * 1000).toFixed(0)} µs`;
}

function slider(id, label, value, min, max, step, onInput) {
  const row = document.createElement('div');
  row.className = 'feature';
  const name = document.createElement('label');
  name.htmlFor = id;
  name.textContent = label;
  const input = Object.assign(document.createElement('input'), {
    type: 'range',
    id,
    min,
    max,
    step,
    value: String(value),
  });
  const out = document.createElement('output');
  out.textContent = Number(value).toFixed(2);
  input.addEventListener('input', () => {
    out.textContent = Number(input.value).toFixed(2);
    onInput();
  });
  row.append(name, input, out);
  return row;
}

/** Builds the feature controls for `width` inputs and returns a function reading the vector. */
function buildFeatureControls(width, model) {
  const box = $('features');
  box.replaceChildren();
  if (width === null) {
    $('width').textContent = '';
    $('input-help').textContent =
      `${model.id} takes ${signature(model.inputs)}: no sliders for that; run the parity panel` +
      (model.id === PAD_MODEL ? ' or draw a digit on the pad below.' : '.');
    return null;
  }
  $('width').textContent = `(${width} features)`;
  const clamp = (v) => Math.max(-3, Math.min(3, Math.round(v * 100) / 100));
  if (width <= MANY) {
    $('input-help').textContent =
      'Each slider is one feature. The toy task: the label is 1 when the features sum to more than 0.';
    const init = seededNormals(1, width);
    for (let i = 0; i < width; i++)
      box.append(slider(`f${i}`, `x[${i}]`, clamp(init[i]), -3, 3, 0.01, schedulePredict));
    return () => Float32Array.from({ length: width }, (_, i) => Number($input(`f${i}`).value));
  }
  $('input-help').textContent =
    `${width} features are too many for sliders: features 0–${SLIDERS_WHEN_MANY - 1} have their own sliders; ` +
    `the other ${width - SLIDERS_WHEN_MANY} are scale × N(0, 1) draws from the seed (same seed, same vector).`;
  const seed = Object.assign(document.createElement('input'), {
    type: 'number',
    id: 'seed',
    value: '1',
    min: '0',
    step: '1',
  });
  const seedRow = document.createElement('div');
  seedRow.className = 'feature';
  const seedLabel = Object.assign(document.createElement('label'), { htmlFor: 'seed', textContent: 'seed' });
  seedRow.append(seedLabel, seed, document.createElement('span'));
  seed.addEventListener('input', schedulePredict);
  box.append(seedRow, slider('scale', 'scale', 1, 0, 3, 0.01, schedulePredict));
  const init = seededNormals(1, width);
  for (let i = 0; i < SLIDERS_WHEN_MANY; i++)
    box.append(slider(`f${i}`, `x[${i}]`, clamp(init[i]), -3, 3, 0.01, schedulePredict));
  return () => {
    const scale = Number($input('scale').value);
    const base = seededNormals(Number.parseInt($input('seed').value, 10) || 0, width);
    const x = base.map((v) => v * scale);
    for (let i = 0; i < SLIDERS_WHEN_MANY; i++) x[i] = Number($input(`f${i}`).value);
    return x;
  };
}

function renderPrediction(values, features) {
  const box = $('prediction');
  box.dataset.values = JSON.stringify(Array.from(values));
  box.dataset.features = JSON.stringify(Array.from(features));
  box.replaceChildren();
  if (values.length === 1) {
    const p = values[0];
    const big = Object.assign(document.createElement('div'), { className: 'big', textContent: p.toFixed(4) });
    const sum = features.reduce((s, v) => s + v, 0);
    const note = Object.assign(document.createElement('p'), {
      className: 'muted',
      textContent: `model output (probability that the label is 1); sum of the features = ${sum.toFixed(2)}`,
    });
    const bar = Object.assign(document.createElement('div'), { className: 'bar' });
    bar.style.width = `${Math.max(0, Math.min(1, p)) * 100}%`;
    box.append(big, bar, note);
    return;
  }
  const top = values.indexOf(Math.max(...values));
  const scale = Math.max(...values.map(Math.abs), 1e-6);
  values.forEach((v, i) => {
    const row = Object.assign(document.createElement('div'), { className: `out-row${i === top ? ' top' : ''}` });
    const bar = Object.assign(document.createElement('div'), { className: 'bar' });
    bar.style.width = `${(Math.abs(v) / scale) * 100}%`;
    if (v < 0) bar.style.background = '#c9ced9';
    row.append(
      Object.assign(document.createElement('span'), { textContent: `out[${i}]` }),
      bar,
      Object.assign(document.createElement('span'), { textContent: v.toFixed(4) }),
    );
    box.append(row);
  });
  box.append(
    Object.assign(document.createElement('p'), {
      className: 'muted',
      textContent: `logits; the largest is out[${top}]`,
    }),
  );
}

let readFeatures = () => null;
/** @type {{update: () => void} | null} */
let completion = null;

function schedulePredict() {
  state.pending = true;
  if (!state.busy) void predictLoop();
}

async function predictLoop() {
  state.busy = true;
  try {
    while (state.pending && state.model) {
      state.pending = false;
      const model = state.model;
      const x = readFeatures();
      if (!x) break;
      const start = performance.now();
      const y = await model.predictFlat(x, 1);
      const ms = performance.now() - start;
      if (model !== state.model) continue;
      renderPrediction(y, x);
      $('predict-ms').textContent = fmtMs(ms);
      $('predict-ms').dataset.ms = String(ms);
      if (!state.firstShown) {
        state.firstShown = true;
        const first = performance.now(); // since navigation start
        $('first-ms').textContent = fmtMs(first);
        $('first-ms').dataset.ms = String(first);
      }
      markReady(model);
    }
  } catch (e) {
    showError(`Prediction failed: ${e.message}`);
  } finally {
    state.busy = false;
  }
}

function markReady(model) {
  $('status').textContent = `${model.id} on ${model.backend}: ready`;
  $('status').dataset.state = 'ready';
}

/** Loads cnn_keras for the digit pad on the page's backend (when the export has it). */
async function loadPad(ticket, backend) {
  const status = $('pad-status');
  if (!runnableModels(state.doc).some((m) => m.id === PAD_MODEL)) {
    status.textContent = `${PAD_MODEL} is not in this export (it has no tfjs-graph artifact for it yet): the pad needs it.`;
    status.dataset.state = 'missing';
    return;
  }
  status.textContent = `loading ${PAD_MODEL} on ${backend}…`;
  status.dataset.state = 'loading';
  try {
    const model = state.model?.id === PAD_MODEL ? null : await loadModel(state.doc, PAD_MODEL, backend);
    if (ticket !== state.loading) return model?.dispose();
    state.padModel = model;
    status.textContent = `${PAD_MODEL} on ${backend}: draw a digit`;
    status.dataset.state = 'ready';
  } catch (e) {
    status.textContent = `${PAD_MODEL} failed to load on ${backend}`;
    status.dataset.state = 'error';
    showError(`Could not load ${PAD_MODEL} for the digit pad on the ${backend} backend:\n${e.message}`);
  }
}

async function reload() {
  const ticket = ++state.loading;
  const modelId = $select('model').value;
  const backend = $select('backend').value;
  $('status').textContent = `loading ${modelId} on ${backend}…`;
  $('status').dataset.state = 'loading';
  state.model?.dispose();
  state.model = null;
  state.padModel?.dispose();
  state.padModel = null;
  $('parity').querySelector('tbody').replaceChildren();
  $('parity').dataset.state = 'idle';
  completion?.update();
  try {
    const model = await loadModel(state.doc, modelId, backend);
    if (ticket !== state.loading) return model.dispose();
    state.model = model;
    clearError();
    $('load-ms').textContent = fmtMs(model.loadMs);
    $('load-ms').dataset.ms = String(model.loadMs);
    const width = sliderWidth(model.model);
    const read = buildFeatureControls(width, model.model);
    readFeatures = read ?? (() => null);
    completion?.update();
    if (read) schedulePredict();
    else markReady(model);
    await loadPad(ticket, backend);
  } catch (e) {
    if (ticket !== state.loading) return;
    $('status').textContent = `${modelId} on ${backend}: failed`;
    $('status').dataset.state = 'error';
    $('prediction').replaceChildren();
    $('prediction').dataset.values = '[]';
    $('features').replaceChildren();
    readFeatures = () => null;
    showError(`Could not load ${modelId} on the ${backend} backend:\n${e.message}`);
  }
}

/** A golden set's files (name -> .npy path) fetched and parsed. */
const fetchAll = async (files) =>
  Object.fromEntries(await Promise.all(Object.entries(files).map(async ([k, rel]) => [k, await fetchNpy(rel)])));

/** The first row of each input (batch 1, what the sliders send). */
function firstRows(inputs) {
  return Object.fromEntries(
    Object.entries(inputs).map(([k, t]) => {
      if (!t.shape.length || t.shape[0] <= 1) return [k, t];
      return [k, new Tensor(t.dtype, [1, ...t.shape.slice(1)], t.data.subarray(0, t.size / t.shape[0]))];
    }),
  );
}

/**
 * One backend's trial for the default: load `modelId` on it, run every golden set under the
 * manifest's tolerance, then time TIMED_TRIALS batch-1 predictions after one warm-up.
 * @returns {Promise<import('./choose.js').Candidate>}
 */
async function trialBackend(modelId, backend) {
  let model = null;
  try {
    model = await loadModel(state.doc, modelId, backend);
    const sets = model.model.golden || [];
    if (sets.length === 0) return { backend, pass: false, ms: null, why: 'no golden set to check' };
    let x1 = null;
    for (const set of sets) {
      const [x, want] = await Promise.all([fetchAll(set.inputs), fetchAll(set.expected)]);
      x1 ??= firstRows(x);
      const y = await model.predictTensors(x);
      for (const [name, ref] of Object.entries(want)) {
        const r = compareTensors(y[name], ref, toleranceFor(model.artifact, name));
        if (!r.pass)
          return { backend, pass: false, ms: null, why: `${set.name}/${name}: ${r.mismatches} of ${r.count}` };
      }
    }
    await model.predictTensors(x1);
    const times = [];
    for (let i = 0; i < TIMED_TRIALS; i++) {
      const start = performance.now();
      await model.predictTensors(x1);
      times.push(performance.now() - start);
    }
    return { backend, pass: true, ms: median(times) };
  } catch (e) {
    return { backend, pass: false, ms: null, why: String(e?.message ?? e).split('\n')[0] };
  } finally {
    model?.dispose();
  }
}

/**
 * Picks the page's default backend for the selected model among `available` (the fastest
 * that passes parity, choose.js), shows the choice and why, and switches to it.
 */
async function chooseDefault(available) {
  const box = $('backend-choice');
  const modelId = $select('model').value;
  const current = $select('backend').value;
  box.dataset.state = 'running';
  box.textContent = `Choosing the default backend: parity and timing of ${modelId} on ${available.join(', ')}…`;
  // The trials switch TF.js's global backend: no reload may start meanwhile.
  $select('backend').disabled = true;
  $select('model').disabled = true;
  const candidates = [];
  try {
    for (const b of available) candidates.push(await trialBackend(modelId, b));
  } finally {
    $select('backend').disabled = false;
    $select('model').disabled = false;
  }
  const { backend, reason } = chooseBackend(candidates);
  Object.assign(box.dataset, { model: modelId, chosen: backend ?? '', candidates: JSON.stringify(candidates) });
  box.textContent = backend
    ? `Default backend for ${modelId}: ${reason}.`
    : `No default backend for ${modelId}: ${reason}.`;
  box.dataset.state = 'done';
  if (backend && backend !== current) {
    $select('backend').value = backend;
    await reload();
  } else if (state.model) {
    await useBackend(state.model.backend);
  }
}

/** Shows how the wasm backend runs (its binary, threads, cross-origin isolation). */
async function showWasmInfo() {
  const box = $('wasm-info');
  const info = await wasmInfo();
  Object.assign(box.dataset, {
    isolated: String(info.isolated),
    binary: info.binary,
    threads: String(info.threadsCount ?? ''),
  });
  const threads = info.threadsCount === null ? 'not started' : `${info.threadsCount} thread(s)`;
  box.textContent = `wasm: ${info.binary}, ${threads}; ${
    info.isolated ? 'cross-origin isolated' : 'not cross-origin isolated (threads off)'
  }`;
}

async function runParity() {
  const model = state.model;
  const table = $('parity');
  const body = table.querySelector('tbody');
  body.replaceChildren();
  if (!model) return showError('Load a model first.');
  table.dataset.state = 'running';
  try {
    for (const set of model.model.golden || []) {
      const [x, want] = await Promise.all([fetchAll(set.inputs), fetchAll(set.expected)]);
      const start = performance.now();
      const y = await model.predictTensors(x);
      const ms = performance.now() - start;
      /** @type {[string, ReturnType<typeof compareTensors>][]} */
      const results = Object.entries(want).map(([name, ref]) => [
        name,
        compareTensors(y[name], ref, toleranceFor(model.artifact, name)),
      ]);
      const pass = results.every(([, r]) => r.pass);
      const maxAbs = Math.max(...results.map(([, r]) => r.maxAbs));
      const rows = x[model.model.inputs[0].name].shape[0] ?? 1;
      const row = document.createElement('tr');
      Object.assign(row.dataset, {
        set: set.name,
        pass: String(pass),
        maxAbs: String(maxAbs),
        backend: model.backend,
        model: model.id,
        outputs: String(results.length),
      });
      const tol = results
        .map(([name]) => {
          const t = toleranceFor(model.artifact, name);
          return `${name}: atol ${t.atol} rtol ${t.rtol}`;
        })
        .join('; ');
      const verdict = results
        .map(([name, r]) => `${name} ${r.pass ? 'pass' : `FAIL (${r.mismatches} of ${r.count})`}`)
        .join('; ');
      const cells = [set.name, String(rows), model.backend, formatSci(maxAbs), tol, verdict, fmtMs(ms)];
      for (const c of cells) row.append(Object.assign(document.createElement('td'), { textContent: c }));
      row.children[5].className = pass ? 'pass' : 'fail';
      body.append(row);
    }
    table.dataset.state = 'done';
  } catch (e) {
    table.dataset.state = 'error';
    showError(`Parity run failed: ${e.message}`);
  }
}

/** Starts the interactive page. */
export async function startUi() {
  const params = new URLSearchParams(location.search);
  const wantBackend = params.get('backend');
  const firstBackend = wantBackend && BACKENDS.includes(wantBackend) ? wantBackend : FIRST_BACKEND;
  // The backend starts (the wasm binary compiles, its threads start) while the manifest downloads;
  // a failure here is reported by reload's own load.
  const warming = useBackend(firstBackend).catch(() => {});
  state.doc = await fetchManifest();
  const models = runnableModels(state.doc);
  if (models.length === 0)
    throw new Error(
      'The manifest lists no model with a tfjs-graph artifact (only Keras models are converted for TF.js).',
    );
  for (const m of models)
    $('model').append(new Option(`${m.id}: ${signature(m.inputs)} → ${signature(m.outputs)}`, m.id));
  for (const b of BACKENDS) $('backend').append(new Option(b, b));
  const wantModel = params.get('model');
  if (wantModel) $select('model').value = wantModel;
  $select('backend').value = firstBackend;
  $('model').addEventListener('change', reload);
  $('backend').addEventListener('change', reload);
  $('parity-run').addEventListener('click', runParity);
  startPad({
    $,
    model: () => state.padModel ?? (state.model?.id === PAD_MODEL ? state.model : null),
    onError: showError,
  });
  completion = startCompletion({ $, model: () => state.model, onError: showError });
  $('app').hidden = false;
  if (wantModel && $select('model').value !== wantModel) {
    showError(`Model '${wantModel}' has no tfjs-graph artifact in this manifest.`);
    $('status').dataset.state = 'error';
    return;
  }
  await warming;
  await reload();
  // Probe the other backends only now, so the first prediction does not wait for them.
  const available = [];
  for (const b of BACKENDS) {
    const ok = await probeBackend(b);
    if (ok) available.push(b);
    const opt = [...$select('backend').options].find((o) => o.value === b);
    opt.disabled = !ok;
    opt.textContent = ok ? b : `${b} (unavailable)`;
  }
  await showWasmInfo();
  // A backend asked for in the URL is kept; otherwise the page picks its default now.
  if (wantBackend) {
    $('backend-choice').textContent = `Backend ${wantBackend}: asked for in the URL.`;
    $('backend-choice').dataset.state = 'skipped';
  } else {
    await chooseDefault(available);
  }
  $('backend').dataset.available = JSON.stringify(available);
}
