// Reading manifest.json from the file system (kept apart from model.js so the browser runner's
// Node side can read a manifest without importing TF.js).

import fs from 'node:fs/promises';

import { ManifestError, validateManifest } from '../common/manifest.js';

/**
 * Reads and validates a manifest.
 * @param {string} manifestPath
 * @returns {Promise<any>}
 * @throws {ManifestError} missing, unreadable or malformed
 */
export async function readManifest(manifestPath) {
  let text;
  try {
    text = await fs.readFile(manifestPath, 'utf8');
  } catch (e) {
    throw new ManifestError(`cannot read manifest ${manifestPath}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
  let doc;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ManifestError(`manifest ${manifestPath} is not valid JSON: ${e.message}`);
  }
  return validateManifest(doc);
}
