package redfishmock

import (
	"io/fs"
	"path"
	"testing"
	"time"
)

func FuzzParseScenario(f *testing.F) {
	entries, err := fs.ReadDir(embedded, "scenarios")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		b, err := fs.ReadFile(embedded, path.Join("scenarios", e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(testScenario))
	f.Add([]byte(`{"changes":[{"targets":[{"resource":"/redfish/v1/Things/D1","pointer":"/Reading"}],"ramp":{"from":1,"to":2,"end":"1d","shape":"exponential"}}]}`))
	f.Add([]byte(`{"changes":[{"targets":[{"resource":"/redfish/v1/Things/D1","pointer":"/Reading"}],"ramp":{"to":2,"start":"1h","end":"1d"}},` +
		`{"targets":[{"resource":"/redfish/v1/Things/D1","pointer":"/Reading"}],"ramp":{"to":5,"start":"2d","end":"3d"}},` +
		`{"targets":[{"resource":"/redfish/v1/Things/D1","pointer":"/Reading"}],"scale":{"to":0.5,"start":"1d","end":"2d","shape":"exponential"}},` +
		`{"targets":[{"resource":"/redfish/v1/Things/D1","pointer":"/Reading"}],"noise":{"sd":1,"from":"1h","until":"2d"}},` +
		`{"targets":[{"resource":"/redfish/v1/Things/D1","pointer":"/Reading"}],"diurnal":{"amplitude":1,"from":"1h"}}]}`))
	f.Add([]byte(`{"start":"2026-01-03T00:00:00Z","changes":[{"targets":[{"resource":"/redfish/v1/Things/D1","pointer":"/Status/Health"}],` +
		`"schedule":{"start":"1h","steps":[{"at":"6h","to":"OK"},{"at":"20h","to":1}],"weekend":[{"to":{"a":[1]}}]}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		sc, err := ParseScenario(b)
		if err != nil {
			return
		}
		// Whatever parses must evaluate without panicking.
		for _, c := range sc.Changes {
			for _, tg := range c.Targets {
				for _, tt := range []time.Duration{0, time.Hour, 400 * 24 * time.Hour} {
					doc := map[string]any{"Reading": 1.0, "Members": []any{}, "Status": map[string]any{}}
					sc.apply(NormalizePath(tg.Resource), doc, tt)
					if _, err := encodeJSON(doc); err != nil {
						t.Fatalf("served document does not encode: %v", err)
					}
				}
			}
		}
	})
}

func FuzzParseExpand(f *testing.F) {
	for _, s := range []string{"*", ".", "~", "*($levels=2)", ".($levels=6)", "~($levels=99)", "x", "", "*($levels=)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := parseExpand(s)
		if err != nil {
			return
		}
		if q.levels < 1 || q.levels > MaxLevels {
			t.Fatalf("%q: levels %d out of 1..%d", s, q.levels, MaxLevels)
		}
		if q.kind != '*' && q.kind != '.' && q.kind != '~' {
			t.Fatalf("%q: kind %q", s, q.kind)
		}
	})
}
