package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/deploykit/deploykit/go/internal/timing"
	"github.com/deploykit/deploykit/go/manifest"
	"github.com/deploykit/deploykit/go/npy"
	"github.com/deploykit/deploykit/go/parity"
	"github.com/deploykit/deploykit/go/tensor"
	"github.com/deploykit/deploykit/go/tfmodel"
)

// run executes the parsed command line.
func run(cfg *config, stdout, stderr io.Writer) error {
	man, err := manifest.Read(cfg.manifest)
	if errors.Is(err, manifest.ErrVersion) {
		return fail(exitModel, "", err) // the message names the manifest
	} else if errors.Is(err, manifest.ErrInvalid) {
		return fail(exitInput, "", err)
	} else if err != nil {
		return fail(exitInput, "manifest", err)
	}
	if cfg.jobs != "" {
		return runJobs(cfg, man, stdout, stderr)
	}
	mod, err := man.Model(cfg.model)
	if err != nil {
		return failModel("model", err)
	}
	if cfg.generating() {
		return generate(cfg, man, mod, stdout, stderr)
	}
	j, err := cfg.tensors.resolve(mod, cfg.format)
	if err != nil {
		return err
	}
	if cfg.timing != "" || cfg.repeat > 0 || cfg.warmup > 0 {
		j.timed = &timed{repeat: cfg.repeat, warmup: cfg.warmup, report: cfg.timing != ""}
	}
	l := newLoader(man, cfg)
	defer l.close()
	rep, err := execute(l, j, stdout, stderr)
	if rep != nil { // written even when a check then failed
		if werr := timing.Write(cfg.timing, rep); werr != nil {
			return fail(exitInput, "timing", werr)
		}
	}
	return err
}

// loaded is one (model, format) load, kept for every job that names it.
type loaded struct {
	model  *tfmodel.Model
	err    error
	loadMS float64
}

// loader loads each (model, format) once.
type loader struct {
	man   *manifest.Manifest
	cfg   *config
	cache map[[2]string]*loaded
}

func newLoader(man *manifest.Manifest, cfg *config) *loader {
	return &loader{man: man, cfg: cfg, cache: map[[2]string]*loaded{}}
}

func (l *loader) load(id, format string, stderr io.Writer) *loaded {
	if format == "" {
		format = tfmodel.Format
	}
	key := [2]string{id, format}
	if r, ok := l.cache[key]; ok {
		return r
	}
	opts := []tfmodel.Option{}
	if format != "" {
		opts = append(opts, tfmodel.WithFormat(format))
	}
	if l.cfg.allowUnsafe {
		opts = append(opts, tfmodel.AllowUnsafeOps())
	}
	start := time.Now()
	m, err := tfmodel.LoadManifest(l.man, id, opts...)
	r := &loaded{model: m, err: err, loadMS: timing.MS(time.Since(start))}
	var skew *tfmodel.RuntimeVersionError
	if errors.As(err, &skew) {
		r.err = fail(exitModel, "", err) // the contract's line names the model and format itself
	} else if err != nil {
		r.err = failModel("load "+id, err)
	} else if l.cfg.verbose {
		fmt.Fprintf(stderr, "loaded %s/%s from %q in %.1f ms (inputs %v, outputs %v)\n",
			m.ID, tfmodel.Format, m.Artifact.Path, r.loadMS, manifest.Names(m.Spec.Inputs), manifest.Names(m.Spec.Outputs))
	}
	l.cache[key] = r
	return r
}

func (l *loader) close() {
	for _, r := range l.cache {
		if r.model != nil {
			r.model.Close()
		}
	}
}

// execute runs one job: read its inputs and check files, load the model (once), predict,
// write the outputs, time it if asked, and compare with the check files (one line each on
// checkOut). A failed check returns an error with exit code 1. The timing report (for a job
// timed with report set) is returned once made, even alongside a failed check.
func execute(l *loader, j *job, checkOut, stderr io.Writer) (*timing.Report, error) {
	mod, err := l.man.Model(j.model)
	if err != nil {
		return nil, failModel("model", err)
	}
	if err := checkNames(mod, j); err != nil {
		return nil, err
	}
	inputs, err := readAll(j.inputs, "input")
	if err != nil {
		return nil, err
	}
	checks, err := readAll(j.checks, "check")
	if err != nil {
		return nil, err
	}
	r := l.load(j.model, j.format, stderr)
	if r.err != nil {
		return nil, r.err
	}
	m := r.model
	start := time.Now()
	outputs, err := m.Predict(inputs)
	firstMS := timing.MS(time.Since(start))
	if err != nil {
		return nil, failModel("predict "+m.ID, err)
	}
	for _, s := range mod.Outputs {
		if file, ok := j.outputs[s.Name]; ok {
			if err := npy.WriteFile(file, outputs[s.Name]); err != nil {
				return nil, fail(exitInput, "output "+s.Name, err)
			}
		}
	}
	var rep *timing.Report
	if j.timed != nil {
		if rep, err = timeModel(m, inputs, j.timed, r.loadMS, firstMS); err != nil {
			return nil, err
		}
	}
	failed := 0
	for _, s := range mod.Outputs {
		want, ok := checks[s.Name]
		if !ok {
			continue
		}
		tol := m.Artifact.Tolerance.For(s.Name)
		res := parity.Compare(outputs[s.Name], want, tol.Atol, tol.Rtol)
		fmt.Fprintln(checkOut, parity.Summary(s.Name, res, outputs[s.Name], want, tol.Atol, tol.Rtol))
		if !res.Pass {
			failed++
		}
	}
	if failed > 0 {
		return rep, fail(exitMismatch, "check", fmt.Errorf("%d of %d checked outputs of %s failed: %w", failed, len(checks), m.ID, errMismatch))
	}
	return rep, nil
}

// readAll reads every named .npy file.
func readAll(files map[string]string, what string) (map[string]*tensor.Tensor, error) {
	out := make(map[string]*tensor.Tensor, len(files))
	for name, file := range files {
		t, err := npy.ReadFile(file)
		if err != nil {
			return nil, fail(exitInput, what+" "+name, err)
		}
		out[name] = t
	}
	return out, nil
}

// timed is how a job is timed after its first call: warmup untimed and repeat timed calls of
// Predict. With report set the bare runtime call is timed alongside, interleaved, and a
// timing report is made (the --timing file, or a timed --jobs job's "timing").
type timed struct {
	repeat, warmup int
	report         bool
}

// timeModel makes the timed calls t asks for and, with t.report, returns the report.
func timeModel(m *tfmodel.Model, inputs map[string]*tensor.Tensor, t *timed, loadMS, firstMS float64) (*timing.Report, error) {
	var direct func() error
	if t.report { // the bare runtime call on the same inputs, timed alongside
		d, err := m.Direct(inputs)
		if err != nil {
			return nil, failModel("direct "+m.ID, err)
		}
		direct = d.Run
	}
	client := func() error { _, err := m.Predict(inputs); return err }
	lat, directLat, err := timing.Measure(client, direct, t.warmup, t.repeat)
	if err != nil {
		return nil, failModel("predict "+m.ID, err)
	}
	if !t.report {
		return nil, nil
	}
	batch := int64(1)
	if first := inputs[m.Spec.Inputs[0].Name]; len(first.Shape) > 0 {
		batch = first.Shape[0]
	}
	rep := &timing.Report{LoadMS: loadMS, FirstMS: firstMS, Batch: batch, Repeat: t.repeat, Warmup: t.warmup, Direct: tfmodel.DirectDescription}
	rep.Fill(lat, directLat)
	return rep, nil
}
