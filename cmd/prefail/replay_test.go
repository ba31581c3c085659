package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/smart/backblaze"
)

const (
	bb2018Failed  = "../../testdata/backblaze/backblaze_2018_st4000dm000/failed_drives.csv.gz"
	bb2018Healthy = "../../testdata/backblaze/backblaze_2018_st4000dm000/healthy_drives_sample.csv.gz"
	bbToshiba10   = "../../testdata/backblaze/backblaze_2019_last_days/TOSHIBA_MQ01ABF050_last_10_day_all_q_raw.csv"
)

// csvLines returns the lines of a (gzipped) CSV file.
func csvLines(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// dropColumn removes the named column from every line.
func dropColumn(t testing.TB, lines []string, name string) []string {
	t.Helper()
	head := strings.Split(lines[0], ",")
	col := -1
	for i, h := range head {
		if h == name {
			col = i
		}
	}
	if col < 0 {
		t.Fatalf("no column %s", name)
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		f := strings.Split(l, ",")
		out[i] = strings.Join(append(f[:col:col], f[col+1:]...), ",")
	}
	return out
}

func writeLines(t testing.TB, dir, name string, lines []string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// firstDays keeps the header and the rows of the first n distinct dates
// (the 2018 files are sorted by date).
func firstDays(lines []string, dateCol, n int) []string {
	out := []string{lines[0]}
	seen := 0
	prev := ""
	for _, l := range lines[1:] {
		d := strings.Split(l, ",")[dateCol]
		if d != prev {
			seen++
			prev = d
		}
		if seen > n {
			break
		}
		out = append(out, l)
	}
	return out
}

// The failure column is never read: the replay of a file without it is
// byte-identical, and so is one where every label is flipped.
func TestReplayIgnoresFailureColumn(t *testing.T) {
	dir := t.TempDir()
	lines := firstDays(csvLines(t, bb2018Failed), 1, 150)
	flipped := make([]string, len(lines))
	for i, l := range lines {
		f := strings.Split(l, ",")
		if i > 0 {
			f[3] = map[string]string{"0": "1", "1": "0"}[f[3]]
		}
		flipped[i] = strings.Join(f, ",")
	}
	with := writeLines(t, dir, "with.csv", lines)
	without := writeLines(t, dir, "without.csv", dropColumn(t, lines, "failure"))
	flip := writeLines(t, dir, "flipped.csv", flipped)
	want, err := runApp(t, "", "replay", "--format", "backblaze", "--all-events", with)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(want, "\n") < 20 {
		t.Fatalf("only %d events: the test needs some", strings.Count(want, "\n"))
	}
	for _, f := range []string{without, flip} {
		got, err := runApp(t, "", "replay", "--format", "backblaze", "--all-events", f)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: replay differs from the file with the failure column", filepath.Base(f))
		}
	}
}

// Causality: replaying the first days gives exactly the events of those
// days in the full replay.
func TestReplayCausal(t *testing.T) {
	dir := t.TempDir()
	lines := firstDays(csvLines(t, bb2018Failed), 1, 150)
	full := writeLines(t, dir, "full.csv", lines)
	prefix := writeLines(t, dir, "prefix.csv", firstDays(lines, 1, 90))
	all, err := runApp(t, "", "replay", "--all-events", "--format", "backblaze", full)
	if err != nil {
		t.Fatal(err)
	}
	got, err := runApp(t, "", "replay", "--all-events", "--format", "backblaze", prefix)
	if err != nil {
		t.Fatal(err)
	}
	cut := time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 89)
	var want strings.Builder
	for _, l := range strings.SplitAfter(all, "\n") {
		var ev struct{ Time time.Time }
		if l == "" {
			continue
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatal(err)
		}
		if !ev.Time.After(cut) {
			want.WriteString(l)
		}
	}
	if want.Len() == 0 || got != want.String() || len(got) == len(all) {
		t.Errorf("prefix replay (%d bytes) is not the prefix of the full replay (%d of %d bytes)", len(got), want.Len(), len(all))
	}
}

