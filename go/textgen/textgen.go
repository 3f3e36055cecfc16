// Package textgen is the contract's greedy text generation from a character model
// (docs/contract.md, "Text generation"): a model whose manifest entry declares a vocabulary
// (token id i is its i-th Unicode code point), takes one integer [batch, seq] input and
// gives one float [batch, seq, V] output continues a prompt one character per model call,
// always with the highest-scoring character. Every client does exactly this, so every runtime
// of one model continues one prompt with the same text.
//
//	m, _ := tfmodel.Load("models/manifest.json", "chargpt_torch")
//	g, err := textgen.New(m, &m.Spec)
//	text, err := g.Generate("def __init__(self, ", 40) // the prompt and 40 more characters
package textgen

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/deploykit/deploykit/go/manifest"
	"github.com/deploykit/deploykit/go/tensor"
)

// MaxTokens is the most characters one Generate call adds.
const MaxTokens = 10000

// Error classes, for errors.Is. Both are bad input (exit 2 in the CLI); an error of the model
// call itself is returned as the Predictor returned it.
var (
	// ErrNotCharModel: the model has no vocabulary, or its tensors are not one integer
	// [batch, seq] input and one float [batch, seq, V] output.
	ErrNotCharModel = errors.New("not a character model")
	// ErrPrompt: an empty prompt, one with a character outside the vocabulary or that is not
	// UTF-8, or a token count outside [0, MaxTokens].
	ErrPrompt = errors.New("bad prompt")
)

// classed keeps an error's message and adds a class for errors.Is.
type classed struct {
	class error
	msg   string
}

func (e *classed) Error() string        { return e.msg }
func (e *classed) Is(target error) bool { return target == e.class }

func errorf(class error, format string, args ...any) error {
	return &classed{class: class, msg: fmt.Sprintf(format, args...)}
}

// Predictor is one call of a loaded model: named inputs in, named outputs out, every input
// check and boundary cast of a normal call applied. *tfmodel.Model is one.
type Predictor interface {
	Predict(inputs map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error)
}

// Generator continues prompts with one character model. It keeps no state between calls, so
// it is as safe for concurrent use as its Predictor.
type Generator struct {
	model  Predictor
	id     string
	vocab  []rune
	index  map[rune]int64
	input  manifest.TensorSpec
	output manifest.TensorSpec
	window int // the most tokens one call sees; 0: the whole text
}

// New checks that spec (the model's manifest entry, with its vocabulary) describes a
// character model and returns its generator; model runs the calls. The error wraps
// ErrNotCharModel and reads "model <id> is not a character model (<what is missing>)".
func New(model Predictor, spec *manifest.Model) (*Generator, error) {
	refuse := func(format string, args ...any) error {
		return errorf(ErrNotCharModel, "model %s is not a character model (%s)", spec.ID, fmt.Sprintf(format, args...))
	}
	if spec.Vocabulary == "" {
		return nil, refuse("no vocabulary")
	}
	if len(spec.Inputs) != 1 || len(spec.Outputs) != 1 {
		return nil, refuse("%d inputs and %d outputs, expected 1 and 1", len(spec.Inputs), len(spec.Outputs))
	}
	in, out := spec.Inputs[0], spec.Outputs[0]
	if (in.DType != tensor.Int64 && in.DType != tensor.Int32 && in.DType != tensor.Uint8) || len(in.Shape) != 2 {
		return nil, refuse("input %s is %s of rank %d, expected an integer [batch, seq]", in.Name, in.DType, len(in.Shape))
	}
	vocab := []rune(spec.Vocabulary)
	if in.DType == tensor.Uint8 && len(vocab) > 256 {
		return nil, refuse("input %s is uint8, too narrow for %d token ids", in.Name, len(vocab))
	}
	if !out.DType.IsFloat() || len(out.Shape) != 3 || out.Shape[2].Name != "" || out.Shape[2].Size != int64(len(vocab)) {
		shape := ""
		for i, d := range out.Shape {
			if i > 0 {
				shape += ", "
			}
			shape += d.String()
		}
		return nil, refuse("output %s is %s [%s], expected float [batch, seq, %d] (the vocabulary's length)", out.Name, out.DType, shape, len(vocab))
	}
	g := &Generator{model: model, id: spec.ID, vocab: vocab, index: make(map[rune]int64, len(vocab)), input: in, output: out}
	for i, r := range vocab {
		if _, dup := g.index[r]; !dup { // a repeated character encodes as its lowest id
			g.index[r] = int64(i)
		}
	}
	if seq := in.Shape[1]; seq.Name == "" {
		g.window = int(seq.Size) // a fixed seq dim: every call sees exactly that many tokens
	} else if _, hi := spec.Dims[seq.Name].Bounds(); hi > 0 {
		g.window = int(hi)
	}
	return g, nil
}

