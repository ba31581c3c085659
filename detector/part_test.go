package detector

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/prefail/prefail/model"
)

// dl325Fans are the eight fans of the Cray DL325 capture (legacy Thermal,
// percent): Fans 2 and 7 are empty bays (State Absent, no Health, reading
// 0 %). gone, when set, says when a fan is pulled (absent from then on)
// or left out of the scan altogether.
func dl325Fans(rng *rand.Rand, gone func(n int, t time.Duration) (absent, missing bool)) func(time.Duration) []model.Component {
	return func(t time.Duration) []model.Component {
		var cs []model.Component
		for n := 1; n <= 8; n++ {
			c := model.Component{Kind: model.KindFan, ID: fmt.Sprintf("/redfish/v1/Chassis/1/Thermal#/Fans/%d", n-1), Name: fmt.Sprintf("Fan %d", n),
				Chassis: "/redfish/v1/Chassis/1", Health: model.HealthOK, State: "Enabled"}
			pct := 35 * (1 + 0.1*daily(t)) * (1 + 0.01*rng.NormFloat64())
			absent := n == 2 || n == 7
			if gone != nil {
				a, missing := gone(n, t)
				if missing {
					continue
				}
				absent = absent || a
			}
			if absent {
				c.Health, c.State, pct = model.HealthAbsent, "Absent", 0
			}
			c.Readings = []model.Reading{{Name: "speed_percent", Value: model.Float(pct), Unit: "%"}}
			cs = append(cs, c)
		}
		return cs
	}
}

// Empty bays are not stopped fans: the DL325's Fans 2 and 7 (Absent,
// 0 %) raise nothing, from the first scan on, and their neighbours are
// not told of a lost redundancy.
func TestEmptyBaysAreNotStoppedFans(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	rng := rand.New(rand.NewSource(21))
	evs := run(d, 5*day, 10*time.Minute, dl325Fans(rng, nil))
	if len(evs) != 0 {
		t.Fatalf("events on a healthy server with empty bays: %+v", evs)
	}
	for _, c := range d.comps {
		if c.Risk > 0 || len(c.Reasons) > 0 || c.State.Level() > 0 {
			t.Errorf("%s: %s risk %.2f %+v", c.Ref.Name, c.State, c.Risk, c.Reasons)
		}
		if strings.HasSuffix(c.Ref.ID, "/1") && len(c.Series) > 0 {
			t.Errorf("%s: an empty bay's 0 %% was recorded", c.Ref.Name)
		}
	}
}

// A fan that was there and is pulled (reported Absent) or no longer
// listed by a complete scan is an event of its own, a warning that it was
// removed, once it has been gone for an hour: not "stopped", not critical.
// Its neighbours note the lost redundancy (watched, no event).
func TestFanRemovedIsAWarning(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		missing bool
	}{{"reported absent", false}, {"gone from the scan", true}} {
		d := mustNew(t)
		rng := rand.New(rand.NewSource(22))
		pulled := 4 * day
		evs := run(d, 5*day, 10*time.Minute, dl325Fans(rng, func(n int, t time.Duration) (bool, bool) {
			if n == 4 && t >= pulled {
				return !tc.missing, tc.missing
			}
			return false, false
		}))
		id := "/redfish/v1/Chassis/1/Thermal#/Fans/3"
		got := eventsFor(evs, id, "")
		if len(got) != 1 || got[0].Type != EventRaised || got[0].Severity != model.SeverityWarning {
			t.Fatalf("%s: events %+v, want one warning", tc.name, got)
		}
		e := got[0]
		if at := e.Time.Sub(t0.Add(pulled)); at < time.Hour || at > 2*time.Hour {
			t.Errorf("%s: raised %v after the fan went", tc.name, at)
		}
		if e.Reasons[0].Signal != "presence" || !strings.Contains(e.Reasons[0].Text, "Fan 4 was removed or is no longer detected") {
			t.Errorf("%s: reasons %+v", tc.name, e.Reasons)
		}
		for _, r := range e.Reasons {
			if strings.Contains(r.Text, "stopped") {
				t.Errorf("%s: told as stopped: %+v", tc.name, r)
			}
		}
		if c := comp(t, d, id); c.State != StateDegrading {
			t.Errorf("%s: state %s", tc.name, c.State)
		}
		if len(evs) != 1 {
			t.Errorf("%s: other events %+v", tc.name, evs)
		}
		if r, ok := reason(comp(t, d, "/redfish/v1/Chassis/1/Thermal#/Fans/0"), "redundancy"); !ok || !strings.Contains(r.Text, "is gone") {
			t.Errorf("%s: Fan 1 redundancy %+v", tc.name, r)
		}
	}
}

