// Package manifest reads deploykit's models/manifest.json (DESIGN.md): the models, their
// artifacts and golden files, the artifact hashes and the op deny-list beside it.
package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// SchemaVersion is the manifest schema this reader understands.
const SchemaVersion = 1

// ErrInvalid is wrapped by errors about a malformed manifest (missing fields, bad paths).
var ErrInvalid = errors.New("malformed manifest")

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
	ID        string       `json:"id"`
	Source    string       `json:"source"`
	Inputs    []TensorSpec `json:"inputs"`
	Outputs   []TensorSpec `json:"outputs"`
	Golden    Golden       `json:"golden"`
	Artifacts []Artifact   `json:"artifacts"`
}

// TensorSpec describes an input or output: dtype and shape ([-1, F]: -1 is the batch).
type TensorSpec struct {
	Name  string  `json:"name"`
	Dtype string  `json:"dtype"`
	Shape []int64 `json:"shape"`
}

// Golden names the golden vectors, relative to the manifest's folder.
type Golden struct {
	Input           string `json:"input"`
	Expected        string `json:"expected"`
	Rows            int    `json:"rows"`
	SpecialInput    string `json:"special_input"`
	SpecialExpected string `json:"special_expected"`
}

// Artifact is one exported file or folder of a model.
type Artifact struct {
	Format      string            `json:"format"`
	Path        string            `json:"path"`
	Sha256      string            `json:"sha256"`
	Bytes       int64             `json:"bytes"`
	Signature   string            `json:"signature"`
	Tags        []string          `json:"tags"`
	InputKeys   map[string]string `json:"input_keys"`
	OutputKeys  map[string]string `json:"output_keys"`
	ContainsOps []string          `json:"contains_ops"`
	Tolerance   Tolerance         `json:"tolerance"`
	Files       []FileEntry       `json:"files"`
}

// Tolerance is the artifact's comparison tolerance (DESIGN.md comparison semantics).
type Tolerance struct {
	Atol float64 `json:"atol"`
	Rtol float64 `json:"rtol"`
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

// Read parses the manifest at path. A missing file is returned as the os error (wrapping
// fs.ErrNotExist); anything unparsable wraps ErrInvalid.
func Read(file string) (*Manifest, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrInvalid, file, err)
	}
	if m.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("%w: %q: schema_version %d (this reader knows %d)", ErrInvalid, file, m.SchemaVersion, SchemaVersion)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	m.Dir = filepath.Dir(abs)
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

// Width returns the feature width of a [-1, W] tensor spec.
func Width(specs []TensorSpec, what string) (int, error) {
	if len(specs) != 1 {
		return 0, fmt.Errorf("%w: %d %s (this client runs models with exactly one)", ErrInvalid, len(specs), what)
	}
	s := specs[0]
	if s.Dtype != "float32" {
		return 0, fmt.Errorf("%w: %s %q has dtype %q (want float32)", ErrInvalid, what, s.Name, s.Dtype)
	}
	if len(s.Shape) != 2 || s.Shape[0] != -1 || s.Shape[1] <= 0 {
		return 0, fmt.Errorf("%w: %s %q has shape %v (want [-1, width])", ErrInvalid, what, s.Name, s.Shape)
	}
	return int(s.Shape[1]), nil
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
