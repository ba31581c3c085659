package redfishmock

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// testScenario drives the small tree: D1's Reading ramps 10 -> 110 over
// days 1..2, steps, gets noise; a log entry appears on day 3.
const testScenario = `{
  "name": "test", "base": "unused", "interval": "10m", "seed": 42,
  "start": "2026-03-01T00:00:00Z",
  "changes": [
    {"targets": [{"resource": "/redfish/v1/Things/D1", "pointer": "/Reading"},
                 {"resource": "/redfish/v1/Things/D2", "pointer": "/Reading", "scale": 0.5}],
     "ramp": {"from": 10, "to": 110, "start": "1d", "end": "2d"}},
    {"targets": [{"resource": "/redfish/v1/Things/D1", "pointer": "/Reading"}],
     "step": {"at": "4d", "to": 0, "exact": true}},
    {"targets": [{"resource": "/redfish/v1/Things/B", "pointer": "/Status"}],
     "set": {"at": "12h", "value": {"Health": "Critical"}}},
    {"targets": [{"resource": "/redfish/v1/Things/C", "pointer": "/Noisy"}],
     "set": {"at": "0s", "value": 100}},
    {"targets": [{"resource": "/redfish/v1/Things/C", "pointer": "/Noisy"}],
     "noise": {"sd": 5}},
    {"targets": [{"resource": "/redfish/v1/Things/C", "pointer": "/Daily"}],
     "set": {"at": "0s", "value": 20}},
    {"targets": [{"resource": "/redfish/v1/Things/C", "pointer": "/Daily"}],
     "diurnal": {"amplitude": 2, "period": "24h", "phase": "0s"}},
    {"targets": [{"resource": "/redfish/v1/Things/A", "pointer": "/Input"}],
     "intermittent": {"start": "1d", "every": "6h", "for": "30m", "value": "Lost"}},
    {"targets": [{"resource": "/redfish/v1/Logs"}],
     "log": {"at": "3d", "entry": {"Severity": "Critical", "MessageId": "Power.1.0.PowerSupplyFailed", "Message": "Power supply 'PSU 1' has failed."}}}
  ]
}`

func scenarioServer(t *testing.T, opts ...Option) (*testServer, *Scenario) {
	t.Helper()
	sc, err := ParseScenario([]byte(testScenario))
	if err != nil {
		t.Fatal(err)
	}
	tree := smallTree(t)
	if err := sc.Check(tree); err != nil {
		t.Fatal(err)
	}
	ts := newServer(tree, append([]Option{WithScenario(sc)}, opts...)...)
	t.Cleanup(ts.Close)
	return ts, sc
}

func day(d float64) time.Duration { return time.Duration(d * float64(24*time.Hour)) }

func TestScenarioRampStepScale(t *testing.T) {
	ts, _ := scenarioServer(t)
	for _, c := range []struct {
		t      time.Duration
		d1, d2 float64
	}{
		{0, 10, 5},
		{day(1), 10, 5},
		{day(1.5), 60, 30},
		{day(2), 110, 55},
		{day(3), 110, 55},
		{day(4), 0, 55},
	} {
		ts.Mock.SetTime(c.t)
		if got := getJSON(t, ts, "/redfish/v1/Things/D1")["Reading"]; got != c.d1 {
			t.Errorf("t=%v: D1 Reading %v, want %v", c.t, got, c.d1)
		}
		if got := getJSON(t, ts, "/redfish/v1/Things/D2")["Reading"]; got != c.d2 {
			t.Errorf("t=%v: D2 Reading (scale 0.5) %v, want %v", c.t, got, c.d2)
		}
	}
}

func TestScenarioSetAndIntermittent(t *testing.T) {
	ts, _ := scenarioServer(t)
	ts.Mock.SetTime(11 * time.Hour)
	if _, ok := getJSON(t, ts, "/redfish/v1/Things/B")["Status"]; ok {
		t.Error("set applied before its time")
	}
	ts.Mock.SetTime(12 * time.Hour)
	if got := at(t, getJSON(t, ts, "/redfish/v1/Things/B"), "Status", "Health"); got != "Critical" {
		t.Errorf("Status.Health %v after set", got)
	}
	for _, c := range []struct {
		t    time.Duration
		lost bool
	}{{day(1) - time.Minute, false}, {day(1), true}, {day(1) + 29*time.Minute, true}, {day(1) + 30*time.Minute, false}, {day(1) + 6*time.Hour + time.Minute, true}} {
		ts.Mock.SetTime(c.t)
		_, lost := getJSON(t, ts, "/redfish/v1/Things/A")["Input"]
		if lost != c.lost {
			t.Errorf("t=%v: input lost %v, want %v", c.t, lost, c.lost)
		}
	}
}