// Window is the most token ids one call sees (the input's seq dim max); 0 means the whole text.
func (g *Generator) Window() int { return g.window }

// Vocabulary is the model's vocabulary, one code point per token id.
func (g *Generator) Vocabulary() []rune { return g.vocab }

// Encode maps the prompt's code points to token ids. The error wraps ErrPrompt: an empty
// prompt, a byte that is not UTF-8, or "character U+0009 at position 3 is not in the
// vocabulary of <id>" (positions count code points from 0).
func (g *Generator) Encode(prompt string) ([]int64, error) {
	if prompt == "" {
		return nil, errorf(ErrPrompt, "the prompt is empty")
	}
	ids := make([]int64, 0, len(prompt))
	for at := 0; at < len(prompt); {
		r, size := utf8.DecodeRuneInString(prompt[at:])
		if r == utf8.RuneError && size == 1 {
			return nil, errorf(ErrPrompt, "byte 0x%02X at position %d is not UTF-8", prompt[at], len(ids))
		}
		id, ok := g.index[r]
		if !ok {
			return nil, errorf(ErrPrompt, "character U+%04X at position %d is not in the vocabulary of %s", r, len(ids), g.id)
		}
		ids = append(ids, id)
		at += size
	}
	return ids, nil
}

// Decode maps token ids back to text; every id must be below the vocabulary's length.
func (g *Generator) Decode(ids []int64) string {
	runes := make([]rune, len(ids))
	for i, id := range ids {
		runes[i] = g.vocab[id]
	}
	return string(runes)
}

// Generate returns the prompt followed by n greedily generated characters, n model calls,
// each on the last Window() token ids of the text so far. The prompt comes back unchanged.
func (g *Generator) Generate(prompt string, n int) (string, error) {
	if n < 0 || n > MaxTokens {
		return "", errorf(ErrPrompt, "the number of tokens must be from 0 to %d, got %d", MaxTokens, n)
	}
	ids, err := g.Encode(prompt)
	if err != nil {
		return "", err
	}
	for range n {
		context := ids
		if g.window > 0 && len(context) > g.window {
			context = context[len(context)-g.window:]
		}
		next, err := g.Next(context)
		if err != nil {
			return "", err
		}
		ids = append(ids, next)
	}
	return prompt + g.Decode(ids[len(ids)-n:]), nil
}

// Next runs one model call on context as a [1, len(context)] input of the input's dtype and
// returns the token the contract's argmax picks from the logits at the last position.
func (g *Generator) Next(context []int64) (int64, error) {
	x, err := tensor.FromInt64([]int64{1, int64(len(context))}, context)
	if err == nil {
		x, err = tensor.Cast(x, g.input.DType)
	}
	if err != nil {
		return 0, fmt.Errorf("input %s: %w", g.input.Name, err)
	}
	outs, err := g.model.Predict(map[string]*tensor.Tensor{g.input.Name: x})
	if err != nil {
		return 0, err
	}
	y, v := outs[g.output.Name], int64(len(g.vocab))
	if y == nil || !y.DType.IsFloat() || len(y.Shape) != 3 || y.Shape[0] != 1 || y.Shape[1] != int64(len(context)) || y.Shape[2] != v {
		got := "nothing"
		if y != nil {
			got = y.DType.String() + " " + tensor.ShapeString(y.Shape)
		}
		return 0, fmt.Errorf("model %s output %s: got %s, expected float (1, %d, %d)", g.id, g.output.Name, got, len(context), v)
	}
	row := make([]float64, v) // float32 and float16 are exact in float64: the order is kept
	base := int(int64(len(context)-1) * v)
	for i := range row {
		row[i] = y.Float64At(base + i)
	}
	return int64(Argmax(row)), nil
}

// Argmax is the contract's choice of the next token, exactly: best = 0, then for i from 1 to
// len(logits)-1, if logits[i] > logits[best] then best = i. Ties keep the lowest id, and a NaN
// after index 0 is never picked (every comparison with it is false). A NaN at index 0 is
// never replaced, for the same reason: the loop as the contract writes it returns 0 then.
func Argmax[F float32 | float64](logits []F) int {
	best := 0
	for i := 1; i < len(logits); i++ {
		if logits[i] > logits[best] {
			best = i
		}
	}
	return best
}
