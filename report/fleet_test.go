package report_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prefail/prefail/agent"
	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/redfish/redfishmock"
	"github.com/prefail/prefail/redfish/redfishtest"
	"github.com/prefail/prefail/report"
)

// hostileFanName is what the second Intel BMC of the fleet calls a fan.
const hostileFanName = `Sys Fan 3A <img src=x onerror=alert(1)>`

// Names of the fleet's parts the tests look for.
const (
	degradedServer = "bmc-r07-u01.dc1.example.net"
	hostileServer  = "bmc-r07-u05.dc1.example.net"
	degradedFan    = "Sys Fan 2A"
	degradedReason = "Sys Fan 2A speed falling 2100 RPM/day, 5200 RPM now, lower critical 630: 6 days to go"
	intelThermal   = "/redfish/v1/Chassis/RackMount/Baseboard/Thermal"
	intelFan2A     = intelThermal + "#/Fans/2"
)

// fleetServer is one BMC of the realistic fleet.
type fleetServer struct {
	name     string
	capture  string                                                       // testdata/redfish/...
	edit     func(t testing.TB, tree *redfishmock.Tree) *redfishmock.Tree // nil: as captured
	password string                                                       // "" is the mock's
	down     bool                                                         // nothing listens
}

// realisticFleet scans ten BMCs through the real reader and agent.Scan:
// real captures (DMTF, HPE iLO, Intel, served by the mock), one Intel
// whose fan slows down (its Thermal resource edited: 5200 RPM, the BMC
// still says OK), one whose fan has a hostile name, a BMC refusing the
// password and one not answering. The detector scores each snapshot
// once; the slowing fan's verdict is the one the detector gives such a
// fan after two weeks (risk 0.9, failing, a forecast), with two weeks of
// its readings as history.
func realisticFleet(t testing.TB) report.Input {
	t.Helper()
	now := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	servers := []fleetServer{
		{name: degradedServer, capture: "cray-csm/Intel", edit: func(t testing.TB, tree *redfishmock.Tree) *redfishmock.Tree {
			return editThermalFan(t, tree, 2, func(fan map[string]any) { fan["Reading"] = 5200 })
		}},
		{name: "bmc-r07-u02.dc1.example.net", capture: "hpe-ilo/DL380a"},
		{name: "bmc-r07-u03.dc1.example.net", capture: "dmtf/public-rackmount1"},
		{name: "bmc-r07-u04.dc1.example.net", capture: "hpe-ilo/DL360_Gen12"},
		{name: hostileServer, capture: "cray-csm/Intel", edit: func(t testing.TB, tree *redfishmock.Tree) *redfishmock.Tree {
			return editThermalFan(t, tree, 4, func(fan map[string]any) { fan["Name"] = hostileFanName })
		}},
		{name: "bmc-r07-u06.dc1.example.net", capture: "dmtf/public-tower"},
		{name: "bmc-r07-u07.dc1.example.net", capture: "cray-csm/DL325"},
		{name: "bmc-r07-u08.dc1.example.net", capture: "dmtf/public-rackmount1"},
		{name: "bmc-r07-u09.dc1.example.net", capture: "hpe-ilo/DL380a", password: "not-the-password"},
		{name: "bmc-r07-u10.dc1.example.net", down: true},
	}

	var targets []*agent.Target
	names := map[string]string{} // endpoint -> name
	for _, s := range servers {
		var endpoint string
		if s.down {
			endpoint = "http://" + closedAddr(t)
		} else {
			tree, err := redfishmock.LoadDir(filepath.Join("..", "testdata", "redfish", s.capture))
			if err != nil {
				t.Fatal(err)
			}
			if s.edit != nil {
				tree = s.edit(t, tree)
			}
			ts := redfishtest.NewServer(tree)
			t.Cleanup(ts.Close)
			endpoint = ts.URL
		}
		names[endpoint] = s.name
		targets = append(targets, &agent.Target{
			Endpoint: endpoint, Username: redfishmock.DefaultUser,
			Password: agent.Secret(cmpOr(s.password, redfishmock.DefaultPassword)),
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	results := agent.Scan(ctx, targets, agent.ScanOptions{Concurrency: 8, Timeout: 15 * time.Second})

	in := report.Input{Generated: now, Title: "Rack 7, dc1", Assessments: map[string][]detector.Assessment{}, History: map[string][]agent.Series{}}
	for i := range results {
		r := &results[i]
		// The mocks listen on random ports: name each BMC as a fleet would.
		r.Target = names[r.Target]
		if r.Snapshot == nil {
			in.Results = append(in.Results, *r)
			continue
		}
		r.Snapshot.Target, r.Snapshot.Time = r.Target, now.Add(-time.Duration(i)*time.Second)
		if r.Err == nil {
			det, err := detector.New(detector.DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			det.Observe(r.Snapshot)
			in.Assessments[r.Target] = det.Assessments()
		}
		in.Results = append(in.Results, *r)
		in.Inventory = append(in.Inventory, inventoryOf(r.Target, r.Snapshot)...)
	}
	var failed []string
	for _, r := range in.Results {
		if r.Err != nil {
			failed = append(failed, r.Target)
		}
	}
	if want := []string{"bmc-r07-u09.dc1.example.net", "bmc-r07-u10.dc1.example.net"}; !slices.Equal(failed, want) {
		t.Fatalf("failed scans %q, want %q", failed, want)
	}

	// The slowing fan: the verdict and history of two weeks of rounds.
	snap := in.Results[0].Snapshot
	fan := findComponent(t, snap, intelFan2A)
	if r, _ := fan.Reading("speed"); r.Value == nil || *r.Value != 5200 || fan.Health != model.HealthOK {
		t.Fatalf("edited fan read as %+v", fan)
	}
	verdict := detector.Assessment{
		Component: detector.ComponentRef{Target: degradedServer, Kind: model.KindFan, ID: intelFan2A, Name: degradedFan},
		State:     detector.StateFailing, Risk: 0.9,
		Reasons: []detector.Reason{
			{Signal: "speed", Text: degradedReason, Value: ptr(5200.0), Threshold: ptr(630.0), TrendPerDay: ptr(-2100.0), Score: 0.85},
			{Signal: "speed", Text: "Sys Fan 2A speed 18180 -> 5200 RPM (71% below its baseline at comparable load: siblings at 100% of theirs)", Value: ptr(5200.0), Baseline: ptr(18180.0), Score: 0.6},
		},
		Forecast: &detector.Forecast{Signal: "speed", Threshold: 630, At: now.Add(6 * 24 * time.Hour),
			Earliest: now.Add(4 * 24 * time.Hour), Latest: now.Add(10 * 24 * time.Hour)},
		Since: now.Add(-3 * 24 * time.Hour), Updated: now,
	}
	as := in.Assessments[degradedServer]
	as = slices.DeleteFunc(as, func(a detector.Assessment) bool { return a.Component.ID == intelFan2A })
	in.Assessments[degradedServer] = append(as, verdict)
	in.History[degradedServer] = intelHistory(t, snap, now)
	return in
}

// editThermalFan returns tree with the Intel Thermal resource's fan i
// changed by edit.
func editThermalFan(t testing.TB, tree *redfishmock.Tree, i int, edit func(map[string]any)) *redfishmock.Tree {
	t.Helper()
	body, ok := tree.Get(intelThermal)
	if !ok {
		t.Fatalf("no %s in the capture", intelThermal)
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	fans, _ := doc["Fans"].([]any)
	if i >= len(fans) {
		t.Fatalf("%s has %d fans", intelThermal, len(fans))
	}
	edit(fans[i].(map[string]any))
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return tree.With(intelThermal, out)
}

// intelHistory is two weeks of hourly readings of the degraded server:
// the slowing fan (faster and faster), a sibling at its speed, the inlet
// temperature and a PSU's input voltage, named as the agent's store names
// them (KIND/ID).
func intelHistory(t testing.TB, snap *model.Snapshot, now time.Time) []agent.Series {
	rng := rand.New(rand.NewPCG(7, 7))
	const hours = 14 * 24
	series := func(c *model.Component, reading string, value func(h float64) float64, spread float64) agent.Series {
		r, ok := c.Reading(reading)
		if !ok {
			t.Fatalf("%s has no %s reading", c.Name, reading)
		}
		s := agent.Series{Component: string(c.Kind) + "/" + c.ID, Reading: reading, Unit: r.Unit}
		for h := range hours + 1 {
			v := value(float64(h))
			lo, hi := v-spread*rng.Float64(), v+spread*rng.Float64()
			round := func(x float64) float64 { return math.Round(x*10) / 10 } // as a BMC reports: tenths
			s.Points = append(s.Points, agent.Point{Time: now.Add(time.Duration(h-hours) * time.Hour), Value: round(v), Min: round(lo), Max: round(hi), N: 12})
		}
		return s
	}
	slowing := findComponent(t, snap, intelFan2A)
	sibling := findComponent(t, snap, intelThermal+"#/Fans/0")
	var inlet, psu *model.Component
	for i := range snap.Components {
		c := &snap.Components[i]
		if inlet == nil && c.Kind == model.KindTemperature && len(c.Readings) > 0 && c.Readings[0].Value != nil {
			inlet = c
		}
		if psu == nil && c.Kind == model.KindPSU {
			psu = c
		}
	}
	if inlet == nil || psu == nil {
		t.Fatal("no temperature or PSU in the Intel capture")
	}
	inletValue := *inlet.Readings[0].Value
	return []agent.Series{
		series(slowing, "speed", func(h float64) float64 {
			// Wear accelerates: 18180 RPM two weeks ago, 5200 now.
			f := h / hours
			return 18180 - (18180-5200)*f*f + 120*math.Sin(h/5)
		}, 300),
		series(sibling, "speed", func(h float64) float64 { return 17910 + 150*math.Sin(h/7) }, 250),
		series(inlet, inlet.Readings[0].Name, func(h float64) float64 { return inletValue + 3*math.Sin(h*2*math.Pi/24) }, 0.5),
		series(psu, "input_voltage", func(h float64) float64 { return 230 + 2*math.Sin(h/11) }, 1),
	}
}

// inventoryOf lists the snapshot's parts that carry identity: PSUs and
// drives. The DL325's PSU model is due for refresh.
func inventoryOf(target string, s *model.Snapshot) []report.InventoryRow {
	var out []report.InventoryRow
	for _, c := range s.Components {
		if (c.Kind != model.KindPSU && c.Kind != model.KindDrive) || c.Inventory.IsZero() {
			continue
		}
		row := report.InventoryRow{
			Target: target, Kind: string(c.Kind), ComponentID: c.ID, Name: c.Name, Location: c.Location,
			Model: c.Inventory.Model, Serial: c.Inventory.SerialNumber, PartNumber: c.Inventory.PartNumber, Firmware: c.Inventory.FirmwareVersion,
		}
		if c.Inventory.PowerOnHours != nil {
			row.Age, row.AgeSource = fmt.Sprintf("%.1f years", *c.Inventory.PowerOnHours/8766), "power-on hours"
		}
		if strings.HasPrefix(c.Inventory.Model, "865408") {
			row.RefreshDue, row.Rule = true, "PSU model 865408-B21: out of support"
		}
		out = append(out, row)
	}
	return out
}

func findComponent(t testing.TB, s *model.Snapshot, id string) *model.Component {
	t.Helper()
	for i := range s.Components {
		if s.Components[i].ID == id {
			return &s.Components[i]
		}
	}
	t.Fatalf("no component %s in %s", id, s.Target)
	return nil
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
