// Package timing measures the CLI's --repeat/--warmup runs and makes the timing report,
// {"load_ms", "first_ms", "batch", "latency_us", "direct_latency_us", "direct", "samples_us"}:
// the --timing file, and a timed --jobs job's "timing".
package timing

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"sort"
	"time"
)

// rounds is how many alternating blocks the timed runs are split into.
const rounds = 10

// Blocks is how many interleaved blocks Measure splits repeat timed calls into: 10, or
// repeat itself when smaller (at least 1).
func Blocks(repeat int) int { return max(1, min(rounds, repeat)) }

// BlockSize is how many of repeat timed calls block k holds: repeat/B, one more for each of
// the first repeat%B blocks (B = Blocks(repeat)), the split every client uses (docs/contract.md).
func BlockSize(repeat, k int) int {
	n := Blocks(repeat)
	if k < repeat%n {
		return repeat/n + 1
	}
	return repeat / n
}

// Measure times client: warmup untimed calls, then repeat timed ones. With a direct call it
// also times that the same way, the two loops interleaved in Blocks(repeat) blocks, block k
// holding BlockSize(repeat, k) calls of each loop, with the order
// flipped every block (client first in even blocks, direct first in odd ones), so that load
// changes on a shared machine hit both alike. Samples are in microseconds, in call order.
func Measure(client, direct func() error, warmup, repeat int) (lat, directLat []float64, err error) {
	loops := []func() error{client}
	if direct != nil {
		loops = append(loops, direct)
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
	n := Blocks(repeat)
	for r := range n {
		calls := BlockSize(repeat, r)
		for k := range loops {
			i := k
			if r%2 == 1 { // flip which loop goes first
				i = len(loops) - 1 - k
			}
			for range calls {
				start := time.Now()
				if err := loops[i](); err != nil {
					return nil, nil, err
				}
				samples[i] = append(samples[i], us(time.Since(start)))
			}
		}
	}
	if direct != nil {
		directLat = samples[1]
		if repeat == 0 { // latency_us is then the first call alone; give the bare call one timed run too
			start := time.Now()
			if err := direct(); err != nil {
				return nil, nil, err
			}
			directLat = append(directLat, us(time.Since(start)))
		}
	}
	return samples[0], directLat, nil
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }

// MS converts a duration to milliseconds.
func MS(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// Report is the --timing file and a timed job's "timing".
type Report struct {
	LoadMS    float64            `json:"load_ms"`
	FirstMS   float64            `json:"first_ms"`
	Batch     int64              `json:"batch"`
	Repeat    int                `json:"repeat"`
	Warmup    int                `json:"warmup"`
	LatencyUS map[string]float64 `json:"latency_us"`
	// The same inputs through the bare runtime call, timed interleaved with latency_us.
	DirectLatencyUS map[string]float64 `json:"direct_latency_us"`
	Direct          string             `json:"direct"`
	// Every timed call's sample, for bench's bootstrap over the interleaved blocks; only when
	// the bare call was timed alongside repeat >= 1 client calls.
	SamplesUS *Samples `json:"samples_us,omitempty"`
}

// Samples are a report's timed calls in microseconds, each list in call order with Repeat
// entries; block k of Blocks holds BlockSize(Repeat, k) entries of each, in order.
type Samples struct {
	Latency []float64 `json:"latency"`
	Direct  []float64 `json:"direct"`
	Blocks  int       `json:"blocks"`
}

// Fill sets the latency statistics from Measure's samples (r.Repeat of each) and, when the
// bare call was timed, keeps the samples themselves in call order. With no timed runs the
// first call is the only sample.
func (r *Report) Fill(lat, directLat []float64) {
	if r.Repeat > 0 && len(lat) == r.Repeat && len(directLat) == r.Repeat {
		r.SamplesUS = &Samples{Latency: slices.Clone(lat), Direct: slices.Clone(directLat), Blocks: Blocks(r.Repeat)}
	}
	if len(lat) == 0 {
		lat = []float64{r.FirstMS * 1e3}
	}
	r.LatencyUS = Stats(lat)
	if len(directLat) == 0 { // keeps the JSON finite when no bare call was timed
		directLat = lat
	}
	r.DirectLatencyUS = Stats(directLat)
}

// Write writes a filled report to file.
func Write(file string, r *Report) error {
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, append(raw, '\n'), 0o644)
}

// Stats is p50/p90/p99/mean of the samples (sorted in place).
func Stats(v []float64) map[string]float64 {
	sort.Float64s(v)
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	return map[string]float64{"p50": Percentile(v, 50), "p90": Percentile(v, 90), "p99": Percentile(v, 99), "mean": sum / float64(len(v))}
}

// Percentile interpolates linearly between order statistics (numpy's default method).
func Percentile(sorted []float64, p float64) float64 {
	pos := p / 100 * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (sorted[hi]-sorted[lo])*(pos-float64(lo))
}
