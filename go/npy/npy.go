// Package npy reads and writes the one NumPy .npy layout deploykit exchanges between
// languages (DESIGN.md): format 1.0 or 2.0, dtype '<f4', C order, two dimensions
// (rows, features). Anything else is rejected with an error wrapping ErrInvalid.
//
// The reader is deliberately narrow: a general .npy library (codeberg.org/sbinet/npyio)
// also parses structured dtypes and pickled object arrays, which the contract forbids
// and which would widen what a hostile file can reach. This one is fuzzed (FuzzReadNpy).
package npy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// ErrInvalid is wrapped by every error about a malformed or unsupported .npy file.
var ErrInvalid = errors.New("invalid npy")

// Matrix is a row-major (C order) float32 matrix: element (r, c) is Data[r*Cols+c].
type Matrix struct {
	Rows, Cols int
	Data       []float32
}

// Row returns row r as a slice sharing Data.
func (m *Matrix) Row(r int) []float32 { return m.Data[r*m.Cols : (r+1)*m.Cols : (r+1)*m.Cols] }

// RowSlices returns the rows as slices sharing Data (no copy).
func (m *Matrix) RowSlices() [][]float32 {
	rows := make([][]float32, m.Rows)
	for r := range rows {
		rows[r] = m.Row(r)
	}
	return rows
}

// FromRows copies rows into a new Matrix; every row must have the same length.
func FromRows(rows [][]float32) (*Matrix, error) {
	m := &Matrix{Rows: len(rows)}
	if len(rows) > 0 {
		m.Cols = len(rows[0])
	}
	m.Data = make([]float32, 0, m.Rows*m.Cols)
	for i, row := range rows {
		if len(row) != m.Cols {
			return nil, fmt.Errorf("row %d has %d values, row 0 has %d", i, len(row), m.Cols)
		}
		m.Data = append(m.Data, row...)
	}
	return m, nil
}

var magic = []byte("\x93NUMPY")

// maxHeader bounds the header length a file may claim (numpy itself caps it far lower).
const maxHeader = 1 << 20

// Read parses a whole .npy stream.
func Read(r io.Reader) (*Matrix, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, fmt.Errorf("%w: truncated preamble", ErrInvalid)
	}
	if !bytes.Equal(pre[:6], magic) {
		return nil, fmt.Errorf("%w: not an npy file (bad magic)", ErrInvalid)
	}
	var hlen int
	switch major := pre[6]; major {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("%w: truncated header length", ErrInvalid)
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, fmt.Errorf("%w: truncated header length", ErrInvalid)
		}
		n := binary.LittleEndian.Uint32(b[:])
		if n > maxHeader {
			return nil, fmt.Errorf("%w: header length %d too large", ErrInvalid, n)
		}
		hlen = int(n)
	default:
		return nil, fmt.Errorf("%w: format version %d.%d (want 1.0 or 2.0)", ErrInvalid, major, pre[7])
	}
	if pre[7] != 0 {
		return nil, fmt.Errorf("%w: format version %d.%d (want 1.0 or 2.0)", ErrInvalid, pre[6], pre[7])
	}
	header := make([]byte, hlen)
	if _, err := io.ReadFull(r, header); err != nil {
		return nil, fmt.Errorf("%w: truncated header", ErrInvalid)
	}
	rows, cols, err := parseHeader(string(header))
	if err != nil {
		return nil, err
	}
	// Read what is there rather than what the header claims, so a lying shape cannot make
	// us allocate more than the file holds.
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading npy data: %w", err)
	}
	if cols != 0 && rows > len(data)/4/cols || rows*cols*4 != len(data) {
		return nil, fmt.Errorf("%w: header shape (%d, %d) needs %s bytes of data, file has %d",
			ErrInvalid, rows, cols, needBytes(rows, cols), len(data))
	}
	m := &Matrix{Rows: rows, Cols: cols, Data: make([]float32, rows*cols)}
	for i := range m.Data {
		m.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return m, nil
}

func needBytes(rows, cols int) string {
	if cols != 0 && rows > math.MaxInt/4/cols {
		return "more than MaxInt"
	}
	return strconv.Itoa(rows * cols * 4)
}

// ReadFile reads a .npy file.
func ReadFile(path string) (*Matrix, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := Read(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%q: %w", path, err)
	}
	return m, nil
}

// parseHeader checks the header dict, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (64, 10), }.
func parseHeader(h string) (rows, cols int, err error) {
	bad := func(format string, args ...any) (int, int, error) {
		return 0, 0, fmt.Errorf("%w: header: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	p := &parser{s: strings.TrimRight(h, " \n")}
	if !p.eat('{') {
		return bad("not a dict")
	}
	seen := map[string]bool{}
	var shape []int
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
			if d != "<f4" {
				return bad("dtype %q is not supported (want '<f4', little-endian float32)", d)
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
	if len(shape) != 2 {
		return bad("shape has %d dimensions (want 2: rows, features)", len(shape))
	}
	return shape[0], shape[1], nil
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
func (p *parser) tuple() ([]int, bool) {
	if !p.eat('(') {
		return nil, false
	}
	dims := []int{}
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
		n, err := strconv.Atoi(p.s[start:p.i])
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

// Write writes m as a format 1.0 '<f4' C-order .npy stream.
func Write(w io.Writer, m *Matrix) error {
	if len(m.Data) != m.Rows*m.Cols {
		return fmt.Errorf("npy: matrix (%d, %d) has %d values", m.Rows, m.Cols, len(m.Data))
	}
	dict := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", m.Rows, m.Cols)
	// Pad with spaces and end with '\n' so the data starts on a 64-byte boundary (numpy's
	// rule); the dict is under 100 bytes, far from format 1.0's 65535-byte header limit.
	const preamble = 10 // magic, version, uint16 header length
	hlen := (preamble+len(dict)+1+63)/64*64 - preamble
	buf := bytes.NewBuffer(make([]byte, 0, preamble+hlen+4*len(m.Data)))
	buf.Write(magic)
	buf.Write([]byte{1, 0, byte(hlen), byte(hlen >> 8)})
	buf.WriteString(dict)
	buf.WriteString(strings.Repeat(" ", hlen-len(dict)-1))
	buf.WriteByte('\n')
	var b [4]byte
	for _, v := range m.Data {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
		buf.Write(b[:])
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// WriteFile writes m to path.
func WriteFile(path string, m *Matrix) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := Write(f, m); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
