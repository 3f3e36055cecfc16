#!/usr/bin/env node
// `make serve`: serves the demo page and a models folder on 127.0.0.1 until interrupted.

import { parseArgs } from 'node:util';

import { startServer } from './server.js';

const USAGE = 'usage: node src/server/cli.js [--models DIR] [--port N]   (serves on 127.0.0.1 only)';
let values;
try {
  ({ values } = parseArgs({
    options: {
      models: { type: 'string', default: 'models' },
      port: { type: 'string', default: '8080' },
      help: { type: 'boolean', default: false },
    },
  }));
} catch (e) {
  console.error(`error: usage: ${e.message}\n${USAGE}`);
  process.exit(2);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
if (!/^\d+$/.test(values.port) || Number(values.port) > 65535) {
  console.error(`error: usage: --port must be 0..65535\n${USAGE}`);
  process.exit(2);
}
try {
  const server = await startServer({ modelsDir: values.models, port: Number(values.port) });
  console.log(`deploykit demo: ${server.url}app/  (models from ${values.models}; Ctrl-C stops)`);
  const stop = async () => {
    await server.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (e) {
  console.error(`error: serve: ${e.message}`);
  process.exit(e.code === 'EADDRINUSE' ? 3 : 2);
}
