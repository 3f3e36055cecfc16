// Entry point. index.html → the interactive demo; index.html?mode=runner → only the API that
// bin/deploykit-browser drives (window.deploykit.load/run/time/unload).

import { setWasmThreads, wasmThreads } from './loader.js';
import { load, run, time, unload } from './runner.js';
import { showError, startUi } from './ui.js';

globalThis.deploykit = { load, run, time, unload, ready: true };

// The runner does batch work (bin/deploykit-browser, bench): one wasm thread per logical core.
// The demo keeps TF.js's own count, which starts a cold visit sooner (loader.js, setWasmThreads).
if (new URLSearchParams(location.search).get('mode') === 'runner') setWasmThreads(wasmThreads());
else startUi().catch((e) => showError(`The demo could not start: ${e.message}`));
