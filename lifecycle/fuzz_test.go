package lifecycle

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prefail/prefail/model"
)

// FuzzParsePolicy: any input gives either an error whose every line
// names the file, or a policy that validates and judges a scan without
// a panic. Seeded from the default policy and every policy under
// testdata/.
func FuzzParsePolicy(f *testing.F) {
	f.Add(DefaultPolicyYAML())
	var seeds []string
	for _, pattern := range []string{"testdata/policies/*.yaml", "testdata/cases/*/policy.yaml"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, m...)
	}
	if len(seeds) == 0 {
		f.Fatal("no seed policies under testdata")
	}
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	at := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	snap := &model.Snapshot{Time: at, Components: []model.Component{
		{Kind: model.KindDrive, ID: "d", Health: model.HealthOK, Inventory: model.Inventory{Model: "ST4000NM0035", MediaType: "HDD", PowerOnHours: model.Float(40000)},
			Readings: []model.Reading{{Name: "smart_5_raw", Value: model.Float(3)}, {Name: "percentage_used", Value: model.Float(50)}}},
		{Kind: model.KindFan, ID: "f", Health: model.HealthOK, Readings: []model.Reading{{Name: "speed", Value: model.Float(5000)}},
			Inventory: model.Inventory{ManufactureDate: "2020-01-01"}},
		{Kind: model.KindPSU, ID: "p", Health: model.HealthOK, Readings: []model.Reading{{Name: "input_power", Value: model.Float(500)}, {Name: "output_power", Value: model.Float(450)}}},
	}}
	history := func(_, _, reading string) []HistoryPoint {
		return []HistoryPoint{{at.Add(-60 * 24 * time.Hour), 1}, {at.Add(-24 * time.Hour), 2}}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePolicy("fuzz.yaml", data)
		if err != nil {
			if p != nil {
				t.Fatal("a policy returned with an error")
			}
			for line := range strings.SplitSeq(err.Error(), "\n") {
				if !strings.HasPrefix(line, "fuzz.yaml") {
					t.Fatalf("an error line that names no file: %q", line)
				}
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("a parsed policy does not validate: %v", err)
		}
		b, err := NewBuilder(WithPolicy(p), WithHistory(history))
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Add("t", snap); err != nil {
			t.Fatal(err)
		}
		for _, r := range b.Inventory().Rows() {
			if (r.RefreshDue == DueNo) != (r.Rule == "") {
				t.Fatalf("row %s due %s by rule %q", r.Component, r.RefreshDue, r.Rule)
			}
		}
	})
}
