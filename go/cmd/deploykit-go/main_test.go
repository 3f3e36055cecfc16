package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"deploykit/go/internal/testfix"
	"deploykit/go/npy"
)

// binary is the CLI built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "deploykit-go-cli-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "deploykit-go")
	build := exec.Command("go", "build", "-o", binary, ".")
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
	stdout, stderr string // stderr: the program's own messages (DEPLOYKIT_ERR_FD)
}

// runCLI runs the built binary as the launcher does: TensorFlow's load-time logging on
// fd 2 is discarded, the program's messages arrive on fd 3.
func runCLI(t *testing.T, args ...string) result {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, args...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.ExtraFiles = []*os.File{w}
	cmd.Env = append(os.Environ(), "DEPLOYKIT_ERR_FD=3", "TF_CPP_MIN_LOG_LEVEL=3")
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
	manifest, unsafe, tmp                 string
	mlpIn, mlpWant, mlpSpecial, mlpSpWant string
	unsafeIn, unsafeWant                  string
}

func newFixtures(t *testing.T) fixtures {
	mp := testfix.Manifest(t, "DEPLOYKIT_TEST_MANIFEST")
	up := testfix.Manifest(t, "DEPLOYKIT_UNSAFE_MANIFEST")
	g := filepath.Join(filepath.Dir(mp), "mlp_keras", "golden")
	ug := filepath.Join(filepath.Dir(up), "unsafe_readfile", "golden")
	return fixtures{
		manifest: mp, unsafe: up, tmp: t.TempDir(),
		mlpIn: filepath.Join(g, "input.npy"), mlpWant: filepath.Join(g, "expected.npy"),
		mlpSpecial: filepath.Join(g, "special_input.npy"), mlpSpWant: filepath.Join(g, "special_expected.npy"),
		unsafeIn: filepath.Join(ug, "input.npy"), unsafeWant: filepath.Join(ug, "expected.npy"),
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

// matrix writes m as .npy to a temp file.
func (f fixtures) matrix(t *testing.T, name string, m *npy.Matrix) string {
	t.Helper()
	p := filepath.Join(f.tmp, name)
	if err := npy.WriteFile(p, m); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustRead(t *testing.T, p string) *npy.Matrix {
	t.Helper()
	m, err := npy.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBadInputs: every bad input of DESIGN.md gets its exit code and exactly one
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
	malformed := f.file(t, "malformed.json", []byte(`{"schema_version": 1, "models": [`))
	noOutDir := filepath.Join(f.tmp, "no-such-dir", "out.npy")

	// A copy whose artifact no longer matches its hash, and one without the deny-list.
	tampered := testfix.CopyExport(t, f.manifest, "mlp_keras")
	os.WriteFile(filepath.Join(filepath.Dir(tampered), "mlp_keras", "saved_model", "fingerprint.pb"), []byte("x"), 0o644)
	noDeny := testfix.CopyExport(t, f.manifest, "mlp_keras")
	os.Remove(filepath.Join(filepath.Dir(noDeny), "unsafe_ops.json"))

	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string // substring of the error line
	}{
		{"unknown flag", append(run(), "--bogus"), 2, "usage"},
		{"missing --output", run()[:6], 2, "--output is required"},
		{"missing --input", with(run(), "--input", ""), 2, "--input is required"},
		{"extra argument", append(run(), "extra"), 2, "unexpected argument"},
		{"negative repeat", append(run(), "--repeat", "-1"), 2, "negative"},
		{"bad repeat", append(run(), "--repeat", "x"), 2, "usage"},
		{"missing manifest", with(run(), "--manifest", filepath.Join(f.tmp, "none.json")), 2, "no such file"},
		{"malformed manifest", with(run(), "--manifest", malformed), 2, "malformed manifest"},
		{"manifest is a folder", with(run(), "--manifest", f.tmp), 2, "manifest"},
		{"unknown model", with(run(), "--model", "nope"), 2, "unknown model"},
		{"model without saved-model", with(run(), "--model", "mlp_torch"), 2, "unknown format"},
		{"format this client does not run", append(run(), "--format", "onnx"), 2, "unknown format"},
		{"unknown format", append(run(), "--format", "pickle"), 2, "unknown format"},
		{"missing input", with(run(), "--input", filepath.Join(f.tmp, "none.npy")), 2, "no such file"},
		{"input not npy", with(run(), "--input", f.file(t, "text.npy", []byte("hello, world\n"))), 2, "bad magic"},
		{"input float64", with(run(), "--input", f.file(t, "f8.npy", testfix.RawNpy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 10), }", ten[:80]))), 2, `dtype "<f8"`},
		{"input big-endian", with(run(), "--input", f.file(t, "be.npy", testfix.RawNpy(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 10), }", ten))), 2, `dtype ">f4"`},
		{"input int32", with(run(), "--input", f.file(t, "i4.npy", testfix.RawNpy(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 10), }", ten))), 2, `dtype "<i4"`},
		{"input fortran order", with(run(), "--input", f.file(t, "fo.npy", testfix.RawNpy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 10), }", ten))), 2, "fortran_order"},
		{"input 1-D", with(run(), "--input", f.file(t, "1d.npy", testfix.RawNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (20,), }", ten))), 2, "1 dimensions"},
		{"input 3-D", with(run(), "--input", f.file(t, "3d.npy", testfix.RawNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 10), }", ten))), 2, "3 dimensions"},
		{"input header claims more data", with(run(), "--input", f.file(t, "short.npy", testfix.RawNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 10), }", ten))), 2, "needs 120 bytes"},
		{"input header claims less data", with(run(), "--input", f.file(t, "long.npy", testfix.RawNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 10), }", ten))), 2, "needs 40 bytes"},
		{"input wrong width", with(run(), "--input", f.file(t, "w6.npy", testfix.RawNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 6), }", six))), 2, "takes 10"},
		{"input zero rows", with(run(), "--input", f.file(t, "empty.npy", testfix.RawNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 10), }", nil))), 2, "empty batch"},
		{"missing check file", append(run(), "--check", filepath.Join(f.tmp, "none.npy")), 2, "check"},
		{"malformed check file", append(run(), "--check", f.file(t, "bad-check.npy", []byte("\x93NUMPY"))), 2, "check"},
		{"output folder missing", with(run(), "--output", noOutDir), 2, "output"},
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
	if r.code != 0 || !strings.HasPrefix(r.stdout, "usage: deploykit-go") || !strings.Contains(r.stdout, "--allow-unsafe-ops") {
		t.Errorf("--help: exit %d, stdout %q", r.code, r.stdout)
	}
	r = runCLI(t, "--version")
	if r.code != 0 || !strings.Contains(r.stdout, "TensorFlow 2.") {
		t.Errorf("--version: exit %d, stdout %q", r.code, r.stdout)
	}
}

// TestRuns: golden parity, NaN/Inf, the unsafe fixture with --allow-unsafe-ops, --check
// mismatches (exit 1) and --timing.
func TestRuns(t *testing.T) {
	f := newFixtures(t)
	out := filepath.Join(f.tmp, "out.npy")
	want := mustRead(t, f.mlpWant)
	perturbed := &npy.Matrix{Rows: want.Rows, Cols: want.Cols, Data: append([]float32(nil), want.Data...)}
	perturbed.Data[5] += 1e-3
	spWant := mustRead(t, f.mlpSpWant)
	noNaN := &npy.Matrix{Rows: spWant.Rows, Cols: spWant.Cols, Data: append([]float32(nil), spWant.Data...)}
	nans := 0
	for i, v := range noNaN.Data {
		if math.IsNaN(float64(v)) {
			noNaN.Data[i], nans = 0, nans+1
		}
	}
	if nans == 0 {
		t.Fatal("special_expected has no NaN")
	}

	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string // prefix of the check line
	}{
		{"golden", []string{"--manifest", f.manifest, "--model", "mlp_keras", "--input", f.mlpIn, "--output", out, "--check", f.mlpWant},
			0, "check mlp_keras/saved-model: pass max_abs="},
		{"explicit format", []string{"--manifest", f.manifest, "--model", "mlp_keras", "--format", "saved-model", "--input", f.mlpIn, "--output", out, "--check", f.mlpWant},
			0, "check mlp_keras/saved-model: pass"},
		{"NaN and Inf inputs", []string{"--manifest", f.manifest, "--model", "mlp_keras", "--input", f.mlpSpecial, "--output", out, "--check", f.mlpSpWant},
			0, "check mlp_keras/saved-model: pass"},
		{"unsafe op allowed", []string{"--manifest", f.unsafe, "--model", "unsafe_readfile", "--input", f.unsafeIn, "--output", out, "--check", f.unsafeWant, "--allow-unsafe-ops"},
			0, "check unsafe_readfile/saved-model: pass"},
		{"value mismatch", []string{"--manifest", f.manifest, "--model", "mlp_keras", "--input", f.mlpIn, "--output", out, "--check", f.matrix(t, "perturbed.npy", perturbed)},
			1, "check mlp_keras/saved-model: FAIL 1 of 64 elements mismatch"},
		{"NaN pattern mismatch", []string{"--manifest", f.manifest, "--model", "mlp_keras", "--input", f.mlpSpecial, "--output", out, "--check", f.matrix(t, "nonan.npy", noNaN)},
			1, fmt.Sprintf("check mlp_keras/saved-model: FAIL %d of", nans)},
		{"shape mismatch", []string{"--manifest", f.manifest, "--model", "mlp_keras", "--input", f.mlpSpecial, "--output", out, "--check", f.mlpWant},
			1, "check mlp_keras/saved-model: FAIL shape"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.args...)
			if r.code != tc.code || !strings.HasPrefix(r.stdout, tc.stdout) || strings.Count(r.stdout, "\n") != 1 {
				t.Errorf("exit %d stdout %q stderr %q; want exit %d and a line starting %q", r.code, r.stdout, r.stderr, tc.code, tc.stdout)
			}
			if tc.code == 0 && r.stderr != "" {
				t.Errorf("stderr %q on success", r.stderr)
			}
		})
	}

	t.Run("output file", func(t *testing.T) {
		sub := &npy.Matrix{Rows: 7, Cols: 10, Data: mustRead(t, f.mlpIn).Data[:70]}
		if r := runCLI(t, "--manifest", f.manifest, "--model", "mlp_keras", "--input", f.matrix(t, "seven.npy", sub), "--output", out); r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		got := mustRead(t, out)
		if got.Rows != 7 || got.Cols != 1 {
			t.Errorf("output shape (%d, %d), want (7, 1)", got.Rows, got.Cols)
		}
	})

	t.Run("timing", func(t *testing.T) {
		tp := filepath.Join(f.tmp, "timing.json")
		r := runCLI(t, "--manifest", f.manifest, "--model", "mlp_keras", "--input", f.mlpIn, "--output", out,
			"--repeat", "20", "--warmup", "3", "--timing", tp)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		raw, err := os.ReadFile(tp)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			LoadMS    *float64           `json:"load_ms"`
			FirstMS   *float64           `json:"first_ms"`
			Batch     int                `json:"batch"`
			LatencyUS map[string]float64 `json:"latency_us"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		if doc.LoadMS == nil || *doc.LoadMS <= 0 || doc.FirstMS == nil || *doc.FirstMS <= 0 || doc.Batch != 64 {
			t.Errorf("timing %s", raw)
		}
		for _, k := range []string{"p50", "p90", "p99", "mean"} {
			if v, ok := doc.LatencyUS[k]; !ok || v <= 0 {
				t.Errorf("latency_us.%s missing or not positive in %s", k, raw)
			}
		}
		if doc.LatencyUS["p50"] > doc.LatencyUS["p99"] {
			t.Errorf("p50 > p99 in %s", raw)
		}
	})

	// --timing also times the bare Session.Run (direct_latency_us, direct); 25 repeats do
	// not split evenly into the 10 interleaved rounds, 0 repeats leave one sample each.
	for _, repeat := range []string{"25", "0"} {
		t.Run("timing direct repeat="+repeat, func(t *testing.T) {
			tp := filepath.Join(f.tmp, "timing-direct-"+repeat+".json")
			r := runCLI(t, "--manifest", f.manifest, "--model", "mlp_keras", "--input", f.matrix(t, "one.npy", &npy.Matrix{Rows: 1, Cols: 10, Data: mustRead(t, f.mlpIn).Data[:10]}),
				"--output", out, "--repeat", repeat, "--warmup", "2", "--timing", tp)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			raw, err := os.ReadFile(tp)
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Batch     int                `json:"batch"`
				LatencyUS map[string]float64 `json:"latency_us"`
				DirectUS  map[string]float64 `json:"direct_latency_us"`
				Direct    *string            `json:"direct"`
			}
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Batch != 1 || len(doc.LatencyUS) != 4 || len(doc.DirectUS) != 4 {
				t.Errorf("timing %s", raw)
			}
			for _, k := range []string{"p50", "p90", "p99", "mean"} {
				if v, ok := doc.DirectUS[k]; !ok || !(v > 0) || math.IsInf(v, 0) {
					t.Errorf("direct_latency_us.%s missing, not positive or not finite in %s", k, raw)
				}
			}
			if doc.DirectUS["p50"] > doc.DirectUS["p99"] {
				t.Errorf("direct p50 > p99 in %s", raw)
			}
			if doc.Direct == nil || strings.TrimSpace(*doc.Direct) == "" || strings.Contains(*doc.Direct, "\n") {
				t.Errorf("direct is not one non-empty line in %s", raw)
			}
		})
	}
}

// TestLauncher runs bin/deploykit-go (built by `make setup-go`) from another folder: its
// stderr must be the one error line, TensorFlow's load-time logging gone.
func TestLauncher(t *testing.T) {
	f := newFixtures(t)
	launcher, err := filepath.Abs(filepath.Join("..", "..", "..", "bin", "deploykit-go"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(f.tmp, "out.npy")
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"golden", []string{"--manifest", f.manifest, "--model", "mlp_keras", "--input", f.mlpIn, "--output", out, "--check", f.mlpWant}, 0, "check mlp_keras/saved-model: pass", ""},
		{"unknown model", []string{"--manifest", f.manifest, "--model", "nope", "--input", f.mlpIn, "--output", out}, 2, "", "error: load nope: unknown model"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(launcher, tc.args...)
			cmd.Dir = f.tmp
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || !strings.HasPrefix(stdout.String(), tc.stdout) {
				t.Errorf("exit %d stdout %q stderr %q", code, stdout.String(), stderr.String())
			}
			if tc.stderr == "" && stderr.Len() != 0 || tc.stderr != "" && (!strings.HasPrefix(stderr.String(), tc.stderr) || strings.Count(stderr.String(), "\n") != 1) {
				t.Errorf("stderr %q, want %q", stderr.String(), tc.stderr)
			}
		})
	}
}
