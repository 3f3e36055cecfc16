// Package testfix holds the test helpers shared by the Go suites: the fixture manifests
// from the environment, copies of an export that a test may damage, and raw .npy bytes.
package testfix

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Manifest returns the manifest path in env var name (DEPLOYKIT_TEST_MANIFEST or
// DEPLOYKIT_UNSAFE_MANIFEST); the test fails, never skips, when it is missing.
func Manifest(t testing.TB, name string) string {
	t.Helper()
	p := os.Getenv(name)
	if p == "" {
		t.Fatalf("%s is not set: run the Go tests through `make test-go` (it builds the fixtures)", name)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s: %v (run `make test-fixtures`)", name, err)
	}
	return p
}

// CopyExport copies the manifest, its deny-list and the folders of the given models into
// a temp dir (the shared export is never written to) and returns the new manifest path.
func CopyExport(t testing.TB, manifestPath string, ids ...string) string {
	t.Helper()
	src, dst := filepath.Dir(manifestPath), t.TempDir()
	for _, rel := range []string{"manifest.json", "unsafe_ops.json"} {
		copyFile(t, filepath.Join(src, rel), filepath.Join(dst, rel))
	}
	for _, id := range ids {
		err := filepath.WalkDir(filepath.Join(src, id), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			}
			copyFile(t, p, filepath.Join(dst, rel))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dst, "manifest.json")
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	raw, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// EditManifest rewrites the manifest JSON through edit.
func EditManifest(t testing.TB, path string, edit func(doc map[string]any)) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	edit(doc)
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Artifact returns the JSON object of model id's artifact of the given format.
func Artifact(t testing.TB, doc map[string]any, id, format string) map[string]any {
	t.Helper()
	for _, m := range doc["models"].([]any) {
		mod := m.(map[string]any)
		if mod["id"] != id {
			continue
		}
		for _, a := range mod["artifacts"].([]any) {
			if art := a.(map[string]any); art["format"] == format {
				return art
			}
		}
	}
	t.Fatalf("no %s artifact for %s", format, id)
	return nil
}

// RawNpy builds .npy bytes with the given format version, header dict and data, the
// header padded to a 64-byte boundary as numpy does: for files numpy would refuse to write.
func RawNpy(major byte, dict string, data []byte) []byte {
	var b bytes.Buffer
	b.WriteString("\x93NUMPY")
	b.Write([]byte{major, 0})
	pre := 10
	if major != 1 {
		pre = 12
	}
	hlen := (pre+len(dict)+1+63)/64*64 - pre
	if major == 1 {
		binary.Write(&b, binary.LittleEndian, uint16(hlen))
	} else {
		binary.Write(&b, binary.LittleEndian, uint32(hlen))
	}
	b.WriteString(dict + strings.Repeat(" ", hlen-len(dict)-1) + "\n")
	b.Write(data)
	return b.Bytes()
}

// Floats returns vs as little-endian float32 bytes.
func Floats(vs ...float32) []byte {
	out := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
	}
	return out
}
