package tfmodel

import (
	"bytes"
	"slices"
	"testing"

	tf "github.com/wamuir/graft/tensorflow"

	"github.com/deploykit/deploykit/go/tensor"
)

// TestFeedTensorRefill: a fill of the same dtype and shape reuses the tensor and writes into
// its own buffer; another shape or dtype gets a new tensor.
func TestFeedTensorRefill(t *testing.T) {
	a := &tensor.Tensor{DType: tensor.Float32, Shape: []int64{1, 2}, Data: []byte{1, 2, 3, 4, 5, 6, 7, 8}}
	b := &tensor.Tensor{DType: tensor.Float32, Shape: []int64{1, 2}, Data: []byte{9, 10, 11, 12, 13, 14, 15, 16}}
	c := &tensor.Tensor{DType: tensor.Float32, Shape: []int64{2, 1}, Data: b.Data}
	empty := &tensor.Tensor{DType: tensor.Float32, Shape: []int64{0, 2}}
	var f feedTensor
	contents := func(x *tf.Tensor) []byte {
		var buf bytes.Buffer
		if _, err := x.WriteContentsTo(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	fill := func(dt tf.DataType, x *tensor.Tensor) *tf.Tensor {
		y, err := f.fill(dt, x)
		if err != nil {
			t.Fatal(err)
		}
		if got := contents(y); !bytes.Equal(got, x.Data) || !slices.Equal(y.Shape(), x.Shape) {
			t.Fatalf("fill %v %v: tensor holds %v %v", x.Shape, x.Data, y.Shape(), got)
		}
		return y
	}
	ta := fill(tf.Float, a)
	if tb := fill(tf.Float, b); tb != ta {
		t.Error("same shape and dtype: a new tensor, want the kept one refilled")
	}
	if tc := fill(tf.Float, c); tc == ta {
		t.Error("another shape: the kept tensor, want a new one")
	}
	if ti := fill(tf.Int32, c); ti.DataType() != tf.Int32 {
		t.Errorf("another dtype: %v", ti.DataType())
	}
	te := fill(tf.Float, empty)
	if fill(tf.Float, empty) != te {
		t.Error("empty tensor not kept")
	}
}

// TestPredictRefill: every saved model run one row at a time, so that each call refills the
// input tensors of the last one, gives each row's result again in any order, and rows with
// different inputs give different results (a stale input would repeat the last result).
func TestPredictRefill(t *testing.T) {
	mp := testManifest(t)
	for _, id := range savedModels(t, mp) {
		t.Run(id, func(t *testing.T) {
			m := load(t, mp, id)
			g := goldenSets(t, mp, id)[0]
			var rows []map[string]*tensor.Tensor
			for k := range min(4, rowCount(g.inputs)) {
				rows = append(rows, row(g.inputs, k))
			}
			first := make([]map[string]*tensor.Tensor, len(rows))
			for k, x := range rows {
				first[k] = predict(t, m, x)
			}
			for k := len(rows) - 1; k >= 0; k-- {
				if got := predict(t, m, rows[k]); !sameTensors(got, first[k]) {
					t.Errorf("row %d: result differs when run again after row %d", k, min(k+1, len(rows)-1))
				}
			}
			for k := 1; k < len(rows); k++ {
				if !sameTensors(rows[k], rows[k-1]) && sameTensors(first[k], first[k-1]) {
					t.Errorf("rows %d and %d differ but give the same result", k-1, k)
				}
			}
		})
	}
}

func rowCount(ts map[string]*tensor.Tensor) int {
	for _, x := range ts {
		return int(x.Shape[0])
	}
	return 0
}

// row is row k of every tensor, batch 1.
func row(ts map[string]*tensor.Tensor, k int) map[string]*tensor.Tensor {
	out := make(map[string]*tensor.Tensor, len(ts))
	for name, x := range ts {
		per := len(x.Data) / int(x.Shape[0])
		shape := slices.Clone(x.Shape)
		shape[0] = 1
		out[name] = &tensor.Tensor{DType: x.DType, Shape: shape, Data: x.Data[k*per : (k+1)*per]}
	}
	return out
}

func sameTensors(a, b map[string]*tensor.Tensor) bool {
	if len(a) != len(b) {
		return false
	}
	for name, x := range a {
		y, ok := b[name]
		if !ok || x.DType != y.DType || !slices.Equal(x.Shape, y.Shape) || !bytes.Equal(x.Data, y.Data) {
			return false
		}
	}
	return true
}
