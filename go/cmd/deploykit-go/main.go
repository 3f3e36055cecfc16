package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	tf "github.com/wamuir/graft/tensorflow"
)

// version is the project version, set at link time from the repository's VERSION file
// (mk/go.mk: -ldflags "-X main.version=..."); "unknown" in a build that does not set it.
var version = "unknown"

const usageText = `usage: deploykit-go --manifest M --model ID [--format saved-model]
                    --input NAME=FILE ... | --input FILE | --input-dir DIR
                    [--output NAME=FILE ... | --output FILE | --output-dir DIR]
                    [--check NAME=FILE ... | --check FILE | --check-dir DIR]
                    [--repeat N] [--warmup K] [--timing timing.json]
                    [--allow-unsafe-ops] [--verbose]
       deploykit-go --manifest M --model ID [--format saved-model] --generate PROMPT --tokens N
                    [--allow-unsafe-ops] [--verbose]
       deploykit-go --manifest M --jobs jobs.jsonl [--verbose]
       deploykit-go --version | --help

Runs a deploykit SavedModel through the TensorFlow C API (Go bindings); with --generate,
continues PROMPT by N characters of a character model (greedy, one call per character) and
prints the prompt and its continuation, without a newline.
Exit codes: 0 ok, 1 --check mismatch, 2 usage or bad input, 3 the model failed to load,
needs a newer TensorFlow (min_runtime), failed its integrity/safety check, or the
manifest's schema_version is not 2.

flags:
`

// errHelp asks for the usage text on stdout and exit 0.
var errHelp = errors.New("help requested")

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, " ") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

type config struct {
	manifest, model, format string
	tensors                 tensorFlags
	jobs, timing            string
	repeat, warmup          int
	allowUnsafe, verbose    bool
	showVersion             bool
	generate, tokens        string          // --generate PROMPT --tokens N (generate.go)
	given                   map[string]bool // the flags on the command line, by name
}

func main() {
	os.Exit(cli(os.Args[1:], os.Stdout, messageWriter()))
}

// messageWriter returns where the CLI's own messages go. TensorFlow's libraries log to
// file descriptor 2 while they are loaded, before main runs, which no setting inside the
// process can prevent; the launcher (bin/deploykit-go) therefore points fd 2 at /dev/null
// and passes the real stderr as DEPLOYKIT_STDERR_FD, so that stderr carries only our lines.
func messageWriter() io.Writer {
	if s := os.Getenv("DEPLOYKIT_STDERR_FD"); s != "" {
		if fd, err := strconv.Atoi(s); err == nil && fd > 2 {
			if f := os.NewFile(uintptr(fd), "stderr"); f != nil {
				return f
			}
		}
	}
	return os.Stderr
}

// cli parses the flags, runs the command and returns the process exit code.
func cli(args []string, stdout, stderr io.Writer) int {
	fs, cfg := newFlags()
	if len(args) == 0 {
		printUsage(stderr, fs)
		return exitInput
	}
	err := parse(fs, cfg, args)
	if errors.Is(err, errHelp) {
		printUsage(stdout, fs)
		return exitOK
	}
	if err == nil && cfg.showVersion {
		fmt.Fprintln(stdout, versionLine())
		return exitOK
	}
	if err == nil {
		err = run(cfg, stdout, stderr)
	}
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	if code != exitMismatch { // a mismatch already printed its check lines
		fmt.Fprintf(stderr, "error: %s\n", oneLine(err, cfg.verbose))
		var ce *cliError
		if errors.As(err, &ce) && ce.what == "usage" {
			fmt.Fprintln(stderr, "run deploykit-go --help for usage")
		}
	}
	return code
}

