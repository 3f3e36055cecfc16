// Command deploykit-go runs a deploykit SavedModel through the TensorFlow C API with the
// common client command line of DESIGN.md:
//
//	deploykit-go --manifest M --model ID [--format saved-model] --input in.npy --output out.npy
//	             [--check expected.npy] [--repeat N] [--warmup K] [--timing t.json]
//	             [--allow-unsafe-ops] [--verbose]
//
// Exit codes: 0 ok, 1 --check mismatch, 2 usage or bad input, 3 the model failed to load
// or failed its integrity/safety check. Errors are one line on stderr: "error: <what>: <why>".
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	tf "github.com/wamuir/graft/tensorflow"

	"deploykit/go/npy"
	"deploykit/go/parity"
	"deploykit/go/tfmodel"
)

const version = "0.1.0"

const usageText = `usage: deploykit-go --manifest M --model ID [--format saved-model] --input in.npy --output out.npy
                    [--check expected.npy] [--repeat N] [--warmup K] [--timing timing.json]
                    [--allow-unsafe-ops] [--verbose]
       deploykit-go --version | --help

Runs a deploykit SavedModel through the TensorFlow C API (Go bindings).
Exit codes: 0 ok, 1 --check mismatch, 2 usage or bad input, 3 the model failed to load
or failed its integrity/safety check.

flags:
`

// Exit codes of the common client CLI.
const (
	exitOK       = 0
	exitMismatch = 1
	exitInput    = 2
	exitModel    = 3
)

// cliError carries the exit code and the "<what>" of the one-line message.
type cliError struct {
	code int
	what string
	err  error
}

func (e *cliError) Error() string { return e.what + ": " + e.err.Error() }
func (e *cliError) Unwrap() error { return e.err }

func fail(code int, what string, err error) error { return &cliError{code: code, what: what, err: err} }

// errHelp asks for the usage text on stdout and exit 0.
var errHelp = errors.New("help requested")

type config struct {
	manifest, model, format  string
	input, output, check     string
	timing                   string
	repeat, warmup           int
	allowUnsafe, verbose, ve bool
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, messageWriter()))
}

// messageWriter returns where the CLI's own messages go. TensorFlow's libraries log to
// file descriptor 2 while they are loaded, before main runs, which no setting inside the
// process can prevent; the launcher (bin/deploykit-go) therefore points fd 2 at /dev/null
// and passes the real stderr as DEPLOYKIT_ERR_FD, so that stderr carries only our lines.
func messageWriter() io.Writer {
	if s := os.Getenv("DEPLOYKIT_ERR_FD"); s != "" {
		if fd, err := strconv.Atoi(s); err == nil && fd > 2 {
			if f := os.NewFile(uintptr(fd), "stderr"); f != nil {
				return f
			}
		}
	}
	return os.Stderr
}

// run executes the CLI and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
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
	if err == nil && cfg.ve {
		fmt.Fprintln(stdout, versionLine())
		return exitOK
	}
	if err == nil {
		err = execute(cfg, stdout, stderr)
	}
	if err == nil {
		return exitOK
	}
	var ce *cliError
	if !errors.As(err, &ce) {
		ce = &cliError{code: exitModel, what: "internal", err: err}
	}
	if ce.code != exitMismatch { // a mismatch already printed its check line
		msg := ce.Error()
		if !cfg.verbose {
			msg = strings.ReplaceAll(msg, "\n", " ")
		}
		fmt.Fprintf(stderr, "error: %s\n", msg)
		if ce.code == exitInput && ce.what == "usage" {
			fmt.Fprintln(stderr, "run deploykit-go --help for usage")
		}
	}
	return ce.code
}

func newFlags() (*flag.FlagSet, *config) {
	cfg := &config{}
	fs := flag.NewFlagSet("deploykit-go", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported as one line by run
	fs.StringVar(&cfg.manifest, "manifest", "", "path to manifest.json (required)")
	fs.StringVar(&cfg.model, "model", "", "model id in the manifest (required)")
	fs.StringVar(&cfg.format, "format", "", "artifact format (default and only choice: saved-model)")
	fs.StringVar(&cfg.input, "input", "", "input .npy, '<f4' (rows, features) (required)")
	fs.StringVar(&cfg.output, "output", "", "output .npy to write (required)")
	fs.StringVar(&cfg.check, "check", "", "expected .npy: compare with the artifact's tolerance, exit 1 on mismatch")
	fs.IntVar(&cfg.repeat, "repeat", 0, "timed runs of the batch after the first (for --timing)")
	fs.IntVar(&cfg.warmup, "warmup", 0, "untimed runs before the timed ones")
	fs.StringVar(&cfg.timing, "timing", "", "write load/first/latency timings as JSON")
	fs.BoolVar(&cfg.allowUnsafe, "allow-unsafe-ops", false, "run a model whose signature reaches an op on the manifest's deny-list")
	fs.BoolVar(&cfg.verbose, "verbose", false, "print details (load info, full TensorFlow messages)")
	fs.BoolVar(&cfg.ve, "version", false, "print the version and exit")
	return fs, cfg
}

func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, usageText)
	fs.VisitAll(func(f *flag.Flag) {
		arg, _ := flag.UnquoteUsage(f)
		if arg != "" {
			arg = " " + arg
		}
		fmt.Fprintf(w, "  --%s%s\n      %s\n", f.Name, arg, f.Usage)
	})
}

