package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/deploykit/deploykit/go/manifest"
	"github.com/deploykit/deploykit/go/tensor"
	"github.com/deploykit/deploykit/go/textgen"
	"github.com/deploykit/deploykit/go/tfmodel"
)

// notWithGenerate are the flags --generate cannot be combined with (the contract's
// --input*, --output*, --check*, --repeat, --warmup, --timing and --jobs).
var notWithGenerate = []string{"input", "input-dir", "output", "output-dir", "check", "check-dir", "repeat", "warmup", "timing", "jobs"}

// generating reports whether the command line asks for text generation.
func (c *config) generating() bool { return c.given["generate"] || c.given["tokens"] }

// parseGenerate checks the flags of --generate PROMPT --tokens N that need no manifest; the
// prompt and N are checked by generate, after the model, in the contract's order.
func parseGenerate(cfg *config) error {
	if !cfg.given["generate"] {
		return usage("--tokens needs --generate PROMPT")
	}
	var other []string
	for _, name := range notWithGenerate {
		if cfg.given[name] {
			other = append(other, "--"+name)
		}
	}
	if len(other) > 0 {
		return genError(fmt.Errorf("cannot be combined with %s", strings.Join(other, ", ")))
	}
	if cfg.model == "" {
		return usage("--model is required")
	}
	if !cfg.given["tokens"] {
		return genError(errors.New("--tokens N is required"))
	}
	return nil
}

// genError is an exit-2 error of --generate: "error: --generate: <why>".
func genError(err error) error { return fail(exitInput, "--generate", err) }

// parseTokens reads --tokens: a decimal integer from 0 to textgen.MaxTokens.
func parseTokens(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || strings.HasPrefix(s, "+") || n < 0 || n > textgen.MaxTokens {
		return 0, genError(fmt.Errorf("--tokens must be an integer from 0 to %d, got %q", textgen.MaxTokens, s))
	}
	return n, nil
}

// later is the model a Generator calls, set once it is loaded: the model and the prompt are
// checked before anything is loaded.
type later struct{ m *tfmodel.Model }

func (l *later) Predict(in map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	return l.m.Predict(in)
}

// generate runs --generate PROMPT --tokens N on model mod: the character-model check, the
// prompt, N, the load, then N calls; stdout gets exactly the prompt and its continuation.
func generate(cfg *config, man *manifest.Manifest, mod *manifest.Model, stdout, stderr io.Writer) error {
	model := &later{}
	g, err := textgen.New(model, mod)
	if err != nil {
		return genError(err)
	}
	if _, err := g.Encode(cfg.generate); err != nil {
		return genError(err)
	}
	n, err := parseTokens(cfg.tokens)
	if err != nil {
		return err
	}
	l := newLoader(man, cfg)
	defer l.close()
	r := l.load(mod.ID, cfg.format, stderr)
	if r.err != nil {
		return r.err
	}
	model.m = r.model
	text, err := g.Generate(cfg.generate, n)
	if errors.Is(err, textgen.ErrPrompt) || errors.Is(err, textgen.ErrNotCharModel) {
		return genError(err)
	} else if err != nil {
		return failModel("predict "+mod.ID, err)
	}
	if _, err := io.WriteString(stdout, text); err != nil {
		return fail(exitInput, "stdout", err)
	}
	return nil
}
