package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/go/tensor"
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

// TestJobsMalformed: a malformed line stops the run before any job (exit 2, one line naming
// the line, no results).
func TestJobsMalformed(t *testing.T) {
	f := newFixtures(t)
	good := `{"model": "mlp_keras", "inputs": {"input": "` + f.mlpIn + `"}}`
	timed := func(extra string) string { // a good line, then line 2 with extra keys
		return good + "\n" + `{"model": "mlp_keras", "inputs": {"input": "` + f.mlpIn + `"}, ` + extra + "}\n"
	}
	for name, tc := range map[string]struct {
		body string
		line int
	}{
		"not JSON":       {good + "\n{nope\n", 2},
		"no model":       {good + "\n" + `{"inputs": {"input": "x.npy"}}` + "\n", 2},
		"no inputs":      {`{"model": "mlp_keras"}` + "\n", 1},
		"inputs a list":  {`{"model": "mlp_keras", "inputs": ["x.npy"]}` + "\n", 1},
		"repeat 0":       {timed(`"repeat": 0`), 2},
		"repeat -3":      {timed(`"repeat": -3`), 2},
		"repeat 1.5":     {timed(`"repeat": 1.5`), 2},
		"repeat 2.0":     {timed(`"repeat": 2.0`), 2},
		"repeat 1e2":     {timed(`"repeat": 1e2`), 2},
		"repeat string":  {timed(`"repeat": "5"`), 2},
		"repeat null":    {timed(`"repeat": null`), 2},
		"repeat bool":    {timed(`"repeat": true`), 2},
		"warmup -1":      {timed(`"repeat": 5, "warmup": -1`), 2},
		"warmup 0.5":     {timed(`"repeat": 5, "warmup": 0.5`), 2},
		"warmup string":  {timed(`"repeat": 5, "warmup": "2"`), 2},
		"warmup alone":   {timed(`"warmup": 2`), 2},
		"warmup 0 alone": {timed(`"warmup": 0`), 2},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel() // each case is a process start
			r := runCLI(t, "--manifest", f.manifest, "--jobs", f.file(t, strings.ReplaceAll(name, " ", "_")+".jsonl", []byte(tc.body)))
			if r.code != 2 || r.stdout != "" || !strings.HasPrefix(r.stderr, "error: jobs: ") || strings.Count(r.stderr, "\n") != 1 ||
				!strings.Contains(r.stderr, fmt.Sprintf(" line %d: ", tc.line)) {
				t.Errorf("exit %d stdout %q stderr %q, want exit 2 naming line %d", r.code, r.stdout, r.stderr, tc.line)
			}
		})
	}
}

// TestJobsTimed: a job with "repeat" (and "warmup") is timed as --repeat/--warmup/--timing
// would time it and its result line carries that report as "timing"; load_ms is the one
// load of its (model, format); untimed and failed jobs have no "timing".
func TestJobsTimed(t *testing.T) {
	f := newFixtures(t)
	one := &tensor.Tensor{DType: tensor.Float32, Shape: []int64{1, 10}, Data: mustRead(t, f.mlpIn).Data[:40]}
	oneIn := f.tensor(t, "one.npy", one)
	lines := []string{
		`{"id": "b64", "model": "mlp_keras", "inputs": {"input": "` + f.mlpIn + `"}, "check": {"output": "` + f.mlpWant + `"}, "repeat": 25, "warmup": 2}`,
		`{"id": "plain", "model": "mlp_keras", "inputs": {"input": "` + f.mlpIn + `"}}`,
		`{"id": "b1", "model": "mlp_keras", "format": "saved-model", "inputs": {"input": "` + oneIn + `"}, "repeat": 1}`,
		`{"id": "mismatch", "model": "mlp_keras", "inputs": {"input": "` + f.spIn + `"}, "check": {"output": "` + f.mlpWant + `"}, "repeat": 3}`,
		`{"id": "bad-input", "model": "mlp_keras", "inputs": {"input": "` + f.mlpIn + `", "mask": "` + f.mlpIn + `"}, "repeat": 3}`,
	}
	jobs := f.file(t, "timed.jsonl", []byte(strings.Join(lines, "\n")+"\n"))
	r := runCLI(t, "--manifest", f.manifest, "--jobs", jobs)
	if r.code != 1 {
		t.Errorf("exit %d, want 1 (stderr %q)", r.code, r.stderr)
	}
	got := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(got) != len(lines) {
		t.Fatalf("%d result lines, want %d: %q", len(got), len(lines), r.stdout)
	}
	type report struct {
		LoadMS    *float64           `json:"load_ms"`
		FirstMS   *float64           `json:"first_ms"`
		Batch     int64              `json:"batch"`
		Repeat    int                `json:"repeat"`
		Warmup    int                `json:"warmup"`
		LatencyUS map[string]float64 `json:"latency_us"`
		DirectUS  map[string]float64 `json:"direct_latency_us"`
		Direct    string             `json:"direct"`
		SamplesUS *samplesUS         `json:"samples_us"`
	}
	reports := map[string]*report{}
	for i, line := range got {
		var res map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			t.Fatalf("line %d %q: %v", i, line, err)
		}
		if exit := string(res["exit"]); exit != []string{"0", "0", "0", "1", "2"}[i] {
			t.Errorf("line %d: exit %s in %s", i, exit, line)
		}
		var id string
		json.Unmarshal(res["id"], &id)
		raw, ok := res["timing"]
		if !ok {
			continue
		}
		var rep report
		if err := json.Unmarshal(raw, &rep); err != nil {
			t.Fatalf("line %d timing %s: %v", i, raw, err)
		}
		reports[id] = &rep
	}
	if len(reports) != 2 || reports["b64"] == nil || reports["b1"] == nil {
		t.Fatalf("timing on %v, want on b64 and b1 only: %s", reports, r.stdout)
	}
	for id, want := range map[string]struct {
		batch          int64
		repeat, warmup int
	}{"b64": {64, 25, 2}, "b1": {1, 1, 0}} {
		rep := reports[id]
		if rep.LoadMS == nil || !(*rep.LoadMS > 0) || rep.FirstMS == nil || !(*rep.FirstMS > 0) || rep.Batch != want.batch ||
			rep.Repeat != want.repeat || rep.Warmup != want.warmup || rep.Direct == "" || strings.Contains(rep.Direct, "\n") {
			t.Errorf("%s: timing %+v, want batch %d repeat %d warmup %d", id, rep, want.batch, want.repeat, want.warmup)
		}
		checkSamples(t, rep.SamplesUS, want.repeat, min(want.repeat, 10), rep.LatencyUS["p50"], rep.DirectUS["p50"])
		for what, lat := range map[string]map[string]float64{"latency_us": rep.LatencyUS, "direct_latency_us": rep.DirectUS} {
			if len(lat) != 4 || !(lat["p50"] > 0) || lat["p50"] > lat["p90"] || lat["p90"] > lat["p99"] || !(lat["mean"] > 0) || math.IsInf(lat["p99"], 0) {
				t.Errorf("%s: %s %v, want p50 <= p90 <= p99, all positive", id, what, lat)
			}
		}
	}
	if *reports["b64"].LoadMS != *reports["b1"].LoadMS {
		t.Errorf("load_ms %v and %v for one (model, format), want the same", *reports["b64"].LoadMS, *reports["b1"].LoadMS)
	}
}
