package detector

import (
	"testing"
	"time"

	"github.com/prefail/prefail/model"
)

// HPE's iLO marks a repaired IML event by logging the same words again
// with Severity OK: the pair is a hot-swap or a plug put back, not a
// standing fault.
func TestRepairedLogEntryResolves(t *testing.T) {
	t0 := time.Date(2026, 4, 21, 9, 58, 0, 0, time.UTC)
	msg := "System Power Supplies Not Redundant"
	warn := logEntry{Time: t0, Severity: model.SeverityWarning, Message: msg}
	for _, tc := range []struct {
		name  string
		later []logEntry
		want  bool
	}{
		{"repaired", []logEntry{{Time: t0.Add(14 * time.Minute), Severity: model.SeverityInfo, Message: msg}}, true},
		{"other words", []logEntry{{Time: t0.Add(14 * time.Minute), Severity: model.SeverityInfo, Message: "System Power Supplies Redundant"}}, false},
		{"repeated warning", []logEntry{{Time: t0.Add(14 * time.Minute), Severity: model.SeverityWarning, Message: msg}}, false},
		{"none", nil, false},
	} {
		if got := deasserted(tc.later, &warn); got != tc.want {
			t.Errorf("%s: resolved %v, want %v", tc.name, got, tc.want)
		}
	}
}

// HPE's IML files a PSU's lost input on the system, naming no PSU: during
// a hot-swap (the PSU pulled, put back) it is the swap; without one it is
// a reason on the system, as before.
func TestSystemInputLossDuringSwap(t *testing.T) {
	msg := "System Power Supply: Input Power Loss or Unplugged Power Cord, Verify Power Supply Input (Power Supply 2)"
	for _, swap := range []bool{true, false} {
		sys := model.Component{Kind: model.KindSystem, ID: "sys", Name: "System", Health: model.HealthOK}
		lossAt := 2*day + 10*time.Minute
		d := mustNew(t)
		var evs []Event
		for at := time.Duration(0); at <= 2*day+time.Hour; at += 10 * time.Minute {
			psu2 := psuComp("PSU2", model.HealthOK, map[string]float64{"input_voltage": 230, "output_power": 150})
			if swap && at >= lossAt && at < lossAt+20*time.Minute {
				psu2 = model.Component{Kind: model.KindPSU, ID: "PSU2", Name: "Power Supply PSU2", Chassis: testChassis, Health: model.HealthAbsent}
			}
			var ev []model.Event
			if at >= lossAt {
				ev = []model.Event{{Time: t0.Add(lossAt), Severity: model.SeverityWarning, Component: "sys", Message: msg, ID: "91", Source: "iml"}}
			}
			evs = append(evs, d.Observe(&model.Snapshot{Target: "t", Time: t0.Add(at), Events: ev, Components: []model.Component{
				sys, psuComp("PSU1", model.HealthOK, map[string]float64{"input_voltage": 230, "output_power": 150}), psu2}})...)
		}
		_, has := reason(comp(t, d, "sys"), "log_input_lost")
		if has == swap {
			t.Errorf("swap %v: input-lost reason on the system %v, want %v (events %+v)", swap, has, !swap, evs)
		}
	}
}
