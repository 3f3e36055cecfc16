// ESLint flat config for js/ (`make lint-js`). Formatting is prettier's (.prettierrc.json); this
// checks the code: eslint's recommended rules, with Node globals for the Node client, the CLIs,
// the server, the benchmark and the tests, and browser globals for the page (web/) and for the
// functions the page tests hand to page.evaluate (they run in Chromium).

import js from '@eslint/js';
import globals from 'globals';

export default [
  { ignores: ['node_modules/'] },
  js.configs.recommended,
  {
    files: ['**/*.js'],
    languageOptions: { ecmaVersion: 2024, sourceType: 'module' },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },
  {
    files: ['src/**/*.js', 'bench/**/*.js', 'test/**/*.js', 'eslint.config.js'],
    ignores: ['src/common/**'],
    languageOptions: { globals: globals.node },
  },
  {
    // src/common/ is loaded by Node and by the page (as ../src/common/): only what both provide.
    files: ['src/common/**/*.js'],
    languageOptions: { globals: globals['shared-node-browser'] },
  },
  {
    // The page, and the page test, whose page.evaluate/waitForFunction callbacks run in Chromium.
    files: ['web/**/*.js', 'test/browser/page.test.js'],
    languageOptions: { globals: globals.browser },
  },
];
