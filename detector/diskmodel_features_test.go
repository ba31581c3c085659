package detector

import (
	"maps"
	"math"
	"slices"
	"testing"
	"time"
)

// featureDay is a hand-made drive's readings on day n of 40: pending
// sectors grow 8 a day from day 34 (0 -> 48 by day 39), power-on hours
// 24 a day from 20,000, 1e9 LBAs written a day, the temperature
// alternates 30/36 °C, reallocated sectors are an old scar of 8.
func featureDay(n int) map[string]float64 {
	pending := 0.0
	if n >= 34 {
		pending = float64(8 * (n - 33))
	}
	temp := 30.0
	if n%2 == 1 {
		temp = 36
	}
	return map[string]float64{
		"smart_5_raw": 8, "smart_187_raw": 0, "smart_188_raw": 0, "smart_197_raw": pending, "smart_198_raw": pending,
		"smart_9_raw": 20000 + 24*float64(n), "smart_241_raw": 1e9 * float64(n), "smart_242_raw": 2e9 * float64(n),
		"smart_193_raw": 100 + 3*float64(n), "smart_194_raw": temp,
	}
}

func dayTime(n int) time.Time { return t0.Add(time.Duration(n) * 24 * time.Hour) }

func historyOf(t *testing.T, days int, day func(int) map[string]float64) *DriveHistory {
	t.Helper()
	h := NewDriveHistory(DefaultConfig())
	for n := range days {
		r := day(n)
		for _, k := range slices.Sorted(maps.Keys(r)) {
			h.Add(dayTime(n), k, r[k])
		}
	}
	return h
}

func featuresAt(t *testing.T, h *DriveHistory, n int) map[string]float64 {
	t.Helper()
	names := DiskFeatureNames()
	out := make([]float64, len(names))
	if err := h.Features(dayTime(n), out); err != nil {
		t.Fatal(err)
	}
	m := map[string]float64{}
	for i, n := range names {
		m[n] = out[i]
	}
	return m
}

// Each kind of feature, computed by hand.
func TestDiskFeaturesByHand(t *testing.T) {
	f := featuresAt(t, historyOf(t, 40, featureDay), 39)
	want := map[string]float64{
		"smart_197_raw.level":                    math.Log1p(48),
		"smart_197_raw.growth_1d":                math.Log1p(8),
		"smart_197_raw.growth_7d":                math.Log1p(48),
		"smart_197_raw.growth_30d":               math.Log1p(48),
		"smart_197_raw.grown":                    1,
		"smart_197_raw.first_growth_recency_30d": math.Exp(-5.0 / 30),
		"smart_197_raw.change_days_30d":          math.Log1p(6),
		"smart_197_raw.last_change_recency_7d":   1,
		"smart_197_raw.drop_30d":                 0,
		"smart_5_raw.level":                      math.Log1p(8),
		"smart_5_raw.growth_30d":                 0, // a scar from the first day
		"smart_5_raw.grown":                      0,
		"smart_5_raw.first_growth_recency_30d":   0,
		"smart_5_raw.change_days_30d":            0,
		"smart_5_raw.last_change_recency_7d":     0,
		"media.level":                            math.Log1p(8 + 48 + 48),
		"media.growth_7d":                        math.Log1p(96),
		"media.change_days_7d":                   math.Log1p(12),
		"smart_5_raw.per_1000_power_on_hours":    math.Log1p(8 / ((20000 + 24*39) / 1000.0)),
		"smart_9_raw.age_years":                  (20000 + 24*39) / 8766.0,
		"smart_9_raw.hours_per_day_7d":           math.Log1p(24),
		"smart_193_raw.per_day_30d":              math.Log1p(3),
		"smart_241_raw.tb_per_day_7d":            math.Log1p(1e9 * lbaTB),
		"smart_242_raw.tb_per_day_30d":           math.Log1p(2e9 * lbaTB),
		"media.growth_30d_per_tb":                math.Log1p(96 / (30 * 3e9 * lbaTB)),
		"media.growth_30d_per_1000_load_cycles":  math.Log1p(96 / (30 * 3 / 1000.0)),
		"smart_194_raw.celsius":                  36,
		"smart_194_raw.swing_7d":                 6,
	}
	for name, w := range want {
		got, ok := f[name]
		if !ok {
			t.Errorf("no feature %s", name)
			continue
		}
		if math.Abs(got-w) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, got, w)
		}
	}
	// A reading the drive never had is missing, not zero.
	if v := f["smart_184_raw.level"]; !math.IsNaN(v) {
		t.Errorf("smart_184_raw.level = %v for a drive without it, want NaN", v)
	}
	// Pending sectors that fall back count as a drop.
	h := historyOf(t, 42, func(n int) map[string]float64 {
		r := featureDay(min(n, 39))
		if n > 39 {
			r["smart_197_raw"] = 16
		}
		r["smart_9_raw"] = 20000 + 24*float64(n)
		return r
	})
	if got := featuresAt(t, h, 41)["smart_197_raw.drop_30d"]; math.Abs(got-math.Log1p(32)) > 1e-9 {
		t.Errorf("drop_30d = %v, want log1p(32)", got)
	}
}