func TestScenarioLogEntry(t *testing.T) {
	ts, _ := scenarioServer(t)
	ts.Mock.SetTime(day(3) - time.Second)
	coll := getJSON(t, ts, "/redfish/v1/Logs")
	if n := len(coll["Members"].([]any)); n != 1 || coll["Members@odata.count"] != float64(1) {
		t.Fatalf("entry visible before its time: %v", coll)
	}
	r := do(t, ts.Client(), "GET", ts.URL+"/redfish/v1/Logs/2", "", "Authorization", basic(DefaultUser, DefaultPassword))
	if r.StatusCode != 404 {
		t.Errorf("future entry served: %d", r.StatusCode)
	}
	ts.Mock.SetTime(day(3))
	coll = getJSON(t, ts, "/redfish/v1/Logs?$expand=.")
	if coll["Members@odata.count"] != float64(2) {
		t.Fatalf("count %v", coll["Members@odata.count"])
	}
	e := at(t, coll, "Members", 1)
	if at(t, e, "@odata.id") != "/redfish/v1/Logs/2" || at(t, e, "Created") != "2026-03-04T00:00:00Z" || at(t, e, "MessageId") != "Power.1.0.PowerSupplyFailed" {
		t.Errorf("entry %v", e)
	}
	if at(t, coll, "Members", 0, "Message") != "boot" {
		t.Error("base entry not expanded")
	}
	direct := getJSON(t, ts, "/redfish/v1/Logs/2")
	if direct["Id"] != "2" || direct["Severity"] != "Critical" {
		t.Errorf("entry resource %v", direct)
	}
}

func TestScenarioNoiseDeterministicAndBounded(t *testing.T) {
	ts, sc := scenarioServer(t)
	distinct := map[float64]bool{}
	for i := 0; i < 40; i++ {
		tt := time.Duration(i) * 37 * time.Minute
		ts.Mock.SetTime(tt)
		a := getJSON(t, ts, "/redfish/v1/Things/C")["Noisy"].(float64)
		b := getJSON(t, ts, "/redfish/v1/Things/C")["Noisy"].(float64)
		if a != b {
			t.Fatalf("t=%v: two reads gave %v and %v", tt, a, b)
		}
		// Within the same 10m interval the value holds.
		ts.Mock.SetTime(tt.Truncate(10*time.Minute) + 9*time.Minute)
		if c := getJSON(t, ts, "/redfish/v1/Things/C")["Noisy"].(float64); c != a {
			t.Fatalf("t=%v: value changed within one interval: %v vs %v", tt, a, c)
		}
		if math.Abs(a-100) > maxNoiseSigma*5 {
			t.Errorf("t=%v: noise %v beyond %d sd", tt, a-100, maxNoiseSigma)
		}
		distinct[a] = true
	}
	if len(distinct) < 20 {
		t.Errorf("noise took only %d distinct values over 40 intervals", len(distinct))
	}
	// A second parse of the same file replays the same values.
	sc2, err := ParseScenario([]byte(testScenario))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []time.Duration{0, time.Hour, day(5)} {
		if sc.gaussian(4, tt) != sc2.gaussian(4, tt) {
			t.Errorf("t=%v: replay differs", tt)
		}
	}
}

func TestScenarioDiurnal(t *testing.T) {
	ts, _ := scenarioServer(t)
	for _, c := range []struct {
		t    time.Duration
		want float64
	}{{0, 20}, {6 * time.Hour, 22}, {12 * time.Hour, 20}, {18 * time.Hour, 18}, {30 * time.Hour, 22}} {
		ts.Mock.SetTime(c.t)
		if got := getJSON(t, ts, "/redfish/v1/Things/C")["Daily"]; got != c.want {
			t.Errorf("t=%v: Daily %v, want %v", c.t, got, c.want)
		}
	}
}

func TestScenarioVisibleThroughExpand(t *testing.T) {
	ts, _ := scenarioServer(t)
	ts.Mock.SetTime(day(2))
	coll := getJSON(t, ts, "/redfish/v1/Things?$expand=.($levels=2)")
	// Things -> C (member) -> Sub = D1.
	if got := at(t, coll, "Members", 2, "Sub", "Reading"); got != float64(110) {
		t.Errorf("D1 inside $expand: %v, want 110", got)
	}
	a := getJSON(t, ts, "/redfish/v1/Things/A?$expand=.")
	if got := at(t, a, "Drives", 1, "Reading"); got != float64(55) {
		t.Errorf("D2 inside $expand: %v, want 55", got)
	}
}

