package manifest_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/deploykit/deploykit/go/manifest"
	"github.com/deploykit/deploykit/go/npy"
	"github.com/deploykit/deploykit/go/tensor"
)

// conformanceDir is testdata/conformance at the repository root.
var conformanceDir = filepath.Join("..", "..", "testdata", "conformance")

type specVerdict struct {
	Name  string `json:"name"`
	DType string `json:"dtype"`
	Shape []any  `json:"shape"`
}

type verdicts struct {
	Version int `json:"version"`
	Npy     []struct {
		File       string  `json:"file"`
		Valid      bool    `json:"valid"`
		DType      string  `json:"dtype"`
		Shape      []int64 `json:"shape"`
		DataSha256 string  `json:"data_sha256"`
		Why        string  `json:"why"`
	} `json:"npy"`
	Manifests []struct {
		File   string `json:"file"`
		Valid  bool   `json:"valid"`
		Exit   int    `json:"exit"`
		Why    string `json:"why"`
		Models []struct {
			ID      string                      `json:"id"`
			Inputs  []specVerdict               `json:"inputs"`
			Outputs []specVerdict               `json:"outputs"`
			Dims    map[string]manifest.DimSpec `json:"dims"`
		} `json:"models"`
	} `json:"manifests"`
	Calls []struct {
		Manifest string            `json:"manifest"`
		Model    string            `json:"model"`
		Format   string            `json:"format"`
		Inputs   map[string]string `json:"inputs"`
		Valid    bool              `json:"valid"`
		Exit     int               `json:"exit"`
		Why      string            `json:"why"`
	} `json:"calls"`
}

func readVerdicts(t *testing.T) *verdicts {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(conformanceDir, "verdicts.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v verdicts
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if v.Version != 1 || len(v.Npy) == 0 || len(v.Manifests) == 0 || len(v.Calls) == 0 {
		t.Fatalf("verdicts.json: version %d with %d npy, %d manifests, %d calls", v.Version, len(v.Npy), len(v.Manifests), len(v.Calls))
	}
	return &v
}

// exitCode is the CLI's exit code for a manifest or input-check error.
func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, manifest.ErrVersion):
		return 3
	case errors.Is(err, manifest.ErrInvalid), errors.Is(err, manifest.ErrBadInput), errors.Is(err, npy.ErrInvalid):
		return 2
	}
	return -1
}

func TestConformanceNpy(t *testing.T) {
	for _, v := range readVerdicts(t).Npy {
		t.Run(v.File, func(t *testing.T) {
			got, err := npy.ReadFile(filepath.Join(conformanceDir, v.File))
			if !v.Valid {
				if !errors.Is(err, npy.ErrInvalid) {
					t.Fatalf("accepted (%v), want rejected: %s", err, v.Why)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.DType.String() != v.DType || !slices.Equal(got.Shape, v.Shape) {
				t.Errorf("got %v %v, want %s %v", got.DType, got.Shape, v.DType, v.Shape)
			}
			sum := sha256.Sum256(got.Data)
			if hex.EncodeToString(sum[:]) != v.DataSha256 {
				t.Errorf("data sha256 %x, want %s", sum, v.DataSha256)
			}
		})
	}
}

func shapeOf(dims []manifest.Dim) []any {
	out := make([]any, len(dims))
	for i, d := range dims {
		if d.Name != "" {
			out[i] = d.Name
		} else {
			out[i] = float64(d.Size) // as encoding/json decodes the verdict's numbers
		}
	}
	return out
}

func sameSpecs(got []manifest.TensorSpec, want []specVerdict) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d tensors, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.Name || g.DType.String() != w.DType || !slices.Equal(shapeOf(g.Shape), w.Shape) {
			return fmt.Errorf("tensor %d: %s %v %v, want %s %s %v", i, g.Name, g.DType, shapeOf(g.Shape), w.Name, w.DType, w.Shape)
		}
	}
	return nil
}

func TestConformanceManifests(t *testing.T) {
	for _, v := range readVerdicts(t).Manifests {
		t.Run(v.File, func(t *testing.T) {
			m, err := manifest.Read(filepath.Join(conformanceDir, v.File))
			if !v.Valid {
				if code := exitCode(err); code != v.Exit {
					t.Fatalf("exit %d (%v), want %d: %s", code, err, v.Exit, v.Why)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Models) != len(v.Models) {
				t.Fatalf("%d models, want %d", len(m.Models), len(v.Models))
			}
			for _, want := range v.Models {
				mod, err := m.Model(want.ID)
				if err != nil {
					t.Fatal(err)
				}
				if err := sameSpecs(mod.Inputs, want.Inputs); err != nil {
					t.Errorf("model %s inputs: %v", want.ID, err)
				}
				if err := sameSpecs(mod.Outputs, want.Outputs); err != nil {
					t.Errorf("model %s outputs: %v", want.ID, err)
				}
				if len(mod.Dims) != len(want.Dims) {
					t.Errorf("model %s: dims %v, want %v", want.ID, mod.Dims, want.Dims)
				}
				for name, d := range want.Dims {
					lo, hi := mod.Dims[name].Bounds()
					wlo, whi := d.Bounds()
					if lo != wlo || hi != whi {
						t.Errorf("model %s dim %s: [%d, %d], want [%d, %d]", want.ID, name, lo, hi, wlo, whi)
					}
				}
			}
		})
	}
}

func TestConformanceCalls(t *testing.T) {
	for i, v := range readVerdicts(t).Calls {
		t.Run(fmt.Sprintf("%d %s", i, v.Why), func(t *testing.T) {
			m, err := manifest.Read(filepath.Join(conformanceDir, v.Manifest))
			if err != nil {
				t.Fatal(err)
			}
			mod, err := m.Model(v.Model)
			if err != nil {
				t.Fatal(err)
			}
			var art *manifest.Artifact
			if v.Format != "" {
				if art, err = mod.Artifact(v.Format); err != nil {
					t.Fatal(err)
				}
			}
			inputs := map[string]*tensor.Tensor{}
			for name, file := range v.Inputs {
				if inputs[name], err = npy.ReadFile(filepath.Join(conformanceDir, file)); err != nil {
					t.Fatal(err)
				}
			}
			err = mod.Check(inputs, art)
			if code := exitCode(err); code != v.Exit {
				t.Fatalf("exit %d (%v), want %d: %s", code, err, v.Exit, v.Why)
			}
			if err != nil && !v.Valid {
				t.Logf("refused: %v", err)
			}
		})
	}
}
