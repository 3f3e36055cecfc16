package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/go/internal/testfix"
	"github.com/deploykit/deploykit/go/manifest"
	"github.com/deploykit/deploykit/go/tfmodel"
)

// skewExport copies the test export's mlp_keras, mlp_flax and mlp_jax into a temp dir and
// sets min_runtime of the saved-model artifacts named in mins (model id -> the object).
func skewExport(t *testing.T, f fixtures, mins map[string]any) string {
	t.Helper()
	p := testfix.CopyExport(t, f.manifest, "mlp_keras", "mlp_flax", "mlp_jax")
	testfix.EditManifest(t, p, func(doc map[string]any) {
		for id, mr := range mins {
			testfix.Artifact(t, doc, id, tfmodel.Format)["min_runtime"] = mr
		}
	})
	return p
}

// skewLine matches the contract's one line for an artifact built for tensorflow >= need,
// with have read from TF_Version() as the client reads it; the binding part is optional.
func skewLine(t *testing.T, id, need string) *regexp.Regexp {
	t.Helper()
	_, have, ok := manifest.RuntimeVersion(tfmodel.RuntimeVersion())
	if !ok {
		t.Fatalf("TF_Version() %q has no readable version", tfmodel.RuntimeVersion())
	}
	return regexp.MustCompile(`^` + regexp.QuoteMeta(id+"/saved-model: built for tensorflow >= "+need+", this client runs tensorflow "+have) + `( \([^()\n]+\))?$`)
}

// TestVersionSkew: an artifact whose min_runtime.tensorflow is newer than the linked library
// is refused with exit 3 and exactly the contract's one line (before its sha256 is checked);
// one built for an older TensorFlow runs and passes --check; other families and a missing
// min_runtime are not checked; a malformed version is a malformed manifest (exit 2).
func TestVersionSkew(t *testing.T) {
	f := newFixtures(t)
	_, have, _ := manifest.RuntimeVersion(tfmodel.RuntimeVersion())
	run := func(t *testing.T, manifestPath string, extra ...string) result {
		return runCLI(t, append([]string{"--manifest", manifestPath, "--model", "mlp_keras", "--input", f.mlpIn, "--check", f.mlpWant}, extra...)...)
	}

	t.Run("newer tensorflow refused", func(t *testing.T) {
		p := skewExport(t, f, map[string]any{"mlp_keras": map[string]any{"tensorflow": "99.0.0", "torch": "1.0"}})
		// Damage the artifact: the skew check comes first, so this is not an integrity error.
		os.WriteFile(filepath.Join(filepath.Dir(p), "mlp_keras", "saved_model", "fingerprint.pb"), []byte("x"), 0o644)
		for _, extra := range [][]string{nil, {"--verbose"}} {
			r := run(t, p, extra...)
			line := strings.TrimSuffix(r.stderr, "\n")
			if r.code != 3 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(line, "error: ") ||
				!skewLine(t, "mlp_keras", "99.0.0").MatchString(strings.TrimPrefix(line, "error: ")) {
				t.Errorf("%v: exit %d stdout %q stderr %q; want exit 3 and one line matching %s", extra, r.code, r.stdout, r.stderr, skewLine(t, "mlp_keras", "99.0.0"))
			}
		}
	})

	for name, minRuntime := range map[string]any{
		"older tensorflow":        map[string]any{"tensorflow": "1.0.0"},
		"same tensorflow":         map[string]any{"tensorflow": have},
		"other families only":     map[string]any{"torch": "99.0.0", "onnxruntime": "99", "tfjs": "99.1", "future_runtime": "99"},
		"empty min_runtime":       map[string]any{},
		"older tensorflow, major": map[string]any{"tensorflow": "2"},
		"other artifact is newer": nil, // only mlp_flax's (always 99.0.0) has one: the check is per artifact
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // each case is a process start
			mins := map[string]any{"mlp_flax": map[string]any{"tensorflow": "99.0.0"}}
			if minRuntime != nil {
				mins["mlp_keras"] = minRuntime
			}
			r := run(t, skewExport(t, f, mins))
			if r.code != 0 || !strings.HasPrefix(r.stdout, "check output: pass") || r.stderr != "" {
				t.Errorf("exit %d stdout %q stderr %q; want the model to run and --check to pass", r.code, r.stdout, r.stderr)
			}
		})
	}

	t.Run("malformed version", func(t *testing.T) {
		p := skewExport(t, f, map[string]any{"mlp_flax": map[string]any{"tensorflow": "2.19.0-rc1"}})
		r := run(t, p)
		want := "error: malformed manifest: " + p + `: model mlp_flax: artifact saved-model: min_runtime tensorflow: "2.19.0-rc1" is not a version (want MAJOR[.MINOR[.PATCH]], digits only)` + "\n"
		if r.code != 2 || r.stderr != want {
			t.Errorf("exit %d stderr %q; want exit 2 and %q", r.code, r.stderr, want)
		}
	})
}