// A scan with warnings (a part of the tree could not be read) that lacks
// a fan says nothing about that fan.
func TestPartMissingFromIncompleteScan(t *testing.T) {
	t.Parallel()
	d := mustNew(t)
	rng := rand.New(rand.NewSource(23))
	build := dl325Fans(rng, func(n int, t time.Duration) (bool, bool) { return false, n == 4 && t >= 4*day })
	evs := runSnaps(d, 5*day, 10*time.Minute, func(at time.Duration) *model.Snapshot {
		s := &model.Snapshot{Components: build(at)}
		if at >= 4*day {
			s.Warnings = []model.Warning{{Source: "/redfish/v1/Chassis/1/Thermal", Message: "Fans[3]: timeout"}}
		}
		return s
	})
	if len(evs) != 0 {
		t.Errorf("events %+v", evs)
	}
}

// swapPSU is the snapshot of a two-PSU chassis in which PSU1 may be
// swapped: serial is its serial number (empty: pulled, reported absent),
// lost that its input reads zero. PSU2 shares the load.
func swapPSU(rng *rand.Rand, at time.Duration, serial string, lost bool, gain float64) []model.Component {
	out := 300 + 30*daily(at) + 3*rng.NormFloat64()
	psu := func(id, serial string) model.Component {
		v, in, o := 229+rng.NormFloat64(), out/0.9*gain, out
		if lost && id == "PSU1" {
			v, in, o = 0, 0, 0
		}
		c := psuComp(id, model.HealthOK, map[string]float64{"input_voltage": v, "input_power": in, "output_power": o, "capacity": 800})
		c.Inventory.SerialNumber = serial
		return c
	}
	p1 := psu("PSU1", serial)
	if serial == "" {
		p1 = model.Component{Kind: model.KindPSU, ID: "PSU1", Name: "Power Supply PSU1", Chassis: testChassis, Health: model.HealthAbsent, State: "Absent"}
	} else if lost {
		p1.Health = model.HealthWarning
	}
	return []model.Component{p1, psu("PSU2", "P2-0001")}
}

