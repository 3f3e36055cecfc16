package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/go/tensor"
)

// perturb returns a copy of x (float32) with element i moved by d, and one with every NaN
// replaced by 0 (and how many there were).
func perturb(x *tensor.Tensor, i int, d float32) *tensor.Tensor {
	y := &tensor.Tensor{DType: x.DType, Shape: x.Shape, Data: slices.Clone(x.Data)}
	v := math.Float32frombits(binary.LittleEndian.Uint32(y.Data[4*i:])) + d
	binary.LittleEndian.PutUint32(y.Data[4*i:], math.Float32bits(v))
	return y
}

func withoutNaN(x *tensor.Tensor) (*tensor.Tensor, int) {
	y := &tensor.Tensor{DType: x.DType, Shape: x.Shape, Data: slices.Clone(x.Data)}
	n := 0
	for i := range y.Len() {
		if math.IsNaN(y.Float64At(i)) {
			binary.LittleEndian.PutUint32(y.Data[4*i:], 0)
			n++
		}
	}
	return y, n
}

// TestRuns: golden parity through every flag form, NaN/Inf, the unsafe fixture with
// --allow-unsafe-ops, --check mismatches (exit 1) and the files written.
func TestRuns(t *testing.T) {
	f := newFixtures(t)
	out := filepath.Join(f.tmp, "out.npy")
	want := mustRead(t, f.mlpWant)
	noNaN, nans := withoutNaN(mustRead(t, f.spWant))
	if nans == 0 {
		t.Fatal("the special set's expected output has no NaN")
	}
	asF16 := tensor.New(tensor.Float16, want.Shape...)
	m := []string{"--manifest", f.manifest, "--model", "mlp_keras"}
	args := func(extra ...string) []string { return append(slices.Clone(m), extra...) }

	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string // prefix of the check line
	}{
		{"bare files", args("--input", f.mlpIn, "--output", out, "--check", f.mlpWant), 0, "check output: pass max_abs="},
		{"named files", args("--input", "input="+f.mlpIn, "--output", "output="+out, "--check", "output="+f.mlpWant), 0, "check output: pass"},
		{"folders", args("--input-dir", f.mlp, "--check-dir", filepath.Join(f.mlp, "expected")), 0, "check output: pass max_abs="},
		{"explicit format", args("--format", "saved-model", "--input", f.mlpIn, "--check", f.mlpWant), 0, "check output: pass"},
		{"NaN and Inf inputs", args("--input-dir", f.special, "--check-dir", filepath.Join(f.special, "expected")), 0, "check output: pass"},
		{"unsafe op allowed", []string{"--manifest", f.unsafe, "--model", "unsafe_readfile", "--input", f.unsafeIn, "--check", f.unsafeWant, "--allow-unsafe-ops"},
			0, "check output: pass"},
		{"value mismatch", args("--input", f.mlpIn, "--check", f.tensor(t, "perturbed.npy", perturb(want, 5, 1e-3))),
			1, "check output: FAIL max_abs=0.001 mismatches=1/64"},
		{"NaN pattern mismatch", args("--input", f.spIn, "--check", f.tensor(t, "nonan.npy", noNaN)),
			1, fmt.Sprintf("check output: FAIL max_abs=0 mismatches=%d/10", nans)},
		{"shape mismatch", args("--input", f.spIn, "--check", f.mlpWant), 1, "check output: FAIL"},
		{"dtype mismatch", args("--input", f.mlpIn, "--check", f.tensor(t, "f16.npy", asF16)), 1, "check output: FAIL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.args...)
			if r.code != tc.code || !strings.HasPrefix(r.stdout, tc.stdout) || strings.Count(r.stdout, "\n") != 1 {
				t.Errorf("exit %d stdout %q stderr %q; want exit %d and a line starting %q", r.code, r.stdout, r.stderr, tc.code, tc.stdout)
			}
			if r.stderr != "" {
				t.Errorf("stderr %q", r.stderr)
			}
		})
	}

	t.Run("output files", func(t *testing.T) {
		seven := &tensor.Tensor{DType: tensor.Float32, Shape: []int64{7, 10}, Data: mustRead(t, f.mlpIn).Data[:7*10*4]}
		dir := filepath.Join(f.tmp, "new", "dir")
		if r := runCLI(t, args("--input", f.tensor(t, "seven.npy", seven), "--output", out, "--output-dir", dir)...); r.code != 2 {
			t.Errorf("--output with --output-dir: exit %d", r.code)
		}
		for _, flags := range [][]string{{"--output", out}, {"--output-dir", dir}} {
			if r := runCLI(t, args(append([]string{"--input", f.tensor(t, "seven.npy", seven)}, flags...)...)...); r.code != 0 || r.stdout != "" {
				t.Fatalf("%v: exit %d stdout %q stderr %q", flags, r.code, r.stdout, r.stderr)
			}
		}
		for _, p := range []string{out, filepath.Join(dir, "output.npy")} {
			got := mustRead(t, p)
			if got.DType != tensor.Float32 || !slices.Equal(got.Shape, []int64{7, 1}) {
				t.Errorf("%s: %v %v, want float32 (7, 1)", p, got.DType, got.Shape)
			}
		}
	})

	t.Run("timing", func(t *testing.T) {
		tp := filepath.Join(f.tmp, "timing.json")
		r := runCLI(t, args("--input", f.mlpIn, "--repeat", "20", "--warmup", "3", "--timing", tp)...)
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
	one := &tensor.Tensor{DType: tensor.Float32, Shape: []int64{1, 10}, Data: mustRead(t, f.mlpIn).Data[:40]}
	for _, repeat := range []string{"25", "0"} {
		t.Run("timing direct repeat="+repeat, func(t *testing.T) {
			tp := filepath.Join(f.tmp, "timing-direct-"+repeat+".json")
			r := runCLI(t, args("--input", f.tensor(t, "one.npy", one), "--repeat", repeat, "--warmup", "2", "--timing", tp)...)
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
				SamplesUS *samplesUS         `json:"samples_us"`
			}
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			if repeat == "0" { // no timed calls: the statistics come from the first call alone
				if doc.SamplesUS != nil {
					t.Errorf("samples_us with --repeat 0 in %s", raw)
				}
			} else {
				checkSamples(t, doc.SamplesUS, 25, 10, doc.LatencyUS["p50"], doc.DirectUS["p50"])
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

// samplesUS is a timing report's "samples_us".
type samplesUS struct {
	Latency []float64 `json:"latency"`
	Direct  []float64 `json:"direct"`
	Blocks  int       `json:"blocks"`
}

// checkSamples checks a report's samples_us: repeat positive samples per list, the block
// count, and the written p50s equal to the samples' medians.
func checkSamples(t *testing.T, s *samplesUS, repeat, blocks int, p50, directP50 float64) {
	t.Helper()
	if s == nil {
		t.Errorf("no samples_us, want %d samples per list", repeat)
		return
	}
	if len(s.Latency) != repeat || len(s.Direct) != repeat || s.Blocks != blocks {
		t.Errorf("samples_us has %d latency and %d direct samples in %d blocks, want %d, %d in %d",
			len(s.Latency), len(s.Direct), s.Blocks, repeat, repeat, blocks)
	}
	for _, v := range append(slices.Clone(s.Latency), s.Direct...) {
		if !(v > 0) || math.IsInf(v, 0) {
			t.Errorf("sample %v in %+v, want positive and finite", v, s)
		}
	}
	if m := median(s.Latency); m != p50 {
		t.Errorf("latency_us.p50 %v, the median of samples_us.latency is %v", p50, m)
	}
	if m := median(s.Direct); m != directP50 {
		t.Errorf("direct_latency_us.p50 %v, the median of samples_us.direct is %v", directP50, m)
	}
}

// median is numpy's median (the mean of the two middle values of an even count).
func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
