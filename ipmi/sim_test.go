package ipmi_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prefail/prefail/ipmi"
	"github.com/prefail/prefail/ipmi/ipmisim"
	"github.com/prefail/prefail/model"
)

// The boards written for the project (testdata/ipmi/boards, see gen.go).
var boards = []string{"realserver", "failing", "large"}

func boardDir(name string) string { return "../testdata/ipmi/boards/" + name }

func scan(t *testing.T, c *ipmi.Client) *model.Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	snap, err := c.Scan(ctx)
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	return snap
}

func newClient(t *testing.T, addr string, opts ...ipmi.Option) *ipmi.Client {
	t.Helper()
	c, err := ipmi.New(addr, append([]ipmi.Option{ipmi.WithCredentials(ipmisim.Username, ipmisim.Password)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ipmitool(t *testing.T, s *ipmisim.Sim, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := ipmisim.Ipmitool(ctx, s.Host, s.Port, s.Username, s.Password, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func byName(snap *model.Snapshot) map[string]model.Component {
	m := map[string]model.Component{}
	for _, c := range snap.Components {
		if strings.HasPrefix(c.ID, "sensor:") {
			m[c.Name] = c
		}
	}
	return m
}

// TestAgreesWithIpmitool scans each board and checks every sensor against
// `ipmitool sensor` on the same simulator: same names, readings within
// half a resolution step, same thresholds, and the same threshold state;
// then the SEL against `ipmitool sel elist`.
func TestAgreesWithIpmitool(t *testing.T) {
	for _, b := range boards {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			s := ipmisim.StartT(t, boardDir(b))
			snap := scan(t, newClient(t, s.Addr(), ipmi.WithMaxSELEntries(1000)))
			peer, err := ipmisim.ParseIpmitoolSensor(ipmitool(t, s, "sensor"))
			if err != nil {
				t.Fatal(err)
			}
			ours := byName(snap)
			if len(ours) != len(peer) {
				t.Errorf("%d sensors, ipmitool lists %d", len(ours), len(peer))
			}
			for _, p := range peer {
				c, ok := ours[p.Name]
				if !ok {
					t.Errorf("ipmitool's %q is missing", p.Name)
					continue
				}
				if p.Unit == "discrete" {
					if len(c.Readings) != 0 {
						t.Errorf("%s: discrete sensor with readings %v", p.Name, c.Readings)
					}
					continue
				}
				if len(c.Readings) != 1 || c.Readings[0].Value == nil || p.Value == nil {
					t.Errorf("%s: readings %+v, ipmitool %v", p.Name, c.Readings, p.Value)
					continue
				}
				r := c.Readings[0]
				if math.Abs(*r.Value-*p.Value) > 0.0011 {
					t.Errorf("%s: reading %v, ipmitool %v", p.Name, *r.Value, *p.Value)
				}
				var th model.Thresholds
				if r.Thresholds != nil {
					th = *r.Thresholds
				}
				got := [6]*float64{th.LowerFatal, th.LowerCritical, th.LowerNonCritical, th.UpperNonCritical, th.UpperCritical, th.UpperFatal}
				for i, name := range []string{"LNR", "LC", "LNC", "UNC", "UC", "UNR"} {
					switch {
					case (got[i] == nil) != (p.Thresholds[i] == nil):
						t.Errorf("%s %s: ours %v, ipmitool %v", p.Name, name, ptr(got[i]), ptr(p.Thresholds[i]))
					case got[i] != nil && math.Abs(*got[i]-*p.Thresholds[i]) > 0.0011:
						t.Errorf("%s %s: ours %v, ipmitool %v", p.Name, name, *got[i], *p.Thresholds[i])
					}
				}
				want := map[string]model.Health{"ok": model.HealthOK, "nc": model.HealthWarning, "cr": model.HealthCritical, "nr": model.HealthCritical, "na": model.HealthUnknown}[p.Status]
				if c.Health != want {
					t.Errorf("%s: health %s, ipmitool status %q", p.Name, c.Health, p.Status)
				}
			}

			sel, err := ipmisim.ParseIpmitoolSELElist(ipmitool(t, s, "sel", "elist"))
			if err != nil {
				t.Fatal(err)
			}
			if len(snap.Events) != len(sel) {
				t.Fatalf("%d events, ipmitool lists %d", len(snap.Events), len(sel))
			}
			for i, p := range sel {
				e := snap.Events[i]
				if e.ID != fmt.Sprintf("0x%04x", p.ID) {
					t.Errorf("event %d: id %s, ipmitool 0x%04x", i, e.ID, p.ID)
				}
				if p.OEM {
					if e.Asserted != nil || !strings.HasPrefix(e.Message, "OEM record") {
						t.Errorf("event %s: OEM record decoded as %+v", e.ID, e)
					}
					continue
				}
				if e.Asserted == nil || *e.Asserted != p.Asserted {
					t.Errorf("event %s: asserted %v, ipmitool %v", e.ID, e.Asserted, p.Asserted)
				}
				if !strings.HasPrefix(e.Message, p.Event) {
					t.Errorf("event %s: message %q, ipmitool %q", e.ID, e.Message, p.Event)
				}
				if !strings.HasSuffix(p.Sensor, e.SensorName) || !strings.HasPrefix(p.Sensor, e.SensorType) {
					t.Errorf("event %s: sensor %q %q, ipmitool %q", e.ID, e.SensorType, e.SensorName, p.Sensor)
				}
			}
		})
	}
}

func ptr(p *float64) any {
	if p == nil {
		return "na"
	}
	return *p
}

// TestFailingBoard: the verdicts prefail exists for, including the ones
// ipmitool and FreeIPMI's defaults print as "ok".
func TestFailingBoard(t *testing.T) {
	s := ipmisim.StartT(t, boardDir("failing"))
	snap := scan(t, newClient(t, s.Addr()))
	comps := byName(snap)
	want := map[string]model.Health{
		"PSU1 Status": model.HealthOK, "PSU2 Status": model.HealthCritical, "PSU3 Status": model.HealthWarning,
		"PSU4 Status": model.HealthAbsent, "PS Redundancy": model.HealthCritical,
		"Fan1": model.HealthOK, "Fan2": model.HealthCritical, "Fan3": model.HealthWarning, "Fan4": model.HealthOK,
		"CPU Temp": model.HealthCritical, "Inlet Temp": model.HealthWarning, "P12V": model.HealthOK,
		"Drive 0": model.HealthWarning, "Drive 1": model.HealthCritical, "Drive 2": model.HealthOK,
	}
	for name, h := range want {
		if got := comps[name].Health; got != h {
			t.Errorf("%s: %s, want %s (state %q)", name, got, h, comps[name].State)
		}
	}
	if k := comps["Drive 1"].Kind; k != model.KindDrive {
		t.Errorf("Drive 1 kind %s", k)
	}
	if len(snap.Redundancy) != 1 || snap.Redundancy[0].Redundant || snap.Redundancy[0].Derived {
		t.Errorf("redundancy %+v, want the BMC's lost PSU redundancy", snap.Redundancy)
	}
	var chassis model.Component
	for _, c := range snap.Components {
		if c.Kind == model.KindChassis {
			chassis = c
		}
	}
	if chassis.Inventory.SerialNumber != "SRV0000456" || chassis.Inventory.Model != "AS-2200" || !strings.HasPrefix(chassis.Inventory.ManufactureDate, "2022-") {
		t.Errorf("FRU inventory %+v", chassis.Inventory)
	}
	// The SEL: log cleared is information; AC lost is paired with its
	// deassertion; Fan1's dip below lower critical is paired, Fan2's is
	// still active; OEM records are kept raw.
	var cleared, acLost, oem int
	for _, e := range snap.Events {
		switch {
		case strings.HasPrefix(e.Message, "Log area reset/cleared"):
			cleared++
			if e.Severity != model.SeverityInfo {
				t.Errorf("log cleared has severity %s", e.Severity)
			}
		case strings.HasPrefix(e.Message, "Power Supply AC lost"):
			acLost++
			if e.PairedWith == "" || e.Active == nil || *e.Active {
				t.Errorf("AC lost not paired: %+v", e)
			}
		case strings.HasPrefix(e.Message, "OEM record"):
			oem++
			if len(e.Raw) == 0 {
				t.Errorf("OEM record without raw bytes")
			}
		case e.SensorName == "Fan1" && e.Asserted != nil && *e.Asserted:
			if e.Active == nil || *e.Active {
				t.Errorf("Fan1 %q still active after it recovered", e.Message)
			}
		case e.SensorName == "Fan2" && e.Asserted != nil && *e.Asserted:
			if e.Active == nil || !*e.Active {
				t.Errorf("Fan2 %q not active", e.Message)
			}
		}
	}
	if cleared != 1 || acLost != 2 || oem != 2 {
		t.Errorf("cleared %d, AC lost %d, OEM %d; want 1, 2, 2", cleared, acLost, oem)
	}
}

// TestFaultInjectionAndSELCursor: a fault set through the simulator's
// console shows on the next scan, which reads only the new SEL entries.
func TestFaultInjectionAndSELCursor(t *testing.T) {
	s := ipmisim.StartT(t, boardDir("failing"))
	c := newClient(t, s.Addr())
	first := scan(t, c)
	if byName(first)["Fan4"].Health != model.HealthOK {
		t.Fatalf("Fan4 starts %s", byName(first)["Fan4"].Health)
	}
	again := scan(t, c)
	if len(again.Events) != 0 {
		t.Errorf("nothing happened, yet %d events", len(again.Events))
	}
	// Fan4 drops to 300 RPM: below LNC and LC, two SEL events.
	if _, err := s.Console(context.Background(), "sensor_set_value 0x20 0 0x13 3 1"); err != nil {
		t.Fatal(err)
	}
	snap := scan(t, c)
	if h := byName(snap)["Fan4"].Health; h != model.HealthCritical {
		t.Errorf("Fan4 after the fault: %s", h)
	}
	if len(snap.Events) != 2 {
		t.Fatalf("events after the fault: %+v, want the 2 new ones", snap.Events)
	}
	for _, e := range snap.Events {
		if e.SensorName != "Fan4" || e.Asserted == nil || !*e.Asserted {
			t.Errorf("new event %+v", e)
		}
	}
	// Recovery: the deassertions pair with the assertions of the previous scan.
	if _, err := s.Console(context.Background(), "sensor_set_value 0x20 0 0x13 48 1"); err != nil {
		t.Fatal(err)
	}
	snap = scan(t, c)
	if h := byName(snap)["Fan4"].Health; h != model.HealthOK {
		t.Errorf("Fan4 after recovery: %s", h)
	}
	paired := 0
	for _, e := range snap.Events {
		if e.Asserted != nil && !*e.Asserted && e.PairedWith != "" {
			paired++
		}
	}
	if paired != 2 {
		t.Errorf("recovery events %+v: want 2 deassertions paired with the earlier assertions", snap.Events)
	}
	// A cleared SEL is noticed and is not a fault.
	ipmitool(t, s, "sel", "clear")
	snap = scan(t, c)
	found := false
	for _, w := range snap.Warnings {
		found = found || strings.Contains(w.Message, "cleared")
	}
	if !found {
		t.Errorf("SEL clear not reported: %+v", snap.Warnings)
	}
}

// TestSDRCache: a warm scan reuses the repository; when the BMC behind
// the same address serves another repository (new timestamps), the cache
// is not used: a replaced board never inherits the old sensors.
func TestSDRCache(t *testing.T) {
	dir := t.TempDir()
	s := ipmisim.StartT(t, boardDir("failing"))
	relay, err := ipmisim.NewRelay(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	addr := net.JoinHostPort("127.0.0.1", fmt.Sprint(relay.Port()))
	cold := scan(t, newClient(t, addr, ipmi.WithSDRCacheDir(dir)))
	warm := scan(t, newClient(t, addr, ipmi.WithSDRCacheDir(dir)))
	if warm.Requests >= cold.Requests-30 {
		t.Errorf("warm scan %d requests, cold %d: the cache saved too little", warm.Requests, cold.Requests)
	}
	if len(warm.Components) != len(cold.Components) || len(warm.Warnings) != 0 {
		t.Errorf("warm scan: %d components (cold %d), warnings %v", len(warm.Components), len(cold.Components), warm.Warnings)
	}

	other := ipmisim.StartT(t, boardDir("realserver"), ipmisim.WithSDRTime(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)))
	if err := relay.SetTarget(other.Addr()); err != nil {
		t.Fatal(err)
	}
	replaced := scan(t, newClient(t, addr, ipmi.WithSDRCacheDir(dir)))
	comps := byName(replaced)
	if _, ok := comps["FCB FAN1"]; !ok || len(comps) != 21 {
		t.Errorf("after the repository changed: %d sensors, FCB FAN1 present %v: the stale cache was used", len(comps), ok)
	}
	for _, c := range replaced.Components {
		if c.Health == model.HealthUnknown || c.Health == model.HealthCritical {
			t.Errorf("%s (%s) is %s on the healthy board", c.Name, c.ID, c.Health)
		}
	}
}

// TestRequestEconomy counts datagrams through a relay for prefail,
// ipmitool and FreeIPMI reading the same failing board: sensors with
// thresholds, SEL and chassis status.
func TestRequestEconomy(t *testing.T) {
	s := ipmisim.StartT(t, boardDir("failing"))
	relay, err := ipmisim.NewRelay(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	ctx := context.Background()
	cache := t.TempDir()
	addr := net.JoinHostPort("127.0.0.1", fmt.Sprint(relay.Port()))

	scan(t, newClient(t, addr, ipmi.WithSDRCacheDir(cache)))
	cold := relay.Requests()
	relay.Reset()
	// A new client with the disk cache: SDR from the cache, the whole SEL.
	c := newClient(t, addr, ipmi.WithSDRCacheDir(cache))
	full := scan(t, c)
	warmFull := relay.Requests()
	if full.Requests != warmFull {
		t.Errorf("snapshot says %d requests, the relay counted %d", full.Requests, warmFull)
	}
	// The same client again: nothing new in the SEL.
	relay.Reset()
	warmSnap := scan(t, c)
	warm := relay.Requests()

	fi := t.TempDir()
	freeipmi := func() int {
		relay.Reset()
		for _, args := range [][]string{
			{"ipmi-sensors", "--sdr-cache-directory", fi, "--output-sensor-thresholds"},
			{"ipmi-sel", "--sdr-cache-directory", fi},
			{"ipmi-chassis", "--get-chassis-status"},
		} {
			if _, err := ipmisim.FreeIPMI(ctx, args[0], "127.0.0.1", relay.Port(), s.Username, s.Password, args[1:]...); err != nil {
				t.Fatal(err)
			}
		}
		return relay.Requests()
	}
	freeCold := freeipmi()
	freeWarm := freeipmi()
	t.Logf("requests on the failing board (sensors+thresholds, SEL, chassis): prefail cold %d, with its SDR cache %d, cache + SEL cursor %d; FreeIPMI cold %d, with its SDR cache %d",
		cold, warmFull, warm, freeCold, freeWarm)
	if cold >= freeCold || warmFull >= freeWarm {
		t.Errorf("prefail cold %d / cached %d requests, FreeIPMI cold %d / cached %d: want fewer", cold, warmFull, freeCold, freeWarm)
	}
	sensors := 0
	for _, comp := range warmSnap.Components {
		if strings.HasPrefix(comp.ID, "sensor:") {
			sensors++
		}
	}
	// session set-up (5) + close (1) + one per sensor + SEL info + chassis
	// status + device id + repository info + FRU (info and data, cached).
	if limit := 6 + sensors + 1 + 1 + 4; warm > limit {
		t.Errorf("warm scan %d requests, want at most %d", warm, limit)
	}
}

// TestDeadline: a BMC that never answers fails within the deadline with
// an error naming the target.
func TestDeadline(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = ipmi.Scan(ctx, pc.LocalAddr().String(), ipmi.WithCredentials("admin", "x"))
	if err == nil || !errors.Is(err, ipmi.ErrTimeout) || !strings.Contains(err.Error(), pc.LocalAddr().String()) {
		t.Errorf("err = %v, want a timeout naming the target", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %s past a 1.5s deadline", d)
	}
}

func TestUnsupportedCipherSuite(t *testing.T) {
	_, err := ipmi.New("127.0.0.1:623", ipmi.WithCipherSuite(2))
	if !errors.Is(err, ipmi.ErrUnsupported) {
		t.Errorf("suite 2: %v, want ErrUnsupported", err)
	}
}

func TestWrongPassword(t *testing.T) {
	s := ipmisim.StartT(t, boardDir("failing"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := ipmi.Scan(ctx, s.Addr(), ipmi.WithCredentials("admin", "wrong"))
	if err == nil || strings.Contains(err.Error(), "wrong") {
		t.Errorf("err = %v: want an error that does not echo the password", err)
	}
}

// TestLAN15: the IPMI 1.5 interface reads the same board.
func TestLAN15(t *testing.T) {
	s := ipmisim.StartT(t, boardDir("failing"))
	snap := scan(t, newClient(t, s.Addr(), ipmi.WithInterface(ipmi.InterfaceLAN)))
	if h := byName(snap)["PSU2 Status"].Health; h != model.HealthCritical || len(byName(snap)) != 15 {
		t.Errorf("over IPMI 1.5: %d sensors, PSU2 %s", len(byName(snap)), h)
	}
}
