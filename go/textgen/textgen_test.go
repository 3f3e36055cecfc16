package textgen

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/go/manifest"
	"github.com/deploykit/deploykit/go/tensor"
)

func TestArgmax(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, tc := range []struct {
		name   string
		logits []float64
		want   int
	}{
		{"one value", []float64{3}, 0},
		{"largest wins", []float64{1, 5, 2}, 1},
		{"tie keeps the lowest id", []float64{1, 5, 2, 5, 5}, 1},
		{"tie at 0", []float64{7, 7, 7}, 0},
		{"all negative", []float64{-3, -1, -2}, 1},
		{"NaN elsewhere never wins", []float64{1, nan, 0.5, nan}, 0},
		{"NaN after the max", []float64{0, 4, nan, 3}, 1},
		{"NaN before the max", []float64{0, nan, 4, 3}, 2},
		{"NaN at 0 stays: every comparison with it is false", []float64{nan, 1, 9, inf}, 0},
		{"all NaN", []float64{nan, nan, nan}, 0},
		{"+Inf wins", []float64{1, inf, 2}, 1},
		{"-Inf loses", []float64{math.Inf(-1), -1e30}, 1},
		{"negative zero ties zero", []float64{math.Copysign(0, -1), 0}, 0},
	} {
		if got := Argmax(tc.logits); got != tc.want {
			t.Errorf("%s: Argmax(%v) = %d, want %d", tc.name, tc.logits, got, tc.want)
		}
		f32 := make([]float32, len(tc.logits))
		for i, v := range tc.logits {
			f32[i] = float32(v)
		}
		if got := Argmax(f32); got != tc.want {
			t.Errorf("%s: Argmax(float32 %v) = %d, want %d", tc.name, f32, got, tc.want)
		}
	}
}

// charSpec is a character model's manifest entry: input tokens [batch, seq] of dtype in,
// output logits [batch, seq, len(vocab)] of dtype out, seq at most maxSeq (none if < 0).
func charSpec(vocab string, in, out tensor.DType, maxSeq int64) *manifest.Model {
	spec := &manifest.Model{
		ID: "char", Vocabulary: vocab,
		Inputs:  []manifest.TensorSpec{{Name: "tokens", DType: in, Shape: []manifest.Dim{{Name: "batch"}, {Name: "seq"}}}},
		Outputs: []manifest.TensorSpec{{Name: "logits", DType: out, Shape: []manifest.Dim{{Name: "batch"}, {Name: "seq"}, {Size: int64(len([]rune(vocab)))}}}},
		Dims:    map[string]manifest.DimSpec{"seq": {}},
	}
	if maxSeq >= 0 {
		spec.Dims["seq"] = manifest.DimSpec{Max: &maxSeq}
	}
	return spec
}

// fake is a character model that predicts "the token after the last one" (id+1 mod V), with
// a NaN two ids on, and records every call's context, checked as the contract's input checks
// would check it.
type fake struct {
	spec  *manifest.Model
	calls [][]int64
	ties  bool // every logit equal: the argmax must pick id 0
}

func (f *fake) Predict(in map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	if err := f.spec.Check(in, nil); err != nil {
		return nil, err
	}
	x := in["tokens"]
	ctx := make([]int64, x.Len())
	for i := range ctx {
		ctx[i] = x.Int64At(i)
	}
	f.calls = append(f.calls, ctx)
	v := int(f.spec.Outputs[0].Shape[2].Size)
	logits := make([]float32, len(ctx)*v)
	for p, id := range ctx {
		for i := range v {
			logits[p*v+i] = -1
		}
		if !f.ties {
			logits[p*v+(int(id)+1)%v] = 2
		}
		if nan := (int(id) + 2) % v; nan != 0 && nan != (int(id)+1)%v {
			logits[p*v+nan] = float32(math.NaN()) // a NaN after id 0 is never picked
		}
	}
	y, err := tensor.FromFloat32([]int64{1, int64(len(ctx)), int64(v)}, logits)
	if err == nil && f.spec.Outputs[0].DType == tensor.Float16 {
		y, err = tensor.Cast(y, tensor.Float16)
	}
	return map[string]*tensor.Tensor{"logits": y}, err
}