// A day's features read nothing after it: a history fed the days up to
// day 30 and one fed the whole 40 days with different values after day
// 30 give the same features on day 30, whatever those values are; and
// they do differ later (the test would see a leak).
func TestDiskFeaturesCausal(t *testing.T) {
	short := historyOf(t, 31, featureDay)
	perturbed := NewDriveHistory(DefaultConfig())
	names := DiskFeatureNames()
	var atDay30 []float64
	for n := range 40 {
		r := featureDay(n)
		if n > 30 {
			for k := range r {
				r[k] = r[k]*3 + 1000
			}
		}
		for _, k := range slices.Sorted(maps.Keys(r)) {
			perturbed.Add(dayTime(n), k, r[k])
		}
		if n == 30 {
			atDay30 = make([]float64, len(names))
			if err := perturbed.Features(dayTime(30), atDay30); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := make([]float64, len(names))
	if err := short.Features(dayTime(30), want); err != nil {
		t.Fatal(err)
	}
	for i := range names {
		if !sameFloat(want[i], atDay30[i]) {
			t.Errorf("%s on day 30: %v with the future perturbed, %v without it", names[i], atDay30[i], want[i])
		}
	}
	later := make([]float64, len(names))
	if err := perturbed.Features(dayTime(39), later); err != nil {
		t.Fatal(err)
	}
	if slices.EqualFunc(later, want, sameFloat) {
		t.Error("the perturbed days changed nothing: the test checks nothing")
	}
}

func sameFloat(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }

// modelDetector returns a detector that keeps the model's readings, as
// New does once the model's readings are wired in (see diskModelReadings).
func modelDetector(t testing.TB, cfg Config) *Detector {
	t.Helper()
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range diskModelReadings(&cfg.Disk) {
		d.driveReadings[r] = true
	}
	return d
}

// The detector's own series and a DriveHistory fed the same snapshots
// give the same features, day after day: what the trainer and the
// evaluation compute is what the detector's model reads.
func TestDriveHistoryMatchesDetector(t *testing.T) {
	cfg := modelOn()
	d := modelDetector(t, cfg)
	m := cfg.Disk.Model.Model()
	h := NewDriveHistory(cfg)
	readings := m.Readings()
	if len(readings) == 0 {
		t.Fatal("the model reads nothing")
	}
	defs := m.defs
	scored := 0
	for n := range 60 {
		r := featureDay(min(n, 39))
		if n >= 40 {
			r["smart_197_raw"], r["smart_5_raw"] = 16, float64(8+n)
		}
		r["smart_9_raw"] = 20000 + 24*float64(n)
		d.Observe(driveSnap(n, "P1", r))
		for _, k := range slices.Sorted(maps.Keys(r)) {
			h.Add(dayTime(n), k, r[k])
		}
		c := comp(t, d, "P1")
		now := dayTime(n).Unix()
		for _, def := range defs {
			got := newFeatureContext(c.Series, now).feature(def, c.Series[def.Reading])
			want := newFeatureContext(h.series, now).feature(def, h.series[def.Reading])
			if !sameFloat(got, want) {
				t.Fatalf("day %d, %s: detector %v, history %v", n, def.Name, got, want)
			}
		}
		if d.cleanDrive(c) != cleanMedia(h.series) {
			t.Fatalf("day %d: the detector and the history disagree on a clean drive", n)
		}
		got, want := h.ModelScore(m, 1, dayTime(n)), detectorModelScore(d, c, dayTime(n))
		if got != want {
			t.Fatalf("day %d: history scores %v, detector %v", n, got, want)
		}
		if got > 0 {
			scored++
		}
	}
	if scored == 0 {
		t.Error("the model never scored the drive: the comparison of scores checks nothing")
	}
}

// detectorModelScore is the model reason's score the detector gives c at
// now (0: none).
func detectorModelScore(d *Detector, c *component, now time.Time) float64 {
	for _, r := range modelReasons(d, c, now) {
		if r.Signal == "disk_model" {
			return r.Score
		}
	}
	return 0
}

// modelReasons evaluates a drive with the model: evalDisk, plus the
// model's reason when evalDisk does not call diskModel itself yet.
func modelReasons(d *Detector, c *component, now time.Time) []Reason {
	ev := d.evalDisk(c, now)
	if !slices.ContainsFunc(ev.reasons, func(r Reason) bool { return r.Signal == "disk_model" }) {
		d.diskModel(c, now.Unix(), &ev)
	}
	return ev.reasons
}
