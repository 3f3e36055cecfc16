package timing

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
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
