package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path"
	"regexp"
	"strings"

	"github.com/deploykit/deploykit/go/tensor"
)

// nameRE is the contract's rule for tensor and dim names.
var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// keyedFormats are the formats whose artifacts map every model tensor to a key.
var keyedFormats = map[string]bool{"onnx": true, "saved-model": true, "tflite": true, "tfjs-graph": true}

// allowedCasts are the boundary casts the contract allows: spec dtype -> boundary dtype.
var allowedCasts = map[[2]tensor.DType]bool{
	{tensor.Int64, tensor.Int32}: true, {tensor.Bool, tensor.Int32}: true,
	{tensor.Uint8, tensor.Int32}: true, {tensor.Float16, tensor.Float32}: true,
}

// CastAllowed reports whether the contract allows a boundary cast from -> to.
func CastAllowed(from, to tensor.DType) bool { return allowedCasts[[2]tensor.DType{from, to}] }

func (m *Manifest) validate() error {
	if m.Safety != nil && m.Safety.UnsafeOps != nil && m.Safety.UnsafeOps.Path != "" {
		if err := checkPath(m.Safety.UnsafeOps.Path); err != nil {
			return fmt.Errorf("safety.unsafe_ops: %v", err)
		}
	}
	ids := map[string]bool{}
	for i := range m.Models {
		mod := &m.Models[i]
		if mod.ID == "" {
			return fmt.Errorf("models[%d] has no id", i)
		}
		if ids[mod.ID] {
			return fmt.Errorf("model %q appears twice", mod.ID)
		}
		ids[mod.ID] = true
		if err := mod.validate(); err != nil {
			return fmt.Errorf("model %s: %v", mod.ID, err)
		}
	}
	return nil
}

func (mod *Model) validate() error {
	if len(mod.Inputs) == 0 {
		return errors.New("has no inputs")
	}
	if len(mod.Outputs) == 0 {
		return errors.New("has no outputs")
	}
	used := map[string]bool{}
	for _, group := range []struct {
		what  string
		specs []TensorSpec
	}{{"input", mod.Inputs}, {"output", mod.Outputs}} {
		seen := map[string]bool{}
		for i := range group.specs {
			s := &group.specs[i]
			if err := s.parse(used); err != nil {
				return fmt.Errorf("%s %q: %v", group.what, s.Name, err)
			}
			if seen[s.Name] {
				return fmt.Errorf("%s %q appears twice", group.what, s.Name)
			}
			seen[s.Name] = true
		}
	}
	for name, d := range mod.Dims {
		if !nameRE.MatchString(name) {
			return fmt.Errorf("dims: bad dim name %q", name)
		}
		if !used[name] {
			return fmt.Errorf("dims: %q is not used by any shape", name)
		}
		lo, hi := d.Bounds()
		if lo < 0 {
			return fmt.Errorf("dims: %s min %d is negative", name, lo)
		}
		if d.Max != nil && hi < lo {
			return fmt.Errorf("dims: %s min %d is over max %d", name, lo, hi)
		}
	}
	for _, g := range mod.Golden {
		for _, files := range []map[string]string{g.Inputs, g.Expected} {
			for name, p := range files {
				if err := checkPath(p); err != nil {
					return fmt.Errorf("golden %q %s: %v", g.Name, name, err)
				}
			}
		}
	}
	for i := range mod.Artifacts {
		a := &mod.Artifacts[i]
		if err := mod.validateArtifact(a); err != nil {
			return fmt.Errorf("artifact %s: %v", a.Format, err)
		}
	}
	return nil
}

// parse fills DType and Shape from the JSON fields; used collects dynamic dim names.
func (s *TensorSpec) parse(used map[string]bool) error {
	if !nameRE.MatchString(s.Name) {
		return fmt.Errorf("bad tensor name %q", s.Name)
	}
	dt, ok := tensor.ParseDType(s.DTypeStr)
	if !ok {
		return fmt.Errorf("unknown dtype %q", s.DTypeStr)
	}
	s.DType = dt
	if s.RawShape == nil {
		return errors.New("has no shape")
	}
	if len(s.RawShape) > tensor.MaxRank {
		return fmt.Errorf("rank %d is over %d", len(s.RawShape), tensor.MaxRank)
	}
	s.Shape = make([]Dim, len(s.RawShape))
	for i, raw := range s.RawShape {
		var name string
		if json.Unmarshal(raw, &name) == nil {
			if !nameRE.MatchString(name) {
				return fmt.Errorf("dim %d: bad dim name %q", i, name)
			}
			s.Shape[i] = Dim{Name: name}
			used[name] = true
			continue
		}
		var f float64
		if err := json.Unmarshal(raw, &f); err != nil {
			return fmt.Errorf("dim %d is %s (want a non-negative integer or a dim name)", i, raw)
		}
		if f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
			return fmt.Errorf("dim %d is %s (want a non-negative integer or a dim name)", i, raw)
		}
		s.Shape[i] = Dim{Size: int64(f)}
	}
	return nil
}

func (mod *Model) validateArtifact(a *Artifact) error {
	if err := checkPath(a.Path); err != nil {
		return err
	}
	for _, f := range a.Files {
		if err := checkPath(f.Path); err != nil {
			return fmt.Errorf("file %v", err)
		}
	}
	keyed := keyedFormats[a.Format]
	for _, km := range []struct {
		what  string
		keys  map[string]string
		specs []TensorSpec
	}{{"input_keys", a.InputKeys, mod.Inputs}, {"output_keys", a.OutputKeys, mod.Outputs}} {
		for name := range km.keys {
			if spec(km.specs, name) == nil {
				return fmt.Errorf("%s names %q, which the model does not have", km.what, name)
			}
		}
		if !keyed {
			continue
		}
		for _, s := range km.specs {
			if _, ok := km.keys[s.Name]; !ok {
				return fmt.Errorf("%s has no key for %q", km.what, s.Name)
			}
		}
	}
	for name, bd := range a.BoundaryDTypes {
		s := spec(mod.Inputs, name)
		if s == nil {
			s = spec(mod.Outputs, name)
		}
		if s == nil {
			return fmt.Errorf("boundary_dtypes names %q, which the model does not have", name)
		}
		to, ok := tensor.ParseDType(bd)
		if !ok || !CastAllowed(s.DType, to) {
			return fmt.Errorf("boundary cast of %q from %s to %s is not allowed", name, s.DType, bd)
		}
	}
	if err := a.parseMinRuntime(); err != nil {
		return err
	}
	for name := range a.Tolerance.Outputs {
		if spec(mod.Outputs, name) == nil {
			return fmt.Errorf("tolerance names output %q, which the model does not have", name)
		}
	}
	return nil
}

func spec(specs []TensorSpec, name string) *TensorSpec {
	for i := range specs {
		if specs[i].Name == name {
			return &specs[i]
		}
	}
	return nil
}

// Input returns the input spec with the given name, or nil.
func (mod *Model) Input(name string) *TensorSpec { return spec(mod.Inputs, name) }

// Output returns the output spec with the given name, or nil.
func (mod *Model) Output(name string) *TensorSpec { return spec(mod.Outputs, name) }

// Names lists the specs' names in order.
func Names(specs []TensorSpec) []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.Name
	}
	return out
}

// checkPath refuses absolute paths, backslashes and paths that leave the manifest's folder.
func checkPath(rel string) error {
	if rel == "" || path.IsAbs(rel) || strings.Contains(rel, "\\") {
		return fmt.Errorf("path %q is not a relative '/'-separated path", rel)
	}
	clean := path.Clean(rel)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return fmt.Errorf("path %q leaves the manifest's folder", rel)
	}
	return nil
}
