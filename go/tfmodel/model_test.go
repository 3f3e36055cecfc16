package tfmodel

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/deploykit/deploykit/go/internal/testfix"
	"github.com/deploykit/deploykit/go/manifest"
	"github.com/deploykit/deploykit/go/npy"
	"github.com/deploykit/deploykit/go/parity"
	"github.com/deploykit/deploykit/go/tensor"
)

func testManifest(t testing.TB) string   { return testfix.Manifest(t, "DEPLOYKIT_TEST_MANIFEST") }
func unsafeManifest(t testing.TB) string { return testfix.Manifest(t, "DEPLOYKIT_UNSAFE_MANIFEST") }

// savedModels lists the ids of every model with a saved-model artifact.
func savedModels(t testing.TB, manifestPath string) []string {
	t.Helper()
	man, err := manifest.Read(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range man.Models {
		if _, err := m.Artifact(Format); err == nil {
			ids = append(ids, m.ID)
		}
	}
	if len(ids) == 0 {
		t.Fatalf("%s has no saved-model artifact", manifestPath)
	}
	return ids
}

// goldenSet is one golden set of a model, read into tensors.
type goldenSet struct {
	name            string
	inputs, expects map[string]*tensor.Tensor
}

// goldenSets reads every golden set of model id.
func goldenSets(t testing.TB, manifestPath, id string) []goldenSet {
	t.Helper()
	man, err := manifest.Read(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := man.Model(id)
	if err != nil {
		t.Fatal(err)
	}
	read := func(files map[string]string) map[string]*tensor.Tensor {
		out := map[string]*tensor.Tensor{}
		for name, rel := range files {
			x, err := npy.ReadFile(filepath.Join(man.Dir, filepath.FromSlash(rel)))
			if err != nil {
				t.Fatal(err)
			}
			out[name] = x
		}
		return out
	}
	var sets []goldenSet
	for _, g := range mod.Golden {
		sets = append(sets, goldenSet{name: g.Name, inputs: read(g.Inputs), expects: read(g.Expected)})
	}
	if len(sets) == 0 {
		t.Fatalf("model %s has no golden sets", id)
	}
	return sets
}

// golden returns model id's set named name.
func golden(t testing.TB, manifestPath, id, name string) goldenSet {
	t.Helper()
	for _, g := range goldenSets(t, manifestPath, id) {
		if g.name == name {
			return g
		}
	}
	t.Fatalf("model %s has no golden set %q", id, name)
	return goldenSet{}
}

// head keeps the first rows of every tensor (along dim 0, the batch).
func head(ts map[string]*tensor.Tensor, rows int64) map[string]*tensor.Tensor {
	out := make(map[string]*tensor.Tensor, len(ts))
	for name, x := range ts {
		shape := slices.Clone(x.Shape)
		per := len(x.Data) / int(max(shape[0], 1))
		shape[0] = rows
		out[name] = &tensor.Tensor{DType: x.DType, Shape: shape, Data: x.Data[:int(rows)*per]}
	}
	return out
}

func load(t testing.TB, manifestPath, id string, opts ...Option) *Model {
	t.Helper()
	m, err := Load(manifestPath, id, opts...)
	if err != nil {
		t.Fatalf("Load(%s): %v", id, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func predict(t testing.TB, m *Model, x map[string]*tensor.Tensor) map[string]*tensor.Tensor {
	t.Helper()
	y, err := m.Predict(x)
	if err != nil {
		t.Fatalf("Predict(%s): %v", m.ID, err)
	}
	return y
}

// assertParity compares every output with the reference, each with its own tolerance.
func assertParity(t *testing.T, m *Model, got, want map[string]*tensor.Tensor) {
	t.Helper()
	if len(got) != len(m.Spec.Outputs) || len(want) != len(m.Spec.Outputs) {
		t.Fatalf("%d outputs and %d references for %d model outputs", len(got), len(want), len(m.Spec.Outputs))
	}
	for _, s := range m.Spec.Outputs {
		tol := m.Artifact.Tolerance.For(s.Name)
		r := parity.Compare(got[s.Name], want[s.Name], tol.Atol, tol.Rtol)
		if !r.Pass {
			t.Error(m.ID + " " + parity.Summary(s.Name, r, got[s.Name], want[s.Name], tol.Atol, tol.Rtol))
		}
	}
}

// nonFinite reports whether any float element of the tensors is NaN or Inf.
func nonFinite(ts map[string]*tensor.Tensor) bool {
	for _, x := range ts {
		for i := range x.Len() {
			if v := x.Float64At(i); x.DType.IsFloat() && (math.IsNaN(v) || math.IsInf(v, 0)) {
				return true
			}
		}
	}
	return false
}

// TestGoldenParity runs every saved-model of the test export on every golden set, the
// golden set also at batch 1 and 7, and compares every output with the reference (the
// NaN/Inf pattern included).
func TestGoldenParity(t *testing.T) {
	mp := testManifest(t)
	for _, id := range savedModels(t, mp) {
		t.Run(id, func(t *testing.T) {
			m := load(t, mp, id)
			for _, g := range goldenSets(t, mp, id) {
				t.Run(g.name, func(t *testing.T) {
					assertParity(t, m, predict(t, m, g.inputs), g.expects)
					if g.name == "golden" {
						for _, rows := range []int64{1, 7} {
							assertParity(t, m, predict(t, m, head(g.inputs, rows)), head(g.expects, rows))
						}
					}
					// Where the special rows feed NaN/Inf, the reference's NaN/Inf pattern is
					// what they test; a set without any would compare finite numbers only.
					if g.name == "special" && nonFinite(g.inputs) && !nonFinite(g.expects) {
						t.Errorf("the special set of %s feeds NaN/Inf but expects none: it tests no NaN/Inf pattern", id)
					}
				})
			}
		})
	}
}

// TestSignatureFromManifest checks the model bound every input and output through the
// signature's keys, not fixed names.
func TestSignatureFromManifest(t *testing.T) {
	mp := testManifest(t)
	for _, id := range savedModels(t, mp) {
		m := load(t, mp, id)
		if len(m.inputs) != len(m.Spec.Inputs) || len(m.outputs) != len(m.Spec.Outputs) || len(m.fetches) != len(m.outputs) {
			t.Fatalf("%s: %d inputs, %d outputs bound for %d and %d specs", id, len(m.inputs), len(m.outputs), len(m.Spec.Inputs), len(m.Spec.Outputs))
		}
		for _, p := range m.inputs {
			if !strings.HasPrefix(p.out.Op.Name(), "serving_default") {
				t.Errorf("%s: input %s resolved to %s (%s)", id, p.name, p.out.Op.Name(), p.out.Op.Type())
			}
		}
		for _, p := range m.outputs {
			// The serving function's call: stateful for Keras/JAX exports, plain
			// PartitionedCall for onnx2tf's (torch via ONNX), whose function has no state.
			if typ := p.out.Op.Type(); typ != "StatefulPartitionedCall" && typ != "PartitionedCall" {
				t.Errorf("%s: output %s resolved to %s (%s)", id, p.name, p.out.Op.Name(), p.out.Op.Type())
			}
		}
	}
}

func TestUnsafeOpsRefused(t *testing.T) {
	mp := unsafeManifest(t)
	_, err := Load(mp, "unsafe_readfile")
	var ue *UnsafeOpsError
	if !errors.As(err, &ue) || !errors.Is(err, ErrUnsafeOps) {
		t.Fatalf("Load(unsafe_readfile) = %v, want an UnsafeOpsError", err)
	}
	if len(ue.Ops) != 1 || ue.Ops[0].Op != "ReadFile" || !strings.HasPrefix(ue.Ops[0].Where[0], "function ") {
		t.Errorf("unsafe ops = %+v, want ReadFile inside a function", ue.Ops)
	}
	if errors.Is(err, ErrInput) || errors.Is(err, ErrLoad) {
		t.Errorf("%v is classified as more than ErrUnsafeOps", err)
	}
}

func TestUnsafeOpsAllowed(t *testing.T) {
	mp := unsafeManifest(t)
	m := load(t, mp, "unsafe_readfile", AllowUnsafeOps())
	g := golden(t, mp, "unsafe_readfile", "golden")
	assertParity(t, m, predict(t, m, g.inputs), g.expects)
}

// TestSaverOpsNotReachable: every real export contains SaveV2/RestoreV2 in its saver
// functions, which the signature cannot reach.
func TestSaverOpsNotReachable(t *testing.T) {
	mp := testManifest(t)
	man, _ := manifest.Read(mp)
	for _, id := range savedModels(t, mp) {
		mod, _ := man.Model(id)
		art, _ := mod.Artifact(Format)
		dir, _ := man.Resolve(art.Path)
		mg, err := readMetaGraph(dir, art.Tags)
		if err != nil {
			t.Fatal(err)
		}
		var all []string
		for _, f := range mg.GetGraphDef().GetLibrary().GetFunction() {
			for _, n := range f.GetNodeDef() {
				all = append(all, n.GetOp())
			}
		}
		if !slices.Contains(all, "SaveV2") || !slices.Contains(all, "RestoreV2") {
			t.Errorf("%s: no SaveV2/RestoreV2 in the library: the test proves nothing", id)
		}
		ops := reachableOps(mg, mg.GetSignatureDef()[art.Signature])
		for _, op := range []string{"SaveV2", "RestoreV2", "MergeV2Checkpoints"} {
			if ops[op] != nil {
				t.Errorf("%s: %s reported reachable from the signature (in %v)", id, op, ops[op])
			}
		}
		if ops["MatMul"] == nil && ops["XlaCallModule"] == nil {
			t.Errorf("%s: neither MatMul nor XlaCallModule reachable: the walk missed the serving function (%v)", id, ops)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	mp := testManifest(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte("{not json"), 0o644)
	v1 := filepath.Join(dir, "v1.json")
	os.WriteFile(v1, []byte(`{"schema_version": 1, "models": []}`), 0o644)
	// A copy of the export in which mlp_torch has no saved-model artifact.
	noSaved := testfix.CopyExport(t, mp)
	testfix.EditManifest(t, noSaved, func(doc map[string]any) { dropArtifact(t, doc, "mlp_torch", Format) })
	for _, tc := range []struct {
		name, manifest, model string
		opts                  []Option
		class                 error
	}{
		{"missing manifest", filepath.Join(dir, "none.json"), "mlp_keras", nil, ErrInput},
		{"malformed manifest", bad, "mlp_keras", nil, ErrInput},
		{"schema_version 1", v1, "mlp_keras", nil, ErrVersion},
		{"unknown model", mp, "nope", nil, ErrInput},
		{"no saved-model", noSaved, "mlp_torch", nil, ErrInput},
		{"other format", mp, "mlp_keras", []Option{WithFormat("onnx")}, ErrInput},
		{"unknown format", mp, "mlp_keras", []Option{WithFormat("pickle")}, ErrInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.manifest, tc.model, tc.opts...)
			if !errors.Is(err, tc.class) {
				t.Fatalf("Load = %v, want %v", err, tc.class)
			}
		})
	}
}

// dropArtifact removes model id's artifact of the given format from a manifest document.
func dropArtifact(t *testing.T, doc map[string]any, id, format string) {
	t.Helper()
	testfix.Artifact(t, doc, id, format) // fails the test if there is none to drop
	for _, m := range doc["models"].([]any) {
		if mod := m.(map[string]any); mod["id"] == id {
			mod["artifacts"] = slices.DeleteFunc(mod["artifacts"].([]any), func(a any) bool { return a.(map[string]any)["format"] == format })
		}
	}
}

func TestPredictErrors(t *testing.T) {
	mp := testManifest(t)
	m, err := Load(mp, "mlp_keras")
	if err != nil {
		t.Fatal(err)
	}
	f32 := func(shape ...int64) *tensor.Tensor { return tensor.New(tensor.Float32, shape...) }
	for _, tc := range []struct {
		name   string
		inputs map[string]*tensor.Tensor
		msg    string
	}{
		{"no inputs", nil, "input input: missing"},
		{"nil tensor", map[string]*tensor.Tensor{"input": nil}, "input input: missing"},
		{"unknown name", map[string]*tensor.Tensor{"input": f32(1, 10), "mask": f32(1, 10)}, `input mask: unknown input "mask" (model inputs: input)`},
		{"wrong dtype", map[string]*tensor.Tensor{"input": tensor.New(tensor.Float16, 1, 10)}, "input input: expected float32, got float16"},
		{"wrong rank", map[string]*tensor.Tensor{"input": f32(10)}, "input input: expected rank 2"},
		{"narrow row", map[string]*tensor.Tensor{"input": f32(2, 9)}, "input input: dim 1 is 9, expected 10"},
		{"empty batch", map[string]*tensor.Tensor{"input": f32(0, 10)}, "input input: dim 0 (batch) is 0, outside [1, inf)"},
	} {
		_, err := m.Predict(tc.inputs)
		if !errors.Is(err, ErrInput) || !errors.Is(err, manifest.ErrBadInput) || !strings.HasPrefix(err.Error(), tc.msg) {
			t.Errorf("%s: Predict = %v, want ErrInput %q", tc.name, err, tc.msg)
		}
	}
	if _, err := m.PredictRows([][]float32{make([]float32, 10), make([]float32, 11)}); !errors.Is(err, ErrInput) {
		t.Errorf("ragged rows: PredictRows = %v, want ErrInput", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if _, err := m.Predict(map[string]*tensor.Tensor{"input": f32(1, 10)}); !errors.Is(err, ErrClosed) {
		t.Errorf("Predict after Close = %v, want ErrClosed", err)
	}
}

// TestPredictRows: the one-input float convenience gives what Predict gives.
func TestPredictRows(t *testing.T) {
	mp := testManifest(t)
	m := load(t, mp, "wide_keras")
	g := golden(t, mp, "wide_keras", "golden")
	x := head(g.inputs, 5)["input"]
	vals, w := x.Float32s(), int(x.Shape[1])
	rows := make([][]float32, 5)
	for r := range rows {
		rows[r] = vals[r*w : (r+1)*w]
	}
	got, err := m.PredictRows(rows)
	if err != nil {
		t.Fatal(err)
	}
	want := predict(t, m, map[string]*tensor.Tensor{"input": x})["output"].Float32s()
	if len(got) != 5 || !slices.Equal(slices.Concat(got...), want) {
		t.Errorf("PredictRows differs from Predict")
	}
}

// TestConcurrentPredict: 16 goroutines x 500 predictions on one Model equal the serial
// results bit for bit. Run under -race by `make test-go`.
func TestConcurrentPredict(t *testing.T) {
	mp := testManifest(t)
	m := load(t, mp, "mlp_keras")
	g := golden(t, mp, "mlp_keras", "golden")
	// Inputs of several batch sizes, and their serial results.
	var inputs []map[string]*tensor.Tensor
	var serial [][]byte
	for _, rows := range []int64{1, 2, 3, 7, 16, 33, 64} {
		in := head(g.inputs, rows)
		inputs, serial = append(inputs, in), append(serial, predict(t, m, in)["output"].Data)
	}
	const goroutines, calls = 16, 500
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				k := (g + i) % len(inputs)
				out, err := m.Predict(inputs[k])
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(out["output"].Data, serial[k]) {
					errs <- errors.New("concurrent result differs from the serial one")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestCloseWaitsForPredict: Close during concurrent Predict calls neither crashes nor
// returns anything but results or ErrClosed.
func TestCloseWaitsForPredict(t *testing.T) {
	mp := testManifest(t)
	m, err := Load(mp, "mlp_keras")
	if err != nil {
		t.Fatal(err)
	}
	in := golden(t, mp, "mlp_keras", "golden").inputs
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if _, err := m.Predict(in); err != nil && !errors.Is(err, ErrClosed) {
					t.Error(err)
					return
				}
			}
		}()
	}
	if err := m.Close(); err != nil {
		t.Error(err)
	}
	wg.Wait()
}

// TestBoundaryCasts: a manifest that declares mlp_keras's input and output float16, with a
// float32 boundary on the saved-model, runs float16 tensors: the input is widened before the
// call and the output narrowed after it, exactly as casting by hand around the float32 model.
func TestBoundaryCasts(t *testing.T) {
	src := testManifest(t)
	p := testfix.CopyExport(t, src, "mlp_keras")
	testfix.EditManifest(t, p, func(doc map[string]any) {
		for _, m := range doc["models"].([]any) {
			if mod := m.(map[string]any); mod["id"] == "mlp_keras" {
				mod["inputs"].([]any)[0].(map[string]any)["dtype"] = "float16"
				mod["outputs"].([]any)[0].(map[string]any)["dtype"] = "float16"
			}
		}
		testfix.Artifact(t, doc, "mlp_keras", Format)["boundary_dtypes"] = map[string]any{"input": "float32", "output": "float32"}
	})
	half := load(t, p, "mlp_keras")
	plain := load(t, src, "mlp_keras")
	x32 := head(golden(t, src, "mlp_keras", "golden").inputs, 16)["input"]
	x16, err := tensor.Cast(x32, tensor.Float16)
	if err != nil {
		t.Fatal(err)
	}
	got := predict(t, half, map[string]*tensor.Tensor{"input": x16})["output"]
	widened, _ := tensor.Cast(x16, tensor.Float32)
	want, _ := tensor.Cast(predict(t, plain, map[string]*tensor.Tensor{"input": widened})["output"], tensor.Float16)
	if got.DType != tensor.Float16 || !slices.Equal(got.Shape, []int64{16, 1}) || !bytes.Equal(got.Data, want.Data) {
		t.Errorf("float16 through the float32 boundary: %v %v, want %v %v, equal bytes %v", got.DType, got.Shape, want.DType, want.Shape, bytes.Equal(got.Data, want.Data))
	}
	if _, err := half.Predict(map[string]*tensor.Tensor{"input": x32}); !errors.Is(err, ErrInput) {
		t.Errorf("float32 input to a float16 spec: %v, want ErrInput", err)
	}
}
