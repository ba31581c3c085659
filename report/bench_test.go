package report_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prefail/prefail/agent"
	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/report"
)

// syntheticFleet is servers BMCs of components parts each (fans, PSUs,
// temperatures, voltages, drives with readings and thresholds), every
// part assessed, one server in twenty with a degrading part and a
// forecast, a few failed scans, and a day of five-minute history for
// four series of each server, plus the inventory of every fan and PSU.
func syntheticFleet(servers, components int) report.Input {
	now := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	in := report.Input{Generated: now, Assessments: map[string][]detector.Assessment{}, History: map[string][]agent.Series{}}
	kinds := []model.Kind{model.KindFan, model.KindPSU, model.KindTemperature, model.KindVoltage, model.KindDrive}
	for s := range servers {
		target := fmt.Sprintf("https://bmc-%04d.dc1.example.net", s)
		if s%50 == 7 {
			in.Results = append(in.Results, agent.Result{Target: target, Kind: "redfish", Duration: 60 * time.Second,
				Err: fmt.Errorf("timed out after 1m0s (see --timeout): context deadline exceeded")})
			continue
		}
		snap := &model.Snapshot{Target: target, Time: now, Requests: 14}
		var as []detector.Assessment
		for c := range components {
			k := kinds[c%len(kinds)]
			id := fmt.Sprintf("/redfish/v1/Chassis/1/Sensors/%s%d", k, c)
			comp := model.Component{Kind: k, ID: id, Name: fmt.Sprintf("%s %d", k, c), Location: fmt.Sprintf("Bay %d", c), Health: model.HealthOK, State: "Enabled"}
			switch k {
			case model.KindFan:
				comp.Readings = []model.Reading{{Name: "speed", Value: ptr(5000 + 500*rng.Float64()), Unit: "RPM", Thresholds: &model.Thresholds{LowerCritical: ptr(1000.0), LowerNonCritical: ptr(1500.0)}}}
			case model.KindPSU:
				comp.Readings = []model.Reading{{Name: "output_power", Value: ptr(300 + 100*rng.Float64()), Unit: "W", Thresholds: &model.Thresholds{UpperCritical: ptr(800.0)}}}
				comp.Inventory = model.Inventory{Model: "PWS-1K", SerialNumber: fmt.Sprintf("P%06d", s*1000+c), FirmwareVersion: "1.2"}
			case model.KindTemperature:
				comp.Readings = []model.Reading{{Name: "temperature", Value: ptr(30 + 20*rng.Float64()), Unit: "Cel", Thresholds: &model.Thresholds{UpperNonCritical: ptr(80.0), UpperCritical: ptr(90.0)}}}
			case model.KindVoltage:
				comp.Readings = []model.Reading{{Name: "voltage", Value: ptr(12 + rng.Float64()*0.2), Unit: "V", Thresholds: &model.Thresholds{LowerCritical: ptr(10.8), UpperCritical: ptr(13.2)}}}
			case model.KindDrive:
				comp.Readings = []model.Reading{{Name: "media_life_left", Value: ptr(90 + 10*rng.Float64()), Unit: "%"}}
			}
			snap.Components = append(snap.Components, comp)
			a := detector.Assessment{Component: detector.ComponentRef{Target: target, Kind: k, ID: id}, State: detector.StateOK, Risk: 0.05 * rng.Float64(), Updated: now}
			if s%20 == 3 && c == 0 {
				a.State, a.Risk = detector.StateDegrading, 0.6+0.3*rng.Float64()
				a.Reasons = []detector.Reason{{Signal: "speed", Text: "fan 0 speed falling 300 RPM/day", Score: 0.6}}
				a.Forecast = &detector.Forecast{Signal: "speed", Threshold: 1000, At: now.Add(9 * 24 * time.Hour), Earliest: now.Add(6 * 24 * time.Hour)}
				snap.Components[c].Health = model.HealthWarning
			}
			as = append(as, a)
			if k == model.KindFan || k == model.KindPSU {
				in.Inventory = append(in.Inventory, report.InventoryRow{Target: target, Kind: string(k), ComponentID: id, Name: comp.Name,
					Model: comp.Inventory.Model, Serial: comp.Inventory.SerialNumber, Age: "3.1 years", AgeSource: "power-on hours", RefreshDue: c%37 == 0})
			}
		}
		in.Results = append(in.Results, agent.Result{Target: target, Kind: "redfish", Duration: 800 * time.Millisecond, Snapshot: snap})
		in.Assessments[target] = as
		for c := range min(4, components) {
			comp := snap.Components[c]
			series := agent.Series{Component: string(comp.Kind) + "/" + comp.ID, Reading: comp.Readings[0].Name, Unit: comp.Readings[0].Unit}
			for p := range 288 {
				v := *comp.Readings[0].Value * (1 + 0.01*rng.NormFloat64())
				series.Points = append(series.Points, agent.Point{Time: now.Add(time.Duration(p-288) * 5 * time.Minute), Value: v, Min: v * 0.99, Max: v * 1.01, N: 5})
			}
			in.History[target] = append(in.History[target], series)
		}
	}
	return in
}

// countingWriter counts the bytes written.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// BenchmarkWriteHTMLFleet measures the page of a fleet of 1,000 servers
// of 100 components each (the bound the report must hold: no 100 MB
// page). It reports the page's size in MB.
func BenchmarkWriteHTMLFleet(b *testing.B) {
	for _, size := range []struct{ servers, components int }{{10, 100}, {1000, 100}} {
		in := syntheticFleet(size.servers, size.components)
		b.Run(fmt.Sprintf("servers=%d/components=%d", size.servers, size.components), func(b *testing.B) {
			var w countingWriter
			for b.Loop() {
				w.n = 0
				if err := report.WriteHTML(context.Background(), &w, in); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(w.n)/1e6, "MB/page")
		})
	}
}

// TestFleetPageBounded: a fleet of 1,000 servers of 100 components gives
// a page of bounded size, with the sections bounded and the rest said.
func TestFleetPageBounded(t *testing.T) {
	in := syntheticFleet(1000, 100)
	var w countingWriter
	if err := report.WriteHTML(context.Background(), &w, in); err != nil {
		t.Fatal(err)
	}
	const limit = 25 << 20
	if w.n > limit {
		t.Errorf("page of %d bytes for 1,000 servers, over %d", w.n, limit)
	}
	t.Logf("1,000 servers x 100 components: %.1f MB", float64(w.n)/1e6)
}
