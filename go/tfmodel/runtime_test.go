package tfmodel

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/deploykit/deploykit/go/internal/testfix"
	"github.com/deploykit/deploykit/go/manifest"
)

func TestCheckRuntime(t *testing.T) {
	binding := Binding()
	for _, tc := range []struct {
		name string
		min  map[string]string
		have string
		msg  string // "" = loads
	}{
		{"no min_runtime", nil, "2.19.0", ""},
		{"equal", map[string]string{"tensorflow": "2.19.0"}, "2.19.0", ""},
		{"newer runtime", map[string]string{"tensorflow": "2.18.0"}, "2.19.0", ""},
		{"major only", map[string]string{"tensorflow": "2"}, "2.19.0", ""},
		{"major.minor", map[string]string{"tensorflow": "2.19"}, "2.19.0", ""},
		{"local suffix read off", map[string]string{"tensorflow": "2.13.0"}, "2.13.0+cu130", ""},
		{"other families ignored", map[string]string{"torch": "99.0.0", "tfjs": "99", "onnxruntime": "99", "mlx": "99"}, "2.19.0", ""},
		{"older runtime", map[string]string{"tensorflow": "2.19.0"}, "2.18.0",
			"m/saved-model: built for tensorflow >= 2.19.0, this client runs tensorflow 2.18.0 (" + binding + ")"},
		{"older patch", map[string]string{"tensorflow": "2.19.1", "torch": "1"}, "2.19.0",
			"m/saved-model: built for tensorflow >= 2.19.1, this client runs tensorflow 2.19.0 (" + binding + ")"},
		{"older, local suffix", map[string]string{"tensorflow": "2.13.1"}, "2.13.0+cu130",
			"m/saved-model: built for tensorflow >= 2.13.1, this client runs tensorflow 2.13.0 (" + binding + ")"},
		{"major only, older", map[string]string{"tensorflow": "3"}, "2.19.0",
			"m/saved-model: built for tensorflow >= 3, this client runs tensorflow 2.19.0 (" + binding + ")"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkRuntime("m", &manifest.Artifact{Format: Format, MinRuntime: tc.min}, tc.have)
			if tc.msg == "" {
				if err != nil {
					t.Fatalf("checkRuntime = %v, want nil", err)
				}
				return
			}
			var skew *RuntimeVersionError
			if !errors.As(err, &skew) || !errors.Is(err, ErrLoad) || errors.Is(err, ErrInput) || errors.Is(err, ErrIntegrity) {
				t.Fatalf("checkRuntime = %#v, want a *RuntimeVersionError that is ErrLoad only", err)
			}
			if err.Error() != tc.msg {
				t.Errorf("message %q\n   want %q", err.Error(), tc.msg)
			}
		})
	}
	err := checkRuntime("m", &manifest.Artifact{Format: Format, MinRuntime: map[string]string{"tensorflow": "2.0"}}, "unknown")
	if !errors.Is(err, ErrLoad) {
		t.Errorf("an unreadable runtime version: %v, want ErrLoad", err)
	}
}

// TestLoadRuntimeVersion: Load refuses an artifact built for a newer TensorFlow before it
// hashes the artifact (a damaged copy gets the skew error, not ErrIntegrity), and loads one
// built for an older TensorFlow.
func TestLoadRuntimeVersion(t *testing.T) {
	const id = "mlp_keras"
	_, have, ok := manifest.RuntimeVersion(RuntimeVersion())
	if !ok {
		t.Fatalf("TF_Version() %q has no readable version", RuntimeVersion())
	}
	withMin := func(t *testing.T, version string) string {
		p := testfix.CopyExport(t, testManifest(t), id)
		testfix.EditManifest(t, p, func(doc map[string]any) {
			testfix.Artifact(t, doc, id, Format)["min_runtime"] = map[string]any{"tensorflow": version, "torch": "99.0.0"}
		})
		return p
	}

	p := withMin(t, "99.0.0")
	os.Remove(filepath.Join(filepath.Dir(p), id, "saved_model", "saved_model.pb")) // fails sha256 if hashed
	m, err := Load(p, id)
	if err == nil {
		m.Close()
	}
	var skew *RuntimeVersionError
	if !errors.As(err, &skew) || !errors.Is(err, ErrLoad) || errors.Is(err, ErrIntegrity) {
		t.Fatalf("Load = %v, want a *RuntimeVersionError (ErrLoad), before the sha256 check", err)
	}
	want := id + "/saved-model: built for tensorflow >= 99.0.0, this client runs tensorflow " + have + " (" + Binding() + ")"
	if err.Error() != want {
		t.Errorf("Load = %q\n   want %q", err.Error(), want)
	}

	m, err = Load(withMin(t, "1.0.0"), id)
	if err != nil {
		t.Fatalf("built for tensorflow >= 1.0.0: Load = %v", err)
	}
	defer m.Close()
	if _, err := m.PredictRows([][]float32{make([]float32, 10)}); err != nil {
		t.Errorf("Predict: %v", err)
	}
}