// A PSU replaced during maintenance: its input lost for minutes (the
// cord pulled), the BMC's log entries ("Power supply input lost", "PSU
// removed", "PSU inserted", "input restored"), absent for a scan, back
// with a new serial and a slightly different draw. Not a fault: nothing is
// raised, the new part starts a new baseline, and the loss counts for
// nothing. The same loss without a swap counts, as before.
func TestPSUMaintenanceSwap(t *testing.T) {
	t.Parallel()
	swap := 5 * day
	logAt := func(at time.Duration, id, msg string, sev model.Severity) model.Event {
		return model.Event{Time: t0.Add(at), Severity: sev, Component: "PSU1", Message: msg, ID: id, Source: "/redfish/v1/Managers/1/LogServices/Log"}
	}
	for _, tc := range []struct {
		name string
		swap bool
		// serial of the part put back: the same one reseated, or a new one.
		serial string
	}{{"swap", true, "P1-0002"}, {"reseat", true, "P1-0001"}, {"loss without a swap", false, ""}} {
		d := mustNew(t)
		rng := rand.New(rand.NewSource(24))
		var log []model.Event
		evs := runSnaps(d, 8*day, 10*time.Minute, func(at time.Duration) *model.Snapshot {
			serial, lost, gain := "P1-0001", false, 1.0
			switch {
			case at < swap:
			case at < swap+20*time.Minute: // the cord is out
				lost = true
				if at == swap {
					log = append(log, logAt(swap-2*time.Minute, "1", "Power supply PSU1 input lost", model.SeverityWarning))
				}
			case tc.swap && at < swap+30*time.Minute: // pulled
				serial = ""
				if at == swap+20*time.Minute {
					log = append(log, logAt(swap+18*time.Minute, "2", "Power supply PSU1 removed", model.SeverityWarning))
				}
			case tc.swap && at < swap+40*time.Minute: // the new one, not cabled yet
				serial, lost = tc.serial, true
				log = append(log, logAt(swap+31*time.Minute, "3", "Power supply PSU1 inserted", model.SeverityInfo))
			default:
				if tc.swap {
					serial, gain = tc.serial, 0.97
				}
				if at == swap+40*time.Minute {
					log = append(log, logAt(swap+38*time.Minute, "4", "Power supply PSU1 input restored", model.SeverityInfo))
				}
			}
			return &model.Snapshot{Components: swapPSU(rng, at, serial, lost, gain), Events: log}
		})
		c := comp(t, d, "PSU1")
		r, lossSeen := reason(c, "input_loss")
		if !tc.swap {
			if !lossSeen || *r.Value != 1 {
				t.Errorf("%s: input loss %+v, want one episode counted", tc.name, r)
			}
			continue
		}
		if len(evs) != 0 {
			t.Errorf("%s: events %+v", tc.name, evs)
		}
		if lossSeen {
			t.Errorf("%s: the swap's input loss counted: %+v", tc.name, r)
		}
		if tc.serial == "P1-0001" {
			// The same part back: its history goes on, the swap's zeros
			// in it, and they count for nothing.
			if !c.Replaced.IsZero() || len(c.Maint) == 0 {
				t.Errorf("%s: replaced %v, marks %v", tc.name, c.Replaced, c.Maint)
			}
		} else {
			if c.Ref.Serial != tc.serial || !c.Replaced.Equal(t0.Add(swap+30*time.Minute)) {
				t.Errorf("%s: serial %s replaced %v", tc.name, c.Ref.Serial, c.Replaced)
			}
			if s := c.Series["input_power"]; s == nil || s.FirstTime < t0.Add(swap).Unix() || s.MinValue <= 0 {
				t.Errorf("%s: the new part's history %+v", tc.name, s)
			}
		}
		if c.Risk >= d.cfg.Watch {
			t.Errorf("%s: PSU1 risk %.2f %+v", tc.name, c.Risk, c.Reasons)
		}
		if c2 := comp(t, d, "PSU2"); c2.Risk > 0 {
			t.Errorf("%s: PSU2 risk %.2f %+v", tc.name, c2.Risk, c2.Reasons)
		}
	}
}

// A fan replaced: the new one (another serial) turns 4 % faster. Nothing
// is raised, and the new fan is judged against its own new baseline: a
// decline of the new fan is still caught.
func TestFanMaintenanceSwap(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		decline bool
	}{{"swap", false}, {"swap then decline", true}} {
		d := mustNew(t)
		rng := rand.New(rand.NewSource(25))
		swap := 5 * day
		build := fans(rng, func(t time.Duration) float64 { return 1 + 0.1*daily(t) }, func(t time.Duration, rpm, j float64) (float64, float64) {
			switch {
			case t >= swap && tc.decline:
				return rpm * 1.04 * (1 - 0.25*ramp(t, swap+4*day, swap+8*day)), j
			case t >= swap:
				return rpm * 1.04, j
			}
			return rpm, j
		})
		evs := run(d, 14*day, 10*time.Minute, func(at time.Duration) []model.Component {
			cs := build(at)
			for i := range cs {
				cs[i].Inventory.SerialNumber = "F-" + cs[i].ID
			}
			switch {
			case at >= swap-10*time.Minute && at < swap: // pulled
				cs[0] = model.Component{Kind: model.KindFan, ID: "a", Name: "Fan a", Chassis: testChassis, Health: model.HealthAbsent, State: "Absent",
					Readings: []model.Reading{{Name: "speed", Value: model.Float(0), Unit: "RPM"}}}
			case at >= swap:
				cs[0].Inventory.SerialNumber = "F-a2"
			}
			return cs
		})
		a := comp(t, d, "a")
		if !a.Replaced.Equal(t0.Add(swap)) {
			t.Errorf("%s: replaced %v", tc.name, a.Replaced)
		}
		raised := eventsFor(evs, "a", EventRaised)
		if !tc.decline {
			if len(evs) != 0 {
				t.Errorf("%s: events %+v", tc.name, evs)
			}
			if s := a.Series["speed"]; s == nil || s.baseline() < 2200*1.02 {
				t.Errorf("%s: new baseline %.0f, want the new fan's", tc.name, s.baseline())
			}
			continue
		}
		if len(raised) != 1 || raised[0].Time.Before(t0.Add(swap+4*day)) {
			t.Errorf("%s: raised %+v", tc.name, raised)
		}
	}
}
