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
		var direct *tfmodel.Direct
		if cfg.timing != "" { // the bare runtime call on the same batch, timed alongside
			if direct, err = m.Direct(batch); err != nil {
				return fail(exitCode(err), "direct "+cfg.model, err)
			}
		}
		lat, directLat, err := timeRuns(m, direct, batch, cfg.warmup, cfg.repeat)
		if err != nil {
			return fail(exitCode(err), "predict "+cfg.model, err)
		}
		if cfg.timing != "" {
			if err := writeTiming(cfg.timing, loadMS, firstMS, x.Rows, cfg, lat, directLat); err != nil {
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

// timingRounds is how many alternating blocks the timed runs are split into.
const timingRounds = 10

// timeRuns times Predict on batch: warmup untimed calls, then repeat timed ones. With a
// Direct it also times the bare call the same way (warmup untimed, repeat timed), the two
// loops interleaved in up to timingRounds blocks of repeat/timingRounds calls each, with
// the order flipped every round, so that load changes on a shared machine hit both alike.
func timeRuns(m *tfmodel.Model, direct *tfmodel.Direct, batch [][]float32, warmup, repeat int) (lat, directLat []float64, err error) {
	client := func() error { _, err := m.Predict(batch); return err }
	loops := []func() error{client}
	if direct != nil {
		loops = append(loops, direct.Run)
	}
	for _, call := range loops {
		for range warmup {
			if err := call(); err != nil {
				return nil, nil, err
			}
		}
	}
	samples := make([][]float64, len(loops))
	for i := range samples {
		samples[i] = make([]float64, 0, repeat)
	}
	rounds := max(1, min(timingRounds, repeat))
	for r := range rounds {
		n := repeat/rounds + btoi(r < repeat%rounds) // the remainder goes to the first rounds
		for k := range loops {
			i := k
			if r%2 == 1 { // flip which loop goes first
				i = len(loops) - 1 - k
			}
			for range n {
				start := time.Now()
				if err := loops[i](); err != nil {
					return nil, nil, err
				}
				samples[i] = append(samples[i], float64(time.Since(start).Nanoseconds())/1e3)
			}
		}
	}
	if direct != nil {
		directLat = samples[1]
		if repeat == 0 { // latency_us is then the first call alone; give the bare call one timed run too
			start := time.Now()
			if err := direct.Run(); err != nil {
				return nil, nil, err
			}
			directLat = append(directLat, float64(time.Since(start).Nanoseconds())/1e3)
		}
	}
	return samples[0], directLat, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

type timing struct {
	LoadMS    float64            `json:"load_ms"`
	FirstMS   float64            `json:"first_ms"`
	Batch     int                `json:"batch"`
	Repeat    int                `json:"repeat"`
	Warmup    int                `json:"warmup"`
	LatencyUS map[string]float64 `json:"latency_us"`
	// The same batch through the bare runtime call (tfmodel.Direct), timed interleaved
	// with latency_us; see timeRuns.
	DirectLatencyUS map[string]float64 `json:"direct_latency_us"`
	Direct          string             `json:"direct"`
}

func writeTiming(file string, loadMS, firstMS float64, rows int, cfg *config, lat, directLat []float64) error {
	t := timing{LoadMS: loadMS, FirstMS: firstMS, Batch: rows, Repeat: cfg.repeat, Warmup: cfg.warmup,
		Direct: tfmodel.DirectDescription}
	if len(lat) == 0 { // no timed runs: the first run is the only sample
		lat = []float64{firstMS * 1e3}
	}
	t.LatencyUS = stats(lat)
	if len(directLat) == 0 { // cannot happen with --timing; keeps the JSON finite regardless
		directLat = lat
	}
	t.DirectLatencyUS = stats(directLat)
	raw, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, append(raw, '\n'), 0o644)
}

// stats is p50/p90/p99/mean of the samples (sorted in place).
func stats(v []float64) map[string]float64 {
	sort.Float64s(v)
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	return map[string]float64{"p50": percentile(v, 50), "p90": percentile(v, 90), "p99": percentile(v, 99), "mean": sum / float64(len(v))}
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