func TestGenerateWindow(t *testing.T) {
	vocab := "abcdefghij"
	spec := charSpec(vocab, tensor.Int64, tensor.Float32, 4)
	f := &fake{spec: spec}
	g, err := New(f, spec)
	if err != nil {
		t.Fatal(err)
	}
	if g.Window() != 4 {
		t.Fatalf("window %d, want 4", g.Window())
	}
	got, err := g.Generate("ab", 6)
	if err != nil {
		t.Fatal(err)
	}
	if got != "abcdefgh" {
		t.Errorf("Generate = %q, want %q", got, "abcdefgh")
	}
	// The window slides: 2, 3, 4 tokens, then always the last 4.
	want := [][]int64{{0, 1}, {0, 1, 2}, {0, 1, 2, 3}, {1, 2, 3, 4}, {2, 3, 4, 5}, {3, 4, 5, 6}}
	if !slices.EqualFunc(f.calls, want, slices.Equal[[]int64]) {
		t.Errorf("contexts %v, want %v", f.calls, want)
	}
}

func TestGenerateDTypesAndNoWindow(t *testing.T) {
	// int32 input, float16 output, no seq max: every call sees the whole text; the vocabulary
	// holds non-ASCII and non-BMP code points, indexed as code points.
	vocab := "xé😀z"
	spec := charSpec(vocab, tensor.Int32, tensor.Float16, -1)
	f := &fake{spec: spec}
	g, err := New(f, spec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := g.Generate("zé", 5)
	if err != nil {
		t.Fatal(err)
	}
	if got != "zé😀zxé😀" {
		t.Errorf("Generate = %q", got)
	}
	if g.Window() != 0 || len(f.calls) != 5 || len(f.calls[4]) != 6 {
		t.Errorf("window %d, %d calls, last context %v; want the whole text each time", g.Window(), len(f.calls), f.calls[len(f.calls)-1])
	}
	f.ties, f.calls = true, nil
	if got, _ := g.Generate("z", 3); got != "zxxx" {
		t.Errorf("all logits equal: Generate = %q, want id 0 every time (zxxx)", got)
	}
}

func TestGenerateZeroTokens(t *testing.T) {
	spec := charSpec("ab", tensor.Int64, tensor.Float32, 8)
	f := &fake{spec: spec}
	g, _ := New(f, spec)
	if got, err := g.Generate("abba", 0); got != "abba" || err != nil || len(f.calls) != 0 {
		t.Errorf("Generate(0) = %q, %v after %d calls; want the prompt and no call", got, err, len(f.calls))
	}
	for _, n := range []int{-1, MaxTokens + 1} {
		if _, err := g.Generate("a", n); !errors.Is(err, ErrPrompt) {
			t.Errorf("Generate(%d): %v, want ErrPrompt", n, err)
		}
	}
}

func TestNotCharModel(t *testing.T) {
	edit := func(change func(*manifest.Model)) *manifest.Model {
		s := charSpec("abc", tensor.Int64, tensor.Float32, 8)
		change(s)
		return s
	}
	long := strings.Repeat("a", 300)
	for _, tc := range []struct {
		spec *manifest.Model
		why  string
	}{
		{edit(func(s *manifest.Model) { s.Vocabulary = "" }), "(no vocabulary)"},
		{edit(func(s *manifest.Model) { s.Inputs = append(s.Inputs, s.Inputs[0]) }), "(2 inputs and 1 outputs, expected 1 and 1)"},
		{edit(func(s *manifest.Model) { s.Outputs = nil }), "(1 inputs and 0 outputs, expected 1 and 1)"},
		{edit(func(s *manifest.Model) { s.Inputs[0].DType = tensor.Float32 }), "(input tokens is float32 of rank 2, expected an integer [batch, seq])"},
		{edit(func(s *manifest.Model) { s.Inputs[0].DType = tensor.Bool }), "(input tokens is bool of rank 2"},
		{edit(func(s *manifest.Model) { s.Inputs[0].Shape = s.Inputs[0].Shape[:1] }), "(input tokens is int64 of rank 1"},
		{edit(func(s *manifest.Model) { s.Outputs[0].DType = tensor.Int32 }), "(output logits is int32 [batch, seq, 3], expected float [batch, seq, 3] (the vocabulary's length))"},
		{edit(func(s *manifest.Model) { s.Outputs[0].Shape[2].Size = 4 }), "(output logits is float32 [batch, seq, 4], expected float [batch, seq, 3]"},
		{edit(func(s *manifest.Model) { s.Outputs[0].Shape[2] = manifest.Dim{Name: "vocab"} }), "(output logits is float32 [batch, seq, vocab]"},
		{edit(func(s *manifest.Model) { s.Outputs[0].Shape = s.Outputs[0].Shape[1:] }), "(output logits is float32 [seq, 3]"},
		{edit(func(s *manifest.Model) {
			s.Vocabulary, s.Inputs[0].DType, s.Outputs[0].Shape[2].Size = long, tensor.Uint8, 300
		}), "(input tokens is uint8, too narrow for 300 token ids)"},
	} {
		_, err := New(&fake{spec: tc.spec}, tc.spec)
		if !errors.Is(err, ErrNotCharModel) || !strings.HasPrefix(fmtErr(err), "model char is not a character model "+tc.why) {
			t.Errorf("New: %v, want ErrNotCharModel with %q", err, tc.why)
		}
	}
	for _, ok := range []*manifest.Model{
		charSpec("abc", tensor.Uint8, tensor.Float16, 8),
		edit(func(s *manifest.Model) { s.Inputs[0].Shape[1] = manifest.Dim{Size: 5} }),
	} {
		if g, err := New(nil, ok); err != nil {
			t.Errorf("New(%v %v): %v", ok.Inputs[0].DType, ok.Inputs[0].Shape, err)
		} else if ok.Inputs[0].Shape[1].Name == "" && g.Window() != 5 {
			t.Errorf("a fixed seq dim of 5: window %d", g.Window())
		}
	}
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestEncode(t *testing.T) {
	spec := charSpec("\n abé😀", tensor.Int64, tensor.Float32, 8)
	spec.ID = "chargpt_torch"
	g, err := New(nil, spec)
	if err != nil {
		t.Fatal(err)
	}
	if ids, err := g.Encode("a😀\né b"); err != nil || !slices.Equal(ids, []int64{2, 5, 0, 4, 1, 3}) {
		t.Errorf("Encode = %v, %v", ids, err)
	}
	if got := g.Decode([]int64{5, 4, 0}); got != "😀é\n" {
		t.Errorf("Decode = %q", got)
	}
	for _, tc := range []struct{ prompt, msg string }{
		{"", "the prompt is empty"},
		{"ab\tb", "character U+0009 at position 2 is not in the vocabulary of chargpt_torch"},
		// positions count code points: not bytes (é is 2, 😀 4) nor UTF-16 units (😀 is 2)
		{"é😀éc", "character U+0063 at position 3 is not in the vocabulary of chargpt_torch"},
		{"a\U0001F601", "character U+1F601 at position 1 is not in the vocabulary of chargpt_torch"},
		{"é\xffa", "byte 0xFF at position 1 is not UTF-8"},
		{"\uFFFD", "character U+FFFD at position 0 is not in the vocabulary of chargpt_torch"},
	} {
		_, err := g.Encode(tc.prompt)
		if !errors.Is(err, ErrPrompt) || fmtErr(err) != tc.msg {
			t.Errorf("Encode(%q): %v, want ErrPrompt %q", tc.prompt, err, tc.msg)
		}
	}
}

func TestRepeatedCharacterEncodesAsLowestID(t *testing.T) {
	g, err := New(nil, charSpec("abca", tensor.Int64, tensor.Float32, 8))
	if err != nil {
		t.Fatal(err)
	}
	if ids, _ := g.Encode("ca"); !slices.Equal(ids, []int64{2, 0}) {
		t.Errorf("Encode(ca) = %v, want [2 0]", ids)
	}
}
