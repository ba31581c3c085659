package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prefail/prefail/agent"
	"github.com/prefail/prefail/lifecycle"
	"github.com/prefail/prefail/redfish/redfishmock"
	"github.com/prefail/prefail/redfish/redfishtest"
)

// withChanges returns the embedded tree name with the top-level
// properties of some resources replaced or added.
func withChanges(t *testing.T, name string, changes map[string]map[string]any) *redfishmock.Tree {
	t.Helper()
	tree, err := redfishmock.Embedded(name)
	if err != nil {
		t.Fatal(err)
	}
	for path, props := range changes {
		body, ok := tree.Get(path)
		if !ok {
			t.Fatalf("%s has no %s", name, path)
		}
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		maps.Copy(doc, props)
		b, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		tree = tree.With(path, b)
	}
	return tree
}

// mockEnv is the mock BMCs' credentials, as the environment gives them.
func mockEnv() func(string) (string, bool) {
	return envFrom(map[string]string{envUsername: redfishmock.DefaultUser, envPassword: redfishmock.DefaultPassword})
}

// csvRows reads CSV into maps by column name, keyed by component id.
func csvRows(t *testing.T, data string) map[string]map[string]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatalf("the CSV does not parse: %v\n%s", err, data)
	}
	if len(recs) < 2 {
		t.Fatalf("no rows:\n%s", data)
	}
	out := map[string]map[string]string{}
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, col := range recs[0] {
			row[col] = rec[i]
		}
		out[row["target"]+" "+row["component"]] = row
	}
	return out
}

