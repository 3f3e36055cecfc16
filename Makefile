# deploykit: the orchestration entry points. Each language folder builds with its own tool;
# this file only wires them together. `make demo` and `make test` are the two commands a
# newcomer needs; both run `make setup` first, which is quick when nothing is missing.

SHELL := /bin/bash
comma := ,
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
# The Triton engine of `serve` (nvidia-pytriton pins numpy<2): its own environment, requirements/triton.in.
VENV_TRITON := .venv-triton
UV_VERSION := 0.13.8
MODELS ?= models
BUILD := build
CPP_BUILD := $(BUILD)/cpp
APT_PACKAGES := cmake g++ ninja-build libgtest-dev
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
NATIVE_SOURCES := $(shell find cpp -type f -not -name '*.md') CMakeLists.txt pyproject.toml
BUILDER_SOURCES := $(shell find python/builder -type f -not -name '*.pyc' -not -path '*/__pycache__/*')
# What an export depends on (verify, bench and serve only read exports).
EXPORT_SOURCES := $(filter-out python/builder/verify/% python/builder/bench/% python/builder/serve/%,$(BUILDER_SOURCES))

# A small real export (2 epochs, seed 7, every model and format) that the language suites test
# against, and the unsafe-op fixture for the Java and Go clients. Rebuilt when the builder changes.
TEST_MODELS := $(BUILD)/test-models
UNSAFE_FIXTURE := $(BUILD)/fixtures/unsafe
export DEPLOYKIT_TEST_MANIFEST := $(abspath $(TEST_MODELS))/manifest.json
export DEPLOYKIT_UNSAFE_MANIFEST := $(abspath $(UNSAFE_FIXTURE))/manifest.json

