# Go: the TensorFlow C API client (go/). Builds against the C library inside the
# project's TensorFlow wheel; point TF_LIB_DIR at another libtensorflow to use that instead
# (a folder with libtensorflow_cc.so.2 or libtensorflow.so.2 and libtensorflow_framework.so.2;
# headers in TF_LIB_DIR/include or TF_LIB_DIR/../include, or set TF_INCLUDE_DIR).

.PHONY: setup-go test-go demo-go bench-go lint-go format-go

# pkg-config reads the tensorflow.pc that setup-go writes (the build uses it as a user would).
APT_PACKAGES += pkgconf

GO ?= go
GO_MIN_VERSION := 1.26
GO_BUILD := $(abspath $(BUILD))/go
GO_BIN := $(GO_BUILD)/deploykit-go
GO_LINK_DIR := $(GO_BUILD)/lib
TF_LIB_DIR ?= $(abspath $(VENV))/lib/python3.11/site-packages/tensorflow
# Decided when a recipe runs, not when make starts: on a fresh clone the venv (and so the
# wheel's headers) only exists after setup has installed it.
TF_INCLUDE_DIR ?= $(shell if [ -e '$(TF_LIB_DIR)/include/tensorflow/c/c_api.h' ]; then echo '$(TF_LIB_DIR)/include'; else echo '$(abspath $(TF_LIB_DIR)/../include)'; fi)
GO_SOURCES := $(shell find go -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -not -path '*/testdata/*' 2>/dev/null)
GO_FUZZTIME ?= 15s
# The project version, linked into the binary (main.version); the binary depends on the file.
GO_VERSION_FILE := VERSION
GO_LDFLAGS = -X main.version=$$(tr -d '[:space:]' < $(abspath $(GO_VERSION_FILE)))
# Lint tools, installed from the Go module proxy into $(GO_TOOLS) by setup-go (not in go.mod),
# so that lint-go runs offline afterwards. The stamp names the Go toolchain too: staticcheck
# must be built by a Go at least as new as the one whose code it checks.
GO_TOOLS := $(GO_BUILD)/tools
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(GO_TOOLS)/staticcheck
STATICCHECK_STAMP := $(GO_TOOLS)/.staticcheck-$(STATICCHECK_VERSION)-$(shell $(GO) env GOVERSION 2>/dev/null)
# The gofmt of the toolchain that $(GO) names.
GOFMT = "$$($(GO) env GOROOT)/bin/gofmt"

# graft links with -ltensorflow. cmd/tfpkgconfig (the command a user runs too, see
# go/README.md) writes GO_PC_DIR/tensorflow.pc and GO_LINK_DIR/libtensorflow.so, a linker
# script naming the real library; the .pc's rpath makes binaries find TF_LIB_DIR at run time
# without LD_LIBRARY_PATH. Every go command takes its cgo flags from pkg-config, as a
# user's build does (the consumer test in go/internal/consumer checks exactly that).
GO_PC_DIR := $(GO_BUILD)/pkgconfig
GO_PC := $(GO_PC_DIR)/tensorflow.pc
GO_PKG_CONFIG = PKG_CONFIG_PATH=$(GO_PC_DIR) pkg-config
GO_ENV = CGO_ENABLED=1 \
	PKG_CONFIG_PATH=$(GO_PC_DIR) \
	CGO_CFLAGS="$$($(GO_PKG_CONFIG) --cflags tensorflow)" \
	CGO_LDFLAGS="$$($(GO_PKG_CONFIG) --libs tensorflow)" \
	GOFLAGS="-mod=readonly -buildvcs=false" \
	TF_CPP_MIN_LOG_LEVEL=3
# The toolchain check every go build starts with.
GO_CHECK = command -v $(GO) >/dev/null || { echo "setup-go: Go $(GO_MIN_VERSION) or newer is needed (not on PATH)"; exit 1; }; \
	$(GO) version | awk -v min=$(GO_MIN_VERSION) '{ v = $$3; sub(/^go/, "", v); split(v, a, "."); split(min, b, "."); \
	  if (a[1] < b[1] || (a[1] == b[1] && a[2] < b[2])) { print "setup-go: Go " min " or newer is needed, found " v; exit 1 } }'

setup-go: $(GO_BIN) $(STATICCHECK_STAMP)

$(STATICCHECK_STAMP):
	@command -v $(GO) >/dev/null || { echo "setup-go: Go $(GO_MIN_VERSION) or newer is needed (not on PATH)"; exit 1; }
	@mkdir -p $(GO_TOOLS)
	GOBIN=$(GO_TOOLS) GOFLAGS=-mod=readonly $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	@rm -f $(GO_TOOLS)/.staticcheck-* && touch $@

