package report_test

import (
	"errors"
	"time"

	"github.com/prefail/prefail/agent"
	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/report"
)

// fixtureNow is the fixed "now" of the fixtures.
func fixtureNow() time.Time { return time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC) }

func ptr[T any](v T) *T { return &v }

// smallInput is a fixed fleet of three: a server whose fan is failing
// (risk 0.9, a forecast, a history), a healthy one with no verdicts, and
// a failed scan. Its strings include the hostile ones a BMC may send.
func smallInput() report.Input {
	fanID := "/redfish/v1/Chassis/1U/ThermalSubsystem/Fans/Bay2"
	psuID := "/redfish/v1/Chassis/1U/PowerSubsystem/PowerSupplies/Bay1"
	tempID := "/redfish/v1/Chassis/1U/Sensors/CPU1Temp"
	evilID := "/redfish/v1/Chassis/1U/Sensors/Evil"
	a := &model.Snapshot{
		Target: "https://bmc-a.example.net", Time: fixtureNow().Add(-time.Minute), Requests: 9,
		Components: []model.Component{
			{Kind: model.KindPSU, ID: psuID, Name: "Power Supply Bay 1", Location: "PSU 1", Health: model.HealthOK, State: "Enabled",
				Readings: []model.Reading{{Name: "output_power", Value: ptr(412.0), Unit: "W", Thresholds: &model.Thresholds{UpperCritical: ptr(800.0)}}}},
			{Kind: model.KindFan, ID: fanID, Name: "Fan Bay 2", Location: "Chassis Fan Bay 2", Health: model.HealthWarning, State: "Enabled",
				Readings: []model.Reading{{Name: "speed", Value: ptr(3100.0), Unit: "RPM", Thresholds: &model.Thresholds{LowerCritical: ptr(1000.0), LowerNonCritical: ptr(1500.0)}}}},
			{Kind: model.KindTemperature, ID: tempID, Name: "CPU #1 Temperature", Health: model.HealthOK,
				Readings: []model.Reading{{Name: "temperature", Value: ptr(44.0), Unit: "Cel", Thresholds: &model.Thresholds{UpperNonCritical: ptr(80.0), UpperCritical: ptr(90.0), UpperFatal: ptr(95.0)}}}},
			{Kind: model.KindSensor, ID: evilID, Name: `<script>alert("x")</script> & "quotes" 'single'`, Location: "<img src=x onerror=alert(1)>", Health: "bogus\x00health",
				Conditions: []model.Condition{{Message: "</td></tr><tr><td>injected"}},
				Readings:   []model.Reading{{Name: "humidity", Value: ptr(40.0), Unit: `%"><script>`}}},
		},
		Warnings: []model.Warning{{Source: "/redfish/v1/Chassis/1U/Sensors/Broken", Message: "decoding Reading: not a number"}},
	}
	b := &model.Snapshot{
		Target: "https://bmc-b.example.net", Time: fixtureNow().Add(-2 * time.Minute), Requests: 12,
		Components: []model.Component{
			{Kind: model.KindFan, ID: "/redfish/v1/Chassis/T/Fans/1", Name: "Fan 1", Health: model.HealthOK,
				Readings: []model.Reading{{Name: "speed", Value: ptr(5400.0), Unit: "RPM", Thresholds: &model.Thresholds{LowerCritical: ptr(1000.0)}}}},
			{Kind: model.KindDrive, ID: "/redfish/v1/Chassis/T/Drives/0", Name: "Disk 0", Health: model.HealthOK, FailurePredicted: ptr(false),
				Readings: []model.Reading{{Name: "media_life_left", Value: ptr(97.0), Unit: "%"}}},
		},
	}
	points := make([]agent.Point, 8)
	for i := range points {
		v := 4900 - 250*float64(i)
		points[i] = agent.Point{Time: fixtureNow().Add(time.Duration(i-7) * 24 * time.Hour), Value: v, Min: v - 40, Max: v + 30, N: 288}
	}
	return report.Input{
		Generated: fixtureNow(),
		Title:     "Rack 7 <b>weekly</b>",
		Results: []agent.Result{
			{Target: "https://bmc-b.example.net", Kind: "redfish", Duration: 420 * time.Millisecond, Snapshot: b},
			{Target: "https://bmc-c.example.net", Kind: "redfish", Duration: 60 * time.Second,
				Err: errors.New("timed out after 1m0s (see --timeout): Get \"https://bmc-c.example.net/redfish/v1\": context deadline exceeded\nsecond line")},
			{Target: "https://bmc-a.example.net", Kind: "redfish", Duration: 1300 * time.Millisecond, Snapshot: a},
		},
		Assessments: map[string][]detector.Assessment{
			"https://bmc-a.example.net": {
				{Component: detector.ComponentRef{Target: "https://bmc-a.example.net", Kind: model.KindFan, ID: fanID, Name: "Fan Bay 2"},
					State: detector.StateFailing, Risk: 0.9,
					Reasons: []detector.Reason{
						{Signal: "speed", Text: "Fan Bay 2 speed falling 250 RPM/day, 3100 RPM now: 8 days to go", Score: 0.85},
						{Signal: "speed", Text: "Fan Bay 2 speed 4900 -> 3100 RPM (37% below its baseline)", Score: 0.4},
					},
					Forecast: &detector.Forecast{Signal: "speed", Threshold: 1000, At: fixtureNow().Add(8 * 24 * time.Hour),
						Earliest: fixtureNow().Add(5 * 24 * time.Hour), Latest: fixtureNow().Add(13 * 24 * time.Hour)},
					Since: fixtureNow().Add(-2 * 24 * time.Hour), Updated: fixtureNow().Add(-time.Minute)},
				{Component: detector.ComponentRef{Kind: model.KindPSU, ID: psuID}, State: detector.StateOK, Risk: 0.02, Updated: fixtureNow()},
				{Component: detector.ComponentRef{Kind: model.KindTemperature, ID: tempID}, State: detector.StateWatch, Risk: 0.3,
					Reasons: []detector.Reason{{Signal: "temperature", Text: "CPU #1 Temperature 44 °C, 6 °C above its baseline", Score: 0.3}}, Updated: fixtureNow()},
			},
		},
		History: map[string][]agent.Series{
			"https://bmc-a.example.net": {
				{Component: "fan/" + fanID, Reading: "speed", Unit: "RPM", Points: points},
				{Component: "temperature/" + tempID, Reading: "temperature", Unit: "Cel", Points: []agent.Point{
					{Time: fixtureNow().Add(-2 * time.Hour), Value: 41, Min: 41, Max: 41, N: 1},
					{Time: fixtureNow().Add(-time.Hour), Value: 43, Min: 43, Max: 43, N: 1},
					{Time: fixtureNow(), Value: 44, Min: 44, Max: 44, N: 1},
				}},
			},
		},
		Inventory: []report.InventoryRow{
			{Target: "https://bmc-b.example.net", Kind: "drive", ComponentID: "/redfish/v1/Chassis/T/Drives/0", Name: "Disk 0", Model: "ST4000NM", Serial: "ZC1234", Firmware: "SN05", Age: "1.2 years", AgeSource: "power-on hours", Wear: "97% life left"},
			{Target: "https://bmc-a.example.net", Kind: "fan", ComponentID: fanID, Name: "Fan Bay 2", Location: "Chassis Fan Bay 2", Model: "RKS-440DC", PartNumber: "23456-133", Age: "6.1 years", AgeSource: "manufacture date", RefreshDue: true, Rule: "fans older than 5 years"},
		},
	}
}
