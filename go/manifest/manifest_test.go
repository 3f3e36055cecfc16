package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/deploykit/deploykit/go/internal/testfix"
)

func testManifest(t *testing.T) *Manifest {
	t.Helper()
	m, err := Read(testfix.Manifest(t, "DEPLOYKIT_TEST_MANIFEST"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestHashesMatchBuilder: the folder and file hashes the builder recorded are what this
// package computes, for every artifact of the test export.
func TestHashesMatchBuilder(t *testing.T) {
	m := testManifest(t)
	n := 0
	for _, mod := range m.Models {
		for _, a := range mod.Artifacts {
			dir, err := m.Resolve(a.Path)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyArtifact(&a, dir); err != nil {
				t.Errorf("%s/%s: %v", mod.ID, a.Format, err)
			}
			for _, f := range a.Files {
				got, err := FileSHA256(filepath.Join(dir, filepath.FromSlash(f.Path)))
				if err != nil || got != f.Sha256 {
					t.Errorf("%s/%s file %s: %s, %v; manifest says %s", mod.ID, a.Format, f.Path, got, err, f.Sha256)
				}
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no artifacts checked")
	}
	if _, err := m.UnsafeOps(); err != nil {
		t.Error(err)
	}
}

func TestFolderHashRule(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "b"), 0o755)
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "b", "c.txt"), []byte("c\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "B.txt"), nil, 0o644)
	got, err := FolderSHA256(dir)
	if err != nil {
		t.Fatal(err)
	}
	// printf 'a\n' > a.txt; mkdir b; printf 'c\n' > b/c.txt; : > B.txt
	// find . -type f -printf '%P\n' | LC_ALL=C sort | xargs -d '\n' sha256sum | sha256sum
	// ('B.txt' sorts before 'a.txt': bytes, not locale order.)
	const want = "69a61c8a3ead38cfd6613cc23dfdcbe94df721ca6eb8a97f8727a5ed8bc3a168"
	if got != want {
		t.Fatalf("FolderSHA256 = %s, want %s", got, want)
	}
	os.Symlink(filepath.Join(dir, "a.txt"), filepath.Join(dir, "link"))
	if _, err := FolderSHA256(dir); err == nil {
		t.Error("a folder with a symlink was hashed")
	}
}

func TestResolve(t *testing.T) {
	m := &Manifest{Dir: "/models"}
	for _, tc := range []struct {
		rel string
		ok  bool
	}{
		{"mlp/saved_model", true}, {"a/../b", true}, {"../x", false}, {"a/../../x", false},
		{"/etc/passwd", false}, {"", false}, {`a\b`, false},
	} {
		_, err := m.Resolve(tc.rel)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("Resolve(%q) = %v, want ok=%v", tc.rel, err, tc.ok)
		}
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"bad.json":    "{",
		"types.json":  `{"schema_version": 2, "models": {}}`,
		"no_id.json":  `{"schema_version": 2, "models": [{"inputs": []}]}`,
		"ragged.json": `{"schema_version": 2, "models": [{"id": "m", "inputs": [{"name": "x", "dtype": "float32", "shape": [true]}], "outputs": [{"name": "y", "dtype": "bool", "shape": []}]}]}`,
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		if _, err := Read(p); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Read = %v, want ErrInvalid", name, err)
		}
	}
	for body, shown := range map[string]string{
		`{"schema_version": 1, "models": []}`:   "schema_version 1 is not supported (this client reads 2)",
		`{"schema_version": "2", "models": []}`: `schema_version "2" is not supported (this client reads 2)`,
		`{"schema_version": 2.0, "models": []}`: "schema_version 2.0 is not supported (this client reads 2)",
		`{"models": []}`:                        "schema_version missing is not supported (this client reads 2)",
	} {
		p := filepath.Join(dir, "version.json")
		os.WriteFile(p, []byte(body), 0o644)
		_, err := Read(p)
		if !errors.Is(err, ErrVersion) || err.Error() != p+": "+shown {
			t.Errorf("%s: Read = %v, want ErrVersion ending %q", body, err, shown)
		}
	}
	if _, err := Read(filepath.Join(dir, "none.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: Read = %v", err)
	}
}
