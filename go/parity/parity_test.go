package parity

import (
	"math"
	"strings"
	"testing"

	"deploykit/go/npy"
)

func TestElement(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, tc := range []struct {
		name       string
		a, b       float64
		atol, rtol float64
		pass       bool
	}{
		{"equal", 1, 1, 0, 0, true},
		{"within atol", 1.00001, 1, 1e-4, 0, true},
		{"within rtol", 1001, 1000, 0, 1e-3, true},
		{"outside both", 1.1, 1, 1e-3, 1e-3, false},
		{"rtol is relative to the reference", 0, 1e-3, 0, 1, true},
		{"rtol uses b, not a", 1e-3, 0, 0, 1, false},
		{"NaN both", nan, nan, 0, 0, true},
		{"NaN only in output", nan, 1, 1, 1, false},
		{"NaN only in reference", 1, nan, 1, 1, false},
		{"+Inf both", inf, inf, 0, 0, true},
		{"Inf sign differs", inf, -inf, 1, 1, false},
		{"Inf vs finite", inf, 1e38, 1, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if ok, _ := Element(tc.a, tc.b, tc.atol, tc.rtol); ok != tc.pass {
				t.Errorf("Element(%v, %v, atol %v, rtol %v) = %v, want %v", tc.a, tc.b, tc.atol, tc.rtol, ok, tc.pass)
			}
		})
	}
}

func TestCompareAndSummary(t *testing.T) {
	nan := float32(math.NaN())
	want := &npy.Matrix{Rows: 2, Cols: 2, Data: []float32{1, nan, 3, 4}}
	got := &npy.Matrix{Rows: 2, Cols: 2, Data: []float32{1.000001, nan, 3, 4.5}}
	r := Compare(got, want, 1e-5, 1e-4)
	if r.Pass || r.Mismatches != 1 || r.Worst != 3 || math.Abs(r.MaxAbs-0.5) > 1e-9 {
		t.Fatalf("Compare = %+v", r)
	}
	line := Summary("m/saved-model", r, got, want, 1e-5, 1e-4)
	if !strings.HasPrefix(line, "check m/saved-model: FAIL 1 of 4") || !strings.Contains(line, "worst at [1, 1]") {
		t.Errorf("summary %q", line)
	}
	got.Data[3] = 4
	r = Compare(got, want, 1e-5, 1e-4)
	if line := Summary("m/saved-model", r, got, want, 1e-5, 1e-4); line != "check m/saved-model: pass max_abs=9.54e-07 (atol 1e-05 rtol 0.0001)" {
		t.Errorf("summary %q", line)
	}
	short := &npy.Matrix{Rows: 1, Cols: 2, Data: []float32{1, 2}}
	if r := Compare(short, want, 1, 1); r.Pass || r.Shape == "" {
		t.Errorf("shape mismatch passed: %+v", r)
	}
}
