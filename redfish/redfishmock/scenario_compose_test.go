package redfishmock

import (
	"strings"
	"testing"
	"time"
)

// composeServer serves smallTree with a scenario made of changes (a JSON
// array body), checked against the tree.
func composeServer(t *testing.T, changes string) (*Server, *Scenario) {
	t.Helper()
	sc, err := ParseScenario([]byte(`{"name":"compose","interval":"10m","seed":7,"changes":[` + changes + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	tree := smallTree(t)
	if err := sc.Check(tree); err != nil {
		t.Fatal(err)
	}
	return New(tree, WithScenario(sc)), sc
}

type servedCase struct {
	t    time.Duration
	want any
}

func checkServed(t *testing.T, s *Server, resource, ptr string, cases []servedCase) {
	t.Helper()
	for _, c := range cases {
		doc, ok := s.load(resource, c.t)
		if !ok {
			t.Fatalf("%s not served", resource)
		}
		pp, _ := parsePointer(ptr)
		got, ok := pp.get(doc)
		if !ok {
			got = "missing"
		}
		if f, ok := toFloat(got); ok {
			got = f
		}
		want := c.want
		if i, ok := want.(int); ok {
			want = float64(i)
		}
		if got != want {
			t.Errorf("t=%v: %s%s = %v, want %v", c.t, resource, ptr, got, want)
		}
	}
}

const d1 = `{"resource": "/redfish/v1/Things/D1", "pointer": "/Reading"}`

// Ramps and steps on one value compose in time order, whatever their
// order in the file: before its start a ramp does not apply, after its
// end it holds its end value, and a ramp without "from" continues from
// the value in effect at its start.
func TestScenarioChainedRamps(t *testing.T) {
	chain := []string{
		`{"targets": [` + d1 + `], "ramp": {"from": 100, "to": 80, "start": "1d", "end": "2d"}}`,
		`{"targets": [` + d1 + `], "ramp": {"to": 50, "start": "3d", "end": "4d"}}`,
		`{"targets": [` + d1 + `], "step": {"at": "5d", "to": 70}}`,
		`{"targets": [` + d1 + `], "ramp": {"to": 90, "start": "6d", "end": "8d"}}`,
		`{"targets": [` + d1 + `], "ramp": {"from": 10, "to": 0, "start": "9d", "end": "10d"}}`,
	}
	want := []servedCase{
		{0, 100}, // the ramp that opens the story serves its from until its start
		{day(1), 100}, {day(1.5), 90}, {day(2), 80},
		{day(2.5), 80}, // held between the stages
		{day(3), 80}, {day(3.5), 65}, {day(4), 50}, {day(4.9), 50},
		{day(5), 70}, {day(6), 70}, {day(7), 80}, {day(8), 90},
		{day(9) - time.Second, 90}, {day(9), 10}, // a "from" jumps
		{day(9.5), 5}, {day(30), 0},
	}
	s, _ := composeServer(t, strings.Join(chain, ","))
	checkServed(t, s, "/redfish/v1/Things/D1", "/Reading", want)
	// The same changes in reverse file order serve the same.
	rev := make([]string, len(chain))
	for i, c := range chain {
		rev[len(chain)-1-i] = c
	}
	s, _ = composeServer(t, strings.Join(rev, ","))
	checkServed(t, s, "/redfish/v1/Things/D1", "/Reading", want)
}

func TestScenarioRampComposition(t *testing.T) {
	t.Run("a later set wins from its time only", func(t *testing.T) {
		s, _ := composeServer(t, `
			{"targets": [`+d1+`], "step": {"at": "3d", "to": 0}},
			{"targets": [`+d1+`], "ramp": {"from": 10, "to": 20, "start": "1d", "end": "2d"}}`)
		checkServed(t, s, "/redfish/v1/Things/D1", "/Reading", []servedCase{{0, 10}, {day(2), 20}, {day(3), 0}, {day(9), 0}})
	})
	t.Run("after a set, a ramp applies from its start", func(t *testing.T) {
		s, _ := composeServer(t, `
			{"targets": [`+d1+`], "set": {"value": 50}},
			{"targets": [`+d1+`], "ramp": {"from": 60, "to": 70, "start": "1d", "end": "2d"}}`)
		checkServed(t, s, "/redfish/v1/Things/D1", "/Reading", []servedCase{{0, 50}, {day(1) - 1, 50}, {day(1), 60}, {day(3), 70}})
	})
	t.Run("without from, from the captured value", func(t *testing.T) {
		s, _ := composeServer(t, `{"targets": [`+d1+`], "ramp": {"to": 30, "start": "1d", "end": "2d"}}`)
		checkServed(t, s, "/redfish/v1/Things/D1", "/Reading", []servedCase{{0, 10}, {day(1), 10}, {day(1.5), 20}, {day(2), 30}})
	})
	t.Run("from the level under a blip", func(t *testing.T) {
		s, _ := composeServer(t, `
			{"targets": [`+d1+`], "set": {"value": 40}},
			{"targets": [`+d1+`], "intermittent": {"start": "1d", "every": "1d", "for": "1h", "value": 0}},
			{"targets": [`+d1+`], "ramp": {"to": 20, "start": "2d", "end": "3d"}}`)
		checkServed(t, s, "/redfish/v1/Things/D1", "/Reading", []servedCase{
			{day(1), 0}, {day(1) + time.Hour, 40},
			{day(2), 40}, // the blip at 2d is replaced by the ramp, which starts from 40, not 0
			{day(2.5), 30}, {day(3), 20}})
	})
	t.Run("target scale", func(t *testing.T) {
		s, _ := composeServer(t, `
			{"targets": [`+d1+`, {"resource": "/redfish/v1/Things/D2", "pointer": "/Reading", "scale": 0.5}],
			 "ramp": {"from": 100, "to": 80, "start": "1d", "end": "2d"}},
			{"targets": [`+d1+`, {"resource": "/redfish/v1/Things/D2", "pointer": "/Reading", "scale": 0.5}],
			 "ramp": {"to": 40, "start": "3d", "end": "4d"}}`)
		checkServed(t, s, "/redfish/v1/Things/D2", "/Reading", []servedCase{{0, 50}, {day(2), 40}, {day(3.5), 30}, {day(4), 20}})
	})
}

// A set may add an object; later changes may move its members.
func TestScenarioChangesOnAddedObject(t *testing.T) {
	th := func(ptr string) string {
		return `{"resource": "/redfish/v1/Things/D1", "pointer": "` + ptr + `"}`
	}
	s, _ := composeServer(t, `
		{"targets": [`+th("/Thresholds")+`], "set": {"at": "1d", "value": {"LowerCaution": {"Reading": 25}}}},
		{"targets": [`+th("/Thresholds/LowerCaution/Reading")+`], "ramp": {"to": 35, "start": "2d", "end": "3d"}},
		{"targets": [`+th("/Thresholds/LowerCaution/Reading")+`], "noise": {"sd": 0.5, "from": "4d"}},
		{"targets": [`+th("/Thresholds/LowerCritical")+`], "set": {"at": "1d", "value": {}}},
		{"targets": [`+th("/Thresholds/LowerCritical/Reading")+`], "step": {"at": "1d", "to": 20}}`)
	checkServed(t, s, "/redfish/v1/Things/D1", "/Thresholds/LowerCaution/Reading", []servedCase{
		{0, "missing"}, {day(1), 25}, {day(2.5), 30}, {day(3.5), 35}})
	checkServed(t, s, "/redfish/v1/Things/D1", "/Thresholds/LowerCritical/Reading", []servedCase{{0, "missing"}, {day(1), 20}})

	// Check still catches what does not exist when a change takes effect.
	tree := smallTree(t)
	for _, c := range []struct{ changes, want string }{
		{`{"targets": [` + th("/Thresholds") + `], "set": {"at": "2d", "value": {"LowerCaution": {"Reading": 25}}}},
		  {"targets": [` + th("/Thresholds/LowerCaution/Reading") + `], "ramp": {"to": 35, "start": "1d", "end": "3d"}}`,
			"change 1 (ramp): target 0: pointer /Thresholds/LowerCaution/Reading does not resolve in /redfish/v1/Things/D1 at 24h0m0s"},
		{`{"targets": [` + th("/Thresholds") + `], "set": {"at": "2d", "value": {}}},
		  {"targets": [` + th("/Thresholds/X/Reading") + `], "set": {"at": "2d", "value": 1}}`,
			"change 1 (set): target 0: pointer /Thresholds/X/Reading does not resolve"},
		{`{"targets": [` + th("/Thresholds") + `], "set": {"value": {"Mode": "auto"}}},
		  {"targets": [` + th("/Thresholds/Mode") + `], "noise": {"sd": 1}}`,
			"change 1 (noise): target 0: /redfish/v1/Things/D1/Thresholds/Mode is auto at 0s, not a number"},
		{`{"targets": [` + th("/Thresholds") + `], "set": {"value": {}}},
		  {"targets": [` + th("/Thresholds/Gain") + `], "scale": {"to": 2}}`,
			"change 1 (scale): target 0: pointer /Thresholds/Gain does not resolve"},
	} {
		sc, err := ParseScenario([]byte(`{"changes":[` + c.changes + `]}`))
		if err != nil {
			t.Fatal(err)
		}
		if err := sc.Check(tree); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Check = %v, want %q", err, c.want)
		}
	}
}

// scale multiplies the level and what noise and diurnal add to it, so a
// worn fan keeps its relative daily swing.
func TestScenarioScale(t *testing.T) {
	s, _ := composeServer(t, `
		{"targets": [`+d1+`], "set": {"value": 2000}},
		{"targets": [`+d1+`], "diurnal": {"amplitude": 200}},
		{"targets": [`+d1+`], "scale": {"to": 0.5, "start": "1d", "end": "3d"}},
		{"targets": [`+d1+`], "scale": {"to": 0.9, "start": "5d"}},
		{"targets": [`+d1+`], "step": {"at": "6d", "to": 0, "exact": true}}`)
	checkServed(t, s, "/redfish/v1/Things/D1", "/Reading", []servedCase{
		{6 * time.Hour, 2200}, {18 * time.Hour, 1800}, // 2000 ± 200
		{day(2), 1500}, {day(2) + 6*time.Hour, 1512.5}, // factors 0.75, 0.6875
		{day(3) + 6*time.Hour, 1100}, {day(3) + 18*time.Hour, 900}, // 1000 ± 100: the same ±10 %
		{day(5) + 6*time.Hour, 990}, // the factors multiply: 0.5 × 0.9
		{day(6) + 6*time.Hour, 0},   // exact: nothing on top
	})
	// The factor is unitless: a target's scale does not apply to it.
	s, _ = composeServer(t, `
		{"targets": [{"resource": "/redfish/v1/Things/D2", "pointer": "/Reading", "scale": 0.5}], "scale": {"from": 1, "to": 0.5, "start": "1d", "end": "2d"}}`)
	checkServed(t, s, "/redfish/v1/Things/D2", "/Reading", []servedCase{{0, 20}, {day(1.5), 15}, {day(2), 10}})
}

// noise and diurnal apply from their "from" until their "until".
func TestScenarioAdditiveFrom(t *testing.T) {
	s, _ := composeServer(t, `
		{"targets": [`+d1+`], "set": {"value": 100}},
		{"targets": [`+d1+`], "diurnal": {"amplitude": 10, "from": "2d", "until": "3d"}},
		{"targets": [{"resource": "/redfish/v1/Things/D2", "pointer": "/Reading"}], "noise": {"sd": 5, "from": "1d"}}`)
	checkServed(t, s, "/redfish/v1/Things/D1", "/Reading", []servedCase{
		{6 * time.Hour, 100}, {day(1) + 6*time.Hour, 100}, {day(2) + 6*time.Hour, 110}, {day(3) + 6*time.Hour, 100}})
	noisy := 0
	for tt := time.Duration(0); tt < day(2); tt += time.Hour {
		doc, _ := s.load("/redfish/v1/Things/D2", tt)
		v, _ := toFloat(doc["Reading"])
		if tt < day(1) && v != 20 {
			t.Errorf("t=%v: noise before its from: %v", tt, v)
		}
		if v != 20 {
			noisy++
		}
	}
	if noisy < 12 {
		t.Errorf("noise after its from changed only %d of 24 hourly values", noisy)
	}
}

// A schedule repeats steps every period, with other steps on weekends,
// and a diurnal with a long period is a seasonal drift.
func TestScenarioSchedule(t *testing.T) {
	// 2026-01-01 (t=0) is a Thursday: days 2 and 3 are the weekend.
	s, _ := composeServer(t, `
		{"targets": [`+d1+`], "schedule": {
			"steps": [{"at": "6h", "to": 2400}, {"at": "20h", "to": 2000}],
			"weekend": [{"at": "10h", "to": 1900}, {"at": "22h", "to": 1700}]}},
		{"targets": [{"resource": "/redfish/v1/Things/D2", "pointer": "/Reading"}], "diurnal": {"amplitude": 3, "period": "365d", "phase": "0s"}}`)
	checkServed(t, s, "/redfish/v1/Things/D1", "/Reading", []servedCase{
		{0, 2000}, // before the first step: the last one of the (weekday) period before
		{6 * time.Hour, 2400}, {day(1) + 3*time.Hour, 2000}, {day(1) + 19*time.Hour, 2400}, {day(1) + 21*time.Hour, 2000},
		{day(2) + 3*time.Hour, 2000}, {day(2) + 10*time.Hour, 1900}, {day(2) + 23*time.Hour, 1700}, // Saturday
		{day(3) + 12*time.Hour, 1900},                              // Sunday
		{day(4) + 3*time.Hour, 1700}, {day(4) + 7*time.Hour, 2400}, // Monday
		{day(9) + 10*time.Hour, 1900}, {day(11) + 10*time.Hour, 2400}, // the next weekend, Monday
	})
	checkServed(t, s, "/redfish/v1/Things/D2", "/Reading", []servedCase{{0, 20}, {day(365.0 / 4), 23}, {day(365.0 * 3 / 4), 17}})

	// A schedule is a level: it composes in time order, and a scale
	// multiplies it.
	s, _ = composeServer(t, `
		{"targets": [`+d1+`], "set": {"value": 5}},
		{"targets": [`+d1+`], "schedule": {"start": "1d", "period": "12h", "steps": [{"to": 100}, {"at": "6h", "to": 200}]}},
		{"targets": [`+d1+`], "scale": {"to": 0.5, "start": "3d"}}`)
	checkServed(t, s, "/redfish/v1/Things/D1", "/Reading", []servedCase{
		{day(1) - 1, 5}, {day(1), 100}, {day(1) + 7*time.Hour, 200}, {day(1) + 13*time.Hour, 100}, {day(3) + 7*time.Hour, 100}})
}

// Chains of ramps without "from" are evaluated in linear, not
// exponential, time.
func TestScenarioLongRampChain(t *testing.T) {
	var chain []string
	for i := range 60 {
		chain = append(chain, `{"targets": [`+d1+`], "ramp": {"to": `+strings.Repeat("1", 1+i%3)+`, "start": "`+
			(time.Duration(i)*time.Hour).String()+`", "end": "`+(time.Duration(i)*time.Hour+30*time.Minute).String()+`"}}`)
	}
	s, _ := composeServer(t, strings.Join(chain, ","))
	done := make(chan struct{})
	go func() {
		defer close(done)
		checkServed(t, s, "/redfish/v1/Things/D1", "/Reading", []servedCase{{day(10), 111}})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a chain of 60 ramps took over 10 s to serve")
	}
}
