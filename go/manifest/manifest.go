// Package manifest reads deploykit's models/manifest.json, schema version 2
// (docs/contract.md): the models with their tensor specs and dynamic dims, golden sets,
// artifacts, the artifact hashes and the op deny-list beside it. Read validates every rule
// of the contract; Check applies the contract's input checks to one call.
package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/deploykit/deploykit/go/tensor"
)

// SchemaVersion is the manifest schema this reader understands.
const SchemaVersion = 2

// ErrInvalid is wrapped by errors about a malformed manifest (bad JSON, a malformed tensor
// spec, a path leaving the export): exit 2 in the CLI.
var ErrInvalid = errors.New("malformed manifest")

// ErrVersion is wrapped when schema_version is not 2 (missing, another number, a string):
// exit 3 in the CLI.
var ErrVersion = errors.New("unsupported schema_version")

// versionError is the contract's one line for a schema_version this client does not read.
type versionError struct{ msg string }

func (e *versionError) Error() string        { return e.msg }
func (e *versionError) Is(target error) bool { return target == ErrVersion }

// ErrUnknownModel is wrapped when the manifest has no model with the requested id.
var ErrUnknownModel = errors.New("unknown model")

// ErrUnknownFormat is wrapped when the model has no artifact of the requested format.
var ErrUnknownFormat = errors.New("unknown format")

// Manifest is the parsed manifest; Dir is the folder that relative paths start from.
type Manifest struct {
	SchemaVersion int     `json:"schema_version"`
	Models        []Model `json:"models"`
	Safety        *Safety `json:"safety"`
	Dir           string  `json:"-"`
}

// Model is one entry of models[].
type Model struct {
	ID        string             `json:"id"`
	Source    string             `json:"source"`
	Inputs    []TensorSpec       `json:"inputs"`
	Outputs   []TensorSpec       `json:"outputs"`
	Dims      map[string]DimSpec `json:"dims"`
	Golden    []GoldenSet        `json:"golden"`
	Artifacts []Artifact         `json:"artifacts"`

	// Vocabulary is a character model's vocabulary: token id i is its i-th Unicode code
	// point (see package textgen); empty for other models.
	Vocabulary string `json:"vocabulary"`
}

// TensorSpec is one input or output. DType and Shape are filled in by Read from the JSON
// fields dtype and shape.
type TensorSpec struct {
	Name     string            `json:"name"`
	DTypeStr string            `json:"dtype"`
	RawShape []json.RawMessage `json:"shape"`
	Range    []int64           `json:"range"`

	DType tensor.DType `json:"-"`
	Shape []Dim        `json:"-"`
}

// Dim is one shape item: a fixed size (Name empty) or a named dynamic dim.
type Dim struct {
	Size int64
	Name string
}

func (d Dim) String() string {
	if d.Name != "" {
		return d.Name
	}
	return fmt.Sprint(d.Size)
}

// DimSpec bounds a dynamic dim; Max < 0 means unbounded.
type DimSpec struct {
	Min *int64 `json:"min"`
	Max *int64 `json:"max"`
}

// Bounds returns min (default 0) and max (-1 when unbounded).
func (d DimSpec) Bounds() (lo, hi int64) {
	lo, hi = 0, -1
	if d.Min != nil {
		lo = *d.Min
	}
	if d.Max != nil {
		hi = *d.Max
	}
	return lo, hi
}

// GoldenSet is one named set of golden files, paths relative to the manifest's folder.
type GoldenSet struct {
	Name     string            `json:"name"`
	Rows     int               `json:"rows"`
	Inputs   map[string]string `json:"inputs"`
	Expected map[string]string `json:"expected"`
}

