// Package parity compares a runtime's output tensor with the reference by the contract's
// semantics: for floats an element fails where |a-b| > atol and |a-b| > rtol*|b| (b is the
// reference, computed in float64), NaN must be NaN at the same places and +Inf/-Inf must
// match exactly; integer and bool tensors compare exactly. A shape or dtype difference fails.
package parity

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/deploykit/deploykit/go/tensor"
)

// Result summarises one comparison.
type Result struct {
	Pass       bool
	Mismatch   string  // non-empty when shape or dtype differ (then nothing else is compared)
	MaxAbs     float64 // over elements where both sides are finite
	MaxULP     uint64  // floats: in the tensor's own format (float16 ULPs for float16)
	Mismatches int
	Elements   int
	Worst      int // flat index of the worst failing element; -1 when none fails
}

// Compare compares got with the reference want; atol and rtol apply to float tensors.
func Compare(got, want *tensor.Tensor, atol, rtol float64) Result {
	r := Result{Worst: -1, Elements: want.Len()}
	if got.DType != want.DType || !slices.Equal(got.Shape, want.Shape) {
		r.Mismatch = fmt.Sprintf("got %s %s, expected %s %s", got.DType, tensor.ShapeString(got.Shape), want.DType, tensor.ShapeString(want.Shape))
		return r
	}
	if !want.DType.IsFloat() {
		atol, rtol = 0, 0
	}
	worst := -1.0
	for i := range r.Elements {
		var ok bool
		var d float64
		if want.DType.IsFloat() {
			ok, d = Element(got.Float64At(i), want.Float64At(i), atol, rtol)
			if u := ulp(got, want, i); u > r.MaxULP {
				r.MaxULP = u
			}
		} else {
			a, b := got.Int64At(i), want.Int64At(i)
			ok, d = a == b, math.Abs(float64(a)-float64(b))
		}
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
		if score > worst {
			worst, r.Worst = score, i
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

// ulp is the distance in units of last place between element i of a and b, counted in
// their own format; 0 when either is NaN.
func ulp(a, b *tensor.Tensor, i int) uint64 {
	var x, y int64
	switch a.DType {
	case tensor.Float32:
		x = ordered(uint64(binary.LittleEndian.Uint32(a.Data[4*i:])), 32)
		y = ordered(uint64(binary.LittleEndian.Uint32(b.Data[4*i:])), 32)
	case tensor.Float16:
		x = ordered(uint64(binary.LittleEndian.Uint16(a.Data[2*i:])), 16)
		y = ordered(uint64(binary.LittleEndian.Uint16(b.Data[2*i:])), 16)
	default:
		return 0
	}
	if math.IsNaN(a.Float64At(i)) || math.IsNaN(b.Float64At(i)) {
		return 0
	}
	if x > y {
		return uint64(x - y)
	}
	return uint64(y - x)
}

// ordered maps IEEE bits of the given width to integers that sort like the values.
func ordered(bits uint64, width uint) int64 {
	sign := uint64(1) << (width - 1)
	if bits&sign != 0 {
		return -int64(bits &^ sign)
	}
	return int64(bits)
}

// Summary is the one --check line of an output, e.g.
// "check output: pass max_abs=2.98e-08 mismatches=0/64 (atol 1e-05 rtol 0.0001)".
func Summary(name string, r Result, got, want *tensor.Tensor, atol, rtol float64) string {
	tol := fmt.Sprintf("(atol %g rtol %g)", atol, rtol)
	if !want.DType.IsFloat() {
		tol = "(exact)"
	}
	switch {
	case r.Mismatch != "":
		return fmt.Sprintf("check %s: FAIL max_abs=nan mismatches=%d/%d %s %s", name, r.Elements, r.Elements, r.Mismatch, tol)
	case r.Pass:
		return fmt.Sprintf("check %s: pass max_abs=%.3g mismatches=0/%d max_ulp=%d %s", name, r.MaxAbs, r.Elements, r.MaxULP, tol)
	}
	return fmt.Sprintf("check %s: FAIL max_abs=%.3g mismatches=%d/%d max_ulp=%d worst at index %d: got %g expected %g %s",
		name, r.MaxAbs, r.Mismatches, r.Elements, r.MaxULP, r.Worst, got.Float64At(r.Worst), want.Float64At(r.Worst), tol)
}
