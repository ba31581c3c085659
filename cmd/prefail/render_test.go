package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/prefail/prefail/model"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/prefail -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got); if the change is intended, run go test ./cmd/prefail -update:\n%s", path, diff)
	}
}

var testTime = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// sampleResults is a hand-built scan of two targets: one that answered
// (with a degrading PSU, an absent PSU, fans, sensors, a drive predicting
// its failure, a redundancy group, events and warnings) and one that failed.
func sampleResults() []result {
	f := model.Float
	snap := &model.Snapshot{
		Target: "https://bmc1.example.com",
		Time:   testTime,
		Components: []model.Component{
			{Kind: model.KindChassis, ID: "/redfish/v1/Chassis/1U", Name: "Computer System Chassis", Health: model.HealthOK, State: "Enabled",
				Inventory: model.Inventory{Manufacturer: "Contoso", Model: "3500RX", SerialNumber: "437XR1138R2"}},
			{Kind: model.KindFan, ID: "/redfish/v1/Chassis/1U/ThermalSubsystem/Fans/Bay1", Name: "Fan Bay 1", Chassis: "/redfish/v1/Chassis/1U",
				Health: model.HealthOK, State: "Enabled",
				Readings: []model.Reading{{Name: "speed", Value: f(5400), Unit: "RPM",
					Thresholds: &model.Thresholds{LowerCritical: f(1000), LowerFatal: f(500)},
					Source:     "/redfish/v1/Chassis/1U/Sensors/FanBay1"}}},
			{Kind: model.KindPSU, ID: "/redfish/v1/Chassis/1U/PowerSubsystem/PowerSupplies/Bay2", Name: "Power Supply Bay 2", Location: "PSU 2",
				Health: model.HealthAbsent, State: "Absent"},
			{Kind: model.KindFan, ID: "/redfish/v1/Chassis/1U/ThermalSubsystem/Fans/Bay2", Name: "Fan Bay 2",
				Health: model.HealthUnknown, State: "Enabled",
				Readings: []model.Reading{{Name: "speed", Unit: "RPM"}}},
			{Kind: model.KindPSU, ID: "/redfish/v1/Chassis/1U/PowerSubsystem/PowerSupplies/Bay1", Name: "Power Supply Bay 1", Location: "PSU 1",
				Health: model.HealthWarning, State: "Enabled",
				Conditions: []model.Condition{{MessageID: "Power.1.0.PowerSupplyPredictiveFailure",
					Message: "Power supply 'PSU 1' has a predicted failure condition.", Severity: model.SeverityWarning,
					Time: time.Date(2026, 3, 13, 17, 25, 0, 0, time.UTC)}},
				Readings: []model.Reading{
					{Name: "input_voltage", Value: f(230.25), Unit: "V", Thresholds: &model.Thresholds{LowerCritical: f(180), UpperCritical: f(264)}},
					{Name: "output_power", Value: f(187.5), Unit: "W", Thresholds: &model.Thresholds{UpperNonCritical: f(380), UpperCritical: f(400)}},
				},
				Inventory: model.Inventory{Manufacturer: "Contoso Power", Model: "RKS-440DC", SerialNumber: "3488247", FirmwareVersion: "1.00", PowerOnHours: f(26280)}},
			{Kind: model.KindTemperature, ID: "/redfish/v1/Chassis/1U/Sensors/CPU1Temp", Name: "CPU 1 Temperature",
				Health: model.HealthCritical, State: "Enabled",
				Readings: []model.Reading{{Name: "temperature", Value: f(96.4), Unit: "Cel",
					Thresholds: &model.Thresholds{UpperNonCritical: f(85), UpperCritical: f(95), UpperFatal: f(105)}}}},
			{Kind: model.KindDrive, ID: "/redfish/v1/Systems/437XR1138R2/Storage/1/Drives/0", Name: "Drive 0",
				Health: model.HealthOK, State: "Enabled", FailurePredicted: ptr(true),
				Readings:  []model.Reading{{Name: "media_life_left", Value: f(7), Unit: "%"}},
				Inventory: model.Inventory{Model: "ST4000NM0035", MediaType: "HDD", Protocol: "SATA", CapacityBytes: 4000787030016}},
			{Kind: model.KindSensor, ID: "/redfish/v1/Chassis/1U/Sensors/Humidity", Name: "Ambient\x1b[31m Humidity\tsensor",
				Health: "", Readings: []model.Reading{{Name: "humidity", Value: f(41), Unit: "%"}}},
		},
		Redundancy: []model.RedundancyGroup{{
			ID: "/redfish/v1/Chassis/1U/PowerSubsystem#/PowerSupplyRedundancy/0", Name: "PSU redundancy", Kind: model.KindPSU, Mode: "N+m",
			MinNeeded: 1, Members: []string{"/redfish/v1/Chassis/1U/PowerSubsystem/PowerSupplies/Bay1", "/redfish/v1/Chassis/1U/PowerSubsystem/PowerSupplies/Bay2"},
			Healthy: 0, Working: 1, Redundant: false, Health: model.HealthCritical,
		}},
		Events: []model.Event{
			{Time: time.Date(2026, 3, 12, 8, 0, 0, 0, time.UTC), Severity: model.SeverityInfo, SensorName: "PSU 1",
				Message: "Power supply 'PSU 1' input restored.", MessageID: "Power.1.0.PowerSupplyInputRestored", ID: "1", Source: "/redfish/v1/Managers/BMC/LogServices/SEL"},
			{Severity: model.SeverityInfo, Message: "Log cleared (no timestamp).", ID: "0"},
			{Time: time.Date(2026, 3, 13, 17, 25, 0, 0, time.UTC), Severity: model.SeverityWarning,
				Component: "/redfish/v1/Chassis/1U/PowerSubsystem/PowerSupplies/Bay1", SensorType: "Power Supply", SensorName: "PSU 1",
				Message: "Power supply 'PSU 1' has a predicted failure condition.", MessageID: "Power.1.0.PowerSupplyPredictiveFailure",
				Code: "Assert", Asserted: ptr(true), ID: "2", Source: "/redfish/v1/Managers/BMC/LogServices/SEL",
				Raw: json.RawMessage(`{"Id":"2","EntryType":"SEL"}`)},
		},
		Warnings: []model.Warning{{Source: "/redfish/v1/Chassis/1U/Power", Message: "deprecated Power resource skipped: PowerSubsystem read instead"}},
		Requests: 23,
	}
	return []result{
		{Target: "https://bmc1.example.com", Duration: 1234 * time.Millisecond, Snapshot: snap},
		{Target: "https://bmc2.example.com:8443", Duration: 60 * time.Second,
			Err: errors.New("timed out after 1m0s (see --timeout): context deadline exceeded")},
		{Target: "http://127.0.0.1:8000", Duration: 3 * time.Millisecond, Snapshot: &model.Snapshot{Target: "http://127.0.0.1:8000", Time: testTime, Requests: 1}},
	}
}

func TestJSONGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := writeJSON(&buf, sampleResults(), testTime.Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	golden(t, "scan.json", buf.Bytes())

	// The documented shape, independent of the golden file.
	var doc struct {
		SchemaVersion int    `json:"schema_version"`
		Generated     string `json:"generated"`
		Targets       []struct {
			Target   string   `json:"target"`
			Error    *string  `json:"error"`
			Duration *float64 `json:"duration_seconds"`
			Snapshot *struct {
				Components []map[string]any `json:"components"`
				Events     []map[string]any `json:"events"`
				Warnings   []map[string]any `json:"warnings"`
				Requests   *int             `json:"requests"`
			} `json:"snapshot"`
		} `json:"targets"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SchemaVersion != 1 || doc.Generated != "2026-03-14T09:26:58Z" || len(doc.Targets) != 3 {
		t.Fatalf("header: %+v", doc)
	}
	ok, failed, empty := doc.Targets[0], doc.Targets[1], doc.Targets[2]
	if ok.Error != nil || ok.Snapshot == nil || *ok.Snapshot.Requests != 23 || *ok.Duration != 1.234 {
		t.Errorf("first target: %+v", ok)
	}
	for _, c := range ok.Snapshot.Components {
		for _, k := range []string{"kind", "id", "name", "health"} {
			if _, found := c[k]; !found {
				t.Errorf("component %v has no %q", c["id"], k)
			}
		}
	}
	if failed.Error == nil || failed.Snapshot != nil {
		t.Errorf("failed target: %+v", failed)
	}
	if empty.Snapshot == nil || empty.Snapshot.Components == nil || empty.Snapshot.Events == nil || empty.Snapshot.Warnings == nil {
		t.Errorf("empty snapshot lists must be [] not null: %+v", empty.Snapshot)
	}
}

func TestTableGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := writeTable(&buf, sampleResults()); err != nil {
		t.Fatal(err)
	}
	golden(t, "scan.txt", buf.Bytes())
}

func TestTableOrderAndHealth(t *testing.T) {
	var buf bytes.Buffer
	if err := writeTable(&buf, sampleResults()[:1]); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	lines := strings.Split(out, "\n")
	rowOf := func(name string) string {
		for _, l := range lines {
			if strings.Contains(l, name) && !strings.HasPrefix(l, "EVENTS") {
				return l
			}
		}
		t.Fatalf("no row for %q in:\n%s", name, out)
		return ""
	}
	// Worst first: critical, warning, unknown, absent, ok.
	order := []string{"CPU 1 Temperature", "Power Supply Bay 1", "Fan Bay 2", "Power Supply Bay 2", "Fan Bay 1", "Drive 0", "Computer System Chassis"}
	last := -1
	for _, name := range order {
		i := strings.Index(out, name)
		if i < last {
			t.Errorf("%q is not after the previous component in worst-first order:\n%s", name, out)
		}
		last = i
	}
	health := map[string]string{
		"Power Supply Bay 2": "absent", "Fan Bay 2": "unknown", "Power Supply Bay 1": "warning",
		"CPU 1 Temperature": "critical", "Ambient": "unknown",
	}
	for name, h := range health {
		row := rowOf(name)
		if !regexp.MustCompile(`\s` + h + `\s`).MatchString(row) {
			t.Errorf("row %q: want health %s", row, h)
		}
		if regexp.MustCompile(`\sok\s`).MatchString(row) {
			t.Errorf("row %q shows ok", row)
		}
	}
	for name, reading := range map[string]string{
		"Fan Bay 1":          "5400 RPM (lower critical 1000)",
		"Fan Bay 2":          "unavailable",
		"Power Supply Bay 1": "187.5 W (upper warning 380)",
		"CPU 1 Temperature":  "96.4 °C (upper critical 95)",
		"Drive 0":            "7%",
	} {
		if row := rowOf(name); !strings.Contains(row, reading) {
			t.Errorf("row %q: want reading %q", row, reading)
		}
	}
	if row := rowOf("Drive 0"); !strings.Contains(row, "failure predicted") {
		t.Errorf("drive row lacks its failure prediction: %q", row)
	}
	if strings.Contains(out, "\x1b") {
		t.Error("control characters from the BMC reach the terminal")
	}
	header := lines[0]
	for _, want := range []string{"https://bmc1.example.com", "worst: critical", "2 psu, 2 fan, 1 drive, 1 temperature, 1 sensor, 1 chassis", "requests: 23", "duration: 1.234s"} {
		if !strings.Contains(header, want) {
			t.Errorf("header %q lacks %q", header, want)
		}
	}
	// Events newest first, the undated one last.
	i1, i2, i0 := strings.Index(out, "has a predicted failure condition.\n"), strings.Index(out, "input restored"), strings.Index(out, "Log cleared")
	if !(i1 < i2 && i2 < i0) {
		t.Errorf("events not newest first:\n%s", out)
	}
}

func TestTableBoundsEvents(t *testing.T) {
	snap := &model.Snapshot{Target: "x"}
	for i := range 27 {
		snap.Events = append(snap.Events, model.Event{Time: testTime.Add(time.Duration(i) * time.Minute), Severity: model.SeverityInfo, Message: fmt.Sprintf("event %02d", i)})
	}
	var buf bytes.Buffer
	if err := writeTable(&buf, []result{{Target: "x", Snapshot: snap}}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "event 26") || !strings.Contains(out, "event 07") || strings.Contains(out, "event 06") {
		t.Errorf("want the 20 newest events:\n%s", out)
	}
	if !strings.Contains(out, "... 7 more") {
		t.Errorf("want '... 7 more':\n%s", out)
	}
}

func TestNearestThreshold(t *testing.T) {
	th := &model.Thresholds{LowerCritical: model.Float(10), LowerNonCritical: model.Float(20), UpperNonCritical: model.Float(80), UpperCritical: model.Float(90)}
	for v, want := range map[float64]string{12: "lower critical 10", 19: "lower warning 20", 60: "upper warning 80", 200: "upper critical 90"} {
		label, x, ok := nearestThreshold(v, th)
		if got := fmt.Sprintf("%s %s", label, formatNumber(x)); !ok || got != want {
			t.Errorf("nearestThreshold(%v) = %q; want %q", v, got, want)
		}
	}
	if _, _, ok := nearestThreshold(1, &model.Thresholds{}); ok {
		t.Error("no thresholds: want none")
	}
}

// TestJSONSchemaDocExample keeps the example in docs/json-schema.md in step
// with the types: it must decode with no unknown field.
func TestJSONSchemaDocExample(t *testing.T) {
	b, err := os.ReadFile("../../docs/json-schema.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```json\n")
	if !ok {
		t.Fatal("docs/json-schema.md has no ```json example")
	}
	example, _, _ := strings.Cut(rest, "```")
	dec := json.NewDecoder(strings.NewReader(example))
	dec.DisallowUnknownFields()
	var rep jsonReport
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("docs/json-schema.md example: %v", err)
	}
	if rep.SchemaVersion != schemaVersion || len(rep.Targets) == 0 {
		t.Errorf("example: %+v", rep)
	}
}

// TestFailedTargetHasNoVerdict: a failed scan's partial snapshot never
// reads as "worst: ok": its health is unknown.
func TestFailedTargetHasNoVerdict(t *testing.T) {
	r := result{Target: "https://bmc9", Err: errors.New("tls: failed to verify certificate: x509: certificate signed by unknown authority (hint: ...)"),
		Snapshot: &model.Snapshot{Target: "https://bmc9"}}
	var buf bytes.Buffer
	if err := writeTable(&buf, []result{r}); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); !strings.Contains(out, "worst: unknown") || strings.Contains(out, "worst: ok") || !strings.Contains(out, "FAILED") || !strings.Contains(out, "(hint: ...)") {
		t.Errorf("table:\n%s", out)
	}
	buf.Reset()
	if err := writeJSON(&buf, []result{r}, testTime); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"worst": "unknown"`) {
		t.Errorf("json: a failed scan's worst health is not unknown:\n%s", &buf)
	}
}
