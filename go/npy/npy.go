// Package npy reads and writes NumPy .npy files as deploykit exchanges them between
// languages (docs/contract.md): format 1.0, 2.0 or 3.0, C order, rank 0-8, one of the six
// contract dtypes ('<f4', '<f2', '<i4', '<i8', '|u1', '|b1'; '<u1' and '<b1' also read).
// Anything else is rejected with an error wrapping ErrInvalid.
//
// The reader is deliberately narrow: a general .npy library also parses structured dtypes
// and pickled object arrays, which the contract forbids and which would widen what a
// hostile file can reach. This one is fuzzed (FuzzReadNpy).
package npy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/deploykit/deploykit/go/tensor"
)

// ErrInvalid is wrapped by every error about a malformed or unsupported .npy file.
var ErrInvalid = errors.New("invalid npy")

var magic = []byte("\x93NUMPY")

// maxHeader bounds the header length a file may claim (numpy itself caps it far lower).
const maxHeader = 1 << 20

// descrs maps the accepted descr strings to dtypes.
var descrs = map[string]tensor.DType{
	"<f4": tensor.Float32, "<f2": tensor.Float16, "<i4": tensor.Int32, "<i8": tensor.Int64,
	"|u1": tensor.Uint8, "<u1": tensor.Uint8, "|b1": tensor.Bool, "<b1": tensor.Bool,
}

// writeDescrs is the descr a writer uses for each dtype (numpy's own spelling).
var writeDescrs = map[tensor.DType]string{
	tensor.Float32: "<f4", tensor.Float16: "<f2", tensor.Int32: "<i4", tensor.Int64: "<i8",
	tensor.Uint8: "|u1", tensor.Bool: "|b1",
}

// Read parses a whole .npy stream.
func Read(r io.Reader) (*tensor.Tensor, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, fmt.Errorf("%w: truncated preamble (not an npy file)", ErrInvalid)
	}
	if !bytes.Equal(pre[:6], magic) {
		return nil, fmt.Errorf("%w: not an npy file (bad magic)", ErrInvalid)
	}
	if pre[7] != 0 || pre[6] < 1 || pre[6] > 3 {
		return nil, fmt.Errorf("%w: format version %d.%d (want 1.0, 2.0 or 3.0)", ErrInvalid, pre[6], pre[7])
	}
	var hlen int
	if pre[6] == 1 {
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("%w: truncated header length", ErrInvalid)
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	} else {
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("%w: truncated header length", ErrInvalid)
		}
		n := binary.LittleEndian.Uint32(b[:])
		if n > maxHeader {
			return nil, fmt.Errorf("%w: header length %d too large", ErrInvalid, n)
		}
		hlen = int(n)
	}
	header := make([]byte, hlen)
	if _, err := io.ReadFull(r, header); err != nil {
		return nil, fmt.Errorf("%w: truncated header", ErrInvalid)
	}
	dt, shape, err := parseHeader(string(header))
	if err != nil {
		return nil, err
	}
	// Read at most what the header claims plus one byte, so that a lying shape cannot make
	// us allocate more than the file holds and a long file is still detected.
	need, ok := dataBytes(dt, shape)
	if !ok {
		return nil, fmt.Errorf("%w: header shape %s is too large", ErrInvalid, tensor.ShapeString(shape))
	}
	data, err := io.ReadAll(io.LimitReader(r, need+1))
	if err != nil {
		return nil, fmt.Errorf("reading npy data: %w", err)
	}
	if int64(len(data)) != need {
		what := "truncated data"
		if int64(len(data)) > need {
			what = "data longer than the shape"
		}
		return nil, fmt.Errorf("%w: %s: %s %s needs %d bytes", ErrInvalid, what, dt, tensor.ShapeString(shape), need)
	}
	if dt == tensor.Bool {
		for i, b := range data {
			if b > 1 {
				return nil, fmt.Errorf("%w: bool byte %d at index %d (want 0 or 1)", ErrInvalid, b, i)
			}
		}
	}
	return tensor.FromBytes(dt, shape, data)
}

