package npy

import (
	"bytes"
	"errors"
	"math"
	"path/filepath"
	"testing"

	"deploykit/go/internal/testfix"
)

var (
	rawNpy = testfix.RawNpy
	floats = testfix.Floats
)

const f4x23 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"

func TestReadValid(t *testing.T) {
	six := floats(1, 2, 3, 4, float32(math.NaN()), float32(math.Inf(-1)))
	for _, tc := range []struct {
		name       string
		file       []byte
		rows, cols int
	}{
		{"v1", rawNpy(1, f4x23, six), 2, 3},
		{"v2", rawNpy(2, f4x23, six), 2, 3},
		{"key order and spacing", rawNpy(1, `{"shape":(2,3),"fortran_order":False,"descr":"<f4"}`, six), 2, 3},
		{"zero rows", rawNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", nil), 0, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Read(bytes.NewReader(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if m.Rows != tc.rows || m.Cols != tc.cols || len(m.Data) != tc.rows*tc.cols {
				t.Fatalf("got (%d, %d) with %d values", m.Rows, m.Cols, len(m.Data))
			}
			if tc.rows == 2 && (m.Data[0] != 1 || !math.IsNaN(float64(m.Data[4])) || !math.IsInf(float64(m.Data[5]), -1)) {
				t.Errorf("data = %v", m.Data)
			}
		})
	}
}

func TestReadRejects(t *testing.T) {
	six := floats(1, 2, 3, 4, 5, 6)
	for _, tc := range []struct {
		name string
		file []byte
	}{
		{"empty", nil},
		{"bad magic", append([]byte("\x93NUMPX\x01\x00"), rawNpy(1, f4x23, six)[8:]...)},
		{"version 3", rawNpy(3, f4x23, six)},
		{"version 1.1", func() []byte { b := rawNpy(1, f4x23, six); b[7] = 1; return b }()},
		{"float64", rawNpy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", append(six, six...))},
		{"big-endian", rawNpy(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", six)},
		{"int32", rawNpy(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", six)},
		{"fortran order", rawNpy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", six)},
		{"1-D", rawNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", six)},
		{"3-D", rawNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3), }", six)},
		{"scalar", rawNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", six[:4])},
		{"data too short", rawNpy(1, f4x23, six[:20])},
		{"data too long", rawNpy(1, f4x23, append(six, 0, 0, 0, 0))},
		{"huge shape", rawNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", six)},
		{"negative dim", rawNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }", six)},
		{"missing shape", rawNpy(1, "{'descr': '<f4', 'fortran_order': False, }", six)},
		{"unknown key", rawNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1, }", six)},
		{"duplicate key", rawNpy(1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", six)},
		{"not a dict", rawNpy(1, "[1, 2]", six)},
		{"unterminated", rawNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)", six)},
		{"truncated header", rawNpy(1, f4x23, six)[:40]},
		{"structured dtype", rawNpy(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2, 3), }", six)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Read(bytes.NewReader(tc.file))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Read = %+v, %v; want an ErrInvalid error", m, err)
			}
		})
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	in := &Matrix{Rows: 3, Cols: 2, Data: []float32{1, -2, float32(math.NaN()), float32(math.Inf(1)), 1e-45, 0}}
	var b bytes.Buffer
	if err := Write(&b, in); err != nil {
		t.Fatal(err)
	}
	if (b.Len()-4*len(in.Data))%64 != 0 {
		t.Errorf("header of %d bytes is not 64-byte aligned", b.Len()-4*len(in.Data))
	}
	out, err := Read(&b)
	if err != nil {
		t.Fatal(err)
	}
	if out.Rows != 3 || out.Cols != 2 {
		t.Fatalf("shape (%d, %d)", out.Rows, out.Cols)
	}
	for i := range in.Data {
		if math.Float32bits(in.Data[i]) != math.Float32bits(out.Data[i]) {
			t.Errorf("element %d: %v != %v", i, out.Data[i], in.Data[i])
		}
	}
}

// TestReadsNumpyFile reads a golden file numpy wrote (the test export).
func TestReadsNumpyFile(t *testing.T) {
	mp := testfix.Manifest(t, "DEPLOYKIT_TEST_MANIFEST")
	m, err := ReadFile(filepath.Join(filepath.Dir(mp), "mlp_keras", "golden", "input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Rows != 64 || m.Cols != 10 {
		t.Errorf("shape (%d, %d), want (64, 10)", m.Rows, m.Cols)
	}
}

// FuzzReadNpy: Read never panics, and whatever it accepts is a consistent matrix that
// survives a Write/Read round trip bit for bit.
func FuzzReadNpy(f *testing.F) {
	six := floats(1, 2, 3, 4, 5, 6)
	for _, seed := range [][]byte{
		rawNpy(1, f4x23, six),
		rawNpy(2, f4x23, six),
		rawNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", nil),
		rawNpy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", six),
		rawNpy(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", six),
		rawNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", six),
		rawNpy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 3), }", six),
		rawNpy(1, f4x23, six[:8]),
		[]byte("\x93NUMPY\x01\x00\xff\xff{"),
		[]byte("\x93NUMPY\x02\x00\xff\xff\xff\xff"),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, file []byte) {
		m, err := Read(bytes.NewReader(file))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if m.Rows < 0 || m.Cols < 0 || len(m.Data) != m.Rows*m.Cols {
			t.Fatalf("accepted an inconsistent matrix: (%d, %d) with %d values", m.Rows, m.Cols, len(m.Data))
		}
		var b bytes.Buffer
		if err := Write(&b, m); err != nil {
			t.Fatal(err)
		}
		back, err := Read(&b)
		if err != nil {
			t.Fatalf("re-reading our own output: %v", err)
		}
		if back.Rows != m.Rows || back.Cols != m.Cols {
			t.Fatalf("round trip changed the shape")
		}
		for i := range m.Data {
			if math.Float32bits(back.Data[i]) != math.Float32bits(m.Data[i]) {
				t.Fatalf("round trip changed element %d", i)
			}
		}
	})
}
