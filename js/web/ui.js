// The demo page: pick a model and a backend, edit the feature vector, watch the prediction,
// run the parity panel. Every failure ends up in the #error box, never a blank page.

import { compare, formatSci } from '/common/compare.js';
import { runnableModels } from '/common/manifest.js';
import { BACKENDS, fetchManifest, fetchNpy, loadModel, probeBackend } from './loader.js';

const $ = (id) => document.getElementById(id);
const MANY = 16; // above this width the input is a seed/scale control plus a few sliders
const SLIDERS_WHEN_MANY = 8;

const state = { doc: null, model: null, features: null, busy: false, pending: false, firstShown: false, loading: 0 };

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
  const input = Object.assign(document.createElement('input'), { type: 'range', id, min, max, step, value: String(value) });
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
function buildFeatureControls(width) {
  const box = $('features');
  box.replaceChildren();
  $('width').textContent = `(${width} features)`;
  const clamp = (v) => Math.max(-3, Math.min(3, Math.round(v * 100) / 100));
  if (width <= MANY) {
    $('input-help').textContent = 'Each slider is one feature. The toy task: the label is 1 when the features sum to more than 0.';
    const init = seededNormals(1, width);
    for (let i = 0; i < width; i++) box.append(slider(`f${i}`, `x[${i}]`, clamp(init[i]), -3, 3, 0.01, schedulePredict));
    return () => Float32Array.from({ length: width }, (_, i) => Number($(`f${i}`).value));
  }
  $('input-help').textContent = `${width} features are too many for sliders: features 0–${SLIDERS_WHEN_MANY - 1} have their own sliders; ` +
    `the other ${width - SLIDERS_WHEN_MANY} are scale × N(0, 1) draws from the seed (same seed, same vector).`;
  const seed = Object.assign(document.createElement('input'), { type: 'number', id: 'seed', value: '1', min: '0', step: '1' });
  const seedRow = document.createElement('div');
  seedRow.className = 'feature';
  const seedLabel = Object.assign(document.createElement('label'), { htmlFor: 'seed', textContent: 'seed' });
  seedRow.append(seedLabel, seed, document.createElement('span'));
  seed.addEventListener('input', schedulePredict);
  box.append(seedRow, slider('scale', 'scale', 1, 0, 3, 0.01, schedulePredict));
  const init = seededNormals(1, width);
  for (let i = 0; i < SLIDERS_WHEN_MANY; i++) box.append(slider(`f${i}`, `x[${i}]`, clamp(init[i]), -3, 3, 0.01, schedulePredict));
  return () => {
    const scale = Number($('scale').value);
    const base = seededNormals(Number.parseInt($('seed').value, 10) || 0, width);
    const x = base.map((v) => v * scale);
    for (let i = 0; i < SLIDERS_WHEN_MANY; i++) x[i] = Number($(`f${i}`).value);
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
    const note = Object.assign(document.createElement('p'), { className: 'muted', textContent: `model output (probability that the label is 1); sum of the features = ${sum.toFixed(2)}` });
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
    row.append(Object.assign(document.createElement('span'), { textContent: `out[${i}]` }), bar, Object.assign(document.createElement('span'), { textContent: v.toFixed(4) }));
    box.append(row);
  });
  box.append(Object.assign(document.createElement('p'), { className: 'muted', textContent: `logits; the largest is out[${top}]` }));
}

let readFeatures = () => new Float32Array(0);

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
      $('status').textContent = `${model.id} on ${model.backend}: ready`;
      $('status').dataset.state = 'ready';
    }
  } catch (e) {
    showError(`Prediction failed: ${e.message}`);
  } finally {
    state.busy = false;
  }
}

