// Package tfmodel runs a deploykit SavedModel through the TensorFlow C API (Go bindings
// github.com/wamuir/graft). Load resolves the artifact, its signature and tensor keys from
// the manifest, verifies the artifact's sha256, refuses models whose signature can reach an
// op on the manifest's deny-list, and loads the session; Predict is safe for concurrent use.
package tfmodel

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	tf "github.com/wamuir/graft/tensorflow"
	typespb "github.com/wamuir/graft/tensorflow/core/framework/types_go_proto"
	corepb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"

	"deploykit/go/manifest"
)

// Format is the artifact format this package runs.
const Format = "saved-model"

// Error classes. Every error Load and Predict return matches exactly one of these with
// errors.Is; the CLI maps ErrInput to exit 2 and the others to exit 3.
var (
	// ErrInput: a missing or malformed manifest, an unknown model or format, or a batch
	// of the wrong shape.
	ErrInput = errors.New("bad input")
	// ErrIntegrity: the artifact or the deny-list is missing or fails its sha256.
	ErrIntegrity = manifest.ErrIntegrity
	// ErrUnsafeOps: the signature can reach a denied op (see UnsafeOpsError).
	ErrUnsafeOps = errors.New("unsafe ops")
	// ErrLoad: TensorFlow could not load or run the model, or its signature does not fit
	// the manifest.
	ErrLoad = errors.New("model failed to load")
	// ErrClosed: Predict after Close.
	ErrClosed = errors.New("model is closed")
)

// classified keeps an error's message and adds a class for errors.Is.
type classified struct {
	class, err error
}

func (e *classified) Error() string   { return e.err.Error() }
func (e *classified) Unwrap() []error { return []error{e.class, e.err} }

func classify(class, err error) error {
	if errors.Is(err, class) {
		return err
	}
	return &classified{class: class, err: err}
}

// Option changes how Load behaves.
type Option func(*options)

type options struct {
	allowUnsafe bool
	format      string
}

// AllowUnsafeOps loads a model even when its signature reaches a denied op.
func AllowUnsafeOps() Option { return func(o *options) { o.allowUnsafe = true } }

// WithFormat names the artifact format to load; only "saved-model" (the default) is run.
func WithFormat(format string) Option { return func(o *options) { o.format = format } }

// Model is a loaded SavedModel. Predict may be called from many goroutines at once;
// Close waits for running calls and makes later ones fail with ErrClosed.
type Model struct {
	// ID is the manifest's model id; Artifact the entry that was loaded.
	ID       string
	Artifact manifest.Artifact
	// InWidth and OutWidth are the feature widths from the manifest ([-1, W]).
	InWidth, OutWidth int

	mu     sync.RWMutex
	closed bool
	sm     *tf.SavedModel
	in     tf.Output
	out    tf.Output
}

// Load reads the manifest, picks model modelID's saved-model artifact and loads it.
func Load(manifestPath, modelID string, opts ...Option) (*Model, error) {
	o := options{format: Format}
	for _, opt := range opts {
		opt(&o)
	}
	man, err := manifest.Read(manifestPath)
	if err != nil {
		return nil, classify(ErrInput, fmt.Errorf("manifest: %w", err))
	}
	mod, err := man.Model(modelID)
	if err != nil {
		return nil, classify(ErrInput, err)
	}
	art, err := mod.Artifact(o.format)
	if err != nil {
		return nil, classify(ErrInput, err)
	}
	if o.format != Format {
		return nil, classify(ErrInput, fmt.Errorf("%w: the Go client runs %q artifacts, not %q", manifest.ErrUnknownFormat, Format, o.format))
	}
	m := &Model{ID: mod.ID, Artifact: *art}
	if m.InWidth, err = manifest.Width(mod.Inputs, "inputs"); err != nil {
		return nil, classify(ErrInput, err)
	}
	if m.OutWidth, err = manifest.Width(mod.Outputs, "outputs"); err != nil {
		return nil, classify(ErrInput, err)
	}
	inKey, outKey, err := signatureKeys(mod, art)
	if err != nil {
		return nil, classify(ErrInput, err)
	}
	dir, err := man.Resolve(art.Path)
	if err != nil {
		return nil, classify(ErrInput, err)
	}

	// Integrity and safety come before TensorFlow sees a byte of the model.
	deny, err := man.UnsafeOps()
	if errors.Is(err, manifest.ErrInvalid) {
		return nil, classify(ErrInput, err)
	} else if err != nil {
		return nil, err // ErrIntegrity: refuse to run unchecked
	}
	if err := manifest.VerifyArtifact(art, dir); err != nil {
		return nil, err
	}
	mg, err := readMetaGraph(dir, art.Tags)
	if err != nil {
		return nil, classify(ErrLoad, err)
	}
	sig, ok := mg.GetSignatureDef()[art.Signature]
	if !ok {
		return nil, classify(ErrLoad, fmt.Errorf("saved model %q has no signature %q (has: %s)", art.Path, art.Signature, strings.Join(sortedKeys(mg.GetSignatureDef()), ", ")))
	}
	inInfo, err := tensorInfo(sig.GetInputs(), inKey, "input", art.Signature)
	if err != nil {
		return nil, classify(ErrLoad, err)
	}
	outInfo, err := tensorInfo(sig.GetOutputs(), outKey, "output", art.Signature)
	if err != nil {
		return nil, classify(ErrLoad, err)
	}
	if err := checkOps(mg, art.Signature, sig, deny); err != nil && !o.allowUnsafe {
		return nil, err
	}

	m.sm, err = tf.LoadSavedModel(dir, art.Tags, nil)
	if err != nil {
		return nil, classify(ErrLoad, fmt.Errorf("loading %q: %v", art.Path, firstLine(err.Error())))
	}
	if m.in, err = graphOutput(m.sm.Graph, inInfo.GetName()); err != nil {
		m.sm.Session.Close()
		return nil, classify(ErrLoad, err)
	}
	if m.out, err = graphOutput(m.sm.Graph, outInfo.GetName()); err != nil {
		m.sm.Session.Close()
		return nil, classify(ErrLoad, err)
	}
	return m, nil
}

