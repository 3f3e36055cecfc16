package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"deploykit/go/manifest"
)

// jobLine is one line of a --jobs file.
type jobLine struct {
	ID      *string           `json:"id"`
	Model   string            `json:"model"`
	Format  string            `json:"format"`
	Inputs  map[string]string `json:"inputs"`
	Outputs map[string]string `json:"outputs"`
	Check   map[string]string `json:"check"`
}

// jobResult is the JSON line printed for each job.
type jobResult struct {
	ID      *string `json:"id"`
	Index   int     `json:"index"`
	Exit    int     `json:"exit"`
	Error   *string `json:"error"`
	Seconds float64 `json:"seconds"`
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
		j.inputs, j.outputs, j.checks = rel(base, jl.Inputs), rel(base, jl.Outputs), rel(base, jl.Check)
		jobs = append(jobs, j)
	}
	return jobs, nil
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
		err := execute(l, j, cfg, stderr, stderr)
		res := jobResult{ID: j.id, Index: i, Seconds: time.Since(start).Seconds()}
		if err != nil {
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
