package lifecycle

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/prefail/prefail/model"
)

func TestDefaultPolicy(t *testing.T) {
	p, err := DefaultPolicy()
	if err != nil {
		t.Fatal(err)
	}
	if p.Horizon != 90*24*time.Hour || p.Wear.Baseline != 7*24*time.Hour || p.Wear.Recent != 7*24*time.Hour {
		t.Errorf("horizon %s, baseline %s, recent %s; want 90 days, a week, a week", p.Horizon, p.Wear.Baseline, p.Wear.Recent)
	}
	want := map[string]struct {
		kind  model.Kind
		media string
		cond  Condition
		limit float64
	}{
		"hdd-age":             {model.KindDrive, MediaHDD, AgeOver, 5 * 8766},
		"drive-age":           {model.KindDrive, MediaUnknown, AgeOver, 5 * 8766},
		"drive-sector-growth": {model.KindDrive, "", SectorGrowthOver, 0},
		"ssd-endurance":       {model.KindDrive, MediaSSD, PercentageUsedAtLeast, 80},
		"fan-age":             {model.KindFan, "", AgeOver, 5 * 8766},
		"fan-speed-loss":      {model.KindFan, "", SpeedLossOver, 15},
		"psu-age":             {model.KindPSU, "", AgeOver, 5 * 8766},
		"psu-efficiency-loss": {model.KindPSU, "", EfficiencyLossOver, 3},
	}
	if len(p.Rules) != len(want) {
		t.Errorf("%d rules; want %d", len(p.Rules), len(want))
	}
	for _, r := range p.Rules {
		w, ok := want[r.Name]
		if !ok {
			t.Errorf("unexpected rule %q", r.Name)
			continue
		}
		if r.Kind != w.kind || r.Media != w.media || r.Condition != w.cond || r.Limit != w.limit || r.horizon(p) != p.Horizon {
			t.Errorf("rule %s: %+v; want %+v", r.Name, r, w)
		}
	}
	if !strings.Contains(string(DefaultPolicyYAML()), "sector_counters:") {
		t.Error("the embedded default policy does not document sector_counters")
	}
}

// A policy that gives some keys keeps the defaults of the others; one
// with rules replaces the default rules.
func TestParsePolicyOverDefaults(t *testing.T) {
	def, err := DefaultPolicy()
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) *Policy {
		t.Helper()
		data, err := os.ReadFile(filepath.Join("testdata", "policies", name))
		if err != nil {
			t.Fatal(err)
		}
		p, err := ParsePolicy(name, data)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	partial := read("good-partial.yaml")
	if partial.Horizon != 30*24*time.Hour {
		t.Errorf("horizon %s; want 720h", partial.Horizon)
	}
	opts := cmp.Options{cmpopts.IgnoreUnexported(Policy{}), cmpopts.IgnoreFields(Policy{}, "Name", "Horizon")}
	if diff := cmp.Diff(def, partial, opts); diff != "" {
		t.Errorf("a policy giving only the horizon differs from the default (-want +got):\n%s", diff)
	}

	full := read("good-full.yaml")
	want := &Policy{
		Name:    "good-full.yaml",
		Horizon: 180 * 24 * time.Hour,
		Wear:    WearPolicy{Baseline: 14 * 24 * time.Hour, Recent: 3 * 24 * time.Hour, SectorCounters: []string{"smart_5_raw"}},
		Rules: []Rule{
			{Name: "exos-age", Description: "our Exos drives get 6 years", Kind: model.KindDrive, Media: MediaHDD, Model: "ST*NM*",
				Condition: AgeOver, Limit: 6 * 8766, LimitText: "6y", Horizon: 0},
			{Name: "fan-hours", Kind: model.KindFan, Condition: AgeOver, Limit: 50000, LimitText: "50000h", Horizon: -1},
			{Name: "ssd-wear", Kind: model.KindDrive, Media: MediaSSD, Condition: PercentageUsedAtLeast, Limit: 90, LimitText: "90%", Horizon: -1},
			{Name: "ssd-wear-early", Kind: model.KindDrive, Media: MediaSSD, Condition: PercentageUsedAtLeast, Limit: 70, LimitText: "70",
				Horizon: time.Duration(8766 * float64(time.Hour))},
		},
	}
	if diff := cmp.Diff(want, full, cmpopts.IgnoreUnexported(Policy{})); diff != "" {
		t.Errorf("good-full.yaml (-want +got):\n%s", diff)
	}
}

