// Reading manifest.json from the file system (kept apart from model.js so the browser runner's
// Node side can read a manifest without importing TF.js).

import fs from 'node:fs/promises';

import { ManifestError, validateManifest } from '../common/manifest.js';

/**
 * Reads and validates a manifest.
 * @param {string} manifestPath
 * @returns {Promise<any>}
 * @throws {ManifestError} missing, unreadable or malformed (exit 2), another schema_version (exit 3)
 */
export async function readManifest(manifestPath) {
  let text;
  try {
    text = await fs.readFile(manifestPath, 'utf8');
  } catch (e) {
    throw new ManifestError(`${manifestPath}: cannot read: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
  let doc;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ManifestError(`${manifestPath}: not valid JSON: ${e.message}`);
  }
  return validateManifest(doc, manifestPath);
}
