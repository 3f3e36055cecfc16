package tfmodel

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deploykit/deploykit/go/tensor"
)

// benchInput returns rows rows of the model's golden set, cycled.
func benchInput(b *testing.B, id string, rows int64) map[string]*tensor.Tensor {
	g := golden(b, testManifest(b), id, "golden")
	out := map[string]*tensor.Tensor{}
	for name, x := range g.inputs {
		per := len(x.Data) / int(x.Shape[0])
		shape := slices.Clone(x.Shape)
		shape[0] = rows
		data := make([]byte, 0, int(rows)*per)
		for r := range rows {
			k := int(r % x.Shape[0])
			data = append(data, x.Data[k*per:(k+1)*per]...)
		}
		out[name] = &tensor.Tensor{DType: x.DType, Shape: shape, Data: data}
	}
	return out
}

// bareRun is a bare Session.Run on input tensors built once, outputs left as tensors.
func bareRun(b *testing.B, m *Model, inputs map[string]*tensor.Tensor) func() {
	c := m.newCall()
	if err := m.feeds(inputs, c); err != nil {
		b.Fatal(err)
	}
	return func() {
		if _, err := m.sm.Session.Run(c.feeds, m.fetches, nil); err != nil {
			b.Fatal(err)
		}
	}
}

var benchCases = []struct {
	id   string
	rows int64
}{{"mlp_keras", 1}, {"mlp_keras", 1024}, {"wide_keras", 1}, {"wide_keras", 1024}}

// BenchmarkPredict: the public API, named tensors in and out.
func BenchmarkPredict(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(fmt.Sprintf("%s/batch=%d", bc.id, bc.rows), func(b *testing.B) {
			m := load(b, testManifest(b), bc.id)
			batch := benchInput(b, bc.id, bc.rows)
			b.ResetTimer()
			for b.Loop() {
				if _, err := m.Predict(batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(bc.rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkSessionRun: the floor under Predict, a bare Session.Run on a tensor built once,
// output left as a tensor.
func BenchmarkSessionRun(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(fmt.Sprintf("%s/batch=%d", bc.id, bc.rows), func(b *testing.B) {
			m := load(b, testManifest(b), bc.id)
			run := bareRun(b, m, benchInput(b, bc.id, bc.rows))
			b.ResetTimer()
			for b.Loop() {
				run()
			}
			b.ReportMetric(float64(bc.rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkPredictVsRun alternates Predict and a bare Session.Run on a pre-built tensor,
// timing each call, and reports both medians and their ratio: pairing the calls and taking
// medians keeps the ratio honest on a busy machine, where plain ns/op swings between runs.
func BenchmarkPredictVsRun(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(fmt.Sprintf("%s/batch=%d", bc.id, bc.rows), func(b *testing.B) {
			m := load(b, testManifest(b), bc.id)
			batch := benchInput(b, bc.id, bc.rows)
			run := bareRun(b, m, batch)
			var predict, bare []float64
			b.ResetTimer()
			for b.Loop() {
				start := time.Now()
				if _, err := m.Predict(batch); err != nil {
					b.Fatal(err)
				}
				mid := time.Now()
				run()
				predict = append(predict, float64(mid.Sub(start).Nanoseconds())/1e3)
				bare = append(bare, float64(time.Since(mid).Nanoseconds())/1e3)
			}
			p, r := median(predict), median(bare)
			b.ReportMetric(p, "predict_p50_us")
			b.ReportMetric(r, "run_p50_us")
			b.ReportMetric(p/r, "ratio")
		})
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkRSSGrowth measures resident memory after 1k and after 100k single-row
// predictions (run it with -benchtime 1x: the counts are fixed, b.N is ignored).
func BenchmarkRSSGrowth(b *testing.B) {
	m := load(b, testManifest(b), "mlp_keras")
	batch := benchInput(b, "mlp_keras", 1)
	run := func(n int) {
		for range n {
			if _, err := m.Predict(batch); err != nil {
				b.Fatal(err)
			}
		}
	}
	settle := func() float64 {
		runtime.GC() // finalizers free the C tensors; a second cycle runs them
		runtime.GC()
		return rssMB(b)
	}
	run(1_000)
	at1k := settle()
	run(99_000)
	at100k := settle()
	b.ReportMetric(at1k, "rss_1k_MB")
	b.ReportMetric(at100k, "rss_100k_MB")
	b.ReportMetric(100*(at100k-at1k)/at1k, "growth_%")
}

// rssMB reads VmRSS from /proc/self/status.
func rssMB(b *testing.B) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024
		}
	}
	b.Fatal("no VmRSS in /proc/self/status")
	return 0
}
