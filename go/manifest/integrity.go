package manifest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ErrIntegrity is wrapped when an artifact or the deny-list is missing, unreadable or does
// not match its recorded sha256.
var ErrIntegrity = errors.New("integrity check failed")

// FileSHA256 returns the hex sha256 of a regular file; symlinks are refused.
func FileSHA256(file string) (string, error) {
	fi, err := os.Lstat(file)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%q is not a regular file (%s)", file, fi.Mode().Type())
	}
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// FolderSHA256 hashes a folder artifact by the contract's rule (docs/contract.md): for each regular file, sorted
// by its '/'-separated relative path as bytes, the line "<sha256hex>  <relpath>\n"; the
// hash is the sha256 of those lines. Symlinks and other non-regular entries are refused.
func FolderSHA256(dir string) (string, error) {
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%q is not a folder (%s)", dir, fi.Mode().Type())
	}
	var rels []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir || d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%q is not a regular file (%s)", p, d.Type())
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rels = append(rels, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(rels) // Go compares strings bytewise: the UTF-8 byte order of the rule
	var lines bytes.Buffer
	for _, rel := range rels {
		sum, err := FileSHA256(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&lines, "%s  %s\n", sum, rel)
	}
	sum := sha256.Sum256(lines.Bytes())
	return hex.EncodeToString(sum[:]), nil
}

// VerifyArtifact checks the artifact at dir against its recorded sha256 (folder rule when
// dir is a folder, plain file hash otherwise).
func VerifyArtifact(a *Artifact, dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("%w: artifact %q: %v", ErrIntegrity, a.Path, err)
	}
	var got string
	if fi.IsDir() {
		got, err = FolderSHA256(dir)
	} else {
		got, err = FileSHA256(dir)
	}
	if err != nil {
		return fmt.Errorf("%w: artifact %q: %v", ErrIntegrity, a.Path, err)
	}
	if want := strings.ToLower(a.Sha256); got != want {
		return fmt.Errorf("%w: artifact %q: sha256 %s, manifest says %s", ErrIntegrity, a.Path, got, want)
	}
	return nil
}

// DenyList is the op deny-list (python/builder/unsafe_ops.json, copied beside the manifest).
type DenyList struct {
	Version int `json:"version"`
	Ops     []struct {
		Op  string `json:"op"`
		Why string `json:"why"`
	} `json:"ops"`
}

// Why returns the reason an op is denied, and whether it is.
func (d *DenyList) Why(op string) (string, bool) {
	for _, o := range d.Ops {
		if o.Op == op {
			return o.Why, true
		}
	}
	return "", false
}

// UnsafeOps reads the deny-list named by safety.unsafe_ops and verifies its sha256. A
// manifest without one, a missing file or a hash mismatch wraps ErrIntegrity: a client
// that cannot read its deny-list refuses to run rather than run unchecked.
func (m *Manifest) UnsafeOps() (*DenyList, error) {
	if m.Safety == nil || m.Safety.UnsafeOps == nil || m.Safety.UnsafeOps.Path == "" {
		return nil, fmt.Errorf("%w: the manifest names no op deny-list (safety.unsafe_ops)", ErrIntegrity)
	}
	hf := m.Safety.UnsafeOps
	file, err := m.Resolve(hf.Path)
	if err != nil {
		return nil, err
	}
	got, err := FileSHA256(file)
	if err != nil {
		return nil, fmt.Errorf("%w: op deny-list: %v", ErrIntegrity, err)
	}
	if want := strings.ToLower(hf.Sha256); got != want {
		return nil, fmt.Errorf("%w: op deny-list %q: sha256 %s, manifest says %s", ErrIntegrity, hf.Path, got, want)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%w: op deny-list: %v", ErrIntegrity, err)
	}
	var d DenyList
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("%w: op deny-list %q: %v", ErrIntegrity, hf.Path, err)
	}
	if d.Version != 1 || len(d.Ops) == 0 {
		return nil, fmt.Errorf("%w: op deny-list %q: version %d with %d ops (want version 1, at least one op)", ErrIntegrity, hf.Path, d.Version, len(d.Ops))
	}
	return &d, nil
}
