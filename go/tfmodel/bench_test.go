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

	tf "github.com/wamuir/graft/tensorflow"
)

// benchInput returns rows rows of the model's golden input, cycled.
func benchInput(b *testing.B, id string, rows int) [][]float32 {
	x := golden(b, testManifest(b), id, "input")
	batch := make([][]float32, rows)
	for i := range batch {
		batch[i] = x.Row(i % x.Rows)
	}
	return batch
}

var benchCases = []struct {
	id   string
	rows int
}{{"mlp_keras", 1}, {"mlp_keras", 1024}, {"wide_keras", 1}, {"wide_keras", 1024}}

// BenchmarkPredict: the public API, rows in and rows out ([][]float32 both ways).
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
			x, err := tf.NewTensor(benchInput(b, bc.id, bc.rows))
			if err != nil {
				b.Fatal(err)
			}
			feeds := map[tf.Output]*tf.Tensor{m.in: x}
			fetches := []tf.Output{m.out}
			b.ResetTimer()
			for b.Loop() {
				if _, err := m.sm.Session.Run(feeds, fetches, nil); err != nil {
					b.Fatal(err)
				}
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
			x, err := tf.NewTensor(batch)
			if err != nil {
				b.Fatal(err)
			}
			feeds := map[tf.Output]*tf.Tensor{m.in: x}
			fetches := []tf.Output{m.out}
			var predict, bare []float64
			b.ResetTimer()
			for b.Loop() {
				start := time.Now()
				if _, err := m.Predict(batch); err != nil {
					b.Fatal(err)
				}
				mid := time.Now()
				if _, err := m.sm.Session.Run(feeds, fetches, nil); err != nil {
					b.Fatal(err)
				}
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