// Every bad policy is refused with FILE:LINE:COLUMN, the key and what is
// wrong, as an ErrInvalidPolicy.
func TestParsePolicyErrors(t *testing.T) {
	tests := map[string][]string{
		"bad-unknown-key.yaml":    {`bad-unknown-key.yaml:5:5: unknown key "age_ovr" in rules[0] (did you mean "age_over"?)`, "bad-unknown-key.yaml:3:5: rules[0]: no condition"},
		"bad-duration.yaml":       {`bad-duration.yaml:4:15: rules[0].age_over: want a number and a unit (h, d, w or y) such as 5y, 43800h or 90d, got "five years"`},
		"bad-kind.yaml":           {`bad-kind.yaml:3:5: rules[0].kind: unknown kind "disk": want one of`},
		"bad-two-conditions.yaml": {"bad-two-conditions.yaml:5:25: rules[0]: age_over and sector_growth_over: a rule has one condition"},
		"bad-no-condition.yaml":   {"bad-no-condition.yaml:2:5: rules[0]: no condition: give one of age_over, percentage_used_at_least"},
		"bad-condition-kind.yaml": {"bad-condition-kind.yaml:4:5: rules[0].percentage_used_at_least: percentage_used_at_least cannot be measured on a fan (it is for drives)"},
		"bad-duplicate-name.yaml": {`bad-duplicate-name.yaml:5:5: rules[1].name: rule "a" is also rules[0]`},
		"bad-percent.yaml":        {"bad-percent.yaml:4:5: rules[0].percentage_used_at_least: want a number above 0 and at most 100, got 180"},
		"bad-tab.yaml":            {"bad-tab.yaml:3:", "(a tab in the indentation: YAML indents with spaces only)"},
		"bad-two-documents.yaml":  {"bad-two-documents.yaml:2:1: a second YAML document"},
		"bad-name-media.yaml":     {`bad-name-media.yaml:2:5: rules[0].name: want a name of lower-case letters`, "bad-name-media.yaml:4:5: rules[0].media: media narrows rules for drives, not psu"},
		"bad-negative.yaml":       {`bad-negative.yaml:1:10: horizon: want a number and a unit (h, d, w or y) such as 5y, 43800h or 90d, got "-5d"`, "bad-negative.yaml:3:11: wear.recent: want a positive duration"},
		"bad-rules-mapping.yaml":  {"bad-rules-mapping.yaml:1:8: rules: want a list of rules (- name: ...), got a mapping"},
		"bad-model-pattern.yaml":  {`bad-model-pattern.yaml:4:5: rules[0].model: not a valid pattern`},
	}
	entries, err := os.ReadDir(filepath.Join("testdata", "policies"))
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "bad-") {
			continue
		}
		bad++
		t.Run(e.Name(), func(t *testing.T) {
			want, ok := tests[e.Name()]
			if !ok {
				t.Fatalf("no expected error for testdata/policies/%s", e.Name())
			}
			data, err := os.ReadFile(filepath.Join("testdata", "policies", e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			p, err := ParsePolicy(e.Name(), data)
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			if p != nil {
				t.Error("a policy returned with an error")
			}
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Errorf("%v is not an ErrInvalidPolicy", err)
			}
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n%v\nwant it to contain %q", err, w)
				}
			}
		})
	}
	if bad != len(tests) {
		t.Errorf("%d bad policies in testdata, %d expected errors", bad, len(tests))
	}
}

func TestParsePolicyEdges(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", "p.yaml: empty policy"},
		{"# only a comment\n", "p.yaml: empty policy"},
		{"[1, 2]", "p.yaml:1:1: want a mapping (horizon:, wear:, rules:), got a list"},
		{"horizon: 90d\nhorizon: 30d\n", `p.yaml:2:1: key "horizon" given twice (also at line 1)`},
		{"horizon: 11y\n", "p.yaml:1:1: horizon: want 0 to 10 years"},
		{"horizon: 200y\n", `p.yaml:1:10: horizon: "200y" is more than 100 years`},
		{"horizon: true\n", "p.yaml:1:10: horizon: want a string, got true/false (quote it)"},
		{"wear: {sector_counters: [\"\"]}\n", "p.yaml:1:26: wear.sector_counters[0]: want a reading name"},
		{"rules: [~]\n", "p.yaml:1:9: rules[0]: an empty rule"},
		{"rules:\n  - {name: x, kind: fan, speed_loss_over: fast}\n", `p.yaml:2:43: rules[0].speed_loss_over: want a number, got "fast"`},
		{"a: &a [*a]\n", "p.yaml"},
		{strings.Repeat("x", 2<<20), "more than the 1 MiB"},
	} {
		p, err := ParsePolicy("p.yaml", []byte(tt.in))
		if err == nil || p != nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("ParsePolicy(%.40q) = %v, %v; want an ErrInvalidPolicy containing %q", tt.in, p, err, tt.want)
		}
	}
}

// A Policy built in Go is validated by NewBuilder.
func TestValidateGoPolicy(t *testing.T) {
	p := &Policy{Name: "mine", Horizon: 90 * 24 * time.Hour, Wear: WearPolicy{Baseline: time.Hour, Recent: time.Hour},
		Rules: []Rule{{Name: "x", Kind: model.KindFan, Condition: "age_under", Limit: 1}}}
	_, err := NewBuilder(WithPolicy(p))
	if err == nil || !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), "mine: rules[0]: no condition") {
		t.Errorf("NewBuilder with a bad policy: %v", err)
	}
}
