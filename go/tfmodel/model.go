// Package tfmodel runs a deploykit SavedModel through the TensorFlow C API (Go bindings
// github.com/wamuir/graft). Load resolves the artifact, its signature and every input and
// output key from the manifest, refuses an artifact built for a newer TensorFlow than the
// linked library (min_runtime), verifies the artifact's sha256, refuses models whose
// signature can reach an op on the manifest's deny-list, and loads the session; Predict
// takes and returns named tensors and is safe for concurrent use.
package tfmodel

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	tf "github.com/wamuir/graft/tensorflow"
	typespb "github.com/wamuir/graft/tensorflow/core/framework/types_go_proto"
	corepb "github.com/wamuir/graft/tensorflow/core/protobuf/for_core_protos_go_proto"
	"google.golang.org/protobuf/proto"

	"github.com/deploykit/deploykit/go/manifest"
	"github.com/deploykit/deploykit/go/tensor"
)

// Format is the artifact format this package runs.
const Format = "saved-model"

// sessionOptions runs every op of a call on the calling thread (ConfigProto
// inter_op_parallelism_threads < 0); the intra-op pool still parallelises large matmuls and
// convolutions. With TensorFlow's default inter-op pool each Session.Run hands its ops to a
// pool thread and sleeps until they are done, and a pool thread idle for more than ~10 µs has
// gone to sleep too: a batch-1 call of the seed MLP paid 20 µs of wake-ups (51 -> 29 µs with
// this setting, BenchmarkSessionRun; batch 1024 and the larger models no slower,
// docs/measurements.md).
//
// Where TensorFlow's oneDNN rewrites may be on (TF_ENABLE_ONEDNN_OPTS is not "0": TensorFlow
// turns them on by itself on AVX-512 VNNI and AMX CPUs), Grappler's remapper is also off: its
// oneDNN fusion of MatMul+BiasAdd+Relu maps a NaN input to 0 where the reference gives NaN
// (the golden "special" sets catch it). The environment variable is read when TensorFlow's
// library loads, before any Go code runs, so the launcher (bin/deploykit-go) sets it to 0.
var sessionOptions = &tf.SessionOptions{Config: mustMarshal(sessionConfig(os.Getenv("TF_ENABLE_ONEDNN_OPTS")))}

func sessionConfig(onednn string) *corepb.ConfigProto {
	c := &corepb.ConfigProto{InterOpParallelismThreads: -1}
	if onednn != "0" {
		c.GraphOptions = &corepb.GraphOptions{RewriteOptions: &corepb.RewriterConfig{Remapping: corepb.RewriterConfig_OFF}}
	}
	return c
}