# Rewritten only when TF_LIB_DIR or TF_INCLUDE_DIR change, so the binary is rebuilt then.
$(GO_BUILD)/tf-lib.txt: go-force | $(VENV)/.deps-stamp
	@mkdir -p $(@D)
	@printf '%s\n%s\n' '$(TF_LIB_DIR)' '$(TF_INCLUDE_DIR)' | cmp -s - $@ || printf '%s\n%s\n' '$(TF_LIB_DIR)' '$(TF_INCLUDE_DIR)' > $@

# tfpkgconfig checks that TF_LIB_DIR has the library and TF_INCLUDE_DIR the headers.
$(GO_PC): $(GO_BUILD)/tf-lib.txt go/cmd/tfpkgconfig/main.go
	@$(GO_CHECK)
	@command -v pkg-config >/dev/null || { echo "setup-go: pkg-config is needed (apt-get install pkgconf)"; exit 1; }
	@cd go && GOFLAGS="-mod=readonly -buildvcs=false" $(GO) run ./cmd/tfpkgconfig -lib '$(TF_LIB_DIR)' -include '$(TF_INCLUDE_DIR)' -out $(GO_BUILD) >/dev/null
	@$(GO_PKG_CONFIG) --exists tensorflow || { echo "setup-go: pkg-config cannot read $@"; exit 1; }

$(GO_BIN): $(VENV)/.deps-stamp $(GO_SOURCES) $(GO_PC) $(GO_VERSION_FILE)
	@$(GO_CHECK)
	@[ -n "$$(tr -d '[:space:]' < $(GO_VERSION_FILE))" ] || { echo "setup-go: $(GO_VERSION_FILE) is empty"; exit 1; }
	cd go && $(GO_ENV) $(GO) build -ldflags "$(GO_LDFLAGS)" -o $(GO_BIN) ./cmd/deploykit-go
	@touch $@

# vet, the whole suite, the concurrency test again under the race detector, and a bounded
# fuzz run of the .npy reader.
test-go: setup-go test-fixtures
	cd go && $(GO_ENV) $(GO) vet ./...
	cd go && $(GO_ENV) $(GO) test -count=1 ./...
	cd go && $(GO_ENV) $(GO) test -count=1 -race -run '^TestConcurrent' ./tfmodel
	cd go && $(GO_ENV) $(GO) test -run '^$$' -fuzz '^FuzzReadNpy$$' -fuzztime $(GO_FUZZTIME) ./npy

# Check only: gofmt lists no file, go vet and staticcheck find nothing (typechecking the cgo
# code needs the same GO_ENV as the build). One summary line when clean.
lint-go: setup-go
	@cd go && unformatted=$$($(GOFMT) -l .) && if [ -n "$$unformatted" ]; then \
	  echo "lint-go: not gofmt-formatted (run 'make format-go'):"; echo "$$unformatted" | sed 's/^/  go\//'; exit 1; fi
	@cd go && $(GO_ENV) $(GO) vet ./...
	@cd go && $(GO_ENV) $(STATICCHECK) ./...
	@echo "lint-go: ok (gofmt, go vet, staticcheck $(STATICCHECK_VERSION))"

format-go:
	cd go && $(GOFMT) -w .

# Every golden set of every saved-model artifact of $(MODELS)/manifest.json, through
# --input-dir/--check-dir (one --check line per output), outputs under $(GO_BUILD)/demo.
demo-go: setup-go
	@test -f $(MODELS)/manifest.json || { echo "demo-go: $(MODELS)/manifest.json not found: run 'make export'"; exit 1; }
	@status=0; while read -r id set dir exp; do \
	  echo "$$id/saved-model/$$set:"; \
	  bin/deploykit-go --manifest $(MODELS)/manifest.json --model $$id --format saved-model \
	    --input-dir $(MODELS)/$$dir --output-dir $(GO_BUILD)/demo/$$id/$$set --check-dir $(MODELS)/$$exp || status=1; \
	done < <($(PY) -c 'import json, posixpath, sys; m = json.load(open(sys.argv[1])); \
	  [print(x["id"], g["name"], *(posixpath.dirname(next(iter(g[k].values()))) for k in ("inputs", "expected"))) for x in m["models"] \
	   if any(a["format"] == "saved-model" for a in x["artifacts"]) for g in x["golden"]]' \
	  $(MODELS)/manifest.json); exit $$status

# Latency (batch 1), throughput (batch 1024), Predict vs a bare session Run, RSS growth.
bench-go: setup-go test-fixtures
	cd go && $(GO_ENV) $(GO) test -run '^$$' -bench '^Benchmark(Predict|SessionRun|PredictVsRun)$$' -benchtime 2s -count 3 ./tfmodel
	cd go && $(GO_ENV) $(GO) test -run '^$$' -bench '^BenchmarkRSSGrowth$$' -benchtime 1x ./tfmodel

.PHONY: go-force
go-force:
