// The digit drawing pad: a person draws a digit with the mouse, a pen or a finger (pointer
// events), and cnn_keras classifies it live on the page's backend. The drawing (white ink on
// black) is cropped to its bounding box, centred in a square with a margin, and area-averaged
// to the 8x8 grid of ink intensities in [0, 1] that the model was trained on (scikit-learn's
// digits scaled by 1/16: background 0, full ink 1).

import { Tensor } from '../src/common/tensor.js';

export const PAD_MODEL = 'cnn_keras';
const GRID = 8;
const SAMPLES = 8; // per cell and axis: 64 samples average each cell
const MARGIN = 1.3; // the square around the ink is this much larger than its longer side

/**
 * The 8x8 grid of a drawing: ink intensity (0-1) per cell, row-major.
 * @param {Uint8ClampedArray} rgba the canvas's pixels (red channel = ink)
 * @param {number} width
 * @param {number} height
 * @returns {Float32Array | null} null for an empty drawing
 */
export function toGrid(rgba, width, height) {
  let [x0, y0, x1, y1] = [width, height, -1, -1];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (rgba[(y * width + x) * 4] > 25) {
        x0 = Math.min(x0, x);
        y0 = Math.min(y0, y);
        x1 = Math.max(x1, x);
        y1 = Math.max(y1, y);
      }
    }
  }
  if (x1 < 0) return null;
  const side = Math.max(x1 - x0 + 1, y1 - y0 + 1, width / 8) * MARGIN;
  const cx = (x0 + x1 + 1) / 2;
  const cy = (y0 + y1 + 1) / 2;
  const step = side / GRID;
  const grid = new Float32Array(GRID * GRID);
  for (let gy = 0; gy < GRID; gy++) {
    for (let gx = 0; gx < GRID; gx++) {
      let sum = 0;
      for (let sy = 0; sy < SAMPLES; sy++) {
        for (let sx = 0; sx < SAMPLES; sx++) {
          const px = Math.floor(cx - side / 2 + (gx + (sx + 0.5) / SAMPLES) * step);
          const py = Math.floor(cy - side / 2 + (gy + (sy + 0.5) / SAMPLES) * step);
          if (px >= 0 && py >= 0 && px < width && py < height) sum += rgba[(py * width + px) * 4] / 255;
        }
      }
      grid[gy * GRID + gx] = sum / (SAMPLES * SAMPLES);
    }
  }
  // Strokes cover less of a cell than a pen on paper: stretch so the darkest cell is full ink.
  const max = Math.max(...grid);
  return max > 0 ? grid.map((v) => Math.min(1, v / max)) : grid;
}

/** Softmax in float64 (stable). */
export function softmax(logits) {
  const m = Math.max(...logits);
  const e = Array.from(logits, (v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/**
 * Wires the pad's canvas, buttons and bars.
 * @param {object} o
 * @param {(id: string) => HTMLElement} o.$
 * @param {() => any} o.model the loaded cnn_keras model (BrowserModel) or null
 * @param {(message: string) => void} o.onError
 */
export function startPad({ $, model, onError }) {
  const canvas = /** @type {HTMLCanvasElement} */ ($('pad'));
  const preview = /** @type {HTMLCanvasElement} */ ($('pad-preview'));
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const clear = () => {
    ctx.fillStyle = 'black';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    $('pad-probs').replaceChildren();
    $('pad-probs').dataset.probs = '[]';
    $('pad-class').textContent = 'draw a digit';
    delete $('pad-class').dataset.digit;
    drawPreview(null);
  };
  const drawPreview = (grid) => {
    const p = preview.getContext('2d');
    const cell = preview.width / GRID;
    for (let i = 0; i < GRID * GRID; i++) {
      const v = Math.round((grid ? grid[i] : 0) * 255);
      p.fillStyle = `rgb(${v}, ${v}, ${v})`;
      p.fillRect((i % GRID) * cell, Math.floor(i / GRID) * cell, cell, cell);
    }
    preview.dataset.grid = JSON.stringify(grid ? Array.from(grid) : []);
  };
  let drawing = false;
  /** @type {[number, number] | null} */
  let last = null;
  let busy = false;
  let pending = false;
  const classify = async () => {
    pending = true;
    if (busy) return;
    busy = true;
    try {
      while (pending) {
        pending = false;
        const m = model();
        if (!m) return;
        const grid = toGrid(ctx.getImageData(0, 0, canvas.width, canvas.height).data, canvas.width, canvas.height);
        drawPreview(grid);
        if (!grid) continue;
        const [spec] = m.model.inputs;
        const shape = spec.shape.map((d) => (typeof d === 'number' ? d : 1));
        const out = await m.predictTensors({ [spec.name]: new Tensor('float32', shape, grid) });
        renderProbs(softmax(out[m.model.outputs[0].name].toNumbers()), m.backend);
      }
    } catch (e) {
      onError(`The digit pad failed: ${e.message}`);
    } finally {
      busy = false;
    }
  };
  const renderProbs = (probs, backend) => {
    const box = $('pad-probs');
    box.dataset.probs = JSON.stringify(probs);
    box.replaceChildren();
    const top = probs.indexOf(Math.max(...probs));
    probs.forEach((p, digit) => {
      const row = Object.assign(document.createElement('div'), { className: `out-row${digit === top ? ' top' : ''}` });
      const bar = Object.assign(document.createElement('div'), { className: 'bar' });
      bar.style.width = `${p * 100}%`;
      row.append(
        Object.assign(document.createElement('span'), { textContent: String(digit) }),
        bar,
        Object.assign(document.createElement('span'), { textContent: `${(p * 100).toFixed(1)} %` }),
      );
      box.append(row);
    });
    $('pad-class').textContent = `${top} (${(probs[top] * 100).toFixed(1)} %, ${backend})`;
    $('pad-class').dataset.digit = String(top);
  };
  /** @returns {[number, number]} the pointer's position in canvas pixels */
  const point = (e) => {
    const r = canvas.getBoundingClientRect();
    return [((e.clientX - r.left) * canvas.width) / r.width, ((e.clientY - r.top) * canvas.height) / r.height];
  };
  canvas.addEventListener('pointerdown', (e) => {
    drawing = true;
    last = point(e);
    canvas.setPointerCapture(e.pointerId);
    ctx.fillStyle = 'white';
    ctx.beginPath();
    ctx.arc(last[0], last[1], canvas.width / 24, 0, 2 * Math.PI);
    ctx.fill();
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!drawing) return;
    const p = point(e);
    ctx.strokeStyle = 'white';
    ctx.lineWidth = canvas.width / 12;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.moveTo(...last);
    ctx.lineTo(...p);
    ctx.stroke();
    last = p;
    void classify();
  });
  const end = () => {
    if (!drawing) return;
    drawing = false;
    void classify();
  };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);
  $('pad-clear').addEventListener('click', clear);
  clear();
  return { clear, classify };
}