// signatureKeys maps the manifest's input and output names to the signature's keys.
func signatureKeys(mod *manifest.Model, art *manifest.Artifact) (in, out string, err error) {
	if art.Signature == "" {
		return "", "", fmt.Errorf("%w: artifact %q has no signature", manifest.ErrInvalid, art.Path)
	}
	if len(art.Tags) == 0 {
		return "", "", fmt.Errorf("%w: artifact %q has no tags", manifest.ErrInvalid, art.Path)
	}
	in, ok := art.InputKeys[mod.Inputs[0].Name]
	if !ok {
		return "", "", fmt.Errorf("%w: artifact %q: input_keys has no entry for input %q", manifest.ErrInvalid, art.Path, mod.Inputs[0].Name)
	}
	out, ok = art.OutputKeys[mod.Outputs[0].Name]
	if !ok {
		return "", "", fmt.Errorf("%w: artifact %q: output_keys has no entry for output %q", manifest.ErrInvalid, art.Path, mod.Outputs[0].Name)
	}
	return in, out, nil
}

// readMetaGraph parses saved_model.pb and returns the meta graph whose tag set is tags.
func readMetaGraph(dir string, tags []string) (*corepb.MetaGraphDef, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "saved_model.pb"))
	if err != nil {
		return nil, err
	}
	var sm corepb.SavedModel
	if err := proto.Unmarshal(raw, &sm); err != nil {
		return nil, fmt.Errorf("parsing saved_model.pb: %v", err)
	}
	want := slices.Sorted(slices.Values(tags))
	var have []string
	for _, mg := range sm.GetMetaGraphs() {
		got := slices.Sorted(slices.Values(mg.GetMetaInfoDef().GetTags()))
		if slices.Equal(got, want) {
			return mg, nil
		}
		have = append(have, "["+strings.Join(got, ",")+"]")
	}
	return nil, fmt.Errorf("saved_model.pb has no meta graph tagged [%s] (has: %s)", strings.Join(want, ","), strings.Join(have, " "))
}

// tensorInfo looks a key up in a signature's inputs or outputs and checks it is a float32 tensor.
func tensorInfo(infos map[string]*corepb.TensorInfo, key, what, sigKey string) (*corepb.TensorInfo, error) {
	ti, ok := infos[key]
	if !ok {
		return nil, fmt.Errorf("signature %q has no %s %q (has: %s)", sigKey, what, key, strings.Join(sortedKeys(infos), ", "))
	}
	if ti.GetName() == "" {
		return nil, fmt.Errorf("signature %q %s %q is not a dense tensor", sigKey, what, key)
	}
	if ti.GetDtype() != typespb.DataType_DT_FLOAT {
		return nil, fmt.Errorf("signature %q %s %q has dtype %s (want float32)", sigKey, what, key, ti.GetDtype())
	}
	return ti, nil
}

// graphOutput resolves "op:index" in the loaded graph.
func graphOutput(g *tf.Graph, tensor string) (tf.Output, error) {
	name, idx := tensor, 0
	if i := strings.LastIndexByte(tensor, ':'); i >= 0 {
		n, err := strconv.Atoi(tensor[i+1:])
		if err != nil {
			return tf.Output{}, fmt.Errorf("signature tensor %q: bad output index", tensor)
		}
		name, idx = tensor[:i], n
	}
	op := g.Operation(name)
	if op == nil {
		return tf.Output{}, fmt.Errorf("signature tensor %q: no op %q in the loaded graph", tensor, name)
	}
	if idx < 0 || idx >= op.NumOutputs() {
		return tf.Output{}, fmt.Errorf("signature tensor %q: op %q has %d outputs", tensor, name, op.NumOutputs())
	}
	return op.Output(idx), nil
}

