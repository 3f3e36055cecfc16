package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestJobs: one process runs every job in order, loads each (model, format) once, prints
// one JSON line per job with the exit code that job would have had alone, and exits with
// the first non-zero one.
func TestJobs(t *testing.T) {
	f := newFixtures(t)
	dir := filepath.Dir(f.manifest)
	wide := filepath.Join(dir, "wide_keras", "golden", "golden")
	outDir := filepath.Join(f.tmp, "jobs-out")
	lines := []string{
		`{"id": "mlp/golden", "model": "mlp_keras", "format": "saved-model", "inputs": {"input": "` + f.mlpIn + `"}, "check": {"output": "` + f.mlpWant + `"}}`,
		``,
		`{"id": "wide/golden", "model": "wide_keras", "inputs": {"input": "` + filepath.Join(wide, "input.npy") + `"}, "outputs": {"output": "out/wide.npy"}, "check": {"output": "` + filepath.Join(wide, "expected", "output.npy") + `"}}`,
		`{"id": "mlp/mismatch", "model": "mlp_keras", "inputs": {"input": "` + f.spIn + `"}, "check": {"output": "` + f.mlpWant + `"}}`,
		`{"model": "nope", "inputs": {"input": "` + f.mlpIn + `"}}`,
		`{"id": "mlp/special", "model": "mlp_keras", "inputs": {"input": "` + f.spIn + `"}, "check": {"output": "` + f.spWant + `"}}`,
		`{"id": "mlp/bad-name", "model": "mlp_keras", "inputs": {"input": "` + f.mlpIn + `", "mask": "` + f.mlpIn + `"}}`,
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	jobs := f.file(t, "jobs-out/jobs.jsonl", []byte(strings.Join(lines, "\n")+"\n"))
	r := runCLI(t, "--manifest", f.manifest, "--jobs", jobs, "--verbose")
	if r.code != 1 {
		t.Errorf("exit %d, want 1 (the first failing job's)", r.code)
	}
	if n := strings.Count(r.stderr, "loaded mlp_keras/"); n != 1 {
		t.Errorf("mlp_keras loaded %d times, want once (stderr %q)", n, r.stderr)
	}
	want := []struct {
		id   any
		exit int
		err  string
	}{{"mlp/golden", 0, ""}, {"wide/golden", 0, ""}, {"mlp/mismatch", 1, "check: 1 of 1 checked outputs"}, {nil, 2, "unknown model"},
		{"mlp/special", 0, ""}, {"mlp/bad-name", 2, `input mask: unknown input "mask"`}}
	got := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("%d result lines, want %d: %q", len(got), len(want), r.stdout)
	}
	for i, line := range got {
		var res map[string]any
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			t.Fatalf("line %d %q: %v", i, line, err)
		}
		w := want[i]
		if res["id"] != w.id || res["index"] != float64(i) || res["exit"] != float64(w.exit) {
			t.Errorf("line %d: %s, want id %v exit %d", i, line, w.id, w.exit)
		}
		if msg, _ := res["error"].(string); (w.err == "") != (res["error"] == nil) || !strings.Contains(msg, w.err) || strings.HasPrefix(msg, "error: ") {
			t.Errorf("line %d: error %v, want %q", i, res["error"], w.err)
		}
		if s, ok := res["seconds"].(float64); !ok || s < 0 {
			t.Errorf("line %d: seconds %v", i, res["seconds"])
		}
	}
	if _, err := os.Stat(filepath.Join(outDir, "out", "wide.npy")); err != nil {
		t.Errorf("relative output path not resolved against the jobs file's folder: %v", err)
	}
}

// TestJobsMalformed: a malformed line stops the run before any job (exit 2, no results).
func TestJobsMalformed(t *testing.T) {
	f := newFixtures(t)
	good := `{"model": "mlp_keras", "inputs": {"input": "` + f.mlpIn + `"}}`
	for name, body := range map[string]string{
		"not JSON":      good + "\n{nope\n",
		"no model":      good + "\n" + `{"inputs": {"input": "x.npy"}}` + "\n",
		"no inputs":     `{"model": "mlp_keras"}` + "\n",
		"inputs a list": `{"model": "mlp_keras", "inputs": ["x.npy"]}` + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			r := runCLI(t, "--manifest", f.manifest, "--jobs", f.file(t, "bad.jsonl", []byte(body)))
			if r.code != 2 || r.stdout != "" || !strings.HasPrefix(r.stderr, "error: jobs: ") || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
			}
		})
	}
}
