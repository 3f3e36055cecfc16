package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/deploykit/deploykit/go/internal/timing"
	"github.com/deploykit/deploykit/go/manifest"
)

// jobLine is one line of a --jobs file.
type jobLine struct {
	ID      *string           `json:"id"`
	Model   string            `json:"model"`
	Format  string            `json:"format"`
	Inputs  map[string]string `json:"inputs"`
	Outputs map[string]string `json:"outputs"`
	Check   map[string]string `json:"check"`
	// Repeat and Warmup stay raw so that 2.0, "2" or null are refused, not coerced.
	Repeat json.RawMessage `json:"repeat"`
	Warmup json.RawMessage `json:"warmup"`
}

// jobResult is the JSON line printed for each job.
type jobResult struct {
	ID      *string `json:"id"`
	Index   int     `json:"index"`
	Exit    int     `json:"exit"`
	Error   *string `json:"error"`
	Seconds float64 `json:"seconds"`
	// Timing is the --timing report of a timed job that exited 0; absent otherwise.
	Timing *timing.Report `json:"timing,omitempty"`
}

// readJobs reads and validates the whole jobs file; relative paths are resolved against
// its folder. A malformed line fails the whole file (exit 2) before any job runs.
func readJobs(file string) ([]*job, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fail(exitInput, "jobs", err)
	}
	base := filepath.Dir(file)
	var jobs []*job
	for n, line := range bytes.Split(raw, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		bad := func(why string) error {
			return fail(exitInput, "jobs", fmt.Errorf("%s line %d: %s", file, n+1, why))
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		var jl jobLine
		if err := dec.Decode(&jl); err != nil {
			return nil, bad(err.Error())
		}
		if dec.More() {
			return nil, bad("more than one JSON value")
		}
		if jl.Model == "" {
			return nil, bad(`"model" is missing`)
		}
		if len(jl.Inputs) == 0 {
			return nil, bad(`"inputs" is missing or empty`)
		}
		j := &job{id: jl.ID, model: jl.Model, format: jl.Format}
		if j.timed, err = jobTiming(jl.Repeat, jl.Warmup); err != nil {
			return nil, bad(err.Error())
		}
		j.inputs, j.outputs, j.checks = rel(base, jl.Inputs), rel(base, jl.Outputs), rel(base, jl.Check)
		jobs = append(jobs, j)
	}
	return jobs, nil
}

// jobTiming reads a job's "repeat" (an integer >= 1) and "warmup" (an integer >= 0, only
// with "repeat"); without "repeat" the job is not timed.
func jobTiming(repeat, warmup json.RawMessage) (*timed, error) {
	if repeat == nil {
		if warmup != nil {
			return nil, fmt.Errorf(`"warmup" needs "repeat"`)
		}
		return nil, nil
	}
	t := &timed{report: true}
	var ok bool
	if t.repeat, ok = jsonInt(repeat, 1); !ok {
		return nil, fmt.Errorf(`"repeat" must be an integer >= 1, got %s`, repeat)
	}
	if warmup != nil {
		if t.warmup, ok = jsonInt(warmup, 0); !ok {
			return nil, fmt.Errorf(`"warmup" must be an integer >= 0, got %s`, warmup)
		}
	}
	return t, nil
}

// jsonInt is a JSON integer literal (no fraction or exponent) of at least lo.
func jsonInt(raw json.RawMessage, lo int) (int, bool) {
	n, err := strconv.Atoi(string(bytes.TrimSpace(raw)))
	return n, err == nil && n >= lo
}

func rel(base string, files map[string]string) map[string]string {
	out := make(map[string]string, len(files))
	for name, f := range files {
		if !filepath.IsAbs(f) {
			f = filepath.Join(base, f)
		}
		out[name] = f
	}
	return out
}

// runJobs runs every job of cfg.jobs in order, loading each (model, format) once, and
// prints one JSON line per job. It fails with the first non-zero job exit code.
func runJobs(cfg *config, man *manifest.Manifest, stdout, stderr io.Writer) error {
	jobs, err := readJobs(cfg.jobs)
	if err != nil {
		return err
	}
	l := newLoader(man, cfg)
	defer l.close()
	out := bufio.NewWriter(stdout)
	var first error
	for i, j := range jobs {
		start := time.Now()
		// Check lines go to stderr: stdout carries only the JSON lines.
		rep, err := execute(l, j, stderr, stderr)
		res := jobResult{ID: j.id, Index: i, Seconds: time.Since(start).Seconds()}
		if err == nil {
			res.Timing = rep
		} else {
			res.Exit = exitCode(err)
			msg := oneLine(err, false)
			res.Error = &msg
			if first == nil {
				first = err
			}
		}
		line, _ := json.Marshal(res)
		out.Write(append(line, '\n'))
		out.Flush()
	}
	if first != nil {
		return &cliError{code: exitCode(first), what: "jobs", err: quiet{first}}
	}
	return nil
}

// quiet marks an error whose jobs already reported it.
type quiet struct{ error }

func (q quiet) Unwrap() error { return q.error }