// Artifact is one exported file or folder of a model.
type Artifact struct {
	Format         string            `json:"format"`
	Path           string            `json:"path"`
	Via            []string          `json:"via"`
	Sha256         string            `json:"sha256"`
	Bytes          int64             `json:"bytes"`
	Signature      string            `json:"signature"`
	Tags           []string          `json:"tags"`
	InputKeys      map[string]string `json:"input_keys"`
	OutputKeys     map[string]string `json:"output_keys"`
	BoundaryDTypes map[string]string `json:"boundary_dtypes"`
	ContainsOps    []string          `json:"contains_ops"`
	Tolerance      Tolerance         `json:"tolerance"`
	Files          []FileEntry       `json:"files"`
	RawMinRuntime  json.RawMessage   `json:"min_runtime"`

	// MinRuntime is min_runtime, filled in by Read: the oldest version of each runtime
	// family known to load the artifact ("tensorflow": "2.18.0"); empty when absent.
	MinRuntime map[string]string `json:"-"`
}

// Tol is one absolute/relative tolerance pair.
type Tol struct {
	Atol float64 `json:"atol"`
	Rtol float64 `json:"rtol"`
}

// Tolerance is the artifact's comparison tolerance, with optional per-output overrides.
type Tolerance struct {
	Tol
	Outputs map[string]Tol `json:"outputs"`
}

// For returns the tolerance of one output.
func (t Tolerance) For(output string) Tol {
	if o, ok := t.Outputs[output]; ok {
		return o
	}
	return t.Tol
}

// FileEntry is one file of a folder artifact.
type FileEntry struct {
	Path   string `json:"path"`
	Sha256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
}

// Safety names the op deny-list file and its hash.
type Safety struct {
	UnsafeOps *HashedFile `json:"unsafe_ops"`
}

// HashedFile is a file beside the manifest with its sha256.
type HashedFile struct {
	Path   string `json:"path"`
	Sha256 string `json:"sha256"`
}

// Read parses and validates the manifest at file. A missing file is returned as the os
// error (wrapping fs.ErrNotExist); a schema_version other than 2 wraps ErrVersion; anything
// else malformed wraps ErrInvalid.
func Read(file string) (*Manifest, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, file, err)
	}
	if v, ok := probe["schema_version"]; !ok {
		return nil, &versionError{fmt.Sprintf("%s: schema_version missing is not supported (this client reads %d)", file, SchemaVersion)}
	} else if s := string(bytes.TrimSpace(v)); s != "2" {
		return nil, &versionError{fmt.Sprintf("%s: schema_version %s is not supported (this client reads %d)", file, s, SchemaVersion)}
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, file, err)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	m.Dir = filepath.Dir(abs)
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, file, err)
	}
	return &m, nil
}

// Model returns the model with the given id.
func (m *Manifest) Model(id string) (*Model, error) {
	for i := range m.Models {
		if m.Models[i].ID == id {
			return &m.Models[i], nil
		}
	}
	ids := make([]string, len(m.Models))
	for i, mod := range m.Models {
		ids[i] = mod.ID
	}
	return nil, fmt.Errorf("%w %q (the manifest has: %s)", ErrUnknownModel, id, strings.Join(ids, ", "))
}

// Artifact returns the model's artifact of the given format.
func (mod *Model) Artifact(format string) (*Artifact, error) {
	for i := range mod.Artifacts {
		if mod.Artifacts[i].Format == format {
			return &mod.Artifacts[i], nil
		}
	}
	return nil, fmt.Errorf("%w: model %q has no %q artifact", ErrUnknownFormat, mod.ID, format)
}

// Resolve turns a manifest-relative path ('/'-separated, inside the manifest's folder)
// into a file system path.
func (m *Manifest) Resolve(rel string) (string, error) {
	if rel == "" || path.IsAbs(rel) || strings.Contains(rel, "\\") {
		return "", fmt.Errorf("%w: path %q is not a relative '/'-separated path", ErrInvalid, rel)
	}
	clean := path.Clean(rel)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("%w: path %q leaves the manifest's folder", ErrInvalid, rel)
	}
	return filepath.Join(m.Dir, filepath.FromSlash(clean)), nil
}
