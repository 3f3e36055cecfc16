package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/go/tensor"
)

const keys = `, "input_keys": {"x": "x"}, "output_keys": {"y": "a", "z": "b"}`

// specModel reads a one-model manifest built from the given inputs, outputs, dims and
// saved-model artifact fields.
func specModel(t *testing.T, inputs, outputs, dims, artifact string) (*Model, error) {
	t.Helper()
	doc := `{"schema_version": 2, "models": [{"id": "m", "inputs": ` + inputs + `, "outputs": ` + outputs +
		`, "dims": ` + dims + `, "artifacts": [{"format": "saved-model", "path": "m/sm", "sha256": "0"` + artifact + `}]}]}`
	p := filepath.Join(t.TempDir(), "manifest.json")
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Read(p)
	if err != nil {
		return nil, err
	}
	return &m.Models[0], nil
}

const (
	scalarIn = `[{"name": "x", "dtype": "int64", "shape": []}]`
	twoOut   = `[{"name": "y", "dtype": "float16", "shape": [0, "n"]}, {"name": "z", "dtype": "bool", "shape": [1, 1, 1, 1, 1, 1, 1, 1]}]`
)

func TestValidateSpecs(t *testing.T) {
	for _, tc := range []struct {
		name, in, out, dims, art, msg string
	}{
		{"valid: rank 0, a zero dim, rank 8", scalarIn, twoOut, `{"n": {"min": 2}}`, keys, ""},
		{"tolerance names an unknown output", scalarIn, twoOut, `{}`, keys + `, "tolerance": {"atol": 1, "rtol": 1, "outputs": {"w": {"atol": 1, "rtol": 1}}}`, `tolerance names output "w"`},
		{"no outputs", scalarIn, `[]`, `{}`, `, "input_keys": {"x": "x"}, "output_keys": {}`, "has no outputs"},
		{"duplicate output", scalarIn, `[{"name": "y", "dtype": "bool", "shape": []}, {"name": "y", "dtype": "bool", "shape": []}]`, `{}`, keys, `output "y" appears twice`},
		{"dims max below min", scalarIn, twoOut, `{"n": {"min": 3, "max": 2}}`, keys, "min 3 is over max 2"},
		{"negative min", scalarIn, twoOut, `{"n": {"min": -1}}`, keys, "negative"},
		{"output key missing", scalarIn, twoOut, `{}`, `, "input_keys": {"x": "x"}, "output_keys": {"y": "a"}`, `output_keys has no key for "z"`},
		{"cast not allowed", scalarIn, twoOut, `{}`, keys + `, "boundary_dtypes": {"x": "float32"}`, "from int64 to float32"},
		{"unknown cast target", scalarIn, twoOut, `{}`, keys + `, "boundary_dtypes": {"y": "float64"}`, "from float16 to float64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := specModel(t, tc.in, tc.out, tc.dims, tc.art)
			if tc.msg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Read = %v, want ErrInvalid with %q", err, tc.msg)
			}
		})
	}
}

// TestCheck: the input checks on a scalar input, dims shared by two inputs, and the
// uint8 and bool boundary casts (which always fit int32).
func TestCheck(t *testing.T) {
	mod, err := specModel(t,
		`[{"name": "a", "dtype": "uint8", "shape": ["n", 3]}, {"name": "b", "dtype": "bool", "shape": ["n"]}, {"name": "s", "dtype": "int64", "shape": []}]`,
		`[{"name": "y", "dtype": "float32", "shape": ["n"]}]`, `{"n": {"max": 4}}`,
		`, "input_keys": {"a": "a", "b": "b", "s": "s"}, "output_keys": {"y": "y"}, "boundary_dtypes": {"a": "int32", "b": "int32", "s": "int32"}`)
	if err != nil {
		t.Fatal(err)
	}
	art := &mod.Artifacts[0]
	s, _ := tensor.FromInt64([]int64{}, []int64{7})
	big, _ := tensor.FromInt64([]int64{}, []int64{-1 << 40})
	for _, tc := range []struct {
		name string
		in   map[string]*tensor.Tensor
		msg  string
	}{
		{"ok", map[string]*tensor.Tensor{"a": tensor.New(tensor.Uint8, 2, 3), "b": tensor.New(tensor.Bool, 2), "s": s}, ""},
		{"zero rows", map[string]*tensor.Tensor{"a": tensor.New(tensor.Uint8, 0, 3), "b": tensor.New(tensor.Bool, 0), "s": s}, ""},
		{"n differs", map[string]*tensor.Tensor{"a": tensor.New(tensor.Uint8, 2, 3), "b": tensor.New(tensor.Bool, 3), "s": s}, "input b: dim 0 (n) is 3, but input a has 2"},
		{"n over max", map[string]*tensor.Tensor{"a": tensor.New(tensor.Uint8, 5, 3), "b": tensor.New(tensor.Bool, 5), "s": s}, "input a: dim 0 (n) is 5, outside [0, 4]"},
		{"scalar given as rank 1", map[string]*tensor.Tensor{"a": tensor.New(tensor.Uint8, 2, 3), "b": tensor.New(tensor.Bool, 2), "s": tensor.New(tensor.Int64, 1)}, "input s: expected rank 0"},
		{"scalar overflows int32", map[string]*tensor.Tensor{"a": tensor.New(tensor.Uint8, 2, 3), "b": tensor.New(tensor.Bool, 2), "s": big}, "input s: boundary cast to int32: value -1099511627776 at index 0 does not fit int32"},
	} {
		err := mod.Check(tc.in, art)
		if tc.msg == "" && err != nil || tc.msg != "" && (!errors.Is(err, ErrBadInput) || err.Error() != tc.msg && !strings.HasPrefix(err.Error(), tc.msg)) {
			t.Errorf("%s: Check = %v, want %q", tc.name, err, tc.msg)
		}
	}
	// Without the artifact there is no boundary cast to fit.
	if err := mod.Check(map[string]*tensor.Tensor{"a": tensor.New(tensor.Uint8, 2, 3), "b": tensor.New(tensor.Bool, 2), "s": big}, nil); err != nil {
		t.Errorf("no artifact: %v", err)
	}
}
