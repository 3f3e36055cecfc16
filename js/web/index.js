// Entry point. index.html → the interactive demo; index.html?mode=runner → only the API that
// bin/deploykit-browser drives (window.deploykit.runBatch).

import { runBatch } from './runner.js';
import { showError, startUi } from './ui.js';

globalThis.deploykit = { runBatch, ready: true };

if (new URLSearchParams(location.search).get('mode') !== 'runner') {
  startUi().catch((e) => showError(`The demo could not start: ${e.message}`));
}
