package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"deploykit/go/internal/timing"
	"deploykit/go/manifest"
	"deploykit/go/npy"
	"deploykit/go/parity"
	"deploykit/go/tensor"
	"deploykit/go/tfmodel"
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
	j, err := cfg.tensors.resolve(mod, cfg.format)
	if err != nil {
		return err
	}
	l := newLoader(man, cfg)
	defer l.close()
	return execute(l, j, cfg, stdout, stderr)
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
	if err != nil {
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
// checkOut). A failed check returns an error with exit code 1.
func execute(l *loader, j *job, cfg *config, checkOut, stderr io.Writer) error {
	mod, err := l.man.Model(j.model)
	if err != nil {
		return failModel("model", err)
	}
	if err := checkNames(mod, j); err != nil {
		return err
	}
	inputs, err := readAll(j.inputs, "input")
	if err != nil {
		return err
	}
	checks, err := readAll(j.checks, "check")
	if err != nil {
		return err
	}
	r := l.load(j.model, j.format, stderr)
	if r.err != nil {
		return r.err
	}
	m := r.model
	start := time.Now()
	outputs, err := m.Predict(inputs)
	firstMS := timing.MS(time.Since(start))
	if err != nil {
		return failModel("predict "+m.ID, err)
	}
	for _, s := range mod.Outputs {
		if file, ok := j.outputs[s.Name]; ok {
			if err := npy.WriteFile(file, outputs[s.Name]); err != nil {
				return fail(exitInput, "output "+s.Name, err)
			}
		}
	}
	if cfg.timing != "" || cfg.repeat > 0 || cfg.warmup > 0 {
		if err := timeModel(m, inputs, cfg, r.loadMS, firstMS); err != nil {
			return err
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
		return fail(exitMismatch, "check", fmt.Errorf("%d of %d checked outputs of %s failed: %w", failed, len(checks), m.ID, errMismatch))
	}
	return nil
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

// timeModel runs the --warmup/--repeat calls, Predict and the bare call interleaved, and
// writes the --timing file.
func timeModel(m *tfmodel.Model, inputs map[string]*tensor.Tensor, cfg *config, loadMS, firstMS float64) error {
	var direct func() error
	if cfg.timing != "" { // the bare runtime call on the same inputs, timed alongside
		d, err := m.Direct(inputs)
		if err != nil {
			return failModel("direct "+m.ID, err)
		}
		direct = d.Run
	}
	client := func() error { _, err := m.Predict(inputs); return err }
	lat, directLat, err := timing.Measure(client, direct, cfg.warmup, cfg.repeat)
	if err != nil {
		return failModel("predict "+m.ID, err)
	}
	if cfg.timing == "" {
		return nil
	}
	batch := int64(1)
	if first := inputs[m.Spec.Inputs[0].Name]; len(first.Shape) > 0 {
		batch = first.Shape[0]
	}
	rep := timing.Report{LoadMS: loadMS, FirstMS: firstMS, Batch: batch, Repeat: cfg.repeat, Warmup: cfg.warmup, Direct: tfmodel.DirectDescription}
	if err := timing.Write(cfg.timing, rep, lat, directLat); err != nil {
		return fail(exitInput, "timing", err)
	}
	return nil
}
