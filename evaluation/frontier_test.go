package evaluation

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// trace builds a trace of consecutive days from day0+first.
func trace(first int, scores ...float64) Trace {
	tr := Trace{}
	for i, s := range scores {
		tr.Days = append(tr.Days, day0+Day(first+i))
		tr.Scores = append(tr.Scores, s)
	}
	return tr
}

// alarmsOf applies a policy to one trace.
func alarmsOf(p Policy, tr Trace) Drive {
	var d Drive
	p.Alarms(tr, &d)
	return d
}

func detectorPolicy() Hysteresis {
	return Hysteresis{Watch: 0.25, Degrading: 0.5, Failing: 0.8, Hysteresis: 0.1, Confirm: 1, ClearAfterDays: 3}
}

// The detector's state machine, by hand: a raise, an escalation (an alarm,
// not an onset), a clear only after the risk stayed below the exit level
// long enough, a second episode.
func TestHysteresisByHand(t *testing.T) {
	h := detectorPolicy()
	for name, tc := range map[string]struct {
		p          Hysteresis
		scores     []float64
		want       Drive
		wantAlarms bool
	}{
		"quiet":            {h, []float64{0, 0.3, 0.49, 0.2}, Drive{}, false},
		"raise":            {h, []float64{0, 0.5, 0.6}, Drive{Alarmed: true, FirstAlarm: day0 + 1, LastAlarm: day0 + 1, Episodes: 1}, true},
		"raise first day":  {h, []float64{0.9, 0.9}, Drive{Alarmed: true, FirstAlarm: day0, LastAlarm: day0, Episodes: 1}, true},
		"escalate":         {h, []float64{0.1, 0.6, 0.85, 0.9}, Drive{Alarmed: true, FirstAlarm: day0 + 1, LastAlarm: day0 + 2, Episodes: 1}, true},
		"short dip stays":  {h, []float64{0.6, 0.1, 0.1, 0.6, 0.1}, Drive{Alarmed: true, FirstAlarm: day0, LastAlarm: day0, Episodes: 1}, true},
		"clears, again":    {h, []float64{0.6, 0.1, 0.1, 0.1, 0.1, 0.6}, Drive{Alarmed: true, FirstAlarm: day0, LastAlarm: day0 + 5, Episodes: 2}, true},
		"hysteresis holds": {h, []float64{0.6, 0.45, 0.45, 0.45, 0.45, 0.6}, Drive{Alarmed: true, FirstAlarm: day0, LastAlarm: day0, Episodes: 1}, true},
		"rounded exit":     {h, []float64{0.6, 0.3996, 0.3996, 0.3996, 0.3996, 0.6}, Drive{Alarmed: true, FirstAlarm: day0, LastAlarm: day0, Episodes: 1}, true},
		"confirm 2":        {Hysteresis{Watch: 0.25, Degrading: 0.5, Failing: 0.8, Hysteresis: 0.1, Confirm: 2, ClearAfterDays: 3}, []float64{0.6, 0.1, 0.6, 0.6}, Drive{Alarmed: true, FirstAlarm: day0 + 3, LastAlarm: day0 + 3, Episodes: 1}, true},
	} {
		got := alarmsOf(tc.p, trace(0, tc.scores...))
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", name, diff)
		}
	}
}

// Above{0} is the published rules' policy: the same alarms as
// Tracker.RuleDay.
func TestAboveMatchesRuleDay(t *testing.T) {
	scores := []float64{0, 1, 1, 0, math.NaN(), 2, 0, 3}
	tr := NewTracker()
	for i, s := range scores {
		tr.Row(0, "S", "M", day0+Day(i), false)
		tr.RuleDay(0, day0+Day(i), s > 0)
	}
	want := tr.Drives()[0]
	got := want
	Above{K: 0}.Alarms(trace(0, scores...), &got)
	if diff := cmp.Diff(want, got); diff != "" || got.Episodes != 3 {
		t.Errorf("(-RuleDay +Above)\n%s", diff)
	}
	if d := alarmsOf(Above{K: 2}, trace(0, scores...)); d.FirstAlarm != day0+7 || d.Episodes != 1 {
		t.Errorf("k=2: %+v", d)
	}
}

