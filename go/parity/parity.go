// Package parity compares a runtime's output with the reference by DESIGN.md's semantics:
// an element fails where |a-b| > atol and |a-b| > rtol*|b| (b is the reference); NaN must be
// NaN at the same places and +Inf/-Inf must match exactly.
package parity

import (
	"fmt"
	"math"

	"deploykit/go/npy"
)

// Result summarises one comparison.
type Result struct {
	Pass       bool
	Shape      string  // non-empty when the shapes differ (then nothing else is compared)
	MaxAbs     float64 // over elements where both sides are finite
	Mismatches int
	Elements   int
	Worst      int // flat index of the worst failing element (the first non-finite mismatch, else the largest |a-b|); -1 when none fails
}

// Compare compares got with the reference want.
func Compare(got, want *npy.Matrix, atol, rtol float64) Result {
	r := Result{Worst: -1, Elements: len(want.Data)}
	if got.Rows != want.Rows || got.Cols != want.Cols {
		r.Shape = fmt.Sprintf("shape (%d, %d), expected (%d, %d)", got.Rows, got.Cols, want.Rows, want.Cols)
		return r
	}
	worstDiff := -1.0
	for i := range want.Data {
		a, b := float64(got.Data[i]), float64(want.Data[i])
		ok, d := Element(a, b, atol, rtol)
		if !math.IsNaN(d) && !math.IsInf(d, 0) && d > r.MaxAbs {
			r.MaxAbs = d
		}
		if ok {
			continue
		}
		r.Mismatches++
		score := d
		if math.IsNaN(d) || math.IsInf(d, 0) {
			score = math.Inf(1)
		}
		if score > worstDiff {
			worstDiff, r.Worst = score, i
		}
	}
	r.Pass = r.Mismatches == 0
	return r
}

// Element compares one value with its reference and returns whether it passes and |a-b|
// (NaN or Inf when either side is not finite).
func Element(a, b, atol, rtol float64) (bool, float64) {
	switch {
	case math.IsNaN(a) || math.IsNaN(b):
		return math.IsNaN(a) && math.IsNaN(b), math.NaN()
	case math.IsInf(a, 0) || math.IsInf(b, 0):
		return a == b, math.Inf(1)
	}
	d := math.Abs(a - b)
	return d <= atol || d <= rtol*math.Abs(b), d
}

// Summary is the one --check line, e.g.
// "check mlp_keras/saved-model: pass max_abs=2.98e-08 (atol 1e-05 rtol 0.0001)".
func Summary(label string, r Result, got, want *npy.Matrix, atol, rtol float64) string {
	tol := fmt.Sprintf("(atol %g rtol %g)", atol, rtol)
	switch {
	case r.Shape != "":
		return fmt.Sprintf("check %s: FAIL %s %s", label, r.Shape, tol)
	case r.Pass:
		return fmt.Sprintf("check %s: pass max_abs=%.3g %s", label, r.MaxAbs, tol)
	}
	row, col := r.Worst/want.Cols, r.Worst%want.Cols
	return fmt.Sprintf("check %s: FAIL %d of %d elements mismatch, max_abs=%.3g, worst at [%d, %d]: got %g expected %g %s",
		label, r.Mismatches, r.Elements, r.MaxAbs, row, col, got.Data[r.Worst], want.Data[r.Worst], tol)
}