func parse(fs *flag.FlagSet, cfg *config, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return fail(exitInput, "usage", err)
	}
	if fs.NArg() > 0 {
		return fail(exitInput, "usage", fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	if cfg.ve {
		return nil
	}
	for _, req := range []struct{ name, value string }{
		{"--manifest", cfg.manifest}, {"--model", cfg.model}, {"--input", cfg.input}, {"--output", cfg.output},
	} {
		if req.value == "" {
			return fail(exitInput, "usage", fmt.Errorf("%s is required", req.name))
		}
	}
	if cfg.repeat < 0 || cfg.warmup < 0 {
		return fail(exitInput, "usage", errors.New("--repeat and --warmup must not be negative"))
	}
	return nil
}

func execute(cfg *config, stdout, stderr io.Writer) error {
	x, err := npy.ReadFile(cfg.input)
	if err != nil {
		return fail(exitInput, "input", err)
	}
	var want *npy.Matrix
	if cfg.check != "" {
		if want, err = npy.ReadFile(cfg.check); err != nil {
			return fail(exitInput, "check", err)
		}
	}

	opts := []tfmodel.Option{}
	if cfg.format != "" {
		opts = append(opts, tfmodel.WithFormat(cfg.format))
	}
	if cfg.allowUnsafe {
		opts = append(opts, tfmodel.AllowUnsafeOps())
	}
	start := time.Now()
	m, err := tfmodel.Load(cfg.manifest, cfg.model, opts...)
	loadMS := ms(time.Since(start))
	if err != nil {
		return fail(exitCode(err), "load "+cfg.model, err)
	}
	defer m.Close()
	if cfg.verbose {
		fmt.Fprintf(stderr, "loaded %s/%s from %q in %.1f ms (inputs %d, outputs %d, TensorFlow %s)\n",
			m.ID, tfmodel.Format, m.Artifact.Path, loadMS, m.InWidth, m.OutWidth, tf.Version())
	}

	batch := x.RowSlices()
	start = time.Now()
	y, err := m.Predict(batch)
	firstMS := ms(time.Since(start))
	if err != nil {
		return fail(exitCode(err), "predict "+cfg.model, err)
	}
	got, err := npy.FromRows(y)
	if err != nil {
		return fail(exitModel, "predict "+cfg.model, err)
	}
	if got.Rows == 0 { // FromRows cannot know the width of an empty result
		got.Cols = m.OutWidth
	}
	if err := npy.WriteFile(cfg.output, got); err != nil {
		return fail(exitInput, "output", err)
	}

	if cfg.timing != "" || cfg.repeat > 0 || cfg.warmup > 0 {
		lat, err := timeRuns(m, batch, cfg.warmup, cfg.repeat)
		if err != nil {
			return fail(exitCode(err), "predict "+cfg.model, err)
		}
		if cfg.timing != "" {
			if err := writeTiming(cfg.timing, loadMS, firstMS, x.Rows, cfg, lat); err != nil {
				return fail(exitInput, "timing", err)
			}
		}
	}

	if want != nil {
		tol := m.Artifact.Tolerance
		r := parity.Compare(got, want, tol.Atol, tol.Rtol)
		fmt.Fprintln(stdout, parity.Summary(m.ID+"/"+tfmodel.Format, r, got, want, tol.Atol, tol.Rtol))
		if !r.Pass {
			return fail(exitMismatch, "check", errors.New("mismatch"))
		}
	}
	return nil
}

// exitCode maps tfmodel's error classes to the CLI's exit codes.
func exitCode(err error) int {
	if errors.Is(err, tfmodel.ErrInput) {
		return exitInput
	}
	return exitModel
}

func timeRuns(m *tfmodel.Model, batch [][]float32, warmup, repeat int) ([]float64, error) {
	for range warmup {
		if _, err := m.Predict(batch); err != nil {
			return nil, err
		}
	}
	lat := make([]float64, 0, repeat)
	for range repeat {
		start := time.Now()
		if _, err := m.Predict(batch); err != nil {
			return nil, err
		}
		lat = append(lat, float64(time.Since(start).Nanoseconds())/1e3)
	}
	return lat, nil
}

type timing struct {
	LoadMS    float64            `json:"load_ms"`
	FirstMS   float64            `json:"first_ms"`
	Batch     int                `json:"batch"`
	Repeat    int                `json:"repeat"`
	Warmup    int                `json:"warmup"`
	LatencyUS map[string]float64 `json:"latency_us"`
}

func writeTiming(file string, loadMS, firstMS float64, rows int, cfg *config, lat []float64) error {
	t := timing{LoadMS: loadMS, FirstMS: firstMS, Batch: rows, Repeat: cfg.repeat, Warmup: cfg.warmup,
		LatencyUS: map[string]float64{"p50": 0, "p90": 0, "p99": 0, "mean": 0}}
	if len(lat) == 0 { // no timed runs: the first run is the only sample
		lat = []float64{firstMS * 1e3}
	}
	sort.Float64s(lat)
	sum := 0.0
	for _, v := range lat {
		sum += v
	}
	t.LatencyUS["p50"] = percentile(lat, 50)
	t.LatencyUS["p90"] = percentile(lat, 90)
	t.LatencyUS["p99"] = percentile(lat, 99)
	t.LatencyUS["mean"] = sum / float64(len(lat))
	raw, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, append(raw, '\n'), 0o644)
}

// percentile interpolates linearly between order statistics (numpy's default method).
func percentile(sorted []float64, p float64) float64 {
	pos := p / 100 * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (sorted[hi]-sorted[lo])*(pos-float64(lo))
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

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
