package main

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/deploykit/deploykit/go/manifest"
	"github.com/deploykit/deploykit/go/textgen"
	"github.com/deploykit/deploykit/go/tfmodel"
)

// charModel is the character model of the test export.
const charModel = "chargpt_torch"

// needCharModel returns chargpt_torch's manifest entry, skipping the test (with why) when the
// test export lacks the model, or, if runnable is set, lacks the saved-model artifact this
// client runs (an export from before the model was converted to SavedModel).
func needCharModel(t *testing.T, f fixtures, runnable bool) *manifest.Model {
	t.Helper()
	man, err := manifest.Read(f.manifest)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := man.Model(charModel)
	if err != nil {
		t.Skipf("SKIP: %s is not in $DEPLOYKIT_TEST_MANIFEST (%s); regenerate the test export (make test-fixtures) to test --generate", charModel, f.manifest)
	}
	if _, err := mod.Artifact(tfmodel.Format); err != nil && runnable {
		t.Skipf("SKIP: %s has no %s artifact in $DEPLOYKIT_TEST_MANIFEST (%s), the only format the Go client runs; "+
			"regenerate the test export (make test-fixtures) to test generation", charModel, tfmodel.Format, f.manifest)
	}
	return mod
}

// TestGenerateErrors: every refusal of --generate is exit 2 and exactly the one line given
// (the contract's wording where it has one), with nothing on stdout.
func TestGenerateErrors(t *testing.T) {
	f := newFixtures(t)
	needCharModel(t, f, false) // every case is refused before the model loads
	gen := func(model, prompt, tokens string, extra ...string) []string {
		return append([]string{"--manifest", f.manifest, "--model", model, "--generate", prompt, "--tokens", tokens}, extra...)
	}
	notInt := `error: --generate: --tokens must be an integer from 0 to 10000, got `
	for _, tc := range []struct {
		name string
		args []string
		line string // the whole stderr line
	}{
		{"model without vocabulary", gen("mlp_keras", "def ", "5"), "error: --generate: model mlp_keras is not a character model (no vocabulary)"},
		{"vocabulary but two inputs", gen("textcls_keras", "def ", "5"), "error: --generate: model textcls_keras is not a character model (2 inputs and 2 outputs, expected 1 and 1)"},
		{"tab not in vocabulary", gen(charModel, "def\tf", "5"), "error: --generate: character U+0009 at position 3 is not in the vocabulary of chargpt_torch"},
		{"position counts code points", gen(charModel, "é€", "5"), "error: --generate: character U+20AC at position 1 is not in the vocabulary of chargpt_torch"},
		{"non-BMP character", gen(charModel, "déf 😀", "5"), "error: --generate: character U+1F600 at position 4 is not in the vocabulary of chargpt_torch"},
		{"prompt not UTF-8", gen(charModel, "de\xfff", "5"), "error: --generate: byte 0xFF at position 2 is not UTF-8"},
		{"empty prompt", gen(charModel, "", "5"), "error: --generate: the prompt is empty"},
		{"model check comes first", gen("mlp_keras", "", "-1"), "error: --generate: model mlp_keras is not a character model (no vocabulary)"},
		{"N negative", gen(charModel, "def ", "-1"), notInt + `"-1"`},
		{"N over 10000", gen(charModel, "def ", "10001"), notInt + `"10001"`},
		{"N not an integer", gen(charModel, "def ", "2.5"), notInt + `"2.5"`},
		{"N a word", gen(charModel, "def ", "ten"), notInt + `"ten"`},
		{"N with a sign", gen(charModel, "def ", "+3"), notInt + `"+3"`},
		{"N empty", gen(charModel, "def ", ""), notInt + `""`},
		{"N huge", gen(charModel, "def ", "99999999999999999999"), notInt + `"99999999999999999999"`},
		{"missing --tokens", gen(charModel, "def ", "1")[:6], "error: --generate: --tokens N is required"},
		{"with --input", gen(charModel, "def ", "5", "--input", f.mlpIn), "error: --generate: cannot be combined with --input"},
		{"with --check-dir and --output", gen(charModel, "def ", "5", "--check-dir", f.mlp, "--output", "x.npy"), "error: --generate: cannot be combined with --output, --check-dir"},
		{"with --repeat 0", gen(charModel, "def ", "5", "--repeat", "0", "--timing", "t.json"), "error: --generate: cannot be combined with --repeat, --timing"},
		{"with --warmup", gen(charModel, "def ", "5", "--warmup", "1"), "error: --generate: cannot be combined with --warmup"},
		{"with --jobs", []string{"--manifest", f.manifest, "--jobs", "jobs.jsonl", "--generate", "def ", "--tokens", "5"}, "error: --generate: cannot be combined with --jobs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each case is a process start
			r := runCLI(t, tc.args...)
			if r.code != 2 || r.stdout != "" || r.stderr != tc.line+"\n" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and exactly %q", r.code, r.stdout, r.stderr, tc.line)
			}
		})
	}
	t.Run("--help lists the mode", func(t *testing.T) {
		r := runCLI(t, "--help")
		for _, want := range []string{"--generate PROMPT --tokens N", "  --generate PROMPT\n", "  --tokens N\n"} {
			if r.code != 0 || !strings.Contains(r.stdout, want) {
				t.Errorf("--help: exit %d, stdout lacks %q", r.code, want)
			}
		}
	})
	t.Run("--tokens without --generate", func(t *testing.T) {
		r := runCLI(t, "--manifest", f.manifest, "--model", charModel, "--tokens", "5")
		if r.code != 2 || r.stdout != "" || !strings.HasPrefix(r.stderr, "error: usage: --tokens needs --generate PROMPT\n") {
			t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})
}

