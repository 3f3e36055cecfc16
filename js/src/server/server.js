// The demo page's static server: 127.0.0.1 only, GET/HEAD only, and only these folders:
//   /app/     js/web/ (the page)          /src/common/  js/src/common/ (modules shared with Node; the
//                                         page imports them as ../src/common/, as in the npm package)
//   /vendor/  TF.js's browser bundles and the wasm backend's .wasm files, from node_modules, and
//             /vendor/ort/: onnxruntime-web's wasm build (a devDependency: the bench's peer,
//             js/bench/measure.js; absent from an installed npm package, then not served)
//   /models/  the export folder (the manifest's folder)
// Anything else, any path that escapes its folder (.., encoded separators, symlinks pointing
// out) is a 404. No request ever goes to another host: the page is built to work offline.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const JS_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TFJS_DIST = path.dirname(require.resolve('@tensorflow/tfjs/dist/tf.es2017.min.js'));
const WASM_DIST = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));

// The vendor folder is a fixed list, not a folder: node_modules is never browsable.
const VENDOR = {
  'tf.es2017.min.js': path.join(TFJS_DIST, 'tf.es2017.min.js'),
  'tf-backend-wasm.es2017.min.js': path.join(WASM_DIST, 'tf-backend-wasm.es2017.min.js'),
  'tfjs-backend-wasm.wasm': path.join(WASM_DIST, 'tfjs-backend-wasm.wasm'),
  'tfjs-backend-wasm-simd.wasm': path.join(WASM_DIST, 'tfjs-backend-wasm-simd.wasm'),
  'tfjs-backend-wasm-threaded-simd.wasm': path.join(WASM_DIST, 'tfjs-backend-wasm-threaded-simd.wasm'),
  ...ortWebFiles(),
};

/**
 * onnxruntime-web's wasm execution provider as /vendor/ort/<file>: its ES module (without the
 * bundled binary) and the SIMD + threads build it loads (one binary since 1.19; threads only when
 * the page is cross-origin isolated). Empty when the devDependency is not installed.
 */
function ortWebFiles() {
  let dist;
  try {
    dist = path.dirname(require.resolve('onnxruntime-web'));
  } catch {
    return {};
  }
  const files = ['ort.wasm.min.mjs', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'];
  return Object.fromEntries(files.map((f) => [`ort/${f}`, path.join(dist, f)]));
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.npy': 'application/octet-stream',
  '.bin': 'application/octet-stream',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

const HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  // Cross-origin isolation gives the page SharedArrayBuffer, so the wasm backend runs its
  // threaded SIMD build (web/loader.js), and a 5 µs performance.now() (100 µs otherwise), which
  // the per-prediction timings need; it also forbids loading anything from other origins.
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
  // Same-origin only for everything (the browser itself blocks any request to another host).
  // 'unsafe-eval': TF.js's bundle evaluates a string once at start-up (a global-object probe).
  'content-security-policy':
    "default-src 'self'; script-src 'self' 'unsafe-eval' 'wasm-unsafe-eval' blob:; worker-src 'self' blob:; connect-src 'self'; img-src 'self' data: blob:; style-src 'self'",
};

/**
 * Maps a URL path to a file inside `root`, or null. `rel` is the part after the route prefix,
 * still percent-encoded.
 */
function resolveInside(root, rel) {
  let decoded;
  try {
    decoded = decodeURIComponent(rel);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const parts = decoded.split('/');
  if (parts.some((p) => p === '..' || p === '.')) return null;
  const file = path.resolve(root, ...parts.filter((p) => p !== ''));
  if (file !== root && !file.startsWith(root + path.sep)) return null;
  let real;
  try {
    real = fs.realpathSync(file);
  } catch {
    return null;
  }
  const realRoot = fs.realpathSync(root);
  if (real !== realRoot && !real.startsWith(realRoot + path.sep)) return null;
  return real;
}

/**
 * @param {object} options
 * @param {string} options.modelsDir folder served as /models/ (the manifest's folder)
 * @param {number} [options.port] 0 (default) picks a free port
 * @param {(req: {method: string, url: string, status: number}) => void} [options.onRequest]
 * @returns {Promise<{url: string, port: number, close: () => Promise<void>}>}
 */
export async function startServer({ modelsDir, port = 0, onRequest }) {
  const roots = {
    app: path.join(JS_ROOT, 'web'),
    'src/common': path.join(JS_ROOT, 'src', 'common'),
    models: path.resolve(modelsDir),
  };
  if (!fs.existsSync(roots.models)) throw new Error(`models folder ${roots.models} does not exist`);

  const server = http.createServer((req, res) => {
    const send = (status, body, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { ...HEADERS, 'content-type': type });
      res.end(req.method === 'HEAD' ? undefined : body);
      onRequest?.({ method: req.method, url: req.url, status });
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');
    const pathname = (req.url || '/').split('?')[0].split('#')[0];
    if (pathname === '/' || pathname === '/app') {
      res.writeHead(302, { ...HEADERS, location: '/app/' });
      res.end();
      onRequest?.({ method: req.method, url: req.url, status: 302 });
      return;
    }
    if (pathname === '/favicon.ico') return send(204, '');
    const match = /^\/(app|src\/common|models|vendor)\/(.*)$/.exec(pathname);
    let file = null;
    if (match && match[1] === 'vendor') {
      file = Object.hasOwn(VENDOR, match[2]) ? VENDOR[match[2]] : null;
    } else if (match) {
      const rel =
        match[1] === 'app' && (match[2] === '' || match[2].endsWith('/')) ? match[2] + 'index.html' : match[2];
      file = resolveInside(roots[match[1]], rel);
    }
    let stat = null;
    if (file) stat = fs.statSync(file, { throwIfNoEntry: false });
    if (!stat || !stat.isFile()) return send(404, 'not found\n');
    res.writeHead(200, {
      ...HEADERS,
      'content-type': TYPES[path.extname(file)] || 'application/octet-stream',
      'content-length': stat.size,
    });
    onRequest?.({ method: req.method, url: req.url, status: 200 });
    if (req.method === 'HEAD') return res.end();
    fs.createReadStream(file).pipe(res);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(undefined));
  });
  // A TCP server's address is an AddressInfo (a string only for a pipe or a socket file).
  const actual = /** @type {import('node:net').AddressInfo} */ (server.address()).port;
  return {
    url: `http://127.0.0.1:${actual}/`,
    port: actual,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
