package detector

import (
	"strings"
	"testing"
	"time"

	"github.com/prefail/prefail/model"
)

// normDrive is a drive on day n whose readings carry ATA thresholds.
func normDrive(day int, serial string, vals map[string]float64, thr map[string]float64) *model.Snapshot {
	s := driveSnap(day, serial, nil)
	for name, v := range vals {
		r := model.Reading{Name: name, Value: model.Float(v)}
		if t, ok := thr[name]; ok {
			r.Thresholds = &model.Thresholds{LowerCritical: model.Float(t)}
		}
		s.Components[0].Readings = append(s.Components[0].Readings, r)
	}
	return s
}

// Reallocated sectors' normalized value falling 2 points a day from 100
// toward its threshold 36 is forecast to cross it (day 32) and warned
// weeks before the drive's own verdict; Seagate's read error rate
// wobbling between 100 and 117 over its threshold 6 is no trend; a value
// at zero threshold is not followed at all.
func TestDiskNormalizedTowardThreshold(t *testing.T) {
	d := mustNew(t)
	thr := map[string]float64{"smart_5_normalized": 36, "smart_1_normalized": 6, "smart_9_normalized": 0}
	var events []Event
	for day := 0; day <= 20; day++ {
		wobble := 100.0
		if day%3 == 0 {
			wobble = 117
		}
		vals := map[string]float64{"smart_5_normalized": 100 - 2*float64(day), "smart_1_normalized": wobble, "smart_9_normalized": 90}
		events = append(events, d.Observe(normDrive(day, "N1", vals, thr))...)
	}
	c := comp(t, d, "N1")
	if _, ok := c.Series["smart_9_normalized"]; ok {
		t.Error("an attribute with threshold 0 is followed")
	}
	r, ok := reason(c, "smart_5_normalized")
	if !ok || !strings.Contains(r.Text, "smart_5_normalized (reallocated sectors) ") || !strings.Contains(r.Text, "failure threshold 36") ||
		r.Score < d.cfg.Degrading || r.TrendPerDay == nil || *r.TrendPerDay > -1.9 || *r.TrendPerDay < -2.1 {
		t.Fatalf("reason %+v (all: %+v)", r, c.Reasons)
	}
	if _, ok := reason(c, "smart_1_normalized"); ok {
		t.Errorf("the wobbling attribute has a reason: %+v", c.Reasons)
	}
	// 60 at day 20, 2 a day: the threshold 36 on day 32.
	want := t0.Add(32 * 24 * time.Hour)
	if fc := c.Forecast; fc == nil || fc.Signal != "smart_5_normalized" || fc.At.Sub(want).Abs() > 36*time.Hour || fc.Threshold != 36 {
		t.Errorf("forecast %+v, want about %v", c.Forecast, want)
	}
	t.Logf("%s", r.Text)
	if raised := eventsFor(events, "N1", EventRaised); len(raised) != 1 {
		t.Errorf("raised %+v, want one episode", raised)
	}
}

// A drive whose readings carry no thresholds (Backblaze Drive Stats rows)
// keeps no history of its normalized values.
func TestDiskNormalizedNeedsThreshold(t *testing.T) {
	d := mustNew(t)
	for day := 0; day < 10; day++ {
		d.Observe(driveSnap(day, "B1", map[string]float64{"smart_5_normalized": 100 - 5*float64(day), "smart_5_raw": 0}))
	}
	c := comp(t, d, "B1")
	if _, ok := c.Series["smart_5_normalized"]; ok || len(c.Reasons) != 0 {
		t.Errorf("series %v, reasons %+v", c.Series, c.Reasons)
	}
}