// Sharding the detector by drive changes nothing.
func TestReplayShardsAgree(t *testing.T) {
	dir := t.TempDir()
	f := writeLines(t, dir, "failed.csv", firstDays(csvLines(t, bb2018Failed), 1, 120))
	one, err := runApp(t, "", "replay", "--workers", "1", "--all-events", f, bbToshiba10, "--sort")
	if err != nil {
		t.Fatal(err)
	}
	three, err := runApp(t, "", "replay", "--workers", "3", "--all-events", f, bbToshiba10, "--sort")
	if err != nil {
		t.Fatal(err)
	}
	if one != three || one == "" {
		t.Errorf("1 and 3 workers differ (%d and %d bytes)", len(one), len(three))
	}
}

func TestReplayOutput(t *testing.T) {
	out, err := runApp(t, "", "replay", "--format", "backblaze", bbToshiba10, "--sort")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) == 0 {
		t.Fatal("no events")
	}
	for _, l := range lines {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"time", "type", "component", "severity", "state", "risk", "reasons"} {
			if _, ok := ev[k]; !ok {
				t.Fatalf("event lacks %s: %s", k, l)
			}
		}
		c := ev["component"].(map[string]any)
		if c["kind"] != "drive" || c["id"] == "" || c["id"] != c["serial"] || c["model"] != "TOSHIBA MQ01ABF050" {
			t.Fatalf("component %v", c)
		}
		if s := ev["severity"]; s != "warning" && s != "critical" {
			t.Fatalf("severity %v in %s", s, l)
		}
		if ty := ev["type"]; ty != "raised" && ty != "escalated" {
			t.Fatalf("type %v without --all-events", ty)
		}
		if tm, err := time.Parse(time.RFC3339, ev["time"].(string)); err != nil || tm.Hour() != 0 || tm.Year() != 2019 {
			t.Fatalf("time %v: %v", ev["time"], err)
		}
	}
}

func TestReplayErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writeLines(t, dir, "bad.csv", []string{"date,serial_number,smart_5_raw", "2018-01-02,A,1", "2018-01-01,B,2"})
	badNum := writeLines(t, dir, "badnum.csv", []string{"date,serial_number,smart_5_raw", "2018-01-02,A,x"})
	badCfg := writeLines(t, dir, "cfg.json", []string{`{"watch": 3}`})
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"replay", bad}, 1, "bad.csv:3: column date: 2018-01-01 is before 2018-01-02"},
		{[]string{"replay", badNum}, 1, `badnum.csv:2: column smart_5_raw: "x"`},
		{[]string{"replay", filepath.Join(dir, "missing.csv")}, 1, "missing.csv"},
		{[]string{"replay", "--config", badCfg, bad}, 1, "cfg.json: detector config"},
		{[]string{"replay", "--format", "smartctl", bad}, 2, `--format "smartctl"`},
		{[]string{"replay"}, 2, "give at least one FILE"},
		{[]string{"eval", "--rule", "magic", bad}, 2, `--rule "magic"`},
		{[]string{"eval", "--split", "half", bad}, 2, `--split "half"`},
		{[]string{"eval", "--rule", "backblaze", "--config", badCfg, bad}, 2, "--config applies to --rule detector only"},
		{[]string{"eval", bad}, 1, "bad.csv:3: column date"},
	} {
		_, err := runApp(t, "", tc.args...)
		if err == nil || exitCode(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v (exit %d), want exit %d and %q", tc.args, err, exitCode(err), tc.code, tc.want)
		}
	}
}

// BenchmarkReplay2018 replays the open 2018 ST4000DM000 set (747,025
// rows, two gzipped files) through the detector with the default config.
func BenchmarkReplay2018(b *testing.B) {
	cfg := detector.DefaultConfig()
	files := []string{bb2018Failed, bb2018Healthy}
	var rows int
	b.ReportAllocs()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	for b.Loop() {
		st, err := replayBackblaze(context.Background(), replayOptions{files: files, cfg: &cfg},
			func(time.Time, []backblaze.Row, []detector.Event) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
		rows = st.Rows
	}
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(b.N)/1e6, "MB-alloc/op")
}

// BenchmarkRead2018 is the reading side alone (gunzip and parse).
func BenchmarkRead2018(b *testing.B) {
	files := []string{bb2018Failed, bb2018Healthy}
	var rows int
	for b.Loop() {
		st, err := replayBackblaze(context.Background(), replayOptions{files: files},
			func(time.Time, []backblaze.Row, []detector.Event) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
		rows = st.Rows
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
