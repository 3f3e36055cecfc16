package tfmodel

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"deploykit/go/internal/testfix"
	"deploykit/go/manifest"
	"deploykit/go/npy"
	"deploykit/go/parity"
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

// golden reads a model's golden file (field: input, expected, special_input, special_expected).
func golden(t testing.TB, manifestPath, id, field string) *npy.Matrix {
	t.Helper()
	man, err := manifest.Read(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := man.Model(id)
	if err != nil {
		t.Fatal(err)
	}
	rel := map[string]string{
		"input": mod.Golden.Input, "expected": mod.Golden.Expected,
		"special_input": mod.Golden.SpecialInput, "special_expected": mod.Golden.SpecialExpected,
	}[field]
	if rel == "" {
		t.Fatalf("model %s has no golden %s", id, field)
	}
	m, err := npy.ReadFile(filepath.Join(man.Dir, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func head(m *npy.Matrix, rows int) *npy.Matrix {
	return &npy.Matrix{Rows: rows, Cols: m.Cols, Data: m.Data[:rows*m.Cols]}
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

func predict(t testing.TB, m *Model, x *npy.Matrix) *npy.Matrix {
	t.Helper()
	y, err := m.Predict(x.RowSlices())
	if err != nil {
		t.Fatalf("Predict(%s, %d rows): %v", m.ID, x.Rows, err)
	}
	got, err := npy.FromRows(y)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func assertParity(t *testing.T, m *Model, got, want *npy.Matrix) {
	t.Helper()
	tol := m.Artifact.Tolerance
	r := parity.Compare(got, want, tol.Atol, tol.Rtol)
	if !r.Pass {
		t.Error(parity.Summary(m.ID, r, got, want, tol.Atol, tol.Rtol))
	}
}

// TestGoldenParity runs every saved-model of the test export at batch 1, 7 and the whole
// golden batch, and the special-values rows (NaN/Inf pattern must match).
func TestGoldenParity(t *testing.T) {
	mp := testManifest(t)
	for _, id := range savedModels(t, mp) {
		t.Run(id, func(t *testing.T) {
			m := load(t, mp, id)
			x, want := golden(t, mp, id, "input"), golden(t, mp, id, "expected")
			for _, rows := range []int{1, 7, x.Rows} {
				got := predict(t, m, head(x, rows))
				assertParity(t, m, got, head(want, rows))
			}
			sx, swant := golden(t, mp, id, "special_input"), golden(t, mp, id, "special_expected")
			got := predict(t, m, sx)
			assertParity(t, m, got, swant)
			if !slices.ContainsFunc(swant.Data, func(v float32) bool { return math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) }) {
				t.Errorf("special_expected of %s has no NaN/Inf: the special set tests nothing", id)
			}
		})
	}
}

// TestSignatureFromManifest checks the model resolved its tensors from the signature and
// its widths from the manifest, not from fixed names.
func TestSignatureFromManifest(t *testing.T) {
	mp := testManifest(t)
	for _, tc := range []struct {
		id      string
		in, out int
	}{{"mlp_keras", 10, 1}, {"wide_keras", 256, 10}} {
		m := load(t, mp, tc.id)
		if m.InWidth != tc.in || m.OutWidth != tc.out {
			t.Errorf("%s: widths %d -> %d, want %d -> %d", tc.id, m.InWidth, m.OutWidth, tc.in, tc.out)
		}
		if !strings.HasPrefix(m.in.Op.Name(), "serving_default") || m.out.Op.Type() != "StatefulPartitionedCall" {
			t.Errorf("%s: resolved %s (%s) -> %s (%s)", tc.id, m.in.Op.Name(), m.in.Op.Type(), m.out.Op.Name(), m.out.Op.Type())
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
	x, want := golden(t, mp, "unsafe_readfile", "input"), golden(t, mp, "unsafe_readfile", "expected")
	assertParity(t, m, predict(t, m, x), want)
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
	for _, tc := range []struct {
		name, manifest, model string
		opts                  []Option
		class                 error
	}{
		{"missing manifest", filepath.Join(dir, "none.json"), "mlp_keras", nil, ErrInput},
		{"malformed manifest", bad, "mlp_keras", nil, ErrInput},
		{"unknown model", mp, "nope", nil, ErrInput},
		{"no saved-model", mp, "mlp_torch", nil, ErrInput},
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

func TestPredictErrors(t *testing.T) {
	mp := testManifest(t)
	m, err := Load(mp, "mlp_keras")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		batch [][]float32
	}{
		{"empty batch", nil},
		{"narrow row", [][]float32{make([]float32, 9)}},
		{"ragged rows", [][]float32{make([]float32, 10), make([]float32, 11)}},
	} {
		if _, err := m.Predict(tc.batch); !errors.Is(err, ErrInput) {
			t.Errorf("%s: Predict = %v, want ErrInput", tc.name, err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if _, err := m.Predict([][]float32{make([]float32, 10)}); !errors.Is(err, ErrClosed) {
		t.Errorf("Predict after Close = %v, want ErrClosed", err)
	}
}

// TestConcurrentPredict: 16 goroutines x 500 predictions on one Model equal the serial
// results bit for bit. Run under -race by `make test-go`.
func TestConcurrentPredict(t *testing.T) {
	mp := testManifest(t)
	m := load(t, mp, "mlp_keras")
	x := golden(t, mp, "mlp_keras", "input")
	// Inputs of several batch sizes, and their serial results.
	var inputs, serial [][][]float32
	for _, rows := range []int{1, 2, 3, 7, 16, 33, 64} {
		in := head(x, rows).RowSlices()
		out, err := m.Predict(in)
		if err != nil {
			t.Fatal(err)
		}
		inputs, serial = append(inputs, in), append(serial, out)
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
				for r := range out {
					if !slices.Equal(out[r], serial[k][r]) {
						errs <- errors.New("concurrent result differs from the serial one")
						return
					}
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
	in := golden(t, mp, "mlp_keras", "input").RowSlices()
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
