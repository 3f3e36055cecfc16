package tfmodel

import (
	"io"
	"slices"

	tf "github.com/wamuir/graft/tensorflow"

	"github.com/deploykit/deploykit/go/tensor"
)

// call is the state one Predict needs besides its inputs: the feed map graft's Run takes
// and one TensorFlow tensor per model input. Predict recycles it through Model.calls, so a
// call whose inputs have the shapes of an earlier one allocates no TensorFlow tensor (and
// sets no finalizer): it copies its inputs into the tensors that call left. A call is used
// by one goroutine at a time.
type call struct {
	feeds  map[tf.Output]*tf.Tensor
	inputs []feedTensor
}

func (m *Model) newCall() *call {
	return &call{feeds: make(map[tf.Output]*tf.Tensor, len(m.inputs)), inputs: make([]feedTensor, len(m.inputs))}
}

// feedTensor is a TensorFlow tensor allocated by graft (which frees it with a finalizer)
// and data, the C buffer it owns, kept to refill it: graft has no call that writes into an
// existing tensor. The buffer is TensorFlow's own, so a refill is safe only when no run is
// reading it and no output that may alias it is still to be read (Predict's order). That
// the kept buffer is the tensor's own rests on how graft's ReadTensor reads (see fill);
// TestFeedTensorRefill and TestPredictRefill check it against the graft in go.mod.
type feedTensor struct {
	t     *tf.Tensor
	dtype tf.DataType
	shape []int64
	data  []byte
}

// fill returns a TensorFlow tensor of dtype dt holding x's bytes: the one kept from the
// last fill when dt and the shape are the same, refilled, otherwise a new one.
func (f *feedTensor) fill(dt tf.DataType, x *tensor.Tensor) (*tf.Tensor, error) {
	if f.t != nil && f.dtype == dt && slices.Equal(f.shape, x.Shape) && len(f.data) == len(x.Data) {
		copy(f.data, x.Data)
		return f.t, nil
	}
	*f = feedTensor{}
	// ReadTensor allocates the tensor and reads its contents with one io.ReadFull into the
	// tensor's whole buffer; bufferReader keeps that buffer for the next fill.
	r := bufferReader{src: x.Data}
	t, err := tf.ReadTensor(dt, x.Shape, &r)
	if err != nil {
		return nil, err
	}
	if len(r.dst) != len(x.Data) { // not read in one piece: nothing to keep
		return t, nil
	}
	*f = feedTensor{t: t, dtype: dt, shape: slices.Clone(x.Shape), data: r.dst}
	return t, nil
}

// bufferReader reads src in one Read and keeps the slice it was read into.
type bufferReader struct {
	src, dst []byte
}

func (r *bufferReader) Read(p []byte) (int, error) {
	if len(r.src) == 0 {
		return 0, io.EOF
	}
	if r.dst == nil && len(p) == len(r.src) {
		r.dst = p
	}
	n := copy(p, r.src)
	r.src = r.src[n:]
	return n, nil
}
