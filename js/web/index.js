// Entry point. index.html → the interactive demo; index.html?mode=runner → only the API that
// bin/deploykit-browser drives (window.deploykit.load/run/time/unload).

import { load, run, time, unload } from './runner.js';
import { showError, startUi } from './ui.js';

globalThis.deploykit = { load, run, time, unload, ready: true };

if (new URLSearchParams(location.search).get('mode') !== 'runner') {
  startUi().catch((e) => showError(`The demo could not start: ${e.message}`));
}
