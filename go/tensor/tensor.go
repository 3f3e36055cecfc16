// Package tensor is the client's one tensor type: a dtype, a shape and the elements as
// little-endian C-order bytes, with typed accessors. It knows nothing about files (see npy).
package tensor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
)

// DType is one of the contract's six element types.
type DType uint8

// The contract's dtypes.
const (
	Float32 DType = iota + 1
	Float16
	Int32
	Int64
	Uint8
	Bool
)

// MaxRank is the highest rank the contract allows.
const MaxRank = 8

var dtypeNames = map[DType]string{Float32: "float32", Float16: "float16", Int32: "int32", Int64: "int64", Uint8: "uint8", Bool: "bool"}

// String is the contract's name of the dtype ("float32", ...).
func (d DType) String() string {
	if s, ok := dtypeNames[d]; ok {
		return s
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// Size is the element size in bytes.
func (d DType) Size() int {
	switch d {
	case Float32, Int32:
		return 4
	case Float16:
		return 2
	case Int64:
		return 8
	case Uint8, Bool:
		return 1
	}
	return 0
}

// IsFloat reports whether d is float32 or float16.
func (d DType) IsFloat() bool { return d == Float32 || d == Float16 }

// ParseDType maps a contract dtype name to its DType.
func ParseDType(s string) (DType, bool) {
	for d, n := range dtypeNames {
		if n == s {
			return d, true
		}
	}
	return 0, false
}

// ErrShape is wrapped when data and shape disagree.
var ErrShape = errors.New("tensor shape mismatch")

// Tensor is a dense C-order tensor; Data holds NumElements()*DType.Size() little-endian bytes.
type Tensor struct {
	DType DType
	Shape []int64
	Data  []byte
}

// NumElements is the product of the shape (1 for a scalar).
func NumElements(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

// New returns a zero-filled tensor.
func New(dt DType, shape ...int64) *Tensor {
	return &Tensor{DType: dt, Shape: append([]int64{}, shape...), Data: make([]byte, int(NumElements(shape))*dt.Size())}
}

// FromBytes wraps data (not copied) after checking its length against the shape.
func FromBytes(dt DType, shape []int64, data []byte) (*Tensor, error) {
	if dt.Size() == 0 {
		return nil, fmt.Errorf("%w: unknown dtype %v", ErrShape, dt)
	}
	if len(shape) > MaxRank {
		return nil, fmt.Errorf("%w: rank %d is over %d", ErrShape, len(shape), MaxRank)
	}
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("%w: negative dim in %v", ErrShape, shape)
		}
		if d != 0 && n > math.MaxInt32*int64(64)/d {
			return nil, fmt.Errorf("%w: shape %v is too large", ErrShape, shape)
		}
		n *= d
	}
	if n*int64(dt.Size()) != int64(len(data)) {
		return nil, fmt.Errorf("%w: %v %v needs %d bytes, got %d", ErrShape, dt, shape, n*int64(dt.Size()), len(data))
	}
	return &Tensor{DType: dt, Shape: append([]int64{}, shape...), Data: data}, nil
}

// FromFloat32 builds a float32 tensor from values (copied).
func FromFloat32(shape []int64, values []float32) (*Tensor, error) {
	b := make([]byte, 4*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return FromBytes(Float32, shape, b)
}

// FromInt64 builds an int64 tensor from values (copied).
func FromInt64(shape []int64, values []int64) (*Tensor, error) {
	b := make([]byte, 8*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return FromBytes(Int64, shape, b)
}

// FromInt32 builds an int32 tensor from values (copied).
func FromInt32(shape []int64, values []int32) (*Tensor, error) {
	b := make([]byte, 4*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
	}
	return FromBytes(Int32, shape, b)
}

// Len is the number of elements.
func (t *Tensor) Len() int { return len(t.Data) / t.DType.Size() }

// Float32s returns the elements of a float32 tensor (a copy).
func (t *Tensor) Float32s() []float32 {
	if t.DType != Float32 {
		panic("tensor: Float32s on a " + t.DType.String() + " tensor")
	}
	out := make([]float32, t.Len())
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return out
}

// Int64s returns the elements of an int64 tensor (a copy).
func (t *Tensor) Int64s() []int64 {
	if t.DType != Int64 {
		panic("tensor: Int64s on a " + t.DType.String() + " tensor")
	}
	out := make([]int64, t.Len())
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return out
}

// Float64At returns element i as a float64 (any dtype; bool is 0 or 1).
func (t *Tensor) Float64At(i int) float64 {
	switch t.DType {
	case Float32:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:])))
	case Float16:
		return float64(HalfToFloat32(binary.LittleEndian.Uint16(t.Data[2*i:])))
	}
	return float64(t.Int64At(i))
}

// Int64At returns element i of an integer or bool tensor as an int64.
func (t *Tensor) Int64At(i int) int64 {
	switch t.DType {
	case Int32:
		return int64(int32(binary.LittleEndian.Uint32(t.Data[4*i:])))
	case Int64:
		return int64(binary.LittleEndian.Uint64(t.Data[8*i:]))
	case Uint8, Bool:
		return int64(t.Data[i])
	case Float32, Float16:
		return int64(t.Float64At(i))
	}
	return 0
}

// ShapeString formats a shape as (2, 3) — numpy's notation.
func ShapeString(shape []int64) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = fmt.Sprint(d)
	}
	if len(shape) == 1 {
		return "(" + parts[0] + ",)"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// HalfToFloat32 converts IEEE 754 binary16 bits to a float32 (exact).
func HalfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: normalise
		e := uint32(127 - 15 + 1)
		for frac&0x400 == 0 {
			frac <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (frac&0x3ff)<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}

// Float32ToHalf converts a float32 to binary16 bits, rounding to nearest even.
func Float32ToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	frac := b & 0x7fffff
	if exp == 0xff {
		if frac != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign
		}
		m := frac | 0x800000
		shift := uint32(14 - e)
		half := m >> shift
		rem := m & (1<<shift - 1)
		mid := uint32(1) << (shift - 1)
		if rem > mid || (rem == mid && half&1 == 1) {
			half++
		}
		return sign | uint16(half)
	}
	half := uint32(e)<<10 | frac>>13
	rem := frac & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && half&1 == 1) {
		half++ // may carry into the exponent, up to Inf: correct
	}
	return sign | uint16(half)
}
