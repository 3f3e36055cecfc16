package timing

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestStats(t *testing.T) {
	s := Stats([]float64{4, 1, 3, 2, 5})
	if s["p50"] != 3 || s["mean"] != 3 || s["p90"] != 4.6 || s["p99"] < 4.95 || s["p99"] > 4.97 {
		t.Errorf("Stats = %v", s)
	}
	if p := Percentile([]float64{7}, 99); p != 7 {
		t.Errorf("one sample: %v", p)
	}
}

func TestMeasure(t *testing.T) {
	var client, direct int
	lat, dlat, err := Measure(func() error { client++; return nil }, func() error { direct++; return nil }, 2, 25)
	if err != nil || len(lat) != 25 || len(dlat) != 25 || client != 27 || direct != 27 {
		t.Errorf("Measure: %d/%d samples, %d/%d calls, %v", len(lat), len(dlat), client, direct, err)
	}
	_, dlat, _ = Measure(func() error { return nil }, func() error { return nil }, 0, 0)
	if len(dlat) != 1 {
		t.Errorf("repeat 0: %d direct samples, want 1", len(dlat))
	}
	boom := errors.New("boom")
	if _, _, err := Measure(func() error { return boom }, nil, 1, 1); !errors.Is(err, boom) {
		t.Errorf("error not returned: %v", err)
	}
	p := filepath.Join(t.TempDir(), "t.json")
	r := Report{FirstMS: 2, Batch: 3, Direct: "bare"}
	r.Fill(nil, nil)
	if err := Write(p, &r); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(p)
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil || doc["latency_us"].(map[string]any)["p50"] != 2000.0 || doc["direct"] != "bare" || doc["batch"] != 3.0 {
		t.Errorf("timing file %s (%v)", raw, err)
	}
}

// TestMeasureBlocks: the two loops alternate in Blocks(repeat) blocks of repeat/B calls, one
// more in each of the first repeat%B blocks (as every client splits them), the client first in
// even blocks.
func TestMeasureBlocks(t *testing.T) {
	sizes := map[int][]int{
		1:    {1},
		7:    {1, 1, 1, 1, 1, 1, 1},
		10:   {1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
		23:   {3, 3, 3, 2, 2, 2, 2, 2, 2, 2},
		25:   {3, 3, 3, 3, 3, 2, 2, 2, 2, 2},
		2000: {200, 200, 200, 200, 200, 200, 200, 200, 200, 200},
	}
	for repeat, blocks := range sizes {
		var got []byte
		_, _, err := Measure(func() error { got = append(got, 'c'); return nil }, func() error { got = append(got, 'd'); return nil }, 0, repeat)
		if err != nil {
			t.Fatal(err)
		}
		var want []byte
		for k, n := range blocks {
			if BlockSize(repeat, k) != n {
				t.Errorf("repeat %d: BlockSize(%d) = %d, want %d", repeat, k, BlockSize(repeat, k), n)
			}
			first, second := bytes.Repeat([]byte("c"), n), bytes.Repeat([]byte("d"), n)
			if k%2 == 1 {
				first, second = second, first
			}
			want = append(append(want, first...), second...)
		}
		if Blocks(repeat) != len(blocks) || !bytes.Equal(got, want) {
			t.Errorf("repeat %d: %d blocks, calls %s, want %s", repeat, Blocks(repeat), got, want)
		}
	}
}

// TestFillSamples: samples_us keeps both lists in call order with repeat entries each and
// the block count, and latency_us.p50 is their median; no bare call or no timed call, no
// samples_us.
func TestFillSamples(t *testing.T) {
	lat := []float64{50, 10, 40, 20, 30, 60}
	direct := []float64{9, 8, 7, 6, 5, 4}
	r := Report{Repeat: len(lat), Direct: "bare"}
	r.Fill(slices.Clone(lat), slices.Clone(direct))
	p := filepath.Join(t.TempDir(), "t.json")
	if err := Write(p, &r); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(p)
	var doc struct {
		LatencyUS map[string]float64 `json:"latency_us"`
		DirectUS  map[string]float64 `json:"direct_latency_us"`
		SamplesUS struct {
			Latency []float64 `json:"latency"`
			Direct  []float64 `json:"direct"`
			Blocks  int       `json:"blocks"`
		} `json:"samples_us"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	s := doc.SamplesUS
	if !slices.Equal(s.Latency, lat) || !slices.Equal(s.Direct, direct) || s.Blocks != 6 {
		t.Errorf("samples_us %+v, want %v, %v in call order, 6 blocks", s, lat, direct)
	}
	if doc.LatencyUS["p50"] != 35 || doc.LatencyUS["p50"] != median(s.Latency) || doc.DirectUS["p50"] != median(s.Direct) {
		t.Errorf("p50 %v / %v, want the samples' medians %v / %v", doc.LatencyUS["p50"], doc.DirectUS["p50"], median(s.Latency), median(s.Direct))
	}
	for name, r := range map[string]Report{"no bare call": {Repeat: 6}, "repeat 0": {FirstMS: 1}} {
		var d []float64
		if name == "repeat 0" {
			d = []float64{3}
		}
		r.Fill(slices.Clone(lat[:r.Repeat]), d)
		if raw, _ := json.Marshal(&r); r.SamplesUS != nil || bytes.Contains(raw, []byte("samples_us")) {
			t.Errorf("%s: %s, want no samples_us", name, raw)
		}
	}
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