// sweepSet is 2 failed and 8 healthy drives over 100 days, with peak
// scores the thresholds are read from.
func sweepSet() ([]Drive, []Trace) {
	var drives []Drive
	var traces []Trace
	add := func(serial string, failed bool, peakDay int, peak float64) {
		d := Drive{Serial: serial, FirstSeen: day0, LastSeen: day0 + 99, Rows: 100, Failed: failed}
		if failed {
			d.FailureDay = d.LastSeen
		}
		s := make([]float64, 100)
		s[peakDay] = peak
		drives = append(drives, d)
		traces = append(traces, trace(0, s...))
	}
	add("F1", true, 80, 0.9)  // lead 19
	add("F2", true, 98, 0.55) // lead 1
	for i, p := range []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8} {
		add(string(rune('A'+i)), false, 10, p)
	}
	return drives, traces
}

// The sweep evaluates, for each budget, the loosest threshold flagging at
// most that rate; points come in order of flags; the default is found.
func TestSweep(t *testing.T) {
	drives, traces := sweepSet()
	h := detectorPolicy()
	// 8 healthy over 100 days: one flagged is 1/8 * 3.6525 = 45.7% a year.
	budgets := []float64{0.45, 0.46, 0.92, 10}
	fr, err := Sweep("d", "", drives, traces, func(t float64) Policy { return h.At(t) }, false, []float64{0.5},
		SweepOptions{Budgets: budgets, Options: Options{Resamples: 10, Seed: 1}})
	if err != nil {
		t.Fatal(err)
	}
	var got []float64
	var flagged []int
	for _, p := range fr.Points {
		got = append(got, p.Threshold)
		flagged = append(flagged, p.Report.HealthyFlagged)
	}
	// 0.45/yr flags none: just above 0.8; 0.46 one: above 0.7; 0.92 two:
	// above 0.6; 10/yr everything: the lowest peak 0.1; and the default.
	if diff := cmp.Diff([]float64{0.801, 0.701, 0.601, 0.5, 0.1}, got); diff != "" {
		t.Errorf("thresholds (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff([]int{0, 1, 2, 4, 8}, flagged); diff != "" {
		t.Errorf("flagged (-want +got)\n%s", diff)
	}
	if fr.Default == nil || fr.Default.Threshold != 0.5 || fr.Default.Report.Recall[0].Detected != 2 {
		t.Errorf("default %+v", fr.Default)
	}
	// Within 0.3/yr (no healthy drive) F1 (peak 0.9, 19 days ahead) is
	// caught; F2 (0.55, a day ahead) only from the default's 4 flagged.
	bs := fr.AtBudget([]float64{0.3, 0.46, 0.92, 2}, 1)
	want := []int{1, 1, 1, 2}
	for i, b := range bs {
		det := -1
		if b.Point != nil {
			det = b.Point.Report.Recall[1].Detected
		}
		if det != want[i] {
			t.Errorf("budget %v: %d detected at 1 day, want %d", b.Rate, det, want[i])
		}
	}
	// A rule: score > k.
	fr, err = Sweep("r", "", drives, traces, func(t float64) Policy { return Above{K: t} }, true, []float64{0},
		SweepOptions{Budgets: []float64{0.46}, Options: Options{Resamples: 10, Seed: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if len(fr.Points) != 2 || fr.Points[0].Threshold != 0.7 || fr.Points[0].Report.HealthyFlagged != 1 || fr.Default.Report.HealthyFlagged != 8 {
		t.Errorf("rule sweep %+v", fr.Points)
	}
}

func TestRoundBetween(t *testing.T) {
	for _, tc := range []struct{ lo, hi, want float64 }{
		{0.5, 0.6, 0.501}, {0.5, 0.55, 0.501}, {0.51, 0.6, 0.511}, {0.512, 0.513, 0.513}, {0.1, 0.9, 0.101}, {0.8, math.Inf(1), 0.801},
		{0.5, 0.5000001, 0.5000001},
	} {
		if got := roundBetween(tc.lo, tc.hi); got != tc.want {
			t.Errorf("roundBetween(%v, %v) = %v, want %v", tc.lo, tc.hi, got, tc.want)
		}
	}
}

// A level family's statistic is the largest counter; a growth family's
// the largest growth within its window, from the value in force at the
// window's start, or since first seen.
func TestFamilyStatistics(t *testing.T) {
	names := []string{"smart_5_raw", "smart_9_raw", "smart_197_raw"}
	nan := math.NaN()
	rows := [][]float64{
		{0, 100, 0},   // day 0
		{8, 124, 0},   // day 1
		{8, 148, nan}, // day 2: 197 missing
		{8, 172, 16},  // day 3
		{8, 196, 16},  // day 4 (day 5 missing)
		{8, 244, 8},   // day 6
		{nan, 268, nan},
	}
	days := []int{0, 1, 2, 3, 4, 6, 7}
	level, _ := FamilyByName("5or197")
	growth := Family{Columns: []string{"smart_5_raw", "smart_197_raw"}, GrowthDays: 3}
	ls, gs := level.Bind(names), growth.Bind(names)
	var gotLevel, gotGrowth []float64
	for i, r := range rows {
		gotLevel = append(gotLevel, ls.Score(0, day0+Day(days[i]), r))
		gotGrowth = append(gotGrowth, gs.Score(0, day0+Day(days[i]), r))
	}
	opt := cmp.Comparer(sameFloat)
	if diff := cmp.Diff([]float64{0, 8, 8, 16, 16, 8, nan}, gotLevel, opt); diff != "" {
		t.Errorf("level (-want +got)\n%s", diff)
	}
	// Growth within 3 days: day 1: 5 grew 8 since first seen; day 3: 197
	// 0 -> 16 (in force at day 0); day 4: 5 0@1? no: 8 in force at day 1,
	// 197 16 - 0 (day 1) = 16; day 6: 5 flat, 197 8 - 16 (day 3) = -8, 5
	// 0: the largest is 0; day 7: nothing present.
	if diff := cmp.Diff([]float64{0, 8, 8, 16, 16, 0, nan}, gotGrowth, opt); diff != "" {
		t.Errorf("growth (-want +got)\n%s", diff)
	}
	// A column the data lacks never alarms.
	if s := (Family{Columns: []string{"smart_187_raw"}}).Bind(names).Score(1, day0, rows[0]); !math.IsNaN(s) {
		t.Errorf("absent column scored %v", s)
	}
}

func sameFloat(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }

// Traces.For lines the traces up with the tracker's drives.
func TestTracesFor(t *testing.T) {
	tr := NewTracker()
	var ts Traces
	tr.Row(2, "B", "M", day0, false)
	ts.Add(2, day0, 0.5)
	tr.Row(0, "A", "M", day0, true)
	ts.Add(0, day0, 0.1)
	got := ts.For(tr)
	drives := tr.Drives()
	if len(got) != 2 || drives[0].Serial != "A" || got[0].Scores[0] != 0.1 || got[1].Scores[0] != 0.5 {
		t.Errorf("%+v for %+v", got, drives)
	}
}

// AtOnsetBudget picks, per ceiling of new onsets per 100 drive-years, the
// point of highest recall within it, whatever its flag rate; a ceiling
// below every point has none, and a point whose onsets are unknown (NaN)
// never counts.
func TestAtOnsetBudget(t *testing.T) {
	pt := func(onsets, recall float64) Point {
		return Point{Report: Report{NewOnsetPer100DriveYears: Fraction(onsets), Recall: []Recall{{Days: 7, Recall: Fraction(recall)}}}}
	}
	f := Frontier{Name: "f", Points: []Point{pt(0.4, 0.10), pt(0.9, 0.30), pt(0.8, 0.25), pt(1.5, 0.28), pt(math.NaN(), 0.9), pt(3, 0.5)}}
	got := f.AtOnsetBudget([]float64{0.2, 0.5, 1, 2}, 0)
	want := []float64{-1, 0.10, 0.30, 0.30}
	for i, b := range got {
		r := -1.0
		if b.Point != nil {
			r = float64(b.Point.Report.Recall[0].Recall)
		}
		if b.Onsets != []float64{0.2, 0.5, 1, 2}[i] || r != want[i] {
			t.Errorf("ceiling %v: recall %v, want %v", b.Onsets, r, want[i])
		}
	}
}
