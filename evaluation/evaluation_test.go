package evaluation

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// day0 is 2018-01-01.
var day0 = DayOf(time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC))

// handDrives is a tiny data set whose metrics are computed by hand below.
// Days are offsets from day0; the set spans days 0..99 (100 days).
func handDrives() []Drive {
	d := func(serial string, first, last int, failed bool, alarm []int, episodes int) Drive {
		dr := Drive{Serial: serial, Model: "M", FirstSeen: day0 + Day(first), LastSeen: day0 + Day(last), Rows: last - first + 1,
			Failed: failed, Episodes: episodes}
		if failed {
			dr.FailureDay = dr.LastSeen
		}
		if len(alarm) > 0 {
			dr.Alarmed, dr.FirstAlarm, dr.LastAlarm = true, day0+Day(alarm[0]), day0+Day(alarm[1])
		}
		return dr
	}
	return []Drive{
		d("F1", 0, 20, true, []int{10, 20}, 1),  // lead 10, history 20
		d("F2", 0, 5, true, []int{5, 5}, 1),     // alarmed on its failure day: lead 0, history 5
		d("F3", 0, 40, true, nil, 0),            // never alarmed, history 40
		d("F4", 10, 50, true, []int{10, 50}, 1), // alarmed at first sight: lead 40, history 40
		d("H1", 0, 99, false, []int{3, 70}, 2),
		d("H2", 0, 99, false, nil, 0),
		d("H3", 50, 99, false, []int{60, 60}, 1),
		d("H4", 0, 99, false, nil, 0),
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestEvaluateHandComputed(t *testing.T) {
	rep, err := Evaluate(handDrives(), Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Drives != 8 || rep.Failed != 4 || rep.Healthy != 4 || rep.SpanDays != 100 || rep.First != day0 || rep.Last != day0+99 {
		t.Errorf("counts %+v", rep)
	}
	// recall@N = failed drives first alarmed >= N days before failure,
	// among those with >= N days of history.
	want := []struct{ days, det, elig int }{
		{0, 3, 4},  // F1, F2 (on the day), F4
		{1, 2, 4},  // F2's lead is 0
		{7, 2, 3},  // F2 has 5 days of history: not eligible
		{14, 1, 3}, // only F4 (40)
		{30, 1, 2}, // F1 (20 days of history) drops out
	}
	for i, w := range want {
		r := rep.Recall[i]
		if r.Days != w.days || r.Detected != w.det || r.Eligible != w.elig || !near(float64(r.Recall), float64(w.det)/float64(w.elig)) {
			t.Errorf("recall@%d = %+v, want %d/%d", w.days, r, w.det, w.elig)
		}
		if lo, hi := float64(r.CI.Low), float64(r.CI.High); !(0 <= lo && lo <= hi && hi <= 1) {
			t.Errorf("recall@%d CI %v", w.days, r.CI)
		}
	}
	// Healthy: H1 and H3 flagged of 4: 50%; per year 0.5 * 365.25/100.
	if rep.HealthyFlagged != 2 || !near(float64(rep.HealthyFlaggedFraction), 0.5) || !near(float64(rep.HealthyFlagRate), 0.5*365.25/100) {
		t.Errorf("healthy flagged %d, %v, rate %v", rep.HealthyFlagged, rep.HealthyFlaggedFraction, rep.HealthyFlagRate)
	}
	// 350 healthy drive-days; 3 episodes.
	if !near(rep.HealthyDriveYears, 350/365.25) || !near(float64(rep.HealthyFlaggedPerDriveYear), 2/(350/365.25)) ||
		rep.NewOnsetEpisodes != 3 || !near(float64(rep.NewOnsetPer100DriveYears), 300/(350/365.25)) {
		t.Errorf("drive-years %v, per drive-year %v, episodes %d, per 100 %v", rep.HealthyDriveYears, rep.HealthyFlaggedPerDriveYear,
			rep.NewOnsetEpisodes, rep.NewOnsetPer100DriveYears)
	}
	// Leads 0, 10, 40 (type-7 quantiles).
	if lt := rep.LeadTime; rep.Detected != 3 || lt == nil || *lt != (LeadTime{N: 3, Min: 0, P10: 2, P25: 5, Median: 10, P75: 25, P90: 34, Max: 40}) {
		t.Errorf("lead time %+v", rep.LeadTime)
	}
	if lo, hi := float64(rep.HealthyFlagRateCI.Low), float64(rep.HealthyFlagRateCI.High); !(0 <= lo && lo <= hi && hi <= 365.25/100) {
		t.Errorf("flag rate CI %v", rep.HealthyFlagRateCI)
	}
	// New onsets: a resample of H2/H4 only has none; one of H1 only has 2
	// episodes per 100 days.
	if lo, hi, pt := float64(rep.NewOnsetCI.Low), float64(rep.NewOnsetCI.High), float64(rep.NewOnsetPer100DriveYears); !(0 <= lo && lo < pt && pt < hi && hi <= 200*365.25/100) {
		t.Errorf("new-onset CI %v around %v", rep.NewOnsetCI, pt)
	}
}

// When every healthy drive has the same episodes over the same time, each
// resample has the same new-onset rate: the interval is the point.
func TestNewOnsetCIOfIdenticalDrives(t *testing.T) {
	var ds []Drive
	for _, s := range []string{"H1", "H2", "H3"} {
		ds = append(ds, Drive{Serial: s, FirstSeen: day0, LastSeen: day0 + 364, Rows: 365, Alarmed: true, FirstAlarm: day0 + 5, LastAlarm: day0 + 5, Episodes: 1})
	}
	rep, err := Evaluate(ds, Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	want := 100 * 365.25 / 365
	if !near(float64(rep.NewOnsetPer100DriveYears), want) || !near(float64(rep.NewOnsetCI.Low), want) || !near(float64(rep.NewOnsetCI.High), want) {
		t.Errorf("new onset %v, CI %v, want %v", rep.NewOnsetPer100DriveYears, rep.NewOnsetCI, want)
	}
}

func TestBootstrapDeterministic(t *testing.T) {
	a, _ := Evaluate(handDrives(), Options{Seed: 7})
	b, _ := Evaluate(handDrives(), Options{Seed: 7})
	c, _ := Evaluate(handDrives(), Options{Seed: 8, Resamples: 50})
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	jc, _ := json.Marshal(c)
	if string(ja) != string(jb) {
		t.Error("same seed, different reports")
	}
	if string(ja) == string(jc) {
		t.Error("different seed and resamples, same report")
	}
	if a.Resamples != 1000 {
		t.Errorf("default resamples %d", a.Resamples)
	}
}

func TestEvaluateRejectsAlarmAfterFailure(t *testing.T) {
	ds := handDrives()
	ds[0].LastAlarm = ds[0].FailureDay + 1
	ds[0].LastSeen = ds[0].FailureDay + 1
	if _, err := Evaluate(ds, Options{}); err == nil || !strings.Contains(err.Error(), "after its failure day") {
		t.Errorf("err %v", err)
	}
}

func TestEmptyAndNaN(t *testing.T) {
	rep, err := Evaluate(nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Errorf("an empty report must marshal (NaN as null): %v", err)
	}
	if !math.IsNaN(float64(rep.Recall[0].Recall)) || rep.LeadTime != nil {
		t.Errorf("%+v", rep)
	}
}

func TestTracker(t *testing.T) {
	tr := NewTracker()
	// Drive 0: rule alarms on days 1, 2, 4, 5 (two episodes); failure=1
	// on its last three rows, like the 2019 Toshiba extract: the failure
	// day is its last row.
	alarms := []bool{false, true, true, false, true, true}
	for i, a := range alarms {
		tr.Row(0, "A", "M", day0+Day(i), i >= 3)
		tr.RuleDay(0, day0+Day(i), a)
	}
	// Drive 1: detector alarms by serial.
	tr.Row(1, "B", "M", day0, false)
	tr.Row(1, "B", "M", day0+1, false)
	if err := tr.Alarm("B", day0+1, true); err != nil {
		t.Fatal(err)
	}
	if err := tr.Alarm("nope", day0, true); err == nil {
		t.Error("alarm on an unknown drive")
	}
	ds := tr.Drives()
	a, b := ds[0], ds[1]
	if !a.Failed || a.FailureDay != day0+5 || a.FirstAlarm != day0+1 || a.LastAlarm != day0+5 || a.Episodes != 2 || a.Rows != 6 {
		t.Errorf("drive A %+v", a)
	}
	if b.Failed || b.FirstAlarm != day0+1 || b.Episodes != 1 || b.FirstSeen != day0 || b.LastSeen != day0+1 {
		t.Errorf("drive B %+v", b)
	}
}

func TestSplit(t *testing.T) {
	// FNV-1a 32 test vectors: "a" = 0xe40c292c (even), "b" = 0xe70c2de5 (odd).
	if Split("a") != "tune" || Split("b") != "validate" {
		t.Errorf("Split(a) = %s, Split(b) = %s", Split("a"), Split("b"))
	}
}

func TestRules(t *testing.T) {
	names := []string{"smart_5_raw", "smart_9_raw", "smart_187_raw", "smart_188_raw", "smart_197_raw"}
	bb, _ := RuleByName("backblaze")
	r5, _ := RuleByName("5or197")
	b1, b2 := bb.Bind(names), r5.Bind(names)
	nan := math.NaN()
	for _, tc := range []struct {
		vals     []float64
		bb, r597 bool
	}{
		{[]float64{0, 1000, 0, 0, 0}, false, false},
		{[]float64{0, 0, 0, 1, 0}, true, false}, // 188 only
		{[]float64{nan, 0, nan, nan, 2}, true, true},
		{[]float64{nan, nan, nan, nan, nan}, false, false},
	} {
		if b1.Alarm(tc.vals) != tc.bb || b2.Alarm(tc.vals) != tc.r597 {
			t.Errorf("%v: backblaze %v, 5or197 %v", tc.vals, b1.Alarm(tc.vals), b2.Alarm(tc.vals))
		}
	}
	if _, ok := RuleByName("detector"); ok {
		t.Error("detector is not a baseline rule")
	}
}

func TestByModel(t *testing.T) {
	ds := []Drive{{Serial: "1", Model: "Z"}, {Serial: "2", Model: "A"}, {Serial: "3", Model: "Z"}}
	models, groups := ByModel(ds)
	if strings.Join(models, ",") != "A,Z" || len(groups[0]) != 1 || len(groups[1]) != 2 || groups[1][1].Serial != "3" {
		t.Errorf("%v %v", models, groups)
	}
}