// `prefail inventory` against two mock BMCs and one that does not
// answer: the rows of both, each part judged by the default policy, and
// exit status 1 for the failed target.
func TestInventoryCommand(t *testing.T) {
	const drives = "/redfish/v1/Chassis/Tower/Drives/"
	const psus = "/redfish/v1/Chassis/Tower/PowerSubsystem/PowerSupplies/"
	tower := redfishtest.NewServer(withChanges(t, "public-tower", map[string]map[string]any{
		drives + "Disk-1-0": {"PowerOnHours": 50000},
		drives + "Disk-1-1": {"PowerOnHours": 43000},
		drives + "Disk-1-2": {"PowerOnHours": 1000},
		drives + "M.2-1":    {"PredictedMediaLifeLeftPercent": 10},
		psus + "Bay1":       {"ProductionDate": "2017-04-01T14:55:33+03:00"},
		psus + "Bay2":       {"FirmwareVersion": "0.99"},
	}))
	defer tower.Close()
	rack1, err := redfishmock.Embedded("public-rackmount1")
	if err != nil {
		t.Fatal(err)
	}
	rack := redfishtest.NewServer(rack1)
	defer rack.Close()
	const down = "http://127.0.0.1:1"

	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr, lookupEnv: mockEnv(), now: func() time.Time { return now }}
	err = a.run(context.Background(), []string{"inventory", "--format", "csv", "--timeout", "10s", tower.URL, rack.URL, down})
	if code := exitCode(err); code != 1 || !strings.Contains(err.Error(), "1 of 3 targets failed") {
		t.Fatalf("exit %d (%v); want 1 for the target that is down\n%s", code, err, stderr.String())
	}
	if !strings.Contains(stderr.String(), down) {
		t.Errorf("stderr does not name the failed target:\n%s", stderr.String())
	}
	rows := csvRows(t, stdout.String())
	for _, tt := range []struct {
		target, component, due, rule, ageSource string
	}{
		{tower.URL, drives + "Disk-1-0", "now", "hdd-age", "power_on_hours"},
		{tower.URL, drives + "Disk-1-1", "within_horizon", "hdd-age", "power_on_hours"},
		{tower.URL, drives + "Disk-1-2", "no", "", "power_on_hours"},
		{tower.URL, drives + "M.2-1", "now", "ssd-endurance", "unknown"},
		{tower.URL, psus + "Bay1", "now", "psu-age", "manufacture_date"},
		{tower.URL, psus + "Bay2", "no", "", "unknown"},
		{rack.URL, "/redfish/v1/Chassis/1U/ThermalSubsystem/Fans/Bay1", "no", "", "unknown"},
	} {
		r, ok := rows[tt.target+" "+tt.component]
		if !ok {
			t.Errorf("no row for %s %s", tt.target, tt.component)
			continue
		}
		if r["refresh_due"] != tt.due || r["rule"] != tt.rule || r["age_source"] != tt.ageSource {
			t.Errorf("%s: due %q by %q, age from %q (%s); want %q by %q from %q", tt.component, r["refresh_due"], r["rule"],
				r["age_source"], r["reason"], tt.due, tt.rule, tt.ageSource)
		}
		if r["seen_at"] != now.Format(time.RFC3339) {
			t.Errorf("%s: seen at %q; want %s", tt.component, r["seen_at"], now.Format(time.RFC3339))
		}
	}
	if r := rows[tower.URL+" "+drives+"Disk-1-0"]; r["age_hours"] != "50000" || r["reason"] != "powered on 5.7 years (50,000 h), rule hdd-age: over 5 years" {
		t.Errorf("Disk-1-0: age %q, reason %q", r["age_hours"], r["reason"])
	}
	if r := rows[tower.URL+" "+drives+"M.2-1"]; r["percentage_used"] != "90.0" {
		t.Errorf("M.2-1: %q%% used; want 90.0 (10%% media life left)", r["percentage_used"])
	}
	if r := rows[tower.URL+" "+psus+"Bay2"]; r["firmware_outlier"] != "true" {
		t.Errorf("PSU Bay2 (0.99 against 1.00): firmware_outlier %q", r["firmware_outlier"])
	}
	for k := range rows {
		if strings.HasPrefix(k, down) {
			t.Errorf("a row for the target that is down: %s", k)
		}
	}

	// The same as JSON: the summary orders what is due.
	stdout.Reset()
	err = a.run(context.Background(), []string{"inventory", "--format", "json", "--timeout", "10s", tower.URL, rack.URL})
	if err != nil {
		t.Fatalf("inventory --format json: %v\n%s", err, stderr.String())
	}
	var doc struct {
		Summary          lifecycle.Summary           `json:"summary"`
		FirmwareOutliers []lifecycle.FirmwareOutlier `json:"firmware_outliers"`
		Rows             []lifecycle.Row             `json:"rows"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if s := doc.Summary; s.Targets != 2 || s.DueNow != 3 || s.DueWithinHorizon != 1 || s.Parts != len(doc.Rows) || len(rows) != len(doc.Rows) {
		t.Errorf("summary: %d targets, %d due now, %d within the horizon, %d parts of %d rows (CSV %d); want 2, 3, 1",
			s.Targets, s.DueNow, s.DueWithinHorizon, s.Parts, len(doc.Rows), len(rows))
	}
	// Both mocks' systems are a model 3500, with BIOS versions two years
	// apart; the tower's PSUs disagree.
	outliers := map[string]bool{}
	for _, o := range doc.FirmwareOutliers {
		outliers[fmt.Sprintf("%s %s %s older=%v", o.Kind, o.Model, o.Version, o.Older)] = true
	}
	if want := map[string]bool{"system 3500 P79 v1.45 (12/06/2017) older=true": true, "psu 499253-B21 0.99 older=true": true}; !maps.Equal(want, outliers) {
		t.Errorf("firmware outliers: %v; want %v", outliers, want)
	}

	// And the table, to a file.
	out := filepath.Join(t.TempDir(), "inventory.txt")
	stdout.Reset()
	if err := a.run(context.Background(), []string{"inventory", "--output", out, "--timeout", "10s", tower.URL}); err != nil {
		t.Fatalf("inventory --output: %v\n%s", err, stderr.String())
	}
	table, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if stdout.Len() != 0 || !strings.Contains(string(table), "To order (due now or within the horizon):") ||
		!strings.Contains(string(table), "powered on 5.7 years (50,000 h), rule hdd-age: over 5 years") {
		t.Errorf("stdout %q; the table:\n%s", stdout.String(), table)
	}
}

// With --store, wear and first-seen dates come from the agent's history:
// a fan 27% slower than in its first week, a fan first recorded six
// years ago.
func TestInventoryStore(t *testing.T) {
	tree, err := redfishmock.Embedded("public-rackmount1")
	if err != nil {
		t.Fatal(err)
	}
	ts := redfishtest.NewServer(tree)
	defer ts.Close()
	now := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	const fans = "/redfish/v1/Chassis/1U/ThermalSubsystem/Fans/"

	dir := filepath.Join(t.TempDir(), "store")
	store, err := agent.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The mock's fans turn at 2200 (Bay1), 2400 (Bay2) and 1490 RPM (CPU1).
	for _, s := range []struct {
		fan   string
		at    time.Duration // before now
		speed float64
	}{
		{"Bay1", 40 * day, 3000}, {"Bay1", 39 * day, 3000}, {"Bay1", 2 * day, 2200},
		{"Bay2", 40 * day, 2400},
		{"CPU1", 6 * 366 * day, 1490},
	} {
		err := store.Commit(&agent.Round{Target: ts.URL, Time: now.Add(-s.at),
			Samples: []agent.Sample{{Component: "fan/" + fans + s.fan, Reading: "speed", Unit: "RPM", Value: s.speed}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr, lookupEnv: mockEnv(), now: func() time.Time { return now }}
	if err := a.run(context.Background(), []string{"inventory", "--store", dir, "--format", "json", ts.URL}); err != nil {
		t.Fatalf("inventory --store: %v\n%s", err, stderr.String())
	}
	var doc struct {
		Rows []lifecycle.Row `json:"rows"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	byID := map[string]lifecycle.Row{}
	for _, r := range doc.Rows {
		byID[r.Component] = r
	}
	bay1, bay2, cpu1 := byID[fans+"Bay1"], byID[fans+"Bay2"], byID[fans+"CPU1"]
	if bay1.SpeedLossPercent == nil || *bay1.SpeedLossPercent != 26.7 || bay1.RefreshDue != lifecycle.DueNow || bay1.Rule != "fan-speed-loss" {
		t.Errorf("Bay1: speed loss %v, due %s by %q (%s); want 26.7%% ((3000 - 2200) / 3000), now by fan-speed-loss",
			bay1.SpeedLossPercent, bay1.RefreshDue, bay1.Rule, bay1.Reason)
	}
	if bay2.SpeedLossPercent == nil || *bay2.SpeedLossPercent != 0 || bay2.RefreshDue != lifecycle.DueNo ||
		bay2.AgeSource != lifecycle.AgeFirstSeen || bay2.FirstSeen == nil || !bay2.FirstSeen.Equal(now.Add(-40*day)) {
		t.Errorf("Bay2: %+v; want no speed loss, first seen 40 days ago, not due", bay2)
	}
	if cpu1.AgeSource != lifecycle.AgeFirstSeen || cpu1.RefreshDue != lifecycle.DueNow || cpu1.Rule != "fan-age" {
		t.Errorf("CPU1: age from %s, due %s by %q (%s); want first seen six years ago, now by fan-age", cpu1.AgeSource, cpu1.RefreshDue, cpu1.Rule, cpu1.Reason)
	}
	if cpu2 := byID[fans+"CPU2"]; cpu2.AgeSource != lifecycle.AgeUnknown || cpu2.RefreshDue != lifecycle.DueNo {
		t.Errorf("CPU2 (no history): age from %s, due %s", cpu2.AgeSource, cpu2.RefreshDue)
	}
}

