package manifest

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/deploykit/deploykit/go/tensor"
)

// ErrBadInput is wrapped by every error of the contract's input checks (exit 2 in the CLI).
var ErrBadInput = errors.New("bad input")

// inputError is one failed input check; its message is the contract's "input <name>: ...".
type inputError struct{ msg string }

func (e *inputError) Error() string        { return e.msg }
func (e *inputError) Is(target error) bool { return target == ErrBadInput }

func badInput(name, format string, args ...any) error {
	return &inputError{msg: "input " + name + ": " + fmt.Sprintf(format, args...)}
}

// Check applies the contract's input checks, in the contract's order, to one call of the
// model: every input given once and no unknown name; each input's dtype, rank, fixed dims,
// dynamic dims inside their bounds and the same wherever a name appears. With an artifact,
// it also checks that every boundary cast fits. The error wraps ErrBadInput.
func (mod *Model) Check(inputs map[string]*tensor.Tensor, art *Artifact) error {
	for _, s := range mod.Inputs {
		if t, ok := inputs[s.Name]; !ok || t == nil {
			return badInput(s.Name, "missing (model inputs: %s)", strings.Join(Names(mod.Inputs), ", "))
		}
	}
	if len(inputs) != len(mod.Inputs) {
		names := make([]string, 0, len(inputs))
		for name := range inputs {
			if mod.Input(name) == nil {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		return badInput(names[0], "unknown input %q (model inputs: %s)", names[0], strings.Join(Names(mod.Inputs), ", "))
	}
	type seen struct {
		name  string
		size  int64
		input string
	}
	var buf [8]seen
	dims := buf[:0] // dynamic dims seen so far; a handful, so a slice beats a map
	for _, s := range mod.Inputs {
		t := inputs[s.Name]
		if t.DType != s.DType {
			return badInput(s.Name, "expected %s, got %s", s.DType, t.DType)
		}
		if len(t.Shape) != len(s.Shape) {
			return badInput(s.Name, "expected rank %d %s, got rank %d %s", len(s.Shape), specShape(s.Shape), len(t.Shape), tensor.ShapeString(t.Shape))
		}
		for i, d := range s.Shape {
			got := t.Shape[i]
			if d.Name == "" {
				if got != d.Size {
					return badInput(s.Name, "dim %d is %d, expected %d", i, got, d.Size)
				}
				continue
			}
			lo, hi := mod.Dims[d.Name].Bounds()
			if got < lo || (hi >= 0 && got > hi) {
				return badInput(s.Name, "dim %d (%s) is %d, outside %s", i, d.Name, got, bounds(lo, hi))
			}
			k := slices.IndexFunc(dims, func(x seen) bool { return x.name == d.Name })
			if k < 0 {
				dims = append(dims, seen{d.Name, got, s.Name})
			} else if dims[k].size != got {
				return badInput(s.Name, "dim %d (%s) is %d, but input %s has %d", i, d.Name, got, dims[k].input, dims[k].size)
			}
		}
	}
	if art == nil {
		return nil
	}
	for _, s := range mod.Inputs {
		if to, ok := art.boundary(s.Name); ok {
			if _, err := tensor.Cast(inputs[s.Name], to); err != nil {
				return badInput(s.Name, "boundary cast to %s: %v", to, err)
			}
		}
	}
	return nil
}

// boundary returns the boundary dtype of a tensor, if the artifact casts it.
func (a *Artifact) boundary(name string) (tensor.DType, bool) {
	s, ok := a.BoundaryDTypes[name]
	if !ok {
		return 0, false
	}
	return tensor.ParseDType(s)
}

// BoundaryDType returns the dtype the runtime sees for tensor name: its boundary dtype if
// the artifact casts it, otherwise spec.
func (a *Artifact) BoundaryDType(name string, spec tensor.DType) tensor.DType {
	if to, ok := a.boundary(name); ok {
		return to
	}
	return spec
}

func bounds(lo, hi int64) string {
	if hi < 0 {
		return fmt.Sprintf("[%d, inf)", lo)
	}
	return fmt.Sprintf("[%d, %d]", lo, hi)
}

func specShape(dims []Dim) string {
	parts := make([]string, len(dims))
	for i, d := range dims {
		parts[i] = d.String()
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
