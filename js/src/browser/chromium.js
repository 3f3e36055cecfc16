// Launching Debian's Chromium headless through playwright-core: the flags keep it
// off the network (without them it stalls on this closed network), and every launch gets a
// fresh, temporary profile.

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.DEPLOYKIT_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * @param {{onRequest?: (url: string) => void}} [options] onRequest sees every request the
 *   browser makes (pages and workers)
 * @returns {Promise<{context: import('playwright-core').BrowserContext, close: () => Promise<void>}>}
 */
export async function launchChromium({ onRequest } = {}) {
  try {
    await fs.access(CHROMIUM);
  } catch {
    throw new Error(`Chromium not found at ${CHROMIUM} (install Debian's chromium package: make setup-js)`);
  }
  const profile = await fs.mkdtemp(path.join(os.tmpdir(), 'deploykit-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 900 },
    });
  } catch (e) {
    await fs.rm(profile, { recursive: true, force: true });
    throw new Error(`Chromium failed to start: ${String(e.message).split('\n')[0]}`, { cause: e });
  }
  if (onRequest) context.on('request', (req) => onRequest(req.url()));
  return {
    context,
    close: async () => {
      await context.close().catch(() => {});
      await fs.rm(profile, { recursive: true, force: true });
    },
  };
}

/** True when `url` is on the loopback server at `origin` (or a data:/blob: URL of the page). */
export function isLocal(url, origin) {
  return url.startsWith(origin) || url.startsWith('data:') || url.startsWith(`blob:${origin}`);
}