async function reload() {
  const ticket = ++state.loading;
  const modelId = $('model').value;
  const backend = $('backend').value;
  $('status').textContent = `loading ${modelId} on ${backend}…`;
  $('status').dataset.state = 'loading';
  state.model?.dispose();
  state.model = null;
  $('parity').querySelector('tbody').replaceChildren();
  $('parity').dataset.state = 'idle';
  try {
    const model = await loadModel(state.doc, modelId, backend);
    if (ticket !== state.loading) return model.dispose();
    state.model = model;
    clearError();
    $('load-ms').textContent = fmtMs(model.loadMs);
    $('load-ms').dataset.ms = String(model.loadMs);
    readFeatures = buildFeatureControls(model.features);
    schedulePredict();
  } catch (e) {
    if (ticket !== state.loading) return;
    $('status').textContent = `${modelId} on ${backend}: failed`;
    $('status').dataset.state = 'error';
    $('prediction').replaceChildren();
    $('prediction').dataset.values = '[]';
    $('features').replaceChildren();
    readFeatures = () => new Float32Array(0);
    showError(`Could not load ${modelId} on the ${backend} backend:\n${e.message}`);
  }
}

async function runParity() {
  const model = state.model;
  const table = $('parity');
  const body = table.querySelector('tbody');
  body.replaceChildren();
  if (!model) return showError('Load a model first.');
  table.dataset.state = 'running';
  const golden = model.model.golden || {};
  const sets = [['golden', golden.input, golden.expected], ['special (NaN/Inf)', golden.special_input, golden.special_expected]].filter((s) => s[1] && s[2]);
  try {
    for (const [name, inputPath, expectedPath] of sets) {
      const [x, want] = await Promise.all([fetchNpy(inputPath), fetchNpy(expectedPath)]);
      const start = performance.now();
      const y = await model.predictFlat(x.data, x.shape[0]);
      const ms = performance.now() - start;
      const res = compare(y, want.data, model.tolerance);
      const row = document.createElement('tr');
      Object.assign(row.dataset, { set: name.split(' ')[0], pass: String(res.pass), maxAbs: String(res.maxAbs), backend: model.backend, model: model.id });
      const cells = [name, String(x.shape[0]), model.backend, formatSci(res.maxAbs), `atol ${model.tolerance.atol} rtol ${model.tolerance.rtol}`, res.pass ? 'pass' : `FAIL (${res.mismatches} of ${res.count})`, fmtMs(ms)];
      for (const c of cells) row.append(Object.assign(document.createElement('td'), { textContent: c }));
      row.children[5].className = res.pass ? 'pass' : 'fail';
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
  state.doc = await fetchManifest();
  const models = runnableModels(state.doc);
  if (models.length === 0) throw new Error('The manifest lists no model with a tfjs-graph artifact (only Keras models are converted for TF.js).');
  const params = new URLSearchParams(location.search);
  for (const m of models) $('model').append(new Option(`${m.id} (${m.inputs[0].shape[1]} → ${m.outputs[0].shape[1]})`, m.id));
  for (const b of BACKENDS) $('backend').append(new Option(b, b));
  const wantModel = params.get('model');
  if (wantModel) $('model').value = wantModel;
  const wantBackend = params.get('backend');
  $('backend').value = wantBackend && BACKENDS.includes(wantBackend) ? wantBackend : 'webgl';
  $('model').addEventListener('change', reload);
  $('backend').addEventListener('change', reload);
  $('parity-run').addEventListener('click', runParity);
  $('app').hidden = false;
  if (wantModel && $('model').value !== wantModel) {
    showError(`Model '${wantModel}' has no tfjs-graph artifact in this manifest.`);
    $('status').dataset.state = 'error';
    return;
  }
  await reload();
  // Without a GPU context webgl cannot start: fall back to wasm unless webgl was asked for.
  if (!state.model && !wantBackend && $('status').dataset.state === 'error' && !(await probeBackend('webgl'))) {
    $('backend').value = 'wasm';
    await reload();
  }
  // Probe the other backends only now, so the first prediction does not wait for them.
  const available = [];
  for (const b of BACKENDS) {
    const ok = await probeBackend(b);
    if (ok) available.push(b);
    const opt = [...$('backend').options].find((o) => o.value === b);
    opt.disabled = !ok;
    opt.textContent = ok ? b : `${b} (unavailable)`;
  }
  $('backend').dataset.available = JSON.stringify(available);
}