// TestGenerate: on chargpt_torch's saved-model, --tokens 0 prints exactly the prompt; a
// 20-character prompt continued by 40 characters (60 > the window, so it slides) prints the
// prompt and exactly 40 more code points of the vocabulary, nothing else, and the same text as
// the library (textgen over tfmodel) in this process.
func TestGenerate(t *testing.T) {
	f := newFixtures(t)
	mod := needCharModel(t, f, true)
	vocab := []rune(mod.Vocabulary)
	const prompt = "def __init__(self, x"

	t.Run("N=0", func(t *testing.T) {
		t.Parallel()
		r := runCLI(t, "--manifest", f.manifest, "--model", charModel, "--generate", prompt, "--tokens", "0")
		if r.code != 0 || r.stdout != prompt || r.stderr != "" {
			t.Errorf("exit %d, stdout %q, stderr %q; want exit 0 and exactly the prompt", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("40 tokens", func(t *testing.T) {
		t.Parallel()
		r := runCLI(t, "--manifest", f.manifest, "--model", charModel, "--format", tfmodel.Format, "--generate", prompt, "--tokens", "40")
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
		rest, ok := strings.CutPrefix(r.stdout, prompt)
		if !ok || !utf8.ValidString(rest) || utf8.RuneCountInString(rest) != 40 {
			t.Fatalf("stdout %q: want the prompt and 40 more code points", r.stdout)
		}
		for i, c := range []rune(rest) {
			if !slices.Contains(vocab, c) {
				t.Errorf("generated character %d, U+%04X, is not in the vocabulary", i, c)
			}
		}
		if w := mod.Dims[mod.Inputs[0].Shape[1].Name].Max; w == nil || *w >= int64(utf8.RuneCountInString(r.stdout)) {
			t.Errorf("seq max %v: the text (%d code points) should be longer than the window", w, utf8.RuneCountInString(r.stdout))
		}
		t.Logf("generated %q", r.stdout)

		m, err := tfmodel.Load(f.manifest, charModel)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		g, err := textgen.New(m, &m.Spec)
		if err != nil {
			t.Fatal(err)
		}
		text, err := g.Generate(prompt, 40)
		if err != nil || text != r.stdout {
			t.Errorf("the library: %q, %v; the CLI: %q", text, err, r.stdout)
		}
	})
}
