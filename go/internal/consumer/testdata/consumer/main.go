// Command consumer is a program in its own module that uses deploykit's Go client as a
// dependency would: it loads one model's SavedModel from a manifest, predicts its first
// golden set and checks every output against the golden expected values with the
// artifact's tolerance. Usage: consumer MANIFEST MODEL. The consumer test builds it.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/deploykit/deploykit/go/npy"
	"github.com/deploykit/deploykit/go/parity"
	"github.com/deploykit/deploykit/go/tensor"
	"github.com/deploykit/deploykit/go/tfmodel"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: consumer MANIFEST MODEL")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(manifestPath, id string) error {
	m, err := tfmodel.Load(manifestPath, id)
	if err != nil {
		return err
	}
	defer m.Close()
	dir := filepath.Dir(manifestPath)
	golden := m.Spec.Golden[0]
	inputs := map[string]*tensor.Tensor{}
	for name, path := range golden.Inputs {
		if inputs[name], err = npy.ReadFile(filepath.Join(dir, path)); err != nil {
			return err
		}
	}
	outputs, err := m.Predict(inputs)
	if err != nil {
		return err
	}
	for name, path := range golden.Expected {
		want, err := npy.ReadFile(filepath.Join(dir, path))
		if err != nil {
			return err
		}
		got, ok := outputs[name]
		if !ok {
			return fmt.Errorf("%s: no output %q", id, name)
		}
		tol := m.Artifact.Tolerance.For(name)
		r := parity.Compare(got, want, tol.Atol, tol.Rtol)
		fmt.Println(id, golden.Name, parity.Summary(name, r, got, want, tol.Atol, tol.Rtol))
		if !r.Pass {
			return fmt.Errorf("%s: output %s does not match the golden values", id, name)
		}
	}
	return nil
}
