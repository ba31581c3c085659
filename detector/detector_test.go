package detector

import (
	"strings"
	"testing"
	"time"

	"github.com/prefail/prefail/model"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// drive builds a one-drive snapshot on day n with the given raw counters.
func driveSnap(day int, serial string, readings map[string]float64) *model.Snapshot {
	c := model.Component{Kind: model.KindDrive, ID: serial, Health: model.HealthOK,
		Inventory: model.Inventory{SerialNumber: serial, Model: "ST4000DM000"}}
	for k, v := range readings {
		c.Readings = append(c.Readings, model.Reading{Name: k, Value: model.Float(v)})
	}
	return &model.Snapshot{Target: "t", Time: t0.Add(time.Duration(day) * 24 * time.Hour), Components: []model.Component{c}}
}

func mustNew(t *testing.T) *Detector {
	t.Helper()
	d, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// A drive whose pending sectors grow raises one warning (not one per day),
// with the reason naming the signal, its baseline and the growth; once the
// counter stops growing for long enough, the episode clears once. A single
// 4 KiB sector (8 pending) is only a watch: healthy drives show that and
// recover; 16 within the window raises.
func TestDiskGrowthEpisode(t *testing.T) {
	d := mustNew(t)
	var events []Event
	pending := []float64{0, 0, 0, 0, 0, 8, 16, 24, 40, 48, 48, 48}
	for day, p := range pending {
		events = append(events, d.Observe(driveSnap(day, "Z1", map[string]float64{"smart_197_raw": p, "smart_5_raw": 0}))...)
	}
	if len(events) != 1 || events[0].Type != EventRaised || events[0].Time != t0.Add(6*24*time.Hour) {
		t.Fatalf("events %+v, want one raised on day 6", events)
	}
	e := events[0]
	if e.Severity != model.SeverityWarning && e.Severity != model.SeverityCritical {
		t.Errorf("severity %s", e.Severity)
	}
	if len(e.Reasons) == 0 || e.Reasons[0].Signal != "smart_197_raw" || e.Reasons[0].Text != "pending sectors 0 -> 16 in 6 days" {
		t.Errorf("reasons %+v", e.Reasons)
	}
	if e.Component.Serial != "Z1" || e.Component.Model != "ST4000DM000" || e.Component.Kind != model.KindDrive {
		t.Errorf("component %+v", e.Component)
	}
	// Flat for the growth window plus ClearAfter: one clear event.
	var later []Event
	for day := len(pending); day < len(pending)+90; day++ {
		later = append(later, d.Observe(driveSnap(day, "Z1", map[string]float64{"smart_197_raw": 48, "smart_5_raw": 0}))...)
	}
	cleared := 0
	for _, e := range later {
		if e.Type == EventCleared {
			cleared++
		} else {
			t.Errorf("unexpected %s event on %s", e.Type, e.Time.Format(time.DateOnly))
		}
	}
	if cleared != 1 {
		t.Errorf("%d clear events, want 1 (%+v)", cleared, later)
	}
}

// A counter that is non-zero from the start and never grows (an old scar)
// raises nothing: this is what the "> 0" rules get wrong.
func TestDiskOldScarIsQuiet(t *testing.T) {
	d := mustNew(t)
	for day := 0; day < 120; day++ {
		if ev := d.Observe(driveSnap(day, "S", map[string]float64{"smart_5_raw": 8, "smart_188_raw": 1})); len(ev) != 0 {
			t.Fatalf("day %d: %+v", day, ev)
		}
	}
	a := d.Assessments()
	if len(a) != 1 || a[0].State.Level() >= StateDegrading.Level() {
		t.Errorf("assessment %+v", a)
	}
}

// Interface CRC errors (SMART 199) that burst raise a warning naming the
// link, not the media; a few old ones that never grow raise nothing.
func TestDiskInterfaceCRCErrors(t *testing.T) {
	d := mustNew(t)
	var events []Event
	for day, crc := range []float64{0, 0, 0, 0, 40, 120, 200, 200} {
		events = append(events, d.Observe(driveSnap(day, "C1", map[string]float64{"smart_199_raw": crc, "smart_5_raw": 0}))...)
		events = append(events, d.Observe(driveSnap(day, "C2", map[string]float64{"smart_199_raw": 5, "smart_5_raw": 0}))...)
	}
	if len(events) != 1 || events[0].Component.ID != "C1" || events[0].Type != EventRaised {
		t.Fatalf("events %+v, want one raised for C1", events)
	}
	if r := events[0].Reasons; len(r) == 0 || r[0].Signal != "smart_199_raw" || !strings.Contains(r[0].Text, "interface CRC errors (cable or backplane, not the media) 0 -> ") {
		t.Errorf("reasons %+v", r)
	}
}

// The drive's own alarm (SMART failed) is critical at once.
func TestDiskPredictedFailure(t *testing.T) {
	d := mustNew(t)
	s := driveSnap(0, "F", map[string]float64{"smart_5_raw": 0})
	s.Components[0].FailurePredicted = new(bool)
	*s.Components[0].FailurePredicted = true
	ev := d.Observe(s)
	if len(ev) != 1 || ev[0].Severity != model.SeverityCritical || ev[0].State != StateFailing {
		t.Fatalf("events %+v", ev)
	}
}

// NVMe wear: percentage used climbing toward 100 gets a forecast of the
// crossing with an uncertainty band around it.
func TestDiskWearForecast(t *testing.T) {
	d := mustNew(t)
	for day := 0; day < 30; day++ {
		d.Observe(driveSnap(day, "N", map[string]float64{"percentage_used": 70 + float64(day)}))
	}
	a := d.Assessments()[0]
	if a.Forecast == nil || a.Forecast.Signal != "percentage_used" {
		t.Fatalf("no forecast: %+v", a)
	}
	// 99 on day 29, +1/day: 100 on about day 30.
	want := t0.Add(30 * 24 * time.Hour)
	if d := a.Forecast.At.Sub(want); d < -36*time.Hour || d > 36*time.Hour {
		t.Errorf("forecast %s, want about %s", a.Forecast.At, want)
	}
	if a.Forecast.Earliest.After(a.Forecast.At) || (!a.Forecast.Latest.IsZero() && a.Forecast.Latest.Before(a.Forecast.At)) {
		t.Errorf("band %s .. %s around %s", a.Forecast.Earliest, a.Forecast.Latest, a.Forecast.At)
	}
}

// A sparse drive series keeps a slot only at a change: wear that rose 5
// points in 5 days, then held for 25, is fitted over its days, not its
// six change points.
func TestDiskWearForecastSparse(t *testing.T) {
	d := mustNew(t)
	for day := 0; day < 30; day++ {
		d.Observe(driveSnap(day, "N", map[string]float64{"percentage_used": 90 + float64(min(day, 5))}))
	}
	// Over the days the line rises about a fifth of a point a day from
	// 95: 100 some 60-90 days out. Over the change points alone it is
	// already past 100 today, and no forecast is given at all.
	a := d.Assessments()[0]
	if fc := a.Forecast; fc == nil || fc.At.Before(t0.Add(60*24*time.Hour)) || fc.At.After(t0.Add(120*24*time.Hour)) {
		t.Errorf("forecast %+v, want 100 between day 60 and day 120", fc)
	}
}

// Saving and restoring the state mid-stream changes nothing: the restored
// detector emits exactly the events the uninterrupted one does.
func TestStateRoundTrip(t *testing.T) {
	seq := func(day int) *model.Snapshot {
		p := 0.0
		if day > 20 {
			p = float64(day-20) * 4
		}
		return driveSnap(day, "R", map[string]float64{"smart_197_raw": p, "smart_5_raw": float64(day / 30)})
	}
	a := mustNew(t)
	var want []Event
	for day := 0; day < 40; day++ {
		want = append(want, a.Observe(seq(day))...)
	}
	b := mustNew(t)
	var got []Event
	for day := 0; day < 40; day++ {
		if day == 18 || day == 25 {
			st, err := b.State()
			if err != nil {
				t.Fatal(err)
			}
			if b, err = Restore(DefaultConfig(), st); err != nil {
				t.Fatal(err)
			}
		}
		got = append(got, b.Observe(seq(day))...)
	}
	if len(want) == 0 || len(got) != len(want) {
		t.Fatalf("%d events after restore, %d without", len(got), len(want))
	}
	for i := range want {
		if got[i].Time != want[i].Time || got[i].Type != want[i].Type || got[i].State != want[i].State {
			t.Errorf("event %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if _, err := Restore(DefaultConfig(), []byte(`{"version": 99}`)); err == nil {
		t.Error("a state of another version restored")
	}
}

// An older snapshot than the last one seen is ignored for that component.
func TestOutOfOrderIgnored(t *testing.T) {
	d := mustNew(t)
	d.Observe(driveSnap(5, "O", map[string]float64{"smart_197_raw": 0}))
	if ev := d.Observe(driveSnap(2, "O", map[string]float64{"smart_197_raw": 500})); len(ev) != 0 {
		t.Errorf("an old snapshot raised %+v", ev)
	}
}

func TestConfigValidation(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Degrading = 0.1
	if _, err := New(cfg); err == nil {
		t.Error("degrading below watch accepted")
	}
	if _, err := LoadConfig(stringsReader(`{"disk": {"window": "10d"}, "failing": 0.9}`)); err != nil {
		t.Errorf("a partial config: %v", err)
	}
	if _, err := LoadConfig(stringsReader(`{"no_such_field": 1}`)); err == nil {
		t.Error("an unknown field accepted")
	}
	// A kind's fields are read over its defaults, and its own level is
	// checked against the global ones.
	cfg, err := LoadConfig(stringsReader(`{"kinds": {"drive": {"degrading": 0.6}, "fan": {"confirm": 4}}}`))
	if err != nil {
		t.Fatal(err)
	}
	def := DefaultConfig()
	wantDrive, wantFan := def.Kinds[model.KindDrive], def.Kinds[model.KindFan]
	wantDrive.Degrading, wantFan.Confirm = 0.6, 4
	if cfg.Kinds[model.KindDrive] != wantDrive || cfg.Kinds[model.KindFan] != wantFan || cfg.DegradingFor(model.KindDrive) != 0.6 || cfg.DegradingFor(model.KindPSU) != def.Degrading {
		t.Errorf("kinds %+v", cfg.Kinds)
	}
	if _, err := LoadConfig(stringsReader(`{"kinds": {"drive": {"degrading": 0.9}}}`)); err == nil || !strings.Contains(err.Error(), `kind "drive": degrading 0.9`) {
		t.Errorf("a drive level above failing: %v", err)
	}
	if _, err := LoadConfig(stringsReader(`{"kinds": {"drive": {"no_such_field": 1}}}`)); err == nil {
		t.Error("an unknown kind field accepted")
	}
	if _, err := LoadConfig(stringsReader(`{"disk": {"normalized_horizon": "0d"}}`)); err == nil || !strings.Contains(err.Error(), "normalized_horizon") {
		t.Errorf("a zero forecast horizon: %v", err)
	}
}

// A drive as the Redfish reader maps it (FailurePredicted, media life left)
// is scored by the same disk signals as a SMART drive.
func TestRedfishDrive(t *testing.T) {
	d := mustNew(t)
	snap := func(day int, life float64, predicted bool) *model.Snapshot {
		c := model.Component{Kind: model.KindDrive, ID: "/redfish/v1/Systems/1/Storage/1/Drives/0", Health: model.HealthOK,
			FailurePredicted: &predicted, Inventory: model.Inventory{SerialNumber: "SSD-1", MediaType: "SSD", Protocol: "NVMe"},
			Readings: []model.Reading{{Name: "media_life_left", Value: model.Float(life), Unit: "%"}}}
		return &model.Snapshot{Target: "https://bmc1", Time: t0.Add(time.Duration(day) * 24 * time.Hour), Components: []model.Component{c}}
	}
	var ev []Event
	for day := 0; day < 20; day++ {
		ev = append(ev, d.Observe(snap(day, 30-float64(day)*1.5, false))...)
	}
	if len(ev) != 1 || ev[0].State != StateDegrading || ev[0].Reasons[0].Signal != "media_life_left" {
		t.Fatalf("events %+v", ev)
	}
	if ev[0].Forecast == nil || ev[0].Forecast.Signal != "media_life_left" {
		t.Errorf("no forecast of media life running out: %+v", ev[0])
	}
	ev = d.Observe(snap(20, 1, true))
	if len(ev) != 1 || ev[0].Type != EventEscalated || ev[0].Severity != model.SeverityCritical {
		t.Errorf("FailurePredicted: %+v", ev)
	}
}

// The bucketed history keeps exactly the newest Max slots in order, however
// many are added, and finds the value at a time in the past.
func TestSeriesWindow(t *testing.T) {
	s := newSeries(24*time.Hour, 10, 72*time.Hour, t0, 0)
	for day := 0; day < 100; day++ {
		s.add(t0.Add(time.Duration(day)*24*time.Hour), float64(day))
		want := min(day+1, 10)
		if len(s.Buckets) != want {
			t.Fatalf("day %d: %d buckets, want %d", day, len(s.Buckets), want)
		}
		for i, b := range s.Buckets {
			if b.Last != float64(day-want+1+i) {
				t.Fatalf("day %d: bucket %d holds %g", day, i, b.Last)
			}
		}
		if v, ok := s.valueAt(t0.Add(time.Duration(day-3) * 24 * time.Hour).Unix()); day >= 3 && (!ok || v != float64(day-3)) {
			t.Fatalf("day %d: value 3 days ago %g %v", day, v, ok)
		}
	}
	if _, ok := s.valueAt(t0.Unix()); ok {
		t.Error("a value older than the window")
	}
	if s.First != 0 || s.Base.N != 3 {
		t.Errorf("first %g, baseline samples %d", s.First, s.Base.N)
	}
}

// A kind's own degrading level moves only that kind: with drives at 0.6,
// pending sectors 0 -> 16 (0.5) are a watch, and the default raises them.
func TestDriveKindLevel(t *testing.T) {
	quiet, err := LoadConfig(stringsReader(`{"kinds": {"drive": {"degrading": 0.6}}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cfg   Config
		raise bool
	}{{DefaultConfig(), true}, {quiet, false}} {
		d, err := New(c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		var events []Event
		for day, p := range []float64{0, 0, 0, 16, 16} {
			events = append(events, d.Observe(driveSnap(day, "K", map[string]float64{"smart_197_raw": p}))...)
		}
		a := d.Assessments()
		if raised := len(events) == 1 && events[0].Type == EventRaised; raised != c.raise || len(a) != 1 ||
			c.raise != (a[0].State == StateDegrading) || !c.raise && a[0].State != StateWatch {
			t.Errorf("drive level %g: events %+v, assessments %+v", c.cfg.DegradingFor(model.KindDrive), events, a)
		}
	}
}