func mustMarshal(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// Error classes. Every error Load and Predict return matches exactly one of these with
// errors.Is; the CLI maps ErrInput to exit 2 and the others to exit 3.
var (
	// ErrInput: a malformed manifest, an unknown model or format, or inputs that fail the
	// contract's input checks (names, dtype, rank, dims, boundary casts).
	ErrInput = errors.New("bad input")
	// ErrVersion: the manifest's schema_version is not the one this client reads.
	ErrVersion = manifest.ErrVersion
	// ErrIntegrity: the artifact or the deny-list is missing or fails its sha256.
	ErrIntegrity = manifest.ErrIntegrity
	// ErrUnsafeOps: the signature can reach a denied op (see UnsafeOpsError).
	ErrUnsafeOps = errors.New("unsafe ops")
	// ErrLoad: TensorFlow could not load or run the model, its signature does not fit the
	// manifest, or the artifact needs a newer TensorFlow (see RuntimeVersionError).
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

// port is one model tensor bound to its graph tensor: Spec is the model's dtype, Boundary
// the dtype the graph sees (they differ only under a boundary cast).
type port struct {
	name     string
	spec     *manifest.TensorSpec
	boundary tensor.DType
	out      tf.Output
}

// Model is a loaded SavedModel. Predict may be called from many goroutines at once;
// Close waits for running calls and makes later ones fail with ErrClosed.
type Model struct {
	// ID is the manifest's model id; Spec the model's manifest entry (tensor specs, dims,
	// golden sets); Artifact the entry that was loaded.
	ID       string
	Spec     manifest.Model
	Artifact manifest.Artifact

	mu      sync.RWMutex
	closed  bool
	sm      *tf.SavedModel
	inputs  []port
	outputs []port
	fetches []tf.Output
	// calls recycles Predict's per-call state (*call: the feed map and the input tensors),
	// so that a call of a shape seen before allocates neither.
	calls sync.Pool
}

// LoadManifest loads model modelID from an already read manifest.
func LoadManifest(man *manifest.Manifest, modelID string, opts ...Option) (*Model, error) {
	o := options{format: Format}
	for _, opt := range opts {
		opt(&o)
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
	if art.Signature == "" || len(art.Tags) == 0 {
		return nil, classify(ErrInput, fmt.Errorf("%w: artifact %q needs a signature and tags", manifest.ErrInvalid, art.Path))
	}
	m := &Model{ID: mod.ID, Spec: *mod, Artifact: *art}
	dir, err := man.Resolve(art.Path)
	if err != nil {
		return nil, classify(ErrInput, err)
	}

	// Version skew, then integrity and safety, all before TensorFlow sees a byte of the model.
	if err := checkRuntime(mod.ID, art, RuntimeVersion()); err != nil {
		return nil, err
	}
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
	inNames, err := m.bindings(m.Spec.Inputs, art.InputKeys, sig.GetInputs(), "input")
	if err != nil {
		return nil, classify(ErrLoad, err)
	}
	outNames, err := m.bindings(m.Spec.Outputs, art.OutputKeys, sig.GetOutputs(), "output")
	if err != nil {
		return nil, classify(ErrLoad, err)
	}
	if err := checkOps(mg, art.Signature, sig, deny); err != nil && !o.allowUnsafe {
		return nil, err
	}

	m.sm, err = tf.LoadSavedModel(dir, art.Tags, sessionOptions)
	if err != nil {
		return nil, classify(ErrLoad, fmt.Errorf("loading %q: %v", art.Path, firstLine(err.Error())))
	}
	if m.inputs, err = m.ports(m.Spec.Inputs, inNames); err == nil {
		m.outputs, err = m.ports(m.Spec.Outputs, outNames)
	}
	if err != nil {
		m.sm.Session.Close()
		return nil, classify(ErrLoad, err)
	}
	m.fetches = make([]tf.Output, len(m.outputs))
	for i, p := range m.outputs {
		m.fetches[i] = p.out
	}
	return m, nil
}

// Load reads the manifest, picks model modelID's saved-model artifact and loads it.
func Load(manifestPath, modelID string, opts ...Option) (*Model, error) {
	man, err := manifest.Read(manifestPath)
	if errors.Is(err, manifest.ErrVersion) {
		return nil, err
	}
	if err != nil {
		return nil, classify(ErrInput, fmt.Errorf("manifest: %w", err))
	}
	return LoadManifest(man, modelID, opts...)
}

// bindings resolves each model tensor's key in the signature to its graph tensor name,
// checking the signature's dtype against the tensor's (boundary) dtype.
func (m *Model) bindings(specs []manifest.TensorSpec, keys map[string]string, infos map[string]*corepb.TensorInfo, what string) ([]string, error) {
	names := make([]string, len(specs))
	for i, s := range specs {
		key, ok := keys[s.Name]
		if !ok {
			return nil, fmt.Errorf("artifact %q: %s_keys has no entry for %s %q", m.Artifact.Path, what, what, s.Name)
		}
		ti, ok := infos[key]
		if !ok {
			return nil, fmt.Errorf("signature %q has no %s %q (has: %s)", m.Artifact.Signature, what, key, strings.Join(sortedKeys(infos), ", "))
		}
		if ti.GetName() == "" {
			return nil, fmt.Errorf("signature %q %s %q is not a dense tensor", m.Artifact.Signature, what, key)
		}
		want := m.Artifact.BoundaryDType(s.Name, s.DType)
		if ti.GetDtype() != protoDTypes[want] {
			return nil, fmt.Errorf("signature %q %s %q has dtype %s, the manifest says %s", m.Artifact.Signature, what, key, ti.GetDtype(), want)
		}
		names[i] = ti.GetName()
	}
	return names, nil
}

func (m *Model) ports(specs []manifest.TensorSpec, names []string) ([]port, error) {
	ps := make([]port, len(specs))
	for i := range specs {
		out, err := graphOutput(m.sm.Graph, names[i])
		if err != nil {
			return nil, err
		}
		s := &specs[i]
		ps[i] = port{name: s.Name, spec: s, boundary: m.Artifact.BoundaryDType(s.Name, s.DType), out: out}
	}
	return ps, nil
}

// The TensorFlow dtype of each contract dtype, for the session and for the signature proto.
var (
	tfDTypes = map[tensor.DType]tf.DataType{
		tensor.Float32: tf.Float, tensor.Float16: tf.Half, tensor.Int32: tf.Int32,
		tensor.Int64: tf.Int64, tensor.Uint8: tf.Uint8, tensor.Bool: tf.Bool,
	}
	protoDTypes = map[tensor.DType]typespb.DataType{
		tensor.Float32: typespb.DataType_DT_FLOAT, tensor.Float16: typespb.DataType_DT_HALF,
		tensor.Int32: typespb.DataType_DT_INT32, tensor.Int64: typespb.DataType_DT_INT64,
		tensor.Uint8: typespb.DataType_DT_UINT8, tensor.Bool: typespb.DataType_DT_BOOL,
	}
)

// Inputs and Outputs are the model's tensor specs in the model's order.
func (m *Model) Inputs() []manifest.TensorSpec  { return m.Spec.Inputs }
func (m *Model) Outputs() []manifest.TensorSpec { return m.Spec.Outputs }

// feeds checks inputs against the model's specs and fills c's feed map: one TensorFlow
// tensor per input, cast to its boundary dtype.
func (m *Model) feeds(inputs map[string]*tensor.Tensor, c *call) error {
	if err := m.Spec.Check(inputs, &m.Artifact); err != nil {
		return classify(ErrInput, err)
	}
	for i, p := range m.inputs {
		t, err := tensor.Cast(inputs[p.name], p.boundary)
		if err != nil { // Check has proven every cast fits
			return classify(ErrInput, fmt.Errorf("input %s: %v", p.name, err))
		}
		x, err := c.inputs[i].fill(tfDTypes[p.boundary], t)
		if err != nil {
			return classify(ErrInput, fmt.Errorf("input %s: %v", p.name, err))
		}
		c.feeds[p.out] = x
	}
	return nil
}

// run checks inputs, fills c's feeds and runs the session on them under the read lock
// (ErrClosed after Close): what Predict and Direct share. The results are Go-owned tensors,
// valid after the lock is released; they may share memory with c's input tensors (an output
// that is an input), so c is refilled only once they have been read.
func (m *Model) run(inputs map[string]*tensor.Tensor, c *call) ([]*tf.Tensor, error) {
	if err := m.feeds(inputs, c); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	res, err := m.sm.Session.Run(c.feeds, m.fetches, nil)
	if err != nil {
		return nil, classify(ErrLoad, fmt.Errorf("running %q: %v", m.ID, firstLine(err.Error())))
	}
	return res, nil
}

// Predict runs the model on named inputs (every model input exactly once, each matching
// its spec) and returns every output by name, in the spec's dtype. NaN and Inf are data.
func (m *Model) Predict(inputs map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	c, _ := m.calls.Get().(*call)
	if c == nil {
		c = m.newCall()
	}
	// Back to the pool once the outputs are copied out: they may alias c's input tensors.
	defer m.calls.Put(c)
	res, err := m.run(inputs, c)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*tensor.Tensor, len(m.outputs))
	for i, p := range m.outputs {
		t, err := m.output(p, res[i])
		if err != nil {
			return nil, classify(ErrLoad, err)
		}
		out[p.name] = t
	}
	return out, nil
}

// output copies a fetched tensor out of TensorFlow, checks it against the output's spec and
// casts it back from its boundary dtype.
func (m *Model) output(p port, y *tf.Tensor) (*tensor.Tensor, error) {
	if y.DataType() != tfDTypes[p.boundary] {
		return nil, fmt.Errorf("model %q output %s has TensorFlow dtype %v, want %s", m.ID, p.name, y.DataType(), p.boundary)
	}
	shape := y.Shape()
	if len(shape) != len(p.spec.Shape) {
		return nil, fmt.Errorf("model %q output %s has shape %v, the manifest says rank %d", m.ID, p.name, shape, len(p.spec.Shape))
	}
	for i, d := range p.spec.Shape {
		if d.Name == "" && shape[i] != d.Size {
			return nil, fmt.Errorf("model %q output %s has shape %v, dim %d should be %d", m.ID, p.name, shape, i, d.Size)
		}
	}
	// Straight into the returned tensor's own buffer, sized from the shape.
	w := bytesWriter{buf: make([]byte, tensor.NumElements(shape)*int64(p.boundary.Size()))}
	if _, err := y.WriteContentsTo(&w); err != nil {
		return nil, fmt.Errorf("model %q output %s: %v", m.ID, p.name, err)
	}
	if w.n != len(w.buf) {
		return nil, fmt.Errorf("model %q output %s has %d bytes, shape %v needs %d", m.ID, p.name, w.n, shape, len(w.buf))
	}
	t, err := tensor.FromBytes(p.boundary, shape, w.buf)
	if err != nil {
		return nil, fmt.Errorf("model %q output %s: %v", m.ID, p.name, err)
	}
	if t, err = tensor.Cast(t, p.spec.DType); err != nil {
		return nil, fmt.Errorf("model %q output %s: %v", m.ID, p.name, err)
	}
	return t, nil
}

// PredictRows is the one-input float convenience: for a model with one float32 input and one
// float32 output, both 2-D, it runs a batch of rows and returns one row per input row.
func (m *Model) PredictRows(batch [][]float32) ([][]float32, error) {
	if len(m.Spec.Inputs) != 1 || len(m.Spec.Outputs) != 1 || m.Spec.Inputs[0].DType != tensor.Float32 ||
		m.Spec.Outputs[0].DType != tensor.Float32 || len(m.Spec.Inputs[0].Shape) != 2 || len(m.Spec.Outputs[0].Shape) != 2 {
		return nil, classify(ErrInput, fmt.Errorf("model %q is not a 2-D float32 one-input, one-output model", m.ID))
	}
	cols := 0
	if len(batch) > 0 {
		cols = len(batch[0])
	}
	flat := make([]float32, 0, len(batch)*cols)
	for i, row := range batch {
		if len(row) != cols {
			return nil, classify(ErrInput, fmt.Errorf("row %d has %d values, row 0 has %d", i, len(row), cols))
		}
		flat = append(flat, row...)
	}
	x, err := tensor.FromFloat32([]int64{int64(len(batch)), int64(cols)}, flat)
	if err != nil {
		return nil, classify(ErrInput, err)
	}
	out, err := m.Predict(map[string]*tensor.Tensor{m.Spec.Inputs[0].Name: x})
	if err != nil {
		return nil, err
	}
	y := out[m.Spec.Outputs[0].Name]
	vals, w := y.Float32s(), int(y.Shape[1])
	rows := make([][]float32, y.Shape[0])
	for r := range rows {
		rows[r] = vals[r*w : (r+1)*w : (r+1)*w]
	}
	return rows, nil
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
