package manifest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// versionRE is the contract's form of a min_runtime version: MAJOR[.MINOR[.PATCH]], digits only.
var versionRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+){0,2}$`)

// Version is a dotted version, compared numerically component by component with missing
// components counting as 0. Components are kept as digit strings, so no size overflows.
type Version []string

// ParseVersion reads a manifest version, MAJOR[.MINOR[.PATCH]] with digits only.
func ParseVersion(s string) (Version, error) {
	if !versionRE.MatchString(s) {
		return nil, fmt.Errorf("%q is not a version (want MAJOR[.MINOR[.PATCH]], digits only)", s)
	}
	return strings.Split(s, "."), nil
}

// RuntimeVersion reads a runtime's own version string up to its first character that is
// neither a digit nor a dot ("2.13.0+cu130" is 2.13.0, "2.19.0-rc1" is 2.19.0). It returns the
// part read, without leading or trailing dots, and false when that part has no digit.
func RuntimeVersion(s string) (Version, string, bool) {
	end := strings.IndexFunc(s, func(r rune) bool { return r != '.' && (r < '0' || r > '9') })
	if end < 0 {
		end = len(s)
	}
	read := strings.Trim(s[:end], ".")
	if read == "" {
		return nil, "", false
	}
	return strings.Split(read, "."), read, true
}

// Compare returns -1, 0 or +1 as v is older than, equal to or newer than w.
func (v Version) Compare(w Version) int {
	for i := 0; i < max(len(v), len(w)); i++ {
		if c := compareDigits(component(v, i), component(w, i)); c != 0 {
			return c
		}
	}
	return 0
}

// component is v's i-th component without leading zeros; missing or empty is "0".
func component(v Version, i int) string {
	if i >= len(v) {
		return "0"
	}
	if c := strings.TrimLeft(v[i], "0"); c != "" {
		return c
	}
	return "0"
}

// compareDigits compares two digit strings without leading zeros as numbers.
func compareDigits(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// parseMinRuntime reads an artifact's min_runtime object ({"<family>": "<version>"}) into
// MinRuntime; absent means no entries. Unknown families are kept (a client ignores them).
func (a *Artifact) parseMinRuntime() error {
	a.MinRuntime = nil
	if a.RawMinRuntime == nil {
		return nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(a.RawMinRuntime, &raw); err != nil || raw == nil {
		return fmt.Errorf("min_runtime is %s (want an object of runtime family -> version)", a.RawMinRuntime)
	}
	families := make([]string, 0, len(raw))
	for family := range raw {
		families = append(families, family)
	}
	sort.Strings(families) // the first bad family in a stable order
	a.MinRuntime = make(map[string]string, len(raw))
	for _, family := range families {
		var v any
		s, ok := "", false
		if json.Unmarshal(raw[family], &v) == nil {
			s, ok = v.(string)
		}
		if !ok { // a number, null, an object...
			return fmt.Errorf("min_runtime %s is %s (want a version string MAJOR[.MINOR[.PATCH]])", family, raw[family])
		}
		if _, err := ParseVersion(s); err != nil {
			return fmt.Errorf("min_runtime %s: %v", family, err)
		}
		a.MinRuntime[family] = s
	}
	return nil
}