// inputTensor checks batch against the model's input width and copies it into a new tensor.
func (m *Model) inputTensor(batch [][]float32) (*tf.Tensor, error) {
	if len(batch) == 0 {
		return nil, classify(ErrInput, errors.New("empty batch"))
	}
	for i, row := range batch {
		if len(row) != m.InWidth {
			return nil, classify(ErrInput, fmt.Errorf("row %d has %d values, model %q takes %d", i, len(row), m.ID, m.InWidth))
		}
	}
	x, err := tf.ReadTensor(tf.Float, []int64{int64(len(batch)), int64(m.InWidth)}, &rowReader{rows: batch})
	if err != nil {
		return nil, classify(ErrInput, err)
	}
	return x, nil
}

// Predict runs a batch of rows (each InWidth values) and returns one row of OutWidth
// values per input row. NaN and Inf are ordinary data.
func (m *Model) Predict(batch [][]float32) ([][]float32, error) {
	x, err := m.inputTensor(batch)
	if err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	res, err := m.sm.Session.Run(map[tf.Output]*tf.Tensor{m.in: x}, []tf.Output{m.out}, nil)
	if err != nil {
		return nil, classify(ErrLoad, fmt.Errorf("running %q: %v", m.ID, firstLine(err.Error())))
	}
	y := res[0]
	if y.DataType() != tf.Float || !slices.Equal(y.Shape(), []int64{int64(len(batch)), int64(m.OutWidth)}) {
		return nil, classify(ErrLoad, fmt.Errorf("model %q returned %v %v, manifest says (%d, %d) float32", m.ID, y.DataType(), y.Shape(), len(batch), m.OutWidth))
	}
	return y.Value().([][]float32), nil
}

// Close releases the session. It waits for running Predict calls; it is safe to call twice.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	return m.sm.Session.Close()
}

// rowReader streams float32 rows as native-endian bytes straight into a tensor's buffer.
type rowReader struct {
	rows [][]float32
	row  int
	off  int // bytes already read from rows[row]
}

func (r *rowReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && r.row < len(r.rows) {
		row := r.rows[r.row]
		b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(row))), 4*len(row))
		c := copy(p[n:], b[r.off:])
		n += c
		r.off += c
		if r.off == len(b) {
			r.row, r.off = r.row+1, 0
		}
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// firstLine keeps TensorFlow's multi-line status messages to one line for the CLI.
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// DirectDescription says what Direct.Run times, for the CLI's timing file.
const DirectDescription = "graft Session.Run (TF_SessionRun) with the input tensor built once and feeds/fetches resolved once; " +
	"the output tensor's bytes copied into a reused Go []float32"

// Direct is the bare runtime call on one batch, everything it needs prepared once: the
// input tensor, the feeds map, the fetch list and the Go buffer the output is copied into.
// It is the floor under Predict (no validation, no per-call tensor, no [][]float32 decode),
// used to measure the client's per-call overhead. Not safe for concurrent use; it does not
// take the Model's lock, so it must not outlive Close.
type Direct struct {
	session *tf.Session
	feeds   map[tf.Output]*tf.Tensor
	fetches []tf.Output
	out     bytesWriter
	// Out is the last Run's output, row-major (rows x OutWidth).
	Out []float32
}

// Direct prepares the bare call for batch (same checks as Predict).
func (m *Model) Direct(batch [][]float32) (*Direct, error) {
	x, err := m.inputTensor(batch)
	if err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	d := &Direct{session: m.sm.Session, feeds: map[tf.Output]*tf.Tensor{m.in: x}, fetches: []tf.Output{m.out},
		Out: make([]float32, len(batch)*m.OutWidth)}
	d.out.buf = unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(d.Out))), 4*len(d.Out))
	return d, nil
}

// Run is one bare inference: TF_SessionRun, then one copy of the output into d.Out.
func (d *Direct) Run() error {
	res, err := d.session.Run(d.feeds, d.fetches, nil)
	if err != nil {
		return classify(ErrLoad, fmt.Errorf("running: %v", firstLine(err.Error())))
	}
	d.out.n = 0
	if _, err := res[0].WriteContentsTo(&d.out); err != nil {
		return classify(ErrLoad, err)
	}
	if d.out.n != len(d.out.buf) {
		return classify(ErrLoad, fmt.Errorf("output has %d bytes, want %d", d.out.n, len(d.out.buf)))
	}
	return nil
}

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
