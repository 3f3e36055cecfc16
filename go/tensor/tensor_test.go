package tensor

import (
	"errors"
	"math"
	"testing"
)

func TestHalfConversions(t *testing.T) {
	for _, tc := range []struct {
		bits uint16
		f    float32
	}{
		{0x0000, 0}, {0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504}, {0x0001, 5.9604645e-08},
		{0x03ff, 6.097555e-05}, {0x7c00, float32(math.Inf(1))}, {0xfc00, float32(math.Inf(-1))}, {0x3555, 0.33325195},
	} {
		if got := HalfToFloat32(tc.bits); got != tc.f {
			t.Errorf("HalfToFloat32(%#04x) = %v, want %v", tc.bits, got, tc.f)
		}
		if got := Float32ToHalf(tc.f); got != tc.bits {
			t.Errorf("Float32ToHalf(%v) = %#04x, want %#04x", tc.f, got, tc.bits)
		}
	}
	if !math.IsNaN(float64(HalfToFloat32(Float32ToHalf(float32(math.NaN()))))) {
		t.Error("NaN did not survive float16")
	}
	if got := Float32ToHalf(1e6); got != 0x7c00 {
		t.Errorf("overflow: %#04x, want +Inf", got)
	}
	if got := Float32ToHalf(1 + 1.0/2048); got != 0x3c00 { // halfway: rounds to even
		t.Errorf("tie: %#04x, want 0x3c00", got)
	}
	// every float16 survives float32 and back
	for b := range uint32(1 << 16) {
		h := uint16(b)
		if h&0x7c00 == 0x7c00 && h&0x3ff != 0 {
			continue // NaN payloads are not kept
		}
		if got := Float32ToHalf(HalfToFloat32(h)); got != h {
			t.Fatalf("%#04x -> %v -> %#04x", h, HalfToFloat32(h), got)
		}
	}
}

func TestCast(t *testing.T) {
	x, _ := FromInt64([]int64{2, 2}, []int64{0, -5, math.MaxInt32, 7})
	y, err := Cast(x, Int32)
	if err != nil || y.DType != Int32 || y.Int64At(2) != math.MaxInt32 || y.Int64At(1) != -5 {
		t.Fatalf("Cast = %+v, %v", y, err)
	}
	back, err := Cast(y, Int64)
	if err != nil || string(back.Data) != string(x.Data) {
		t.Fatalf("round trip: %v", err)
	}
	over, _ := FromInt64([]int64{3}, []int64{1, 3000000000, -3000000000})
	_, err = Cast(over, Int32)
	if !errors.Is(err, ErrCast) || err.Error() != "value 3000000000 at index 1 does not fit int32" {
		t.Errorf("overflow: %v", err)
	}
	i32, _ := FromInt32([]int64{2}, []int32{1, 2})
	if _, err := Cast(i32, Bool); !errors.Is(err, ErrCast) {
		t.Errorf("int32 2 -> bool: %v", err)
	}
	if _, err := Cast(i32, Uint8); err != nil {
		t.Errorf("int32 -> uint8: %v", err)
	}
	f, _ := FromFloat32([]int64{1}, []float32{1.5})
	h, err := Cast(f, Float16)
	if err != nil || h.Float64At(0) != 1.5 {
		t.Errorf("float32 -> float16: %v %v", h, err)
	}
}

func TestFromBytes(t *testing.T) {
	if _, err := FromBytes(Float32, []int64{2, 3}, make([]byte, 23)); !errors.Is(err, ErrShape) {
		t.Errorf("short data: %v", err)
	}
	if _, err := FromBytes(Uint8, make([]int64, 9), []byte{0}); !errors.Is(err, ErrShape) {
		t.Errorf("rank 9: %v", err)
	}
	x, err := FromBytes(Int64, []int64{}, make([]byte, 8))
	if err != nil || x.Len() != 1 {
		t.Errorf("scalar: %v", err)
	}
	if ShapeString([]int64{}) != "()" || ShapeString([]int64{3}) != "(3,)" || ShapeString([]int64{2, 0}) != "(2, 0)" {
		t.Error("ShapeString")
	}
}
