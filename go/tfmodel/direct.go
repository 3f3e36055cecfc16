package tfmodel

import (
	"fmt"
	"io"

	tf "github.com/wamuir/graft/tensorflow"

	"github.com/deploykit/deploykit/go/tensor"
)

// DirectDescription says what Direct.Run times, for the CLI's timing file.
const DirectDescription = "graft Session.Run (TF_SessionRun) with the input tensors built once and feeds/fetches resolved once; " +
	"each output tensor's bytes copied into a reused Go buffer"

// Direct is the bare runtime call on one set of inputs, everything it needs prepared once:
// the input tensors, the feeds map, the fetch list and the buffers the outputs are copied
// into. It is the floor under Predict (no checks, no per-call tensors, no casts), used to
// measure the client's per-call overhead. Not safe for concurrent use; it does not take
// the Model's lock, so it must not outlive Close.
type Direct struct {
	session *tf.Session
	feeds   map[tf.Output]*tf.Tensor
	fetches []tf.Output
	outs    []bytesWriter
}

// Direct prepares the bare call for inputs (same checks as Predict). It runs the model
// once to size the output buffers.
func (m *Model) Direct(inputs map[string]*tensor.Tensor) (*Direct, error) {
	c := m.newCall() // Direct's own for good: its tensors are filled once
	res, err := m.run(inputs, c)
	if err != nil {
		return nil, err
	}
	d := &Direct{session: m.sm.Session, feeds: c.feeds, fetches: m.fetches, outs: make([]bytesWriter, len(m.fetches))}
	for i, y := range res {
		d.outs[i].buf = make([]byte, tensor.NumElements(y.Shape())*int64(m.outputs[i].boundary.Size()))
	}
	return d, nil
}

// Run is one bare inference: TF_SessionRun, then one copy of each output into its buffer.
func (d *Direct) Run() error {
	res, err := d.session.Run(d.feeds, d.fetches, nil)
	if err != nil {
		return classify(ErrLoad, fmt.Errorf("running: %v", firstLine(err.Error())))
	}
	for i := range res {
		w := &d.outs[i]
		w.n = 0
		if _, err := res[i].WriteContentsTo(w); err != nil {
			return classify(ErrLoad, err)
		}
		if w.n != len(w.buf) {
			return classify(ErrLoad, fmt.Errorf("output %d has %d bytes, want %d", i, w.n, len(w.buf)))
		}
	}
	return nil
}

// Out returns output i's bytes from the last Run (reused by the next one).
func (d *Direct) Out(i int) []byte { return d.outs[i].buf }

// bytesWriter writes into a fixed buffer; writing past its end is an error.
type bytesWriter struct {
	buf []byte
	n   int
}

func (w *bytesWriter) Write(p []byte) (int, error) {
	c := copy(w.buf[w.n:], p)
	w.n += c
	if c < len(p) {
		return c, io.ErrShortWrite
	}
	return c, nil
}
