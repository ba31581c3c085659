package main

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/evaluation"
	"github.com/prefail/prefail/smart/backblaze"
)

// The two baselines on the open 2018 ST4000DM000 set reproduce the
// figures the issue quotes: Backblaze's rule recall@7d 47.4% with 11.6% of
// healthy drives flagged per year, 5-or-197 38.8% at 2.8%. One pass over
// the files scores both rules.
func TestEvalBaselinesReproducePublished(t *testing.T) {
	names := []string{"backblaze", "5or197"}
	trackers := make([]*evaluation.Tracker, len(names))
	bound := make([]evaluation.BoundRule, len(names))
	for i := range names {
		trackers[i] = evaluation.NewTracker()
	}
	_, err := replayBackblaze(context.Background(), replayOptions{sources: gunzipped(t, bb2018Failed, bb2018Healthy), labels: true,
		columns: func(cols []backblaze.Column) {
			var cn []string
			for _, c := range cols {
				cn = append(cn, c.Name)
			}
			for i, n := range names {
				r, _ := evaluation.RuleByName(n)
				bound[i] = r.Bind(cn)
			}
		}},
		func(day time.Time, rows []backblaze.Row, _ []detector.Event) error {
			d := evaluation.DayOf(day)
			for i := range rows {
				row := &rows[i]
				for k, tr := range trackers {
					tr.Row(row.Drive, row.Serial, row.Model, d, row.Failure)
					tr.RuleDay(row.Drive, d, bound[k].Alarm(row.Values))
				}
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		recall7, rate float64 // published, percent
		det, elig     int     // this implementation's exact counts
		flagged       int
	}{
		{47.4, 11.6, 99, 209, 254},
		{38.8, 2.8, 81, 209, 61},
	} {
		rep, err := evaluation.Evaluate(trackers[i].Drives(), evaluation.Options{Seed: evaluation.DefaultSeed})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Failed != 221 || rep.Healthy != 2941 || rep.SpanDays != 273 {
			t.Errorf("%s: %d failed, %d healthy, %d days; want 221, 2941, 273", names[i], rep.Failed, rep.Healthy, rep.SpanDays)
		}
		r7 := rep.Recall[2]
		if r7.Days != 7 || math.Abs(100*float64(r7.Recall)-tc.recall7) > 1 || r7.Detected != tc.det || r7.Eligible != tc.elig {
			t.Errorf("%s: recall@7d %d/%d = %.1f%%, published %.1f%%", names[i], r7.Detected, r7.Eligible, 100*float64(r7.Recall), tc.recall7)
		}
		if math.Abs(100*float64(rep.HealthyFlagRate)-tc.rate) > 1 || rep.HealthyFlagged != tc.flagged {
			t.Errorf("%s: %d healthy flagged, %.1f%% per year, published %.1f%%", names[i], rep.HealthyFlagged, 100*float64(rep.HealthyFlagRate), tc.rate)
		}
		if lo, hi := float64(r7.CI.Low), float64(r7.CI.High); !(lo < float64(r7.Recall) && float64(r7.Recall) < hi) {
			t.Errorf("%s: recall@7d CI %v", names[i], r7.CI)
		}
	}
}

// gunzipped returns the files as sources. Under the race detector, whose
// instrumented compress/flate takes 8 s for the 2018 set, the system's
// gzip (when there is one) decompresses them instead.
func gunzipped(t *testing.T, files ...string) []backblaze.Source {
	t.Helper()
	var srcs []backblaze.Source
	gz, err := exec.LookPath("gzip")
	for _, f := range files {
		if !raceEnabled || err != nil {
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { fh.Close() })
			srcs = append(srcs, backblaze.Source{Name: f, R: fh})
			continue
		}
		cmd := exec.Command(gz, "-dc", f)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { out.Close(); cmd.Wait() })
		srcs = append(srcs, backblaze.Source{Name: f, R: out})
	}
	return srcs
}

