# C++ client (cpp/): LibTorch from the venv's torch wheel, the demo CLI bin/deploykit-cpp,
# GoogleTest suites, a sanitizer build of the client's own code, and a benchmark.
# The Python extension builder._native links the same libraries (built by the root
# $(VENV)/.native-stamp through scikit-build-core).

APT_PACKAGES += nlohmann-json3-dev libssl-dev libcli11-dev clang-format-16

CPP_SANITIZE_BUILD := $(BUILD)/cpp-sanitize
CPP_SOURCES := $(shell find cpp -type f -not -name '*.md') CMakeLists.txt VERSION
CPP_STAMP := $(CPP_BUILD)/.build-stamp
# The venv's torch, located without importing it (~50 ms); evaluated only in recipes.
CPP_TORCH_DIR = $(shell $(PY) -c "import importlib.util, os; print(os.path.dirname(importlib.util.find_spec('torch').origin))")/share/cmake/Torch
CPP_CONFIGURE := -G Ninja -DCMAKE_BUILD_TYPE=Release -DDEPLOYKIT_WITH_TORCH=ON -DDEPLOYKIT_BUILD_CLIENT=ON \
  -DDEPLOYKIT_BUILD_TESTS=ON -DDEPLOYKIT_SANITIZE=OFF -DCMAKE_EXPORT_COMPILE_COMMANDS=ON
# clang-format, pinned by package name (Debian 12: 1:16.0.6-15~deb12u1) and checked by version;
# the style is the root .clang-format. Every tracked C++ source of the repository (all under cpp/).
CLANG_FORMAT := clang-format-16
CLANG_FORMAT_VERSION := 16.0.6
CPP_FORMAT_FILES = $(shell git ls-files -- '*.cpp' '*.hpp' '*.h' '*.cc' '*.cxx' '*.hh' ':!:build/**' ':!:.venv/**')
# Every torch artifact and golden set of a manifest as "model format set folder" lines (the
# folder holds <input>.npy and expected/<output>.npy, relative to the manifest).
CPP_LIST_ARTIFACTS = $(PY) -c 'import json, sys, posixpath; m = json.load(open(sys.argv[1])); \
  [print(d["id"], a["format"], g["name"], posixpath.dirname(next(iter(g["inputs"].values())))) for d in m["models"] \
   for a in d["artifacts"] if a["format"] in ("torchscript-script", "torchscript-trace", "aoti") for g in d["golden"]]'

.PHONY: setup-cpp test-cpp test-cpp-sanitize demo-cpp bench-cpp lint-cpp format-cpp cpp-format-tool

setup-cpp: $(CPP_STAMP)

$(CPP_STAMP): $(CPP_SOURCES) | system-deps $(VENV)/.deps-stamp
	cmake -S . -B $(CPP_BUILD) $(CPP_CONFIGURE) -DTorch_DIR=$(CPP_TORCH_DIR) >/dev/null
	cmake --build $(CPP_BUILD)
	@touch $@

# ctest: the comparison kernel, the client core (npy, manifest, sha256, CLI parsing) and
# deploykit::Model against $(DEPLOYKIT_TEST_MANIFEST); then the sanitizer build (about a
# minute, see cpp/README.md); then the CLI and extension tests and the installed CMake package
# (a consumer built with find_package(deploykit), ~20 s) in pytest, unless this run's full
# pytest suite already ran them (PYTEST_RAN_ALL, set by the root `test` target).
test-cpp: setup-cpp test-fixtures $(VENV)/.native-stamp
	ctest --test-dir $(CPP_BUILD) --output-on-failure
	$(MAKE) --no-print-directory test-cpp-sanitize
	$(if $(PYTEST_RAN_ALL),,$(PY) -m pytest -q tests/test_cpp_client.py tests/test_native_model.py \
	  tests/test_cpp_package.py)

# AddressSanitizer + UndefinedBehaviorSanitizer over the client's own code without LibTorch
# (the prebuilt LibTorch is not instrumented, so deploykit_model is not part of this build).
test-cpp-sanitize: | system-deps
	cmake -S . -B $(CPP_SANITIZE_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DDEPLOYKIT_WITH_TORCH=OFF \
	  -DDEPLOYKIT_BUILD_TESTS=ON -DDEPLOYKIT_SANITIZE=ON >/dev/null
	cmake --build $(CPP_SANITIZE_BUILD)
	ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(CPP_SANITIZE_BUILD) --output-on-failure

demo-cpp: setup-cpp $(MODELS)/manifest.json
	@status=0; while read -r model format set folder; do \
	  echo "$$model/$$format/$$set:"; \
	  bin/deploykit-cpp --manifest $(MODELS)/manifest.json --model $$model --format $$format \
	    --input-dir $(MODELS)/$$folder --output-dir $(BUILD)/cpp/demo/$$model/$$format/$$set \
	    --check-dir $(MODELS)/$$folder/expected || status=1; \
	done < <($(CPP_LIST_ARTIFACTS) $(MODELS)/manifest.json); exit $$status

# Latency, throughput, load time, and predict() against a bare LibTorch loop (cpp/README.md).
bench-cpp: setup-cpp $(MODELS)/manifest.json
	$(CPP_BUILD)/bin/deploykit_bench $(MODELS)/manifest.json

# lint-cpp: fails on any file clang-format would change (offline, ~1 s); format-cpp applies it.
# Only formatting is checked: clang-tidy over the tree takes minutes, far longer than a lint
# should (measured in cpp/README.md, "Lint and format").
lint-cpp: cpp-format-tool
	@$(CLANG_FORMAT) --dry-run --Werror $(CPP_FORMAT_FILES)
	@echo "lint-cpp: $(words $(CPP_FORMAT_FILES)) C++ files clean ($(CLANG_FORMAT) $(CLANG_FORMAT_VERSION))"

format-cpp: cpp-format-tool
	@$(CLANG_FORMAT) -i $(CPP_FORMAT_FILES)
	@echo "format-cpp: $(words $(CPP_FORMAT_FILES)) C++ files formatted"

cpp-format-tool: | system-deps
	@$(CLANG_FORMAT) --version | grep -qF 'version $(CLANG_FORMAT_VERSION)' || \
	  { echo "error: lint-cpp: $(CLANG_FORMAT) $(CLANG_FORMAT_VERSION) is required, found: $$($(CLANG_FORMAT) --version)" >&2; exit 1; }
