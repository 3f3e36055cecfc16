package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/deploykit/deploykit/go/manifest"
)

// tensorFlags are the --input/--output/--check flags and their -dir forms.
type tensorFlags struct {
	inputs, outputs, checks       multi
	inputDir, outputDir, checkDir string
}

func (t *tensorFlags) empty() bool {
	return len(t.inputs)+len(t.outputs)+len(t.checks) == 0 && t.inputDir == "" && t.outputDir == "" && t.checkDir == ""
}

// validate refuses a flag given together with its -dir form.
func (t *tensorFlags) validate() error {
	for _, f := range []struct {
		name string
		vals multi
		dir  string
	}{{"input", t.inputs, t.inputDir}, {"output", t.outputs, t.outputDir}, {"check", t.checks, t.checkDir}} {
		if len(f.vals) > 0 && f.dir != "" {
			return usage(fmt.Sprintf("give --%s or --%s-dir, not both", f.name, f.name))
		}
	}
	return nil
}

// job is one model call: named input files, output files to write and files to check
// against, all resolved to paths.
type job struct {
	id                      *string
	model, format           string
	inputs, outputs, checks map[string]string
	timed                   *timed // nil: the first call only
}

// resolve turns the flags into a job for model mod.
func (t *tensorFlags) resolve(mod *manifest.Model, format string) (*job, error) {
	j := &job{model: mod.ID, format: format}
	var err error
	if j.inputs, err = namedFiles(t.inputs, t.inputDir, mod.Inputs, "input"); err != nil {
		return nil, err
	}
	if j.outputs, err = namedFiles(t.outputs, t.outputDir, mod.Outputs, "output"); err != nil {
		return nil, err
	}
	if j.checks, err = namedFiles(t.checks, t.checkDir, mod.Outputs, "check"); err != nil {
		return nil, err
	}
	return j, nil
}

// namedFiles maps tensor names to files from NAME=FILE values (split at the first '='), a
// bare FILE for a model with one such tensor, or DIR/<name>.npy for every tensor.
func namedFiles(vals []string, dir string, specs []manifest.TensorSpec, flag string) (map[string]string, error) {
	files := map[string]string{}
	if dir != "" {
		for _, s := range specs {
			files[s.Name] = filepath.Join(dir, s.Name+".npy")
		}
		return files, nil
	}
	what := "input"
	if flag != "input" {
		what = "output"
	}
	for _, v := range vals {
		name, file, ok := strings.Cut(v, "=")
		if !ok {
			if len(specs) != 1 || len(vals) != 1 {
				return nil, fail(exitInput, flag, fmt.Errorf("a bare FILE (%q) needs a model with exactly one %s (model %ss: %s); use --%s NAME=FILE",
					v, what, what, strings.Join(manifest.Names(specs), ", "), flag))
			}
			name, file = specs[0].Name, v
		}
		if file == "" {
			return nil, fail(exitInput, flag, fmt.Errorf("%q names no file", v))
		}
		if _, dup := files[name]; dup {
			return nil, fail(exitInput, what+" "+name, fmt.Errorf("given twice"))
		}
		files[name] = file
	}
	return files, nil
}

// checkNames applies the name rules before any file is read: every model input given (the
// contract's first input check) and no unknown input, output or check name.
func checkNames(mod *manifest.Model, j *job) error {
	for _, s := range mod.Inputs {
		if _, ok := j.inputs[s.Name]; !ok {
			return fail(exitInput, "input "+s.Name, fmt.Errorf("missing (model inputs: %s)", strings.Join(manifest.Names(mod.Inputs), ", ")))
		}
	}
	for _, m := range []struct {
		what  string
		files map[string]string
		specs []manifest.TensorSpec
	}{{"input", j.inputs, mod.Inputs}, {"output", j.outputs, mod.Outputs}, {"output", j.checks, mod.Outputs}} {
		names := make([]string, 0, len(m.files))
		for name := range m.files {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			if !slices.Contains(manifest.Names(m.specs), name) {
				return fail(exitInput, m.what+" "+name, fmt.Errorf("unknown %s %q (model %ss: %s)", m.what, name, m.what, strings.Join(manifest.Names(m.specs), ", ")))
			}
		}
	}
	return nil
}

var errMismatch = errors.New("mismatch")