// A hand-made set through the whole command: three drives over 10 days.
//
//	A fails on day 10 (its last row); raw 5 > 0 from day 3: lead 7.
//	B fails on day 6; raw 197 > 0 only on day 6: lead 0.
//	C healthy, raw 197 > 0 on days 2 and 5..6: two episodes, flagged.
//	D healthy, days 1..10, never alarms; its failure column is empty.
func TestEvalHandMadeCSV(t *testing.T) {
	var lines = []string{"date,serial_number,model,failure,smart_5_raw,smart_197_raw"}
	row := func(day int, serial, failure, r5, r197 string) {
		lines = append(lines, time.Date(2018, 1, day, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)+","+serial+",M,"+failure+","+r5+","+r197)
	}
	for d := 1; d <= 10; d++ {
		r5 := "0"
		if d >= 3 {
			r5 = "4"
		}
		row(d, "A", map[bool]string{true: "1", false: "0"}[d == 10], r5, "0")
		if d <= 6 {
			row(d, "B", map[bool]string{true: "1", false: "0"}[d == 6], "", map[bool]string{true: "2", false: "0"}[d == 6])
		}
		c197 := "0"
		if d == 2 || d == 5 || d == 6 {
			c197 = "1"
		}
		row(d, "C", "0", "0", c197)
		row(d, "D", "", "0", "0")
	}
	f := writeLines(t, t.TempDir(), "hand.csv", lines)
	out, err := runApp(t, "", "eval", "--rule", "5or197", "--json", f)
	if err != nil {
		t.Fatal(err)
	}
	var res evalOutput
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	r := res.Overall
	if r.Failed != 2 || r.Healthy != 2 || r.SpanDays != 10 {
		t.Fatalf("%+v", r)
	}
	// recall@0: A, B; @1: A (B has lead 0); @7: A (lead 7; B has 5 days
	// of history: not eligible); @14: none eligible.
	want := map[int][2]int{0: {2, 2}, 1: {1, 2}, 7: {1, 1}, 14: {0, 0}, 30: {0, 0}}
	for _, rc := range r.Recall {
		if w := want[rc.Days]; rc.Detected != w[0] || rc.Eligible != w[1] {
			t.Errorf("recall@%d %d/%d, want %d/%d", rc.Days, rc.Detected, rc.Eligible, w[0], w[1])
		}
	}
	// 1 of 2 healthy flagged over 10 days: 50% * 365.25/10 per year; two
	// episodes over 20 healthy drive-days.
	if r.HealthyFlagged != 1 || math.Abs(float64(r.HealthyFlagRate)-0.5*36.525) > 1e-6 || r.NewOnsetEpisodes != 2 ||
		math.Abs(float64(r.NewOnsetPer100DriveYears)-200*365.25/20) > 1e-3 {
		t.Errorf("healthy: %+v", r)
	}
	if lt := r.LeadTime; lt == nil || lt.N != 2 || lt.Min != 0 || lt.Max != 7 || lt.Median != 3.5 {
		t.Errorf("lead time %+v", r.LeadTime)
	}
	// The table says the same.
	table, err := runApp(t, "", "eval", "--rule", "5or197", f)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"4 drives (2 failed, 2 healthy)", "healthy drives flagged: 1 of 2 (50.0%), 1826.2% per year", "median 3.5"} {
		if !strings.Contains(table, s) {
			t.Errorf("table lacks %q:\n%s", s, table)
		}
	}
}

// The tune and validate halves partition the drives.
func TestEvalSplits(t *testing.T) {
	count := func(split string) evaluation.Report {
		out, err := runApp(t, "", "eval", "--rule", "backblaze", "--json", "--resamples", "10", "--split", split, bb2018Failed)
		if err != nil {
			t.Fatal(err)
		}
		var res evalOutput
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatal(err)
		}
		return res.Overall
	}
	all, tune, val := count("all"), count("tune"), count("validate")
	if all.Failed != 221 || tune.Failed+val.Failed != all.Failed || tune.Failed < 80 || val.Failed < 80 ||
		tune.Recall[0].Detected+val.Recall[0].Detected != all.Recall[0].Detected {
		t.Errorf("all %d failed (%d detected), tune %d (%d), validate %d (%d)", all.Failed, all.Recall[0].Detected,
			tune.Failed, tune.Recall[0].Detected, val.Failed, val.Recall[0].Detected)
	}
}

// The detector path, several files of other models, per model.
func TestEvalDetectorByModel(t *testing.T) {
	dir := t.TempDir()
	failed := writeLines(t, dir, "failed.csv", firstDays(csvLines(t, bb2018Failed), 1, 60))
	out, err := runApp(t, "", "eval", "--json", "--by-model", "--sort", "--resamples", "20", failed, bbToshiba10)
	if err != nil {
		t.Fatal(err)
	}
	var res evalOutput
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.ByModel) != 2 || res.ByModel[0].Model != "ST4000DM000" || res.ByModel[1].Model != "TOSHIBA MQ01ABF050" ||
		res.ByModel[0].Drives+res.ByModel[1].Drives != res.Overall.Drives || res.ByModel[1].Failed == 0 || res.Rule != "detector" {
		t.Errorf("%+v", res)
	}
}
