package manifest

import (
	"errors"
	"strings"
	"testing"

	"github.com/deploykit/deploykit/go/internal/testfix"
)

func TestParseVersion(t *testing.T) {
	for _, s := range []string{"2", "2.19", "2.19.0", "0.0.0", "007.1", "123456789012345678901234567890.0.1"} {
		if _, err := ParseVersion(s); err != nil {
			t.Errorf("ParseVersion(%q) = %v, want ok", s, err)
		}
	}
	for _, s := range []string{"", "2.", ".2", "2..0", "2.19.0.1", "v2.19", "2.19.0+cu130", "2.19.0-rc1", " 2.19", "2.19\n", "2,19", "-1", "2.x", "１"} {
		if _, err := ParseVersion(s); err == nil {
			t.Errorf("ParseVersion(%q) accepted", s)
		}
	}
}

func TestRuntimeVersion(t *testing.T) {
	for in, want := range map[string]string{
		"2.19.0": "2.19.0", "2.13.0+cu130": "2.13.0", "2.19.0-rc1": "2.19.0", "2.19.0rc1": "2.19.0",
		"2": "2", "2.19": "2.19", "2.19.0.": "2.19.0", "1.1.0-SNAPSHOT": "1.1.0", "2.19.0.dev20250101": "2.19.0",
	} {
		if _, read, ok := RuntimeVersion(in); !ok || read != want {
			t.Errorf("RuntimeVersion(%q) = %q, %v; want %q", in, read, ok, want)
		}
	}
	for _, in := range []string{"", "unknown", "v2.19.0", "+2", "."} {
		if _, read, ok := RuntimeVersion(in); ok {
			t.Errorf("RuntimeVersion(%q) = %q, want nothing readable", in, read)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		have, need string // have is a runtime's own string, need a manifest version
		want       int
	}{
		{"2.19.0", "2.19.0", 0},                                                  // equal
		{"2.18.0", "2.19.0", -1}, {"2.19.0", "2.19.1", -1}, {"1.99.99", "2", -1}, // older
		{"2.19.0", "2.18.0", 1}, {"2.19.1", "2.19", 1}, {"3.0.0", "2.99.99", 1}, // newer
		{"2.13.0+cu130", "2.13.0", 0}, {"2.13.0+cu130", "2.13.1", -1}, {"2.13.0+cu130", "2.12", 1},
		{"2", "2.0.0", 0}, {"2", "2.0.1", -1}, {"2.19", "2.19.0", 0}, {"2.19", "2.18.9", 1},
		{"2.10.0", "2.9.0", 1},                                // numeric, not lexicographic
		{"02.019.0", "2.19", 0},                               // leading zeros
		{"99999999999999999999.0", "99999999999999999998", 1}, // beyond uint64
		{"2.19.0.1", "2.19.0", 1},                             // a fourth component
	} {
		have, _, ok := RuntimeVersion(tc.have)
		need, err := ParseVersion(tc.need)
		if !ok || err != nil {
			t.Fatalf("%q / %q: not readable (%v)", tc.have, tc.need, err)
		}
		if got := have.Compare(need); got != tc.want {
			t.Errorf("%q vs %q: Compare = %d, want %d", tc.have, tc.need, got, tc.want)
		}
		if got := need.Compare(have); got != -tc.want {
			t.Errorf("%q vs %q: reversed Compare = %d, want %d", tc.need, tc.have, got, -tc.want)
		}
	}
}

// TestMinRuntime: min_runtime is read per artifact (absent: no entries; unknown families
// kept), and a malformed value makes the whole manifest invalid with one message naming
// the model, the format and the family.
func TestMinRuntime(t *testing.T) {
	src := testfix.Manifest(t, "DEPLOYKIT_TEST_MANIFEST")
	const id, format = "mlp_keras", "saved-model"
	type absent struct{}
	read := func(t *testing.T, value any) (*Manifest, error) {
		p := testfix.CopyExport(t, src)
		testfix.EditManifest(t, p, func(doc map[string]any) {
			art := testfix.Artifact(t, doc, id, format)
			if value == (absent{}) {
				delete(art, "min_runtime")
			} else {
				art["min_runtime"] = value
			}
		})
		return Read(p)
	}
	artifact := func(t *testing.T, m *Manifest) *Artifact {
		mod, err := m.Model(id)
		if err != nil {
			t.Fatal(err)
		}
		a, err := mod.Artifact(format)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}

	m, err := read(t, absent{})
	if err != nil {
		t.Fatal(err)
	}
	if a := artifact(t, m); len(a.MinRuntime) != 0 {
		t.Errorf("absent min_runtime read as %v", a.MinRuntime)
	}
	want := map[string]string{"tensorflow": "2.18.0", "torch": "2", "tfjs": "4.22", "onnxruntime": "1.20.1", "some_future_runtime": "7"}
	value := map[string]any{}
	for k, v := range want {
		value[k] = v
	}
	if m, err = read(t, value); err != nil {
		t.Fatal(err)
	}
	if got := artifact(t, m).MinRuntime; len(got) != len(want) {
		t.Errorf("MinRuntime = %v, want %v", got, want)
	} else {
		for k, v := range want {
			if got[k] != v {
				t.Errorf("MinRuntime[%s] = %q, want %q", k, got[k], v)
			}
		}
	}

	for _, tc := range []struct {
		name  string
		value any
		msg   string // the end of the one-line error
	}{
		{"suffix", map[string]any{"tensorflow": "2.13.0+cu130"}, `min_runtime tensorflow: "2.13.0+cu130" is not a version (want MAJOR[.MINOR[.PATCH]], digits only)`},
		{"four components", map[string]any{"tensorflow": "2.19.0.1"}, `min_runtime tensorflow: "2.19.0.1" is not a version`},
		{"empty", map[string]any{"tensorflow": ""}, `min_runtime tensorflow: "" is not a version`},
		{"leading v", map[string]any{"torch": "v2.5"}, `min_runtime torch: "v2.5" is not a version`},
		{"trailing dot", map[string]any{"onnxruntime": "1.20."}, `min_runtime onnxruntime: "1.20." is not a version`},
		{"unknown family, bad value", map[string]any{"tensorflow": "2.18.0", "mlx": "latest"}, `min_runtime mlx: "latest" is not a version`},
		{"number", map[string]any{"tensorflow": 2.19}, "min_runtime tensorflow is 2.19 (want a version string MAJOR[.MINOR[.PATCH]])"},
		{"null value", map[string]any{"tfjs": nil}, "min_runtime tfjs is null (want a version string"},
		{"list", []any{"tensorflow", "2.18.0"}, `min_runtime is ["tensorflow","2.18.0"] (want an object of runtime family -> version)`},
		{"null", nil, "min_runtime is null (want an object"},
		{"string", "2.18.0", `min_runtime is "2.18.0" (want an object`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := read(t, tc.value)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Read = %v, want ErrInvalid", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "model "+id+": artifact "+format+": "+tc.msg) || strings.Contains(msg, "\n") {
				t.Errorf("Read = %q, want one line naming model %s, artifact %s and ending %q", msg, id, format, tc.msg)
			}
		})
	}
}