// TestJobsVersionSkew: in --jobs a refused artifact is a failed job like any other load
// failure (exit 3 and the message in its result line, here beside a sha256 mismatch), the
// other jobs run, and the process exits with the first failing job's code.
func TestJobsVersionSkew(t *testing.T) {
	f := newFixtures(t)
	p := skewExport(t, f, map[string]any{
		"mlp_keras": map[string]any{"tensorflow": "99.0.0"},
		"mlp_flax":  map[string]any{"tensorflow": "1.0.0"},
	})
	os.WriteFile(filepath.Join(filepath.Dir(p), "mlp_jax", "saved_model", "fingerprint.pb"), []byte("x"), 0o644)
	golden := func(id, file string) string {
		return filepath.Join(filepath.Dir(f.manifest), id, "golden", "golden", file)
	}
	job := func(jobID, model string, check bool) string {
		j := map[string]any{"id": jobID, "model": model, "inputs": map[string]string{"input": golden(model, "input.npy")}}
		if check {
			j["check"] = map[string]string{"output": golden(model, filepath.Join("expected", "output.npy"))}
		}
		line, _ := json.Marshal(j)
		return string(line)
	}
	lines := []string{job("skew", "mlp_keras", true), job("older", "mlp_flax", true), job("tampered", "mlp_jax", false), job("skew-again", "mlp_keras", false)}
	r := runCLI(t, "--manifest", p, "--jobs", f.file(t, "skew.jsonl", []byte(strings.Join(lines, "\n")+"\n")))
	if r.code != 3 {
		t.Errorf("exit %d, want 3 (stderr %q)", r.code, r.stderr)
	}
	got := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(got) != len(lines) {
		t.Fatalf("%d result lines, want %d: %q", len(got), len(lines), r.stdout)
	}
	skew := skewLine(t, "mlp_keras", "99.0.0")
	for i, want := range []struct {
		exit int
		err  *regexp.Regexp // nil: no error
	}{{3, skew}, {0, nil}, {3, regexp.MustCompile(`^load mlp_jax: integrity check failed: .*sha256`)}, {3, skew}} {
		var res struct {
			Exit  int     `json:"exit"`
			Error *string `json:"error"`
		}
		if err := json.Unmarshal([]byte(got[i]), &res); err != nil {
			t.Fatalf("line %d %q: %v", i, got[i], err)
		}
		if res.Exit != want.exit || (res.Error == nil) != (want.err == nil) || (res.Error != nil && !want.err.MatchString(*res.Error)) {
			t.Errorf("line %d: %s; want exit %d, error matching %v", i, got[i], want.exit, want.err)
		}
	}
	if !strings.HasPrefix(r.stderr, "check output: pass") {
		t.Errorf("stderr %q, want the older-TensorFlow job's check line", r.stderr)
	}
}
