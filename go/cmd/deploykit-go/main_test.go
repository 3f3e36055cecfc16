package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/go/internal/testfix"
	"github.com/deploykit/deploykit/go/npy"
	"github.com/deploykit/deploykit/go/tensor"
)

// cliBinary is the CLI built once by TestMain, with projectVersion linked in.
var cliBinary, projectVersion string

func TestMain(m *testing.M) {
	// The version comes from the repository's VERSION file at link time, as in mk/go.mk.
	v, err := os.ReadFile(filepath.Join("..", "..", "..", "VERSION"))
	if projectVersion = strings.TrimSpace(string(v)); err != nil || projectVersion == "" {
		fmt.Fprintf(os.Stderr, "the repository's VERSION file is missing or empty (%v)\n", err)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "deploykit-go-cli-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cliBinary = filepath.Join(dir, "deploykit-go")
	build := exec.Command("go", "build", "-ldflags", "-X main.version="+projectVersion, "-o", cliBinary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the CLI:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string // stderr: the program's own messages (DEPLOYKIT_STDERR_FD)
}

// runCLI runs the built binary as the launcher does: TensorFlow's load-time logging on
// fd 2 is discarded, the program's messages arrive on fd 3.
func runCLI(t *testing.T, args ...string) result {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cliBinary, args...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.ExtraFiles = []*os.File{w}
	cmd.Env = append(os.Environ(), "DEPLOYKIT_STDERR_FD=3", "TF_CPP_MIN_LOG_LEVEL=3")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	var stderr bytes.Buffer
	stderr.ReadFrom(r)
	r.Close()
	err = cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// fixtures is the set of files the cases refer to, built once per test.
type fixtures struct {
	manifest, unsafe, tmp string
	mlp, mlpIn, mlpWant   string // the golden set's folder, its input and expected output
	special, spIn, spWant string // the special set's
	unsafeIn, unsafeWant  string
}

func newFixtures(t *testing.T) fixtures {
	mp := testfix.Manifest(t, "DEPLOYKIT_TEST_MANIFEST")
	up := testfix.Manifest(t, "DEPLOYKIT_UNSAFE_MANIFEST")
	g := filepath.Join(filepath.Dir(mp), "mlp_keras", "golden", "golden")
	sp := filepath.Join(filepath.Dir(mp), "mlp_keras", "golden", "special")
	ug := filepath.Join(filepath.Dir(up), "unsafe_readfile", "golden", "golden")
	return fixtures{
		manifest: mp, unsafe: up, tmp: t.TempDir(),
		mlp: g, mlpIn: filepath.Join(g, "input.npy"), mlpWant: filepath.Join(g, "expected", "output.npy"),
		special: sp, spIn: filepath.Join(sp, "input.npy"), spWant: filepath.Join(sp, "expected", "output.npy"),
		unsafeIn: filepath.Join(ug, "input.npy"), unsafeWant: filepath.Join(ug, "expected", "output.npy"),
	}
}

// file writes raw bytes to a temp file and returns its path.
func (f fixtures) file(t *testing.T, name string, raw []byte) string {
	t.Helper()
	p := filepath.Join(f.tmp, name)
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// tensor writes x as .npy to a temp file.
func (f fixtures) tensor(t *testing.T, name string, x *tensor.Tensor) string {
	t.Helper()
	p := filepath.Join(f.tmp, name)
	if err := npy.WriteFile(p, x); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustRead(t *testing.T, p string) *tensor.Tensor {
	t.Helper()
	m, err := npy.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// twoInputs is a copy of the export whose mlp_keras claims a second input, "mask": the
// command line's name rules are checked before the model loads.
func twoInputs(t *testing.T, f fixtures) string {
	p := testfix.CopyExport(t, f.manifest, "mlp_keras")
	testfix.EditManifest(t, p, func(doc map[string]any) {
		for _, m := range doc["models"].([]any) {
			if mod := m.(map[string]any); mod["id"] == "mlp_keras" {
				mod["inputs"] = append(mod["inputs"].([]any), map[string]any{"name": "mask", "dtype": "bool", "shape": []any{"batch", 10}})
			}
		}
		for _, m := range doc["models"].([]any) {
			if m.(map[string]any)["id"] != "mlp_keras" {
				continue
			}
			for _, a := range m.(map[string]any)["artifacts"].([]any) {
				if keys, ok := a.(map[string]any)["input_keys"].(map[string]any); ok {
					keys["mask"] = "mask"
				}
			}
		}
	})
	return p
}

// TestBadInputs: every bad input of the contract gets its exit code and exactly one
// "error: <what>: <why>" line on stderr.
func TestBadInputs(t *testing.T) {
	f := newFixtures(t)
	out := filepath.Join(f.tmp, "out.npy")
	run := func(extra ...string) []string {
		return append([]string{"--manifest", f.manifest, "--model", "mlp_keras", "--input", f.mlpIn, "--output", out}, extra...)
	}
	with := func(args []string, flag, value string) []string {
		args = append([]string(nil), args...)
		for i := range args {
			if args[i] == flag {
				args[i+1] = value
			}
		}
		return args
	}
	six := testfix.Floats(1, 2, 3, 4, 5, 6)
	ten := testfix.Floats(make([]float32, 20)...)
	npyFile := func(name, descr, shape string, data []byte, fortran bool) string {
		fo := "False"
		if fortran {
			fo = "True"
		}
		return f.file(t, name, testfix.RawNpy(1, "{'descr': '"+descr+"', 'fortran_order': "+fo+", 'shape': "+shape+", }", data))
	}
	malformed := f.file(t, "malformed.json", []byte(`{"schema_version": 2, "models": [`))
	v1 := f.file(t, "v1.json", []byte(`{"schema_version": 1, "models": []}`))
	notDir := f.file(t, "plain-file", []byte("x"))
	two := twoInputs(t, f)

	// A copy whose artifact no longer matches its hash, and one without the deny-list.
	tampered := testfix.CopyExport(t, f.manifest, "mlp_keras")
	os.WriteFile(filepath.Join(filepath.Dir(tampered), "mlp_keras", "saved_model", "fingerprint.pb"), []byte("x"), 0o644)
	noDeny := testfix.CopyExport(t, f.manifest, "mlp_keras")
	os.Remove(filepath.Join(filepath.Dir(noDeny), "unsafe_ops.json"))
	// A copy in which mlp_torch has no saved-model artifact (the export has every format).
	noSaved := testfix.CopyExport(t, f.manifest)
	testfix.EditManifest(t, noSaved, func(doc map[string]any) {
		testfix.Artifact(t, doc, "mlp_torch", "saved-model") // fails the test if there is none to drop
		for _, m := range doc["models"].([]any) {
			if mod := m.(map[string]any); mod["id"] == "mlp_torch" {
				mod["artifacts"] = slices.DeleteFunc(mod["artifacts"].([]any), func(a any) bool { return a.(map[string]any)["format"] == "saved-model" })
			}
		}
	})

	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string // substring of the error line
	}{
		{"unknown flag", append(run(), "--bogus"), 2, "usage"},
		{"missing --input", run()[:4], 2, "--input or --input-dir is required"},
		{"--input and --input-dir", append(run(), "--input-dir", f.mlp), 2, "not both"},
		{"--jobs with --model", append(run(), "--jobs", "x.jsonl"), 2, "--jobs takes only"},
		{"extra argument", append(run(), "extra"), 2, "unexpected argument"},
		{"negative repeat", append(run(), "--repeat", "-1"), 2, "negative"},
		{"bad repeat", append(run(), "--repeat", "x"), 2, "usage"},
		{"missing manifest", with(run(), "--manifest", filepath.Join(f.tmp, "none.json")), 2, "no such file"},
		{"malformed manifest", with(run(), "--manifest", malformed), 2, "malformed manifest"},
		{"schema_version 1", with(run(), "--manifest", v1), 3, "error: " + v1 + ": schema_version 1 is not supported (this client reads 2)"},
		{"manifest is a folder", with(run(), "--manifest", f.tmp), 2, "is a directory"},
		{"unknown model", with(run(), "--model", "nope"), 2, "unknown model"},
		{"model without saved-model", with(with(run(), "--manifest", noSaved), "--model", "mlp_torch"), 2, "unknown format"},
		{"format this client does not run", append(run(), "--format", "onnx"), 2, "unknown format"},
		{"unknown format", append(run(), "--format", "pickle"), 2, "unknown format"},
		{"missing input", with(run(), "--input", filepath.Join(f.tmp, "none.npy")), 2, "input input: open"},
		{"input not npy", with(run(), "--input", f.file(t, "text.npy", []byte("hello, world\n"))), 2, "bad magic"},
		{"input float64", with(run(), "--input", npyFile("f8.npy", "<f8", "(1, 10)", ten[:80], false)), 2, `dtype "<f8"`},
		{"input big-endian", with(run(), "--input", npyFile("be.npy", ">f4", "(2, 10)", ten, false)), 2, `dtype ">f4"`},
		{"input int32", with(run(), "--input", npyFile("i4.npy", "<i4", "(2, 10)", ten, false)), 2, "input input: expected float32, got int32"},
		{"input fortran order", with(run(), "--input", npyFile("fo.npy", "<f4", "(2, 10)", ten, true)), 2, "fortran_order"},
		{"input rank 1", with(run(), "--input", npyFile("1d.npy", "<f4", "(20,)", ten, false)), 2, "input input: expected rank 2 [batch, 10], got rank 1 (20,)"},
		{"input rank 3", with(run(), "--input", npyFile("3d.npy", "<f4", "(1, 2, 10)", ten, false)), 2, "expected rank 2"},
		{"input header claims more data", with(run(), "--input", npyFile("short.npy", "<f4", "(3, 10)", ten, false)), 2, "needs 120 bytes"},
		{"input header claims less data", with(run(), "--input", npyFile("long.npy", "<f4", "(1, 10)", ten, false)), 2, "needs 40 bytes"},
		{"input wrong width", with(run(), "--input", npyFile("w6.npy", "<f4", "(1, 6)", six, false)), 2, "input input: dim 1 is 6, expected 10"},
		{"input zero rows", with(run(), "--input", npyFile("empty.npy", "<f4", "(0, 10)", nil, false)), 2, "input input: dim 0 (batch) is 0, outside [1, inf)"},
		{"unknown input name", append(with(run(), "--input", "input="+f.mlpIn), "--input", "mask="+f.mlpIn), 2, `input mask: unknown input "mask" (model inputs: input)`},
		{"input named twice", append(with(run(), "--input", "input="+f.mlpIn), "--input", "input="+f.mlpIn), 2, "input input: given twice"},
		{"missing named input", []string{"--manifest", two, "--model", "mlp_keras", "--input", "input=" + f.mlpIn}, 2, "input mask: missing (model inputs: input, mask)"},
		{"bare input, two inputs", []string{"--manifest", two, "--model", "mlp_keras", "--input", f.mlpIn}, 2, "needs a model with exactly one input"},
		{"input-dir lacks a file", []string{"--manifest", two, "--model", "mlp_keras", "--input-dir", f.mlp}, 2, "input mask: open"},
		{"unknown output name", with(run(), "--output", "nope="+out), 2, `output nope: unknown output "nope" (model outputs: output)`},
		{"unknown check name", append(run(), "--check", "nope="+f.mlpWant), 2, `output nope: unknown output "nope"`},
		{"missing check file", append(run(), "--check", filepath.Join(f.tmp, "none.npy")), 2, "check output"},
		{"malformed check file", append(run(), "--check", f.file(t, "bad-check.npy", []byte("\x93NUMPY"))), 2, "check output"},
		{"output folder cannot be made", with(run(), "--output", filepath.Join(notDir, "out.npy")), 2, "output output"},
		{"artifact hash mismatch", with(run(), "--manifest", tampered), 3, "sha256"},
		{"deny-list missing", with(run(), "--manifest", noDeny), 3, "deny-list"},
		{"unsafe op", []string{"--manifest", f.unsafe, "--model", "unsafe_readfile", "--input", f.unsafeIn, "--output", out}, 3, "ReadFile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each run loads TensorFlow (~0.5 s of CPU)
			r := runCLI(t, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", r.code, tc.code, r.stderr)
			}
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			if !strings.HasPrefix(lines[0], "error: ") || !strings.Contains(lines[0], tc.msg) {
				t.Errorf("stderr %q, want one error line containing %q", r.stderr, tc.msg)
			}
			if len(lines) > 2 || (len(lines) == 2 && !strings.HasPrefix(lines[1], "run deploykit-go --help")) {
				t.Errorf("stderr has %d lines: %q", len(lines), r.stderr)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	r := runCLI(t)
	if r.code != 2 || !strings.HasPrefix(r.stderr, "usage: deploykit-go") || r.stdout != "" {
		t.Errorf("no arguments: exit %d, stderr %q", r.code, r.stderr)
	}
	r = runCLI(t, "--help")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "usage: deploykit-go") || !strings.Contains(r.stdout, "--allow-unsafe-ops") || !strings.Contains(r.stdout, "--input-dir") {
		t.Errorf("--help: exit %d, stdout %q", r.code, r.stdout)
	}
	r = runCLI(t, "--version")
	want := regexp.MustCompile(`^deploykit-go ` + regexp.QuoteMeta(projectVersion) +
		` \(TensorFlow 2\.[0-9]+\.[0-9]+\S* C library, graft v[0-9]+\.[0-9]+\.[0-9]+\S*, go1\.[0-9]+(\.[0-9]+)?\S*\)\n$`)
	if r.code != 0 || !want.MatchString(r.stdout) || r.stderr != "" {
		t.Errorf("--version: exit %d, stdout %q, stderr %q; want one line matching %s", r.code, r.stdout, r.stderr, want)
	}
}