func TestParseScenarioErrors(t *testing.T) {
	target := `"targets":[{"resource":"/redfish/v1/X","pointer":"/Y"}]`
	for _, c := range []struct {
		change string
		want   []string
	}{
		{`{` + target + `,"explode":{"at":"1d"}}`, []string{"change 1", "explode"}},
		{`{` + target + `}`, []string{"change 1", "no kind"}},
		{`{` + target + `,"step":{"at":"2x","to":1}}`, []string{"change 1", "step", `"at"`, "2x"}},
		{`{` + target + `,"ramp":{"from":1,"to":2,"start":"1d","end":"12q"}}`, []string{"change 1", "ramp", `"end"`}},
		{`{` + target + `,"ramp":{"from":1,"to":2,"start":"2d","end":"1d"}}`, []string{"change 1", "ramp", `"end"`, "not after"}},
		{`{` + target + `,"ramp":{"from":1,"end":"1d"}}`, []string{"change 1", "ramp", `"to"`}},
		{`{` + target + `,"scale":{"from":1,"start":"1d"}}`, []string{"change 1", "scale", `"to"`}},
		{`{` + target + `,"scale":{"to":0.5,"start":"2d","end":"1d"}}`, []string{"change 1", "scale", `"end"`, "not after"}},
		{`{` + target + `,"noise":{"sd":1,"from":"2d","until":"1d"}}`, []string{"change 1", "noise", `"until"`, "not after"}},
		{`{` + target + `,"diurnal":{"amplitude":1,"from":"1x"}}`, []string{"change 1", "diurnal", `"from"`}},
		{`{` + target + `,"schedule":{"steps":[]}}`, []string{"change 1", "schedule", `"steps"`}},
		{`{` + target + `,"schedule":{"steps":[{"at":"8h","to":1},{"at":"6h","to":2}]}}`, []string{"change 1", "schedule", "steps 1", `"at"`}},
		{`{` + target + `,"schedule":{"steps":[{"at":"25h","to":1}]}}`, []string{"change 1", "schedule", "steps 0", `"at"`}},
		{`{` + target + `,"schedule":{"steps":[{"at":"1h"}]}}`, []string{"change 1", "schedule", "steps 0", `"to"`}},
		{`{` + target + `,"schedule":{"period":"7d","steps":[{"to":1}],"weekend":[{"to":2}]}}`, []string{"change 1", "schedule", `"weekend"`, "24h"}},
		{`{` + target + `,"schedule":{"steps":[{"to":1}],"weekend":[]}}`, []string{"change 1", "schedule", `"weekend"`}},
		{`{` + target + `,"ramp":{"from":1,"to":2,"end":"1d","shape":"cubic"}}`, []string{"change 1", `"shape"`}},
		{`{"targets":[{"resource":"/redfish/v1/X","pointer":"Y"}],"set":{"value":1}}`, []string{"change 1", "target 0", `"pointer"`}},
		{`{"targets":[{"resource":"/redfish/v1/X","pointer":"/a~2b"}],"set":{"value":1}}`, []string{"change 1", `"pointer"`, "~"}},
		{`{"targets":[{"resource":"X","pointer":"/Y"}],"set":{"value":1}}`, []string{"change 1", `"resource"`}},
		{`{"targets":[],"set":{"value":1}}`, []string{"change 1", `"targets"`}},
		{`{` + target + `,"set":{"at":"1d"}}`, []string{"change 1", `"value"`}},
		{`{` + target + `,"set":{"value":1},"step":{"at":"1d","to":2}}`, []string{"change 1", "more than one"}},
		{`{` + target + `,"noise":{"sd":-1}}`, []string{"change 1", `"sd"`}},
		{`{` + target + `,"intermittent":{"every":"1h","for":"2h","value":0}}`, []string{"change 1", `"for"`}},
		{`{` + target + `,"diurnal":{"amplitude":1,"period":"0s"}}`, []string{"change 1", `"period"`}},
		{`{` + target + `,"log":{"at":"1d","entry":[1]}}`, []string{"change 1", `"entry"`}},
	} {
		file := `{"name":"bad","changes":[{` + target + `,"set":{"value":1}},` + c.change + `]}`
		_, err := ParseScenario([]byte(file))
		if err == nil {
			t.Errorf("%s: parsed", c.change)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %s", c.change, err, w)
			}
		}
	}
	for _, file := range []string{`{"duration":"forever"}`, `{"start":"yesterday"}`, `{"speed":-1}`, `{"changes":{}}`, `{"unknown":1}`, `[`} {
		if _, err := ParseScenario([]byte(file)); err == nil {
			t.Errorf("%s: parsed", file)
		}
	}
	if _, err := LoadScenario(strings.NewReader(`{"name":"ok","duration":"1d6h"}`)); err != nil {
		t.Errorf("LoadScenario: %v", err)
	}
}

