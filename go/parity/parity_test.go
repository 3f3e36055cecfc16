package parity

import (
	"math"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/go/tensor"
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

func f32(t *testing.T, shape []int64, v ...float32) *tensor.Tensor {
	t.Helper()
	x, err := tensor.FromFloat32(shape, v)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestCompareAndSummary(t *testing.T) {
	nan := float32(math.NaN())
	want := f32(t, []int64{2, 2}, 1, nan, 3, 4)
	got := f32(t, []int64{2, 2}, 1.000001, nan, 3, 4.5)
	r := Compare(got, want, 1e-5, 1e-4)
	if r.Pass || r.Mismatches != 1 || r.Worst != 3 || math.Abs(r.MaxAbs-0.5) > 1e-9 {
		t.Fatalf("Compare = %+v", r)
	}
	line := Summary("logits", r, got, want, 1e-5, 1e-4)
	if !strings.HasPrefix(line, "check logits: FAIL max_abs=0.5 mismatches=1/4") || !strings.Contains(line, "worst at index 3") {
		t.Errorf("summary %q", line)
	}
	got = f32(t, []int64{2, 2}, 1.000001, nan, 3, 4)
	r = Compare(got, want, 1e-5, 1e-4)
	if line := Summary("logits", r, got, want, 1e-5, 1e-4); line != "check logits: pass max_abs=9.54e-07 mismatches=0/4 max_ulp=8 (atol 1e-05 rtol 0.0001)" {
		t.Errorf("summary %q", line)
	}
	short := f32(t, []int64{1, 2}, 1, 2)
	if r := Compare(short, want, 1, 1); r.Pass || r.Mismatch == "" {
		t.Errorf("shape mismatch passed: %+v", r)
	}
	if line := Summary("logits", Compare(short, want, 1, 1), short, want, 1, 1); !strings.HasPrefix(line, "check logits: FAIL") {
		t.Errorf("summary %q", line)
	}
}

// TestCompareTypes: integer and bool tensors compare exactly whatever the tolerance, a
// dtype difference fails, and float16 ULPs are counted in float16.
func TestCompareTypes(t *testing.T) {
	a, _ := tensor.FromInt64([]int64{3}, []int64{1, 2, 3})
	b, _ := tensor.FromInt64([]int64{3}, []int64{1, 2, 4})
	if r := Compare(a, b, 10, 10); r.Pass || r.Mismatches != 1 || r.MaxAbs != 1 {
		t.Errorf("int64 off by one passed: %+v", r)
	}
	if r := Compare(a, a, 0, 0); !r.Pass {
		t.Errorf("equal int64 failed: %+v", r)
	}
	i32, _ := tensor.FromInt32([]int64{3}, []int32{1, 2, 3})
	if r := Compare(i32, a, 1, 1); r.Pass || r.Mismatch == "" {
		t.Errorf("int32 vs int64 passed: %+v", r)
	}
	bools, _ := tensor.FromBytes(tensor.Bool, []int64{2}, []byte{0, 1})
	flipped, _ := tensor.FromBytes(tensor.Bool, []int64{2}, []byte{1, 1})
	if r := Compare(flipped, bools, 1, 1); r.Pass || r.Mismatches != 1 {
		t.Errorf("bool flip passed: %+v", r)
	}
	h := func(v ...uint16) *tensor.Tensor {
		raw := make([]byte, 2*len(v))
		for i, x := range v {
			raw[2*i], raw[2*i+1] = byte(x), byte(x>>8)
		}
		x, _ := tensor.FromBytes(tensor.Float16, []int64{int64(len(v))}, raw)
		return x
	}
	one, next := h(0x3c00, 0x7e00), h(0x3c03, 0x7e00) // 1.0 and three float16 ULPs above; NaN both
	r := Compare(next, one, 1e-2, 0)
	if !r.Pass || r.MaxULP != 3 {
		t.Errorf("float16 three ULPs: %+v", r)
	}
	if r := Compare(next, one, 1e-4, 0); r.Pass {
		t.Errorf("float16 tolerance not applied: %+v", r)
	}
}
