package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeTF lays out a TensorFlow folder in a temp dir: the given library file names and,
// when headers is true, include/tensorflow/c/c_api.h and a version.h.
func fakeTF(t *testing.T, headers bool, libs ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, l := range libs {
		mustWrite(t, filepath.Join(dir, l), "not a real library")
	}
	if headers {
		mustWrite(t, filepath.Join(dir, "include", "tensorflow", "c", "c_api.h"), "")
		mustWrite(t, filepath.Join(dir, "include", "tensorflow", "core", "public", "version.h"),
			"#define TF_MAJOR_VERSION 2\n#define TF_MINOR_VERSION 19\n#define TF_PATCH_VERSION 0\n")
	}
	return dir
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRunWritesPCAndLinkerScript(t *testing.T) {
	tests := []struct {
		name    string
		libs    []string
		library string
	}{
		{"wheel", []string{"libtensorflow_cc.so.2", "libtensorflow_framework.so.2"}, "libtensorflow_cc.so.2"},
		{"tarball", []string{"libtensorflow.so.2", "libtensorflow_framework.so.2"}, "libtensorflow.so.2"},
		{"both prefers the wheel's", []string{"libtensorflow.so.2", "libtensorflow_cc.so.2"}, "libtensorflow_cc.so.2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tf := fakeTF(t, true, tc.libs...)
			out := t.TempDir()
			// An older build left a symlink to the library there: it must be replaced,
			// not written through.
			link := filepath.Join(out, "lib", "libtensorflow.so")
			if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join(tf, tc.library), link); err != nil {
				t.Fatal(err)
			}
			var stdout strings.Builder
			if err := run([]string{"-lib", tf, "-out", out}, &stdout); err != nil {
				t.Fatal(err)
			}
			pc, err := os.ReadFile(filepath.Join(out, "pkgconfig", "tensorflow.pc"))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{
				"tfdir=" + tf + "\n", "libdir=" + filepath.Join(out, "lib") + "\n",
				"includedir=" + filepath.Join(tf, "include") + "\n", "Version: 2.19.0\n",
				"Cflags: -I${includedir}\n", "Libs: -L${libdir} -Wl,-rpath,${tfdir} -ltensorflow\n",
			} {
				if !strings.Contains(string(pc), want) {
					t.Errorf("tensorflow.pc lacks %q:\n%s", want, pc)
				}
			}
			if st, err := os.Lstat(link); err != nil || !st.Mode().IsRegular() {
				t.Fatalf("libtensorflow.so is not a regular file: %v %v", st, err)
			}
			script, _ := os.ReadFile(link)
			if want := "INPUT(" + filepath.Join(tf, tc.library) + ")\n"; !strings.HasSuffix(string(script), want) {
				t.Errorf("linker script %q does not end with %q", script, want)
			}
			if lib, _ := os.ReadFile(filepath.Join(tf, tc.library)); string(lib) != "not a real library" {
				t.Errorf("the library was overwritten through the old symlink: %q", lib)
			}
			if !strings.Contains(stdout.String(), "TensorFlow 2.19.0") {
				t.Errorf("summary line %q", stdout.String())
			}
		})
	}
}

func TestRunHeadersBesideLib(t *testing.T) {
	// A libtensorflow tarball: lib/ and include/ side by side, no version.h.
	root := t.TempDir()
	mustWrite(t, filepath.Join(root, "lib", "libtensorflow.so.2"), "")
	mustWrite(t, filepath.Join(root, "include", "tensorflow", "c", "c_api.h"), "")
	out := t.TempDir()
	if err := run([]string{"-lib", filepath.Join(root, "lib"), "-out", out}, &strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	pc, _ := os.ReadFile(filepath.Join(out, "pkgconfig", "tensorflow.pc"))
	for _, want := range []string{"includedir=" + filepath.Join(root, "include") + "\n", "Version: 0\n"} {
		if !strings.Contains(string(pc), want) {
			t.Errorf("tensorflow.pc lacks %q:\n%s", want, pc)
		}
	}
}

func TestRunErrors(t *testing.T) {
	noLib := fakeTF(t, true)
	noHeaders := fakeTF(t, false, "libtensorflow_cc.so.2")
	spaced := filepath.Join(t.TempDir(), "my tf")
	mustWrite(t, filepath.Join(spaced, "libtensorflow_cc.so.2"), "")
	mustWrite(t, filepath.Join(spaced, "include", "tensorflow", "c", "c_api.h"), "")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no out", []string{"-lib", noLib}, "-out DIR is required"},
		{"extra argument", []string{"-out", "x", "y"}, `unexpected argument "y"`},
		{"no library", []string{"-lib", noLib, "-out", t.TempDir()}, "no libtensorflow_cc.so.2 or libtensorflow.so.2 in"},
		{"no headers", []string{"-lib", noHeaders, "-out", t.TempDir()}, "no tensorflow/c/c_api.h under"},
		{"space in path", []string{"-lib", spaced, "-out", t.TempDir()}, "has a space"},
		{"python without tensorflow", []string{"-python", "/nonexistent/python", "-out", t.TempDir()}, `asking "/nonexistent/python"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := run(tc.args, &strings.Builder{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run(%q) = %v, want an error containing %q", tc.args, err, tc.want)
			}
		})
	}
}