// Saved smartctl output: the drive's age is its power-on hours as the
// capture gives them.
func TestInventorySmartctl(t *testing.T) {
	raw, err := os.ReadFile(healthyCapture)
	if err != nil {
		t.Fatal(err)
	}
	var capture struct {
		PowerOnTime struct{ Hours float64 } `json:"power_on_time"`
		Model       string                  `json:"model_name"`
	}
	if err := json.Unmarshal(raw, &capture); err != nil || capture.PowerOnTime.Hours == 0 {
		t.Fatalf("capture: %v, %+v", err, capture)
	}
	out, err := runApp(t, "", "inventory", "--format", "json", "--smartctl", healthyCapture)
	if err != nil {
		t.Fatalf("inventory --smartctl: %v\n%s", err, out)
	}
	var doc struct {
		Rows []lifecycle.Row `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Rows) != 1 {
		t.Fatalf("%d rows; want the one drive", len(doc.Rows))
	}
	r := doc.Rows[0]
	if r.Model != capture.Model || r.Media != lifecycle.MediaHDD || r.AgeSource != lifecycle.AgePowerOnHours ||
		r.AgeHours == nil || *r.AgeHours != capture.PowerOnTime.Hours || r.RefreshDue != lifecycle.DueNo {
		t.Errorf("row %+v; want model %s, HDD, %v power-on hours, not due", r, capture.Model, capture.PowerOnTime.Hours)
	}
}

func TestInventoryPolicyFlags(t *testing.T) {
	out, err := runApp(t, "", "inventory", "--print-default-policy")
	if err != nil {
		t.Fatal(err)
	}
	if out != string(lifecycle.DefaultPolicyYAML()) {
		t.Error("--print-default-policy does not print the embedded default policy")
	}
	if _, err := lifecycle.ParsePolicy("printed.yaml", []byte(out)); err != nil {
		t.Errorf("the printed default policy does not parse: %v", err)
	}

	// A policy of one's own replaces the default rules: a 500-hour drive
	// life makes the capture's drive due now.
	dir := t.TempDir()
	policy := writeFile(t, dir, "policy.yaml", "rules:\n  - name: young-drives\n    kind: drive\n    age_over: 500h\n")
	out, err = runApp(t, "", "inventory", "--policy", policy, "--format", "csv", "--smartctl", healthyCapture)
	if err != nil {
		t.Fatalf("inventory --policy: %v\n%s", err, out)
	}
	for _, r := range csvRows(t, out) {
		if r["refresh_due"] != "now" || r["rule"] != "young-drives" {
			t.Errorf("row due %q by %q; want now by young-drives", r["refresh_due"], r["rule"])
		}
	}
}

func TestInventoryUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.yaml", "horizon: 90d\nrules:\n  - name: x\n    kind: fan\n    age_ovr: 5y\n")
	notStore := filepath.Join(dir, "no-such-store")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"inventory", "--format", "xml", "https://bmc1"}, `--format "xml": want table, csv or json`},
		{[]string{"inventory", "--policy", bad, "https://bmc1"}, bad + `:5:5: unknown key "age_ovr" in rules[0] (did you mean "age_over"?)`},
		{[]string{"inventory", "--policy", filepath.Join(dir, "missing.yaml"), "https://bmc1"}, "--policy"},
		{[]string{"inventory", "--policy", dir, "https://bmc1"}, "not a regular file"},
		{[]string{"inventory", "--store", notStore, "https://bmc1"}, notStore + ": no such store"},
		{[]string{"inventory", "--print-default-policy", "https://bmc1"}, "--print-default-policy takes no targets"},
		{[]string{"inventory"}, "no targets"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), tt.args, &stdout, &stderr)
		if code := exitCode(err); code != 2 || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: exit %d, %v; want 2 and %q", tt.args, code, err, tt.want)
		}
	}
	if _, err := os.Stat(notStore); err == nil {
		t.Error("--store created a store where there was none")
	}
}
