// Command tfpkgconfig writes a pkg-config file for TensorFlow's C library, so that a Go
// program using this module (through github.com/wamuir/graft, which links -ltensorflow)
// builds with flags that pkg-config prints and runs without LD_LIBRARY_PATH.
//
// TensorFlow's pip wheel ships the C API in libtensorflow_cc.so.2 but no libtensorflow.so,
// so OUT/lib/libtensorflow.so is written too: a one-line GNU ld script, INPUT(<library>),
// that makes -ltensorflow resolve to it (no symlink to make by hand). OUT/pkgconfig/
// tensorflow.pc then says:
//
//	Cflags: -I<include dir>
//	Libs:   -L<OUT/lib> -Wl,-rpath,<library dir> -ltensorflow
//
// Usage:
//
//	go run github.com/deploykit/deploykit/go/cmd/tfpkgconfig [-python PY | -lib DIR [-include DIR]] -out DIR
//	export PKG_CONFIG_PATH=DIR/pkgconfig
//	export CGO_CFLAGS="$(pkg-config --cflags tensorflow)" CGO_LDFLAGS="$(pkg-config --libs tensorflow)"
//
// Without -lib the library is the one inside the tensorflow package that PY (default
// python3) would import; -lib names a folder with libtensorflow_cc.so.2 (a wheel's
// site-packages/tensorflow) or libtensorflow.so.2 (a libtensorflow tarball's lib/). The
// headers are taken from -include, else DIR/include, else DIR/../include.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// libraries are the C API libraries looked for in the -lib folder, in this order.
var libraries = []string{"libtensorflow_cc.so.2", "libtensorflow.so.2"}

// findSpec prints the folder of the tensorflow package without importing it (seconds).
const findSpec = "import importlib.util as u; s = u.find_spec('tensorflow'); " +
	"print(s.submodule_search_locations[0] if s and s.submodule_search_locations else '')"

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "error: tfpkgconfig: %v\n", err)
		os.Exit(2)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("tfpkgconfig", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	lib := fs.String("lib", "", "folder with libtensorflow_cc.so.2 or libtensorflow.so.2 (default: ask -python)")
	include := fs.String("include", "", "folder with tensorflow/c/c_api.h (default: LIB/include or LIB/../include)")
	python := fs.String("python", "python3", "Python interpreter whose tensorflow package holds the library")
	out := fs.String("out", "", "folder to write pkgconfig/tensorflow.pc and lib/libtensorflow.so into (required)")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stdout, "usage: tfpkgconfig [-python PY | -lib DIR [-include DIR]] -out DIR")
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return nil
	} else if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *out == "" {
		return errors.New("-out DIR is required")
	}
	if *lib == "" {
		dir, err := wheelDir(*python)
		if err != nil {
			return err
		}
		*lib = dir
	}
	c, err := locate(*lib, *include)
	if err != nil {
		return err
	}
	outDir, err := filepath.Abs(*out)
	if err != nil {
		return err
	}
	pc, script := c.files(filepath.Join(outDir, "lib"))
	pcPath := filepath.Join(outDir, "pkgconfig", "tensorflow.pc")
	if err := writeFile(filepath.Join(outDir, "lib", "libtensorflow.so"), script); err != nil {
		return err
	}
	if err := writeFile(pcPath, pc); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "tfpkgconfig: wrote %s (TensorFlow %s, %s)\n", pcPath, c.version, c.library)
	return nil
}

// wheelDir asks python where its tensorflow package is.
func wheelDir(python string) (string, error) {
	var stderr bytes.Buffer
	cmd := exec.Command(python, "-c", findSpec)
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("asking %q for the tensorflow package: %w: %s", python, err, strings.TrimSpace(stderr.String()))
	}
	dir := strings.TrimSpace(string(raw))
	if dir == "" {
		return "", fmt.Errorf("%q cannot import tensorflow: pip install tensorflow, or pass -python or -lib", python)
	}
	return dir, nil
}

// config is what the generated files name.
type config struct {
	library    string // absolute path of the C API library
	includeDir string // absolute folder holding tensorflow/c/c_api.h
	version    string // from tensorflow/core/public/version.h, or "0" when the headers lack it
}

// locate finds the library and headers in libDir (and includeDir when given).
func locate(libDir, includeDir string) (config, error) {
	var c config
	libDir, err := filepath.Abs(libDir)
	if err != nil {
		return c, err
	}
	for _, name := range libraries {
		if p := filepath.Join(libDir, name); isFile(p) {
			c.library = p
			break
		}
	}
	if c.library == "" {
		return c, fmt.Errorf("no %s in %q", strings.Join(libraries, " or "), libDir)
	}
	candidates := []string{includeDir}
	if includeDir == "" {
		candidates = []string{filepath.Join(libDir, "include"), filepath.Join(filepath.Dir(libDir), "include")}
	}
	for _, dir := range candidates {
		if isFile(filepath.Join(dir, "tensorflow", "c", "c_api.h")) {
			if c.includeDir, err = filepath.Abs(dir); err != nil {
				return c, err
			}
			break
		}
	}
	if c.includeDir == "" {
		return c, fmt.Errorf("no tensorflow/c/c_api.h under %q: pass -include", strings.Join(candidates, `" or "`))
	}
	for _, p := range []string{c.library, c.includeDir} {
		if strings.ContainsAny(p, " \t\n\"'\\$") {
			return c, fmt.Errorf("path %q has a space, quote, backslash or $, which pkg-config and cgo flags cannot carry", p)
		}
	}
	c.version = headerVersion(filepath.Join(c.includeDir, "tensorflow", "core", "public", "version.h"))
	return c, nil
}

var versionDefine = regexp.MustCompile(`(?m)^#define TF_(MAJOR|MINOR|PATCH)_VERSION (\d+)\s*$`)

// headerVersion reads MAJOR.MINOR.PATCH from TensorFlow's version.h; "0" if it cannot.
func headerVersion(path string) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "0"
	}
	parts := map[string]string{}
	for _, m := range versionDefine.FindAllStringSubmatch(string(raw), -1) {
		parts[m[1]] = m[2]
	}
	if len(parts) != 3 {
		return "0"
	}
	return parts["MAJOR"] + "." + parts["MINOR"] + "." + parts["PATCH"]
}

// files returns the contents of tensorflow.pc and of the libtensorflow.so linker script
// that will live in linkDir.
func (c config) files(linkDir string) (pc, script string) {
	pc = fmt.Sprintf(`# Written by tfpkgconfig (github.com/deploykit/deploykit/go/cmd/tfpkgconfig); rerun it
# when the library moves. libdir holds libtensorflow.so, a linker script naming the library;
# the rpath lets programs find it at run time without LD_LIBRARY_PATH.
tfdir=%s
libdir=%s
includedir=%s

Name: tensorflow
Description: TensorFlow C API (%s)
Version: %s
Cflags: -I${includedir}
Libs: -L${libdir} -Wl,-rpath,${tfdir} -ltensorflow
`, filepath.Dir(c.library), linkDir, c.includeDir, filepath.Base(c.library), c.version)
	script = fmt.Sprintf("/* Written by tfpkgconfig: -ltensorflow links TensorFlow's C library. */\nINPUT(%s)\n", c.library)
	return pc, script
}

// writeFile replaces path through a rename, so a symlink at path is replaced, never written
// through (an older build put a symlink to the real library there).
func writeFile(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tfpkgconfig-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
