package consumer

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/go/internal/testfix"
)

// modulePath is this module's path, the one a consumer's go.mod requires.
const modulePath = "github.com/deploykit/deploykit/go"

// TestConsumerModule builds testdata/consumer in a fresh module and runs it on models of
// the test export; the program checks each prediction against the golden values.
func TestConsumerModule(t *testing.T) {
	manifestPath := testfix.Manifest(t, "DEPLOYKIT_TEST_MANIFEST")
	if os.Getenv("PKG_CONFIG_PATH") == "" {
		t.Fatal("PKG_CONFIG_PATH is not set: run the Go tests through `make test-go` (it writes build/go/pkgconfig/tensorflow.pc)")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	goMod := "module example.com/consumer\n\ngo 1.26\n\nrequire " + modulePath + " v0.0.0\n\nreplace " + modulePath + " => " + root + "\n"
	writeFile(t, filepath.Join(dir, "go.mod"), []byte(goMod))
	// The consumer's dependencies are this module's, whose hashes go.sum already holds.
	writeFile(t, filepath.Join(dir, "go.sum"), readFile(t, filepath.Join(root, "go.sum")))
	writeFile(t, filepath.Join(dir, "main.go"), readFile(t, filepath.Join("testdata", "consumer", "main.go")))

	// A user's environment: no cgo flags but what pkg-config prints, no workspace, and
	// the module cache only (setup-go filled it; nothing is downloaded).
	env := withoutVars(os.Environ(), "CGO_CFLAGS", "CGO_LDFLAGS", "GOFLAGS", "LD_LIBRARY_PATH")
	env = append(env, "CGO_ENABLED=1", "GOWORK=off", "GOPROXY=off", "GOFLAGS=-buildvcs=false",
		"CGO_CFLAGS="+output(t, dir, env, "pkg-config", "--cflags", "tensorflow"),
		"CGO_LDFLAGS="+output(t, dir, env, "pkg-config", "--libs", "tensorflow"))
	// -mod=mod adds the indirect requirements (graft, protobuf) to go.mod, as `go get` would.
	bin := filepath.Join(dir, "consumer")
	output(t, dir, env, "go", "build", "-mod=mod", "-o", bin, ".")

	for _, id := range []string{"mlp_keras", "textcls_keras"} {
		t.Run(id, func(t *testing.T) {
			out := output(t, dir, env, bin, manifestPath, id)
			if !strings.Contains(out, "pass") || strings.Contains(out, "FAIL") {
				t.Fatalf("consumer %s: no passing check line in its output:\n%s", id, out)
			}
			t.Log(out)
		})
	}
}

// output runs name in dir with env and returns its trimmed stdout; the test fails, with
// stderr, if it exits non-zero.
func output(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

func withoutVars(env []string, names ...string) []string {
	var kept []string
	for _, kv := range env {
		drop := false
		for _, n := range names {
			drop = drop || strings.HasPrefix(kv, n+"=")
		}
		if !drop {
			kept = append(kept, kv)
		}
	}
	return kept
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func writeFile(t *testing.T, path string, raw []byte) {
	t.Helper()
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}
