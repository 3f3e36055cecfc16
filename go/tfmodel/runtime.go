package tfmodel

import (
	"fmt"
	"runtime/debug"

	tf "github.com/wamuir/graft/tensorflow"

	"github.com/deploykit/deploykit/go/manifest"
)

// RuntimeFamily is the min_runtime family of the runtime this package loads artifacts with:
// TensorFlow core, here the C library.
const RuntimeFamily = "tensorflow"

// RuntimeVersion is the linked TensorFlow C library's own version string, TF_Version().
func RuntimeVersion() string { return tf.Version() }

// Binding names the runtime's binding for the optional part of a skew message:
// "TensorFlow C library, graft v0.10.0" (the graft version from the binary's build info).
func Binding() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/wamuir/graft" && d.Version != "" {
				return "TensorFlow C library, graft " + d.Version
			}
		}
	}
	return "TensorFlow C library"
}

// RuntimeVersionError refuses an artifact whose min_runtime names a newer version of the
// runtime than this client runs (docs/contract.md, "Version skew"). It is an ErrLoad.
type RuntimeVersionError struct {
	Model, Format, Family string
	// Required is the artifact's min_runtime entry as written, Have the runtime's version
	// as read (up to its first character that is neither a digit nor a dot).
	Required, Have string
	// Binding is the optional parenthesised part of the message; empty leaves it out.
	Binding string
}

func (e *RuntimeVersionError) Error() string {
	msg := fmt.Sprintf("%s/%s: built for %s >= %s, this client runs %s %s", e.Model, e.Format, e.Family, e.Required, e.Family, e.Have)
	if e.Binding != "" {
		msg += " (" + e.Binding + ")"
	}
	return msg
}

// Is makes a skew refusal match ErrLoad.
func (e *RuntimeVersionError) Is(target error) bool { return target == ErrLoad }

// checkRuntime compares the runtime's version have with the artifact's min_runtime entry for
// RuntimeFamily; other families are ignored and no entry means no check. A runtime version
// with no digits to read cannot be compared and is refused as well.
func checkRuntime(modelID string, art *manifest.Artifact, have string) error {
	need, ok := art.MinRuntime[RuntimeFamily]
	if !ok {
		return nil
	}
	required, err := manifest.ParseVersion(need)
	if err != nil { // Read has validated it; an Artifact built by hand may not be
		return classify(ErrInput, fmt.Errorf("%w: %s/%s: min_runtime %s: %v", manifest.ErrInvalid, modelID, art.Format, RuntimeFamily, err))
	}
	v, read, ok := manifest.RuntimeVersion(have)
	if !ok {
		return classify(ErrLoad, fmt.Errorf("%s/%s: built for %s >= %s, and this client's %s version %q cannot be read", modelID, art.Format, RuntimeFamily, need, RuntimeFamily, have))
	}
	if v.Compare(required) < 0 {
		return &RuntimeVersionError{Model: modelID, Format: art.Format, Family: RuntimeFamily, Required: need, Have: read, Binding: Binding()}
	}
	return nil
}
