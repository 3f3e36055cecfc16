package npy

import (
	"bytes"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/deploykit/deploykit/go/internal/testfix"
	"github.com/deploykit/deploykit/go/tensor"
)

var (
	rawNpy = testfix.RawNpy
	floats = testfix.Floats
)

const f4x23 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"

func dict(descr, shape string) string {
	return "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }"
}

func TestReadValid(t *testing.T) {
	six := floats(1, 2, 3, 4, float32(math.NaN()), float32(math.Inf(-1)))
	for _, tc := range []struct {
		name  string
		file  []byte
		dtype tensor.DType
		shape []int64
	}{
		{"v1", rawNpy(1, f4x23, six), tensor.Float32, []int64{2, 3}},
		{"v2", rawNpy(2, f4x23, six), tensor.Float32, []int64{2, 3}},
		{"v3", rawNpy(3, f4x23, six), tensor.Float32, []int64{2, 3}},
		{"key order and spacing", rawNpy(1, `{"shape":(2,3),"fortran_order":False,"descr":"<f4"}`, six), tensor.Float32, []int64{2, 3}},
		{"zero rows", rawNpy(1, dict("<f4", "(0, 3)"), nil), tensor.Float32, []int64{0, 3}},
		{"scalar", rawNpy(1, dict("<i8", "()"), make([]byte, 8)), tensor.Int64, []int64{}},
		{"1-D", rawNpy(1, dict("<i4", "(6,)"), make([]byte, 24)), tensor.Int32, []int64{6}},
		{"float16", rawNpy(1, dict("<f2", "(3,)"), make([]byte, 6)), tensor.Float16, []int64{3}},
		{"|u1", rawNpy(1, dict("|u1", "(2, 2)"), []byte{0, 255, 7, 8}), tensor.Uint8, []int64{2, 2}},
		{"<u1", rawNpy(1, dict("<u1", "(1,)"), []byte{9}), tensor.Uint8, []int64{1}},
		{"|b1", rawNpy(1, dict("|b1", "(2,)"), []byte{0, 1}), tensor.Bool, []int64{2}},
		{"<b1", rawNpy(1, dict("<b1", "(2,)"), []byte{1, 1}), tensor.Bool, []int64{2}},
		{"rank 8", rawNpy(1, dict("|u1", "(1, 1, 1, 1, 1, 1, 1, 2)"), []byte{1, 2}), tensor.Uint8, []int64{1, 1, 1, 1, 1, 1, 1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Read(bytes.NewReader(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if m.DType != tc.dtype || !slices.Equal(m.Shape, tc.shape) {
				t.Fatalf("got %v %v, want %v %v", m.DType, m.Shape, tc.dtype, tc.shape)
			}
			if tc.name == "v1" {
				v := m.Float32s()
				if v[0] != 1 || !math.IsNaN(float64(v[4])) || !math.IsInf(float64(v[5]), -1) {
					t.Errorf("data = %v", v)
				}
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
		{"version 4", rawNpy(4, f4x23, six)},
		{"version 1.1", func() []byte { b := rawNpy(1, f4x23, six); b[7] = 1; return b }()},
		{"float64", rawNpy(1, dict("<f8", "(2, 3)"), append(six, six...))},
		{"uint16", rawNpy(1, dict("<u2", "(2, 3)"), six[:12])},
		{"int8", rawNpy(1, dict("|i1", "(2, 3)"), six[:6])},
		{"big-endian f4", rawNpy(1, dict(">f4", "(2, 3)"), six)},
		{"big-endian i8", rawNpy(1, dict(">i8", "(3,)"), six)},
		{"fortran order", rawNpy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", six)},
		{"rank 9", rawNpy(1, dict("|u1", "(1, 1, 1, 1, 1, 1, 1, 1, 2)"), []byte{1, 2})},
		{"bool byte 2", rawNpy(1, dict("|b1", "(2,)"), []byte{1, 2})},
		{"data too short", rawNpy(1, f4x23, six[:20])},
		{"data too long", rawNpy(1, f4x23, append(six, 0, 0, 0, 0))},
		{"huge shape", rawNpy(1, dict("<f4", "(4611686018427387904, 4)"), six)},
		{"negative dim", rawNpy(1, dict("<f4", "(-2, 3)"), six)},
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
	for _, tc := range []struct {
		dtype tensor.DType
		shape []int64
	}{
		{tensor.Float32, []int64{3, 2}}, {tensor.Float16, []int64{4}}, {tensor.Int32, []int64{}},
		{tensor.Int64, []int64{2, 0, 3}}, {tensor.Uint8, []int64{1, 2, 1, 2, 1, 2, 1, 2}}, {tensor.Bool, []int64{5}},
	} {
		t.Run(tc.dtype.String(), func(t *testing.T) {
			in := tensor.New(tc.dtype, tc.shape...)
			for i := range in.Data {
				in.Data[i] = byte(i*37+1) & 0x7f
				if tc.dtype == tensor.Bool {
					in.Data[i] = byte(i % 2)
				}
			}
			var b bytes.Buffer
			if err := Write(&b, in); err != nil {
				t.Fatal(err)
			}
			if (b.Len()-len(in.Data))%64 != 0 {
				t.Errorf("header of %d bytes is not 64-byte aligned", b.Len()-len(in.Data))
			}
			out, err := Read(&b)
			if err != nil {
				t.Fatal(err)
			}
			if out.DType != in.DType || !slices.Equal(out.Shape, in.Shape) || !bytes.Equal(out.Data, in.Data) {
				t.Fatalf("round trip: %v %v -> %v %v", in.DType, in.Shape, out.DType, out.Shape)
			}
		})
	}
}

// TestReadsNumpyFile reads a golden file numpy wrote (the test export).
func TestReadsNumpyFile(t *testing.T) {
	mp := testfix.Manifest(t, "DEPLOYKIT_TEST_MANIFEST")
	m, err := ReadFile(filepath.Join(filepath.Dir(mp), "mlp_keras", "golden", "golden", "input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if m.DType != tensor.Float32 || !slices.Equal(m.Shape, []int64{64, 10}) {
		t.Errorf("got %v %v, want float32 (64, 10)", m.DType, m.Shape)
	}
}

// FuzzReadNpy: Read never panics, and whatever it accepts is a consistent tensor that
// survives a Write/Read round trip byte for byte.
func FuzzReadNpy(f *testing.F) {
	six := floats(1, 2, 3, 4, 5, 6)
	for _, seed := range [][]byte{
		rawNpy(1, f4x23, six),
		rawNpy(2, f4x23, six),
		rawNpy(3, dict("<i8", "(3,)"), six),
		rawNpy(1, dict("<f4", "(0, 3)"), nil),
		rawNpy(1, dict("|b1", "(2, 3)"), []byte{0, 1, 1, 0, 1, 0}),
		rawNpy(1, dict("<f2", "()"), []byte{0, 0x3c}),
		rawNpy(1, dict("|u1", "(1, 1, 1, 1, 1, 1, 1, 6)"), six[:6]),
		rawNpy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", six),
		rawNpy(1, dict(">f4", "(2, 3)"), six),
		rawNpy(1, dict("<f4", "(99999999999, 3)"), six),
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
		if len(m.Shape) > tensor.MaxRank || int64(len(m.Data)) != tensor.NumElements(m.Shape)*int64(m.DType.Size()) {
			t.Fatalf("accepted an inconsistent tensor: %v %v with %d bytes", m.DType, m.Shape, len(m.Data))
		}
		var b bytes.Buffer
		if err := Write(&b, m); err != nil {
			t.Fatal(err)
		}
		back, err := Read(&b)
		if err != nil {
			t.Fatalf("re-reading our own output: %v", err)
		}
		if back.DType != m.DType || !slices.Equal(back.Shape, m.Shape) || !bytes.Equal(back.Data, m.Data) {
			t.Fatalf("round trip changed the tensor")
		}
	})
}
