package lifecycle

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/prefail/prefail/model"
)

var update = flag.Bool("update", false, "rewrite the golden files (want.json) under testdata/cases")

// caseInput is a case's input.json: the snapshots, the history and
// first-seen dates the caller would give, and the verdict expected of
// every row (written by hand, so that -update cannot bless a wrong one).
type caseInput struct {
	Comment   string `json:"comment"`
	Snapshots []struct {
		Target   string         `json:"target"`
		Snapshot model.Snapshot `json:"snapshot"`
	} `json:"snapshots"`
	History []struct {
		Target    string      `json:"target"`
		Component string      `json:"component"`
		Reading   string      `json:"reading"`
		Points    []casePoint `json:"points"`
	} `json:"history"`
	FirstSeen []struct {
		Target    string    `json:"target"`
		Component string    `json:"component"`
		Time      time.Time `json:"time"`
	} `json:"first_seen"`
	Expect []caseExpect `json:"expect"`
}

type caseExpect struct {
	Target          string    `json:"target"`
	Component       string    `json:"component"`
	Due             Due       `json:"due"`
	Rule            string    `json:"rule"`
	DueInDays       *float64  `json:"due_in_days"`
	Reason          *string   `json:"reason"`
	AgeSource       AgeSource `json:"age_source"`
	FirmwareOutlier *bool     `json:"firmware_outlier"`
}

// casePoint is [time, value].
type casePoint HistoryPoint

func (p *casePoint) UnmarshalJSON(b []byte) error {
	var raw [2]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if err := json.Unmarshal(raw[0], &p.Time); err != nil {
		return err
	}
	return json.Unmarshal(raw[1], &p.Value)
}

// caseDirs finds the case directories: those holding an input.json.
func caseDirs(t testing.TB) []string {
	var dirs []string
	err := filepath.WalkDir(filepath.Join("testdata", "cases"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && d.Name() == "input.json" {
			dirs = append(dirs, filepath.Dir(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("no cases under testdata/cases")
	}
	return dirs
}

// buildCase builds the inventory of a case directory.
func buildCase(t *testing.T, dir string) (*Inventory, *caseInput) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "input.json"))
	if err != nil {
		t.Fatal(err)
	}
	var in caseInput
	if err := json.Unmarshal(data, &in); err != nil {
		t.Fatalf("%s/input.json: %v", dir, err)
	}
	history := map[string][]HistoryPoint{}
	for _, h := range in.History {
		k := h.Target + "|" + h.Component + "|" + h.Reading
		for _, p := range h.Points {
			history[k] = append(history[k], HistoryPoint(p))
		}
	}
	firstSeen := map[string]time.Time{}
	for _, f := range in.FirstSeen {
		firstSeen[f.Target+"|"+f.Component] = f.Time
	}
	opts := []Option{
		WithHistory(func(target, component, reading string) []HistoryPoint {
			return history[target+"|"+component+"|"+reading]
		}),
		WithFirstSeen(func(target, component string) (time.Time, bool) {
			ts, ok := firstSeen[target+"|"+component]
			return ts, ok
		}),
	}
	if pdata, err := os.ReadFile(filepath.Join(dir, "policy.yaml")); err == nil {
		p, err := ParsePolicy("policy.yaml", pdata)
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, WithPolicy(p))
	}
	b, err := NewBuilder(opts...)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range in.Snapshots {
		if err := b.Add(s.Target, &s.Snapshot); err != nil {
			t.Fatal(err)
		}
	}
	return b.Inventory(), &in
}

// TestCases: each case's rows have the verdicts written in its
// input.json, and its JSON document is the golden want.json.
func TestCases(t *testing.T) {
	for _, dir := range caseDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			inv, in := buildCase(t, dir)
			checkExpectations(t, inv, in.Expect)

			var got bytes.Buffer
			if err := inv.WriteJSON(context.Background(), &got); err != nil {
				t.Fatal(err)
			}
			if !json.Valid(got.Bytes()) {
				t.Fatalf("WriteJSON wrote invalid JSON:\n%s", got.String())
			}
			golden := filepath.Join(dir, "want.json")
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./lifecycle -run TestCases -update)", err)
			}
			if diff := cmp.Diff(string(want), got.String()); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", golden, diff)
			}
		})
	}
}

func checkExpectations(t *testing.T, inv *Inventory, expect []caseExpect) {
	t.Helper()
	want := map[string]caseExpect{}
	for _, e := range expect {
		want[e.Target+"|"+e.Component] = e
	}
	seen := map[string]bool{}
	for _, r := range inv.Rows() {
		k := r.Target + "|" + r.Component
		e, ok := want[k]
		if !ok {
			t.Errorf("row %s has no expectation in input.json (due %s, rule %q)", k, r.RefreshDue, r.Rule)
			continue
		}
		seen[k] = true
		if r.RefreshDue != e.Due || r.Rule != e.Rule {
			t.Errorf("%s: due %s by rule %q (%s); want %s by %q", k, r.RefreshDue, r.Rule, r.Reason, e.Due, e.Rule)
		}
		if e.DueInDays != nil && (r.DueInDays == nil || *r.DueInDays != *e.DueInDays) {
			t.Errorf("%s: due in %s days; want %v", k, fmtPtr(r.DueInDays), *e.DueInDays)
		}
		if e.Reason != nil && r.Reason != *e.Reason {
			t.Errorf("%s: reason %q; want %q", k, r.Reason, *e.Reason)
		}
		if e.AgeSource != "" && r.AgeSource != e.AgeSource {
			t.Errorf("%s: age source %s; want %s", k, r.AgeSource, e.AgeSource)
		}
		if e.FirmwareOutlier != nil && r.FirmwareOutlier != *e.FirmwareOutlier {
			t.Errorf("%s: firmware outlier %v; want %v", k, r.FirmwareOutlier, *e.FirmwareOutlier)
		}
		if (r.RefreshDue == DueNo) != (r.Rule == "") {
			t.Errorf("%s: due %s with rule %q", k, r.RefreshDue, r.Rule)
		}
	}
	for k := range want {
		if !seen[k] {
			t.Errorf("expected row %s is missing", k)
		}
	}
}

func fmtPtr(v *float64) string {
	if v == nil {
		return "nil"
	}
	return fmt.Sprint(*v)
}
