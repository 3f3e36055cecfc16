package tensor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// ErrCast is wrapped when a value does not fit the target dtype of a cast.
var ErrCast = errors.New("value does not fit")

// castError is a failed cast; its message names the value and its index.
type castError struct{ msg string }

func (e *castError) Error() string        { return e.msg }
func (e *castError) Is(target error) bool { return target == ErrCast }

// Cast converts t to dtype to, element by element. Integer targets refuse any value outside
// their range (the error names the first such value and its flat index); float32 -> float16
// rounds to nearest even. Casting to t's own dtype returns t.
func Cast(t *Tensor, to DType) (*Tensor, error) {
	if t.DType == to {
		return t, nil
	}
	n := t.Len()
	out := &Tensor{DType: to, Shape: append([]int64{}, t.Shape...), Data: make([]byte, n*to.Size())}
	for i := range n {
		switch to {
		case Float32:
			binary.LittleEndian.PutUint32(out.Data[4*i:], math.Float32bits(float32(t.Float64At(i))))
		case Float16:
			binary.LittleEndian.PutUint16(out.Data[2*i:], Float32ToHalf(float32(t.Float64At(i))))
		default:
			v, ok := t.intAt(i)
			if !ok || !fits(v, to) {
				return nil, &castError{fmt.Sprintf("value %s at index %d does not fit %s", t.format(i), i, to)}
			}
			out.putInt(i, v)
		}
	}
	return out, nil
}

// intAt returns element i as an integer, false for a float that is not a whole number.
func (t *Tensor) intAt(i int) (int64, bool) {
	if t.DType.IsFloat() {
		f := t.Float64At(i)
		if f != math.Trunc(f) || math.IsInf(f, 0) || math.Abs(f) > 1<<62 {
			return 0, false
		}
		return int64(f), true
	}
	return t.Int64At(i), true
}

func (t *Tensor) format(i int) string {
	if t.DType.IsFloat() {
		return fmt.Sprint(t.Float64At(i))
	}
	return fmt.Sprint(t.Int64At(i))
}

func fits(v int64, to DType) bool {
	switch to {
	case Int32:
		return v >= math.MinInt32 && v <= math.MaxInt32
	case Uint8:
		return v >= 0 && v <= math.MaxUint8
	case Bool:
		return v == 0 || v == 1
	}
	return true
}

func (t *Tensor) putInt(i int, v int64) {
	switch t.DType {
	case Int32:
		binary.LittleEndian.PutUint32(t.Data[4*i:], uint32(int32(v)))
	case Int64:
		binary.LittleEndian.PutUint64(t.Data[8*i:], uint64(v))
	case Uint8, Bool:
		t.Data[i] = byte(v)
	}
}
