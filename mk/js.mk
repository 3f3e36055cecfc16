# JavaScript (js/): the TF.js client for Node (bin/deploykit-node), the browser demo page
# (make serve) and the browser runner (bin/deploykit-browser), tested in Debian's Chromium
# through playwright-core; the npm package `deploykit` (library, browser module, CLI, .d.ts).
# npm is the native tool; this fragment only calls it.

APT_PACKAGES += chromium
JS_DIR := js
JS_STAMP := $(JS_DIR)/node_modules/.deploykit-stamp
SERVE_PORT ?= 8080

.PHONY: setup-js test-js demo-js serve lint-js format-js pack-js

setup-js: $(JS_STAMP)
	@command -v chromium >/dev/null 2>&1 || $(MAKE) --no-print-directory system-deps

# npm ci installs exactly the lock file; scripts are off (no dependency needs an install step,
# and nothing may download at install time).
$(JS_STAMP): $(JS_DIR)/package.json $(JS_DIR)/package-lock.json
	cd $(JS_DIR) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

# prettier --check (.prettierrc.json; .prettierignore leaves the lock file and the README),
# eslint (eslint.config.js) and tsc's JSDoc check (tsconfig.json: checkJs, noEmit), all pinned
# in package.json and run offline from js/node_modules. Only npm ci is needed, not Chromium.
JS_TOOLS := node_modules/.bin
lint-js: $(JS_STAMP)
	@cd $(JS_DIR) && $(JS_TOOLS)/prettier --check --log-level warn . || \
	  { echo "lint-js: not prettier-formatted (run 'make format-js')"; exit 1; }
	@cd $(JS_DIR) && $(JS_TOOLS)/eslint --max-warnings 0 .
	@cd $(JS_DIR) && $(JS_TOOLS)/tsc -p tsconfig.json
	@echo "lint-js: ok (prettier --check, eslint, tsc --noEmit)"

format-js: $(JS_STAMP)
	cd $(JS_DIR) && $(JS_TOOLS)/prettier --write --log-level warn .

# The suites read DEPLOYKIT_TEST_MANIFEST (a v2 export); DEPLOYKIT_REQUIRE_CNN=1 makes the digit
# pad's test fail, instead of skip, when the export has no cnn_keras tfjs-graph artifact.
# test/package/ packs the npm package and installs it into a fresh project (npm's cache, offline).
test-js: setup-js test-fixtures
	cd $(JS_DIR) && DEPLOYKIT_REQUIRE_CNN=1 npm test --silent

# The npm package a user installs: build/deploykit-<version>.tgz (prepack emits js/types/).
pack-js: setup-js
	@mkdir -p build
	cd $(JS_DIR) && npm pack --silent --pack-destination ../build

# `make demo` exports first; alone, demo-js needs an existing $(MODELS)/manifest.json (v2). It runs
# every tfjs-graph artifact and golden set through bin/deploykit-node --jobs, once per backend.
demo-js: setup-js
	node $(JS_DIR)/src/cli/demo.js $(MODELS)/manifest.json

# The demo page on 127.0.0.1 over $(MODELS)/ (run `make export` first for real models).
serve: setup-js
	node $(JS_DIR)/src/server/cli.js --models $(MODELS) --port $(SERVE_PORT)