func TestScenarioCheck(t *testing.T) {
	tree := smallTree(t)
	for _, c := range []struct{ change, want string }{
		{`{"targets":[{"resource":"/redfish/v1/Nope","pointer":"/Reading"}],"set":{"value":1}}`, "not in the tree"},
		{`{"targets":[{"resource":"/redfish/v1/Things/D1","pointer":"/Missing"}],"ramp":{"from":1,"to":2,"end":"1d"}}`, "does not resolve"},
		{`{"targets":[{"resource":"/redfish/v1/Things/D1","pointer":"/No/Parent"}],"set":{"value":1}}`, "does not resolve"},
		{`{"targets":[{"resource":"/redfish/v1/Things/A","pointer":"/Id"}],"noise":{"sd":1}}`, "not a number"},
		{`{"targets":[{"resource":"/redfish/v1/Things/D1"}],"log":{"entry":{}}}`, "not a collection"},
	} {
		sc, err := ParseScenario([]byte(`{"changes":[` + c.change + `]}`))
		if err != nil {
			t.Fatalf("%s: %v", c.change, err)
		}
		if err := sc.Check(tree); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "change 0") {
			t.Errorf("%s: Check = %v, want %q", c.change, err, c.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"12d": 12 * 24 * time.Hour, "1d6h": 30 * time.Hour, "90m": 90 * time.Minute,
		"1.5d": 36 * time.Hour, "0": 0, "0s": 0, "2h30m": 150 * time.Minute,
	} {
		got, err := parseDuration(in)
		if err != nil || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "x", "1dd", "-1d", "1d-2h", "1e3d", "3 d", "5"} {
		if _, err := parseDuration(in); err == nil {
			t.Errorf("parseDuration(%q) accepted", in)
		}
	}
}

func TestEmbeddedTrees(t *testing.T) {
	names := EmbeddedNames()
	if strings.Join(names, ",") != "public-rackmount1,public-tower" {
		t.Fatalf("EmbeddedNames() = %v", names)
	}
	total := 0
	for _, name := range names {
		tree, err := Embedded(name)
		if err != nil {
			t.Fatal(err)
		}
		paths := tree.Paths()
		for i := 1; i < len(paths); i++ {
			if paths[i-1] >= paths[i] {
				t.Fatalf("%s: Paths not sorted at %s", name, paths[i])
			}
		}
		for _, p := range paths {
			b, _ := tree.Get(p)
			total += len(b)
			for _, dropped := range []string{"/AccountService", "/Registries", "/TrustedComponents", "/Bios", "/SecureBoot", "$metadata", "/Managers/BMC/NetworkProtocol"} {
				if strings.Contains(p, dropped) {
					t.Errorf("%s: %s should have been trimmed", name, p)
				}
			}
		}
		for _, want := range []string{"/redfish/v1", "/redfish/v1/SessionService/Sessions", "/redfish/v1/Chassis", "/redfish/v1/Systems", "/redfish/v1/Managers/BMC/LogServices"} {
			if _, ok := tree.Get(want); !ok {
				t.Errorf("%s: %s missing", name, want)
			}
		}
	}
	if total > 1500*1024 {
		t.Errorf("embedded trees hold %d bytes, over the 1.5 MB budget", total)
	}
	tower, _ := Embedded("public-tower")
	drives := 0
	for _, p := range tower.Paths() {
		if strings.HasPrefix(p, "/redfish/v1/Chassis/Tower/Drives/") && strings.Count(p, "/") == 6 {
			drives++
		}
	}
	if drives != 18 {
		t.Errorf("public-tower has %d drives, want 18", drives)
	}
}

func TestEmbeddedScenariosResolve(t *testing.T) {
	names := EmbeddedScenarioNames()
	if strings.Join(names, ",") != "aging-server,clogged-filter,fan-bearing-wear,fan-sudden-stop,healthy-baseline,healthy-busy,"+
		"lone-fan-bearing-wear,lone-fan-healthy,psu-intermittent-input-loss,psu-output-sag-efficiency,redundant-psu-loss" {
		t.Fatalf("EmbeddedScenarioNames() = %v", names)
	}
	for _, name := range names {
		sc, err := EmbeddedScenario(name)
		if err != nil {
			t.Fatal(err)
		}
		tree, err := sc.BaseTree()
		if err != nil {
			t.Fatalf("%s: base: %v", name, err)
		}
		if err := sc.Check(tree); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		// Walk every target and serve it at t=0: the pointer resolves.
		s := New(tree, WithScenario(sc))
		for i, c := range sc.Changes {
			for _, tg := range c.Targets {
				doc, ok := s.load(tg.Resource, 0)
				if !ok {
					t.Errorf("%s: change %d: %s not served", name, i, tg.Resource)
					continue
				}
				if c.Kind == KindLog {
					continue
				}
				if _, ok := tg.ptr.get(doc); !ok && c.At == 0 {
					t.Errorf("%s: change %d: %s%s does not resolve at t=0", name, i, tg.Resource, tg.Pointer)
				}
			}
		}
		if sc.Duration <= 0 || sc.Interval <= 0 || sc.Speed <= 0 {
			t.Errorf("%s: duration %v interval %v speed %v", name, sc.Duration, sc.Interval, sc.Speed)
		}
	}
	if _, err := EmbeddedScenario("nope"); err == nil {
		t.Error("unknown scenario loaded")
	}
}

// reading fetches a number from the resource at p as served at t.
func reading(t *testing.T, s *Server, tt time.Duration, p string, ptr string) any {
	t.Helper()
	doc, ok := s.load(p, tt)
	if !ok {
		t.Fatalf("%s not served", p)
	}
	pp, err := parsePointer(ptr)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := pp.get(doc)
	if !ok {
		t.Fatalf("%s%s missing at %v", p, ptr, tt)
	}
	if f, ok := toFloat(v); ok {
		return f
	}
	return v
}

func TestAgingServerStory(t *testing.T) {
	sc, err := EmbeddedScenario("aging-server")
	if err != nil {
		t.Fatal(err)
	}
	tree, err := sc.BaseTree()
	if err != nil {
		t.Fatal(err)
	}
	s := New(tree, WithScenario(sc))
	const (
		psu    = "/redfish/v1/Chassis/1U/PowerSubsystem/PowerSupplies/Bay1"
		fan    = "/redfish/v1/Chassis/1U/ThermalSubsystem/Fans/Bay1"
		sensor = "/redfish/v1/Chassis/1U/Sensors/FanBay1"
		sys    = "/redfish/v1/Systems/437XR1138R2"
		log    = "/redfish/v1/Managers/BMC/LogServices/Log/Entries"
	)
	if h := reading(t, s, 0, psu, "/Status/Health"); h != "OK" {
		t.Errorf("PSU Bay1 starts %v, want OK", h)
	}
	if c := reading(t, s, 0, psu, "/Status/Conditions"); len(c.([]any)) != 0 {
		t.Errorf("PSU Bay1 starts with conditions %v", c)
	}
	rpm0 := reading(t, s, 0, fan, "/SpeedPercent/SpeedRPM").(float64)
	if math.Abs(rpm0-2200) > 100 {
		t.Errorf("fan starts at %v RPM, want about 2200", rpm0)
	}
	// Copies of the fan speed agree at every sample.
	for _, tt := range []time.Duration{day(1), day(7), day(11.5), day(12.9)} {
		r := reading(t, s, tt, fan, "/SpeedPercent/SpeedRPM").(float64)
		legacy := reading(t, s, tt, "/redfish/v1/Chassis/1U/Thermal", "/Fans/0/Reading").(float64)
		pct := reading(t, s, tt, sensor, "/Reading").(float64)
		if r != legacy || math.Abs(pct-r*100/4900) > 0.02 {
			t.Errorf("t=%v: fan %v RPM, Thermal %v RPM, sensor %v %%", tt, r, legacy, pct)
		}
	}
	// Health verdicts come late.
	for _, c := range []struct {
		t         time.Duration
		fan, psu  string
		powerSate string
	}{
		{day(11), "OK", "OK", "On"},
		{day(12.5), "Warning", "Warning", "On"},
		{day(13.2), "Critical", "Critical", "On"},
		{day(13.6), "Critical", "Critical", "Off"},
	} {
		if got := reading(t, s, c.t, fan, "/Status/Health"); got != c.fan {
			t.Errorf("t=%v: fan health %v, want %v", c.t, got, c.fan)
		}
		if got := reading(t, s, c.t, psu, "/Status/Health"); got != c.psu {
			t.Errorf("t=%v: PSU health %v, want %v", c.t, got, c.psu)
		}
		if got := reading(t, s, c.t, sys, "/PowerState"); got != c.powerSate {
			t.Errorf("t=%v: PowerState %v, want %v", c.t, got, c.powerSate)
		}
	}
	// Efficiency falls: input power up for the same output.
	in0 := reading(t, s, day(1), psu+"/Metrics", "/InputPowerWatts/Reading").(float64)
	in12 := reading(t, s, day(12.4), psu+"/Metrics", "/InputPowerWatts/Reading").(float64)
	out := reading(t, s, day(12.4), psu+"/Metrics", "/OutputPowerWatts/Reading").(float64)
	if in12-in0 < 50 || out != 325 {
		t.Errorf("input power %v -> %v at output %v: efficiency did not fall", in0, in12, out)
	}
	// The fan ends below its lower critical threshold before the outage.
	pct := reading(t, s, day(13.2), sensor, "/Reading").(float64)
	crit := reading(t, s, day(13.2), sensor, "/Thresholds/LowerCritical/Reading").(float64)
	if pct >= crit {
		t.Errorf("fan at %v%%, not below its %v%% critical threshold", pct, crit)
	}
	// Input-loss entries only from day 8.
	count := func(tt time.Duration) int {
		doc, _ := s.load(log, tt)
		n := 0
		for _, m := range doc["Members"].([]any) {
			if m.(map[string]any)["MessageId"] == "Power.1.0.LossOfInputPower" {
				n++
			}
		}
		return n
	}
	if n := count(day(7.9)); n != 0 {
		t.Errorf("%d input-loss entries before day 8", n)
	}
	if n := count(day(12)); n < 4 {
		t.Errorf("%d input-loss entries by day 12, want several", n)
	}
}

func TestHealthyBaselineNeverCrossesThresholds(t *testing.T) {
	sc, err := EmbeddedScenario("healthy-baseline")
	if err != nil {
		t.Fatal(err)
	}
	tree, err := sc.BaseTree()
	if err != nil {
		t.Fatal(err)
	}
	s := New(tree, WithScenario(sc))
	var healths []string
	for _, p := range tree.Paths() {
		if b, _ := tree.Get(p); bytes.Contains(b, []byte(`"Health"`)) {
			healths = append(healths, p)
		}
	}
	const sensors = "/redfish/v1/Chassis/1U/Sensors/"
	for tt := time.Duration(0); tt <= sc.Duration; tt += 7*time.Hour + 10*time.Minute {
		fanPct := reading(t, s, tt, sensors+"FanBay1", "/Reading").(float64)
		if fanPct < 40 || fanPct > 50 {
			t.Errorf("t=%v: fan Bay1 at %v%%", tt, fanPct)
		}
		if v := reading(t, s, tt, sensors+"CPU1Temp", "/Reading").(float64); v >= 40 {
			t.Errorf("t=%v: CPU1 at %v C, over the 40 C user caution", tt, v)
		}
		if v := reading(t, s, tt, sensors+"IntakeTemp", "/Reading").(float64); v <= 10 || v >= 30 {
			t.Errorf("t=%v: intake at %v C, outside 10..30", tt, v)
		}
		if v := reading(t, s, tt, sensors+"PS1InputPower", "/Reading").(float64); v >= 510 {
			t.Errorf("t=%v: PS1 input %v W", tt, v)
		}
		if tt%(3*24*time.Hour) < 7*time.Hour {
			for _, p := range healths {
				doc, _ := s.load(p, tt)
				if bad := findHealth(doc); bad != "" {
					t.Errorf("t=%v: %s has %s", tt, p, bad)
				}
			}
		}
	}
}

// findHealth returns the first Health or HealthRollup that is not OK.
func findHealth(v any) string {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if (k == "Health" || k == "HealthRollup") && e != "OK" && e != nil {
				return fmt.Sprintf("%s=%v", k, e)
			}
			if s := findHealth(e); s != "" {
				return s
			}
		}
	case []any:
		for _, e := range x {
			if s := findHealth(e); s != "" {
				return s
			}
		}
	}
	return ""
}
