package tfmodel

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/deploykit/deploykit/go/internal/testfix"
	"github.com/deploykit/deploykit/go/manifest"
)

func TestIntegrity(t *testing.T) {
	mp := testManifest(t)
	const id = "mlp_keras"
	for _, tc := range []struct {
		name   string
		break_ func(t *testing.T, manifestPath string)
		class  error
	}{
		{"artifact file changed", func(t *testing.T, p string) {
			f := filepath.Join(filepath.Dir(p), id, "saved_model", "variables", "variables.data-00000-of-00001")
			raw, _ := os.ReadFile(f)
			raw[len(raw)-1] ^= 1
			os.WriteFile(f, raw, 0o644)
		}, ErrIntegrity},
		{"artifact file added", func(t *testing.T, p string) {
			os.WriteFile(filepath.Join(filepath.Dir(p), id, "saved_model", "extra.txt"), []byte("x"), 0o644)
		}, ErrIntegrity},
		{"artifact file removed", func(t *testing.T, p string) {
			os.Remove(filepath.Join(filepath.Dir(p), id, "saved_model", "fingerprint.pb"))
		}, ErrIntegrity},
		{"symlink in artifact", func(t *testing.T, p string) {
			f := filepath.Join(filepath.Dir(p), id, "saved_model", "fingerprint.pb")
			os.Rename(f, f+".real")
			os.Symlink(f+".real", f)
		}, ErrIntegrity},
		{"artifact missing", func(t *testing.T, p string) {
			os.RemoveAll(filepath.Join(filepath.Dir(p), id, "saved_model"))
		}, ErrIntegrity},
		{"deny-list missing", func(t *testing.T, p string) {
			os.Remove(filepath.Join(filepath.Dir(p), "unsafe_ops.json"))
		}, ErrIntegrity},
		{"deny-list changed", func(t *testing.T, p string) {
			os.WriteFile(filepath.Join(filepath.Dir(p), "unsafe_ops.json"), []byte(`{"version": 1, "ops": [{"op": "Nothing", "why": ""}]}`), 0o644)
		}, ErrIntegrity},
		{"no deny-list in manifest", func(t *testing.T, p string) {
			testfix.EditManifest(t, p, func(doc map[string]any) { delete(doc, "safety") })
		}, ErrIntegrity},
		{"artifact path escapes", func(t *testing.T, p string) {
			testfix.EditManifest(t, p, func(doc map[string]any) { testfix.Artifact(t, doc, id, Format)["path"] = "../" + id + "/saved_model" })
		}, ErrInput},
		{"saved_model.pb corrupt, hash updated", func(t *testing.T, p string) {
			dir := filepath.Join(filepath.Dir(p), id, "saved_model")
			os.WriteFile(filepath.Join(dir, "saved_model.pb"), []byte("not a protobuf \xff\xff\xff"), 0o644)
			rehash(t, p, dir)
		}, ErrLoad},
		{"variables corrupt, hash updated", func(t *testing.T, p string) {
			dir := filepath.Join(filepath.Dir(p), id, "saved_model")
			os.WriteFile(filepath.Join(dir, "variables", "variables.index"), []byte("garbage"), 0o644)
			rehash(t, p, dir)
		}, ErrLoad},
		{"unknown signature", func(t *testing.T, p string) {
			testfix.EditManifest(t, p, func(doc map[string]any) { testfix.Artifact(t, doc, id, Format)["signature"] = "nope" })
		}, ErrLoad},
		{"unknown signature key", func(t *testing.T, p string) {
			testfix.EditManifest(t, p, func(doc map[string]any) {
				testfix.Artifact(t, doc, id, Format)["input_keys"] = map[string]any{"input": "nope"}
			})
		}, ErrLoad},
		{"signature dtype differs from the manifest", func(t *testing.T, p string) {
			testfix.EditManifest(t, p, func(doc map[string]any) {
				for _, m := range doc["models"].([]any) {
					if mod := m.(map[string]any); mod["id"] == id {
						mod["inputs"].([]any)[0].(map[string]any)["dtype"] = "float16"
					}
				}
			})
		}, ErrLoad},
		{"no input key", func(t *testing.T, p string) {
			testfix.EditManifest(t, p, func(doc map[string]any) { testfix.Artifact(t, doc, id, Format)["input_keys"] = map[string]any{} })
		}, ErrInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testfix.CopyExport(t, mp, id)
			tc.break_(t, p)
			m, err := Load(p, id)
			if err == nil {
				m.Close()
			}
			if !errors.Is(err, tc.class) {
				t.Fatalf("Load = %v, want class %v", err, tc.class)
			}
		})
	}
}

// rehash records the folder's current hash, so only TensorFlow can notice the damage.
func rehash(t *testing.T, manifestPath, dir string) {
	t.Helper()
	sum, err := manifest.FolderSHA256(dir)
	if err != nil {
		t.Fatal(err)
	}
	testfix.EditManifest(t, manifestPath, func(doc map[string]any) { testfix.Artifact(t, doc, "mlp_keras", Format)["sha256"] = sum })
}