func newFlags() (*flag.FlagSet, *config) {
	cfg := &config{}
	fs := flag.NewFlagSet("deploykit-go", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported as one line by cli
	fs.StringVar(&cfg.manifest, "manifest", "", "path to manifest.json (required)")
	fs.StringVar(&cfg.model, "model", "", "model id in the manifest (required without --jobs)")
	fs.StringVar(&cfg.format, "format", "", "artifact format (default and only choice: saved-model)")
	fs.Var(&cfg.tensors.inputs, "input", "NAME=FILE for a model input (repeatable), or a bare FILE for a one-input model")
	fs.StringVar(&cfg.tensors.inputDir, "input-dir", "", "read DIR/<name>.npy for every model input")
	fs.Var(&cfg.tensors.outputs, "output", "NAME=FILE to write an output (repeatable), or a bare FILE for a one-output model")
	fs.StringVar(&cfg.tensors.outputDir, "output-dir", "", "write DIR/<name>.npy for every output")
	fs.Var(&cfg.tensors.checks, "check", "NAME=FILE expected output (repeatable), or a bare FILE: compare, exit 1 on mismatch")
	fs.StringVar(&cfg.tensors.checkDir, "check-dir", "", "compare every output with DIR/<name>.npy")
	fs.StringVar(&cfg.jobs, "jobs", "", "JSON lines file of jobs to run in this process")
	fs.IntVar(&cfg.repeat, "repeat", 0, "timed runs after the first (for --timing)")
	fs.IntVar(&cfg.warmup, "warmup", 0, "untimed runs before the timed ones")
	fs.StringVar(&cfg.timing, "timing", "", "write load/first/latency timings as JSON")
	fs.BoolVar(&cfg.allowUnsafe, "allow-unsafe-ops", false, "run a model whose signature reaches an op on the manifest's deny-list")
	fs.BoolVar(&cfg.verbose, "verbose", false, "print details (load info, full TensorFlow messages)")
	fs.StringVar(&cfg.generate, "generate", "", "continue `PROMPT` greedily with a character model (needs --tokens)")
	fs.StringVar(&cfg.tokens, "tokens", "", "add `N` characters (0 to 10000) to the --generate prompt")
	fs.BoolVar(&cfg.showVersion, "version", false, "print the version and exit")
	return fs, cfg
}

func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, usageText)
	fs.VisitAll(func(f *flag.Flag) {
		arg, text := flag.UnquoteUsage(f)
		if _, ok := f.Value.(*multi); ok {
			arg = "NAME=FILE"
		}
		if arg != "" {
			arg = " " + arg
		}
		fmt.Fprintf(w, "  --%s%s\n      %s\n", f.Name, arg, text)
	})
}

func parse(fs *flag.FlagSet, cfg *config, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return usage(err.Error())
	}
	if fs.NArg() > 0 {
		return usage(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	cfg.given = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { cfg.given[f.Name] = true })
	if cfg.showVersion {
		return nil
	}
	if cfg.manifest == "" {
		return usage("--manifest is required")
	}
	if cfg.generating() {
		return parseGenerate(cfg)
	}
	if cfg.jobs != "" {
		if cfg.model != "" || cfg.format != "" || !cfg.tensors.empty() || cfg.timing != "" || cfg.repeat != 0 || cfg.warmup != 0 {
			return usage("--jobs takes only --manifest and --verbose (each job names its model, tensors and checks)")
		}
		return nil
	}
	if cfg.model == "" {
		return usage("--model is required")
	}
	if len(cfg.tensors.inputs) == 0 && cfg.tensors.inputDir == "" {
		return usage("--input or --input-dir is required")
	}
	if cfg.repeat < 0 || cfg.warmup < 0 {
		return usage("--repeat and --warmup must not be negative")
	}
	return cfg.tensors.validate()
}

func versionLine() string {
	graft, goVersion := "unknown", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
		for _, d := range bi.Deps {
			if d.Path == "github.com/wamuir/graft" {
				graft = d.Version
			}
		}
	}
	return fmt.Sprintf("deploykit-go %s (TensorFlow %s C library, graft %s, %s)", version, tf.Version(), graft, goVersion)
}