// dataBytes is the data size the header promises, false when it overflows the bounds.
func dataBytes(dt tensor.DType, shape []int64) (int64, bool) {
	const limit = int64(1) << 40
	n := int64(dt.Size())
	for _, d := range shape {
		if d != 0 && n > limit/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// ReadFile reads a .npy file.
func ReadFile(path string) (*tensor.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := Read(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%q: %w", path, err)
	}
	return t, nil
}

// parseHeader checks the header dict, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (64, 10), }.
func parseHeader(h string) (dt tensor.DType, shape []int64, err error) {
	bad := func(format string, args ...any) (tensor.DType, []int64, error) {
		return 0, nil, fmt.Errorf("%w: header: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	p := &parser{s: strings.TrimRight(h, " \n")}
	if !p.eat('{') {
		return bad("not a dict")
	}
	seen := map[string]bool{}
	for {
		p.space()
		if p.eat('}') {
			break
		}
		key, ok := p.str()
		if !ok {
			return bad("expected a quoted key at offset %d", p.i)
		}
		if seen[key] {
			return bad("duplicate key %q", key)
		}
		seen[key] = true
		p.space()
		if !p.eat(':') {
			return bad("expected ':' after %q", key)
		}
		p.space()
		switch key {
		case "descr":
			d, ok := p.str()
			if !ok {
				return bad("descr is not a string")
			}
			if dt, ok = descrs[d]; !ok {
				return bad("dtype %q is not supported (want one of <f4 <f2 <i4 <i8 |u1 |b1)", d)
			}
		case "fortran_order":
			switch {
			case p.word("False"):
			case p.word("True"):
				return bad("fortran_order True is not supported (want C order)")
			default:
				return bad("fortran_order is not a bool")
			}
		case "shape":
			if shape, ok = p.tuple(); !ok {
				return bad("shape is not a tuple of integers")
			}
		default:
			return bad("unexpected key %q", key)
		}
		p.space()
		if !p.eat(',') {
			p.space()
			if !p.eat('}') {
				return bad("expected ',' or '}' at offset %d", p.i)
			}
			break
		}
	}
	if p.i != len(p.s) {
		return bad("trailing characters after the dict")
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return bad("missing key %q", k)
		}
	}
	if len(shape) > tensor.MaxRank {
		return bad("shape has %d dimensions (at most %d)", len(shape), tensor.MaxRank)
	}
	return dt, shape, nil
}

type parser struct {
	s string
	i int
}

func (p *parser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n') {
		p.i++
	}
}

func (p *parser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *parser) word(w string) bool {
	if strings.HasPrefix(p.s[p.i:], w) {
		p.i += len(w)
		return true
	}
	return false
}

// str reads a quoted string without escapes (numpy never writes any in these keys).
func (p *parser) str() (string, bool) {
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", false
	}
	q := p.s[p.i]
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", false
	}
	v := p.s[p.i+1 : p.i+1+end]
	if strings.ContainsRune(v, '\\') {
		return "", false
	}
	p.i += end + 2
	return v, true
}

// tuple reads a tuple of non-negative integers: (), (3,), (64, 10).
func (p *parser) tuple() ([]int64, bool) {
	if !p.eat('(') {
		return nil, false
	}
	dims := []int64{}
	for {
		p.space()
		if p.eat(')') {
			return dims, true
		}
		start := p.i
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		if start == p.i || p.i-start > 18 {
			return nil, false
		}
		n, err := strconv.ParseInt(p.s[start:p.i], 10, 64)
		if err != nil {
			return nil, false
		}
		dims = append(dims, n)
		p.space()
		if !p.eat(',') {
			p.space()
			if !p.eat(')') {
				return nil, false
			}
			return dims, true
		}
	}
}

// Write writes t as a format 1.0 C-order .npy stream with the contract's descr.
func Write(w io.Writer, t *tensor.Tensor) error {
	descr, ok := writeDescrs[t.DType]
	if !ok {
		return fmt.Errorf("npy: cannot write dtype %v", t.DType)
	}
	if n, ok := dataBytes(t.DType, t.Shape); !ok || n != int64(len(t.Data)) {
		return fmt.Errorf("npy: %v %s tensor has %d bytes", t.DType, tensor.ShapeString(t.Shape), len(t.Data))
	}
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, tensor.ShapeString(t.Shape))
	// Pad with spaces and end with '\n' so the data starts on a 64-byte boundary (numpy's
	// rule); a rank-8 dict stays far below format 1.0's 65535-byte header limit.
	const preamble = 10 // magic, version, uint16 header length
	hlen := (preamble+len(dict)+1+63)/64*64 - preamble
	buf := bytes.NewBuffer(make([]byte, 0, preamble+hlen))
	buf.Write(magic)
	buf.Write([]byte{1, 0, byte(hlen), byte(hlen >> 8)})
	buf.WriteString(dict)
	buf.WriteString(strings.Repeat(" ", hlen-len(dict)-1))
	buf.WriteByte('\n')
	if _, err := w.Write(buf.Bytes()); err != nil {
		return err
	}
	_, err := w.Write(t.Data)
	return err
}

// WriteFile writes t to path, creating the parent folder.
func WriteFile(path string, t *tensor.Tensor) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := Write(f, t); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