# One fragment per client language (mk/<lang>.mk) defines setup-<lang>, test-<lang> and
# demo-<lang>; this file only chains them.
CLIENT_MK := $(sort $(wildcard mk/*.mk))
CLIENTS := $(patsubst mk/%.mk,%,$(CLIENT_MK))

.PHONY: help setup system-deps demo export verify bench bench-serve test test-python test-fixtures test-verify lint lint-python format format-python lock clean

help:
	@echo "make demo    set up, export every model, run every client's demo, print the parity table"
	@echo "make test    set up, then run every test suite and the full parity matrix"
	@echo "make setup   install system packages, the Python environment, the extension and every client"
	@echo "make export  (re)export models into $(MODELS)/"
	@echo "make verify  run every available runtime over $(MODELS)/ and print the parity matrix"
	@echo "make bench   measure inference and training speed (exports first if $(MODELS)/ is stale)"
	@echo "make bench-serve   the serving engines (Triton, Ray) under load against the in-process runtime"
	@echo "make serve   the TF.js demo page on 127.0.0.1 over $(MODELS)/ (make export first)"
	@echo "make {setup,test,demo}-{$(subst $(eval) ,$(comma),$(CLIENTS))}   one client's part; bench-{cpp,go,java}: its own benchmark (see mk/)"
	@echo "make lint    every linter and formatter check (ruff, clang-format, gofmt/vet/staticcheck, Spotless, prettier/eslint/tsc)"
	@echo "make format  apply every formatter to the tree"
	@echo "make lock    re-resolve requirements/requirements.in into requirements/lock.txt (triton.in: triton-lock.txt)"
	@echo "make clean   remove build trees and exported models (keeps .venv and .venv-triton)"

setup: system-deps $(VENV)/.deps-stamp $(VENV_TRITON)/.deps-stamp $(VENV)/.native-stamp $(addprefix setup-,$(CLIENTS))

system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "setup: installing system packages:" $$missing; \
	  $(SUDO) apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(PY):
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "deploykit needs Python 3.11, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet uv==$(UV_VERSION)

$(VENV)/.deps-stamp: requirements/lock.txt | $(PY)
	$(UV) pip install --quiet --python $(PY) -r requirements/lock.txt
	@touch $@

$(VENV_TRITON)/.deps-stamp: requirements/triton-lock.txt | $(PY)
	$(UV) venv --quiet --allow-existing --python $(PY) $(VENV_TRITON)
	$(UV) pip install --quiet --python $(VENV_TRITON)/bin/python -r requirements/triton-lock.txt
	@touch $@

$(VENV)/.native-stamp: $(NATIVE_SOURCES) $(VENV)/.deps-stamp | system-deps
	$(UV) pip install --quiet --python $(PY) --no-build-isolation --no-deps --reinstall-package deploykit-builder -e .
	@touch $@

lock: | $(PY)
	$(UV) pip compile --quiet --python-version 3.11 requirements/requirements.in -o requirements/lock.txt
	$(UV) pip compile --quiet --python-version 3.11 requirements/triton.in -o requirements/triton-lock.txt

export: setup
	$(PY) -m builder export --out $(MODELS)

verify: setup
	$(PY) -m builder verify --manifest $(MODELS)/manifest.json

# The default export, redone when the builder changed since it was written. (MODELS may name
# the test export, e.g. `make demo-go MODELS=build/test-models`; its own rule below applies.)
ifneq ($(abspath $(MODELS)),$(abspath $(TEST_MODELS)))
$(MODELS)/manifest.json: $(EXPORT_SOURCES) | setup
	$(PY) -m builder export --out $(MODELS)
endif

bench: setup $(MODELS)/manifest.json
	$(PY) -m builder bench --manifest $(MODELS)/manifest.json

# The serving engines under load (docs/serving.md): 1 vs 2 replicas, batching off/on, c = 1, 8, 32.
bench-serve: setup $(MODELS)/manifest.json
	$(PY) -m builder.bench.serving --manifest $(MODELS)/manifest.json

# Each client's demo prints its parity lines; then chargpt_torch continues one prompt in every
# runtime and format, side by side; the demo ends with the verify matrix.
DEMO_PROMPT ?= def __init__(self, a
demo: export $(addprefix demo-,$(CLIENTS))
	$(PY) -m builder generate --manifest $(MODELS)/manifest.json --model chargpt_torch \
	  --generate '$(DEMO_PROMPT)' --tokens 60 --every-runtime
	$(PY) -m builder verify --manifest $(MODELS)/manifest.json

test: setup lint test-python $(addprefix test-,$(CLIENTS)) test-verify
# test-python runs every pytest file, so the client targets need not run theirs again.
test: PYTEST_RAN_ALL := 1

# The full parity matrix on the default export: every runtime must run (--require-all).
test-verify: setup $(MODELS)/manifest.json
	$(PY) -m builder verify --require-all --manifest $(MODELS)/manifest.json

# Every language's linters and formatter checks (mk/<lang>.mk defines lint-<lang> and format-<lang>).
lint: lint-python $(addprefix lint-,$(CLIENTS))

format: format-python $(addprefix format-,$(CLIENTS))

lint-python: $(VENV)/.deps-stamp
	$(VENV)/bin/ruff check --quiet
	$(VENV)/bin/ruff format --check --quiet
	@echo "lint-python: ruff clean"

format-python: $(VENV)/.deps-stamp
	$(VENV)/bin/ruff check --fix --quiet
	$(VENV)/bin/ruff format --quiet

test-python: setup test-fixtures
	$(PY) -m pytest

test-fixtures: $(TEST_MODELS)/manifest.json $(UNSAFE_FIXTURE)/manifest.json

$(TEST_MODELS)/manifest.json: $(EXPORT_SOURCES) | $(VENV)/.deps-stamp
	$(PY) -m builder export --out $(TEST_MODELS) --epochs 2 --seed 7

$(UNSAFE_FIXTURE)/manifest.json: tests/fixtures/unsafe_model.py $(EXPORT_SOURCES) | $(VENV)/.deps-stamp
	$(PY) tests/fixtures/unsafe_model.py --out $(UNSAFE_FIXTURE) >/dev/null

include $(CLIENT_MK)

clean:
	rm -rf $(BUILD) $(VENV)/.native-stamp
	find $(MODELS) -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
