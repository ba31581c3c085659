package redfish_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/redfish"
	"github.com/prefail/prefail/redfish/redfishmock"
	"github.com/prefail/prefail/redfish/redfishtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// captureDirs walks ../testdata/redfish and returns every directory that
// holds a service root: one test case per real capture.
func captureDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	root := filepath.Join("..", "testdata", "redfish")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		for _, rootFile := range []string{"index.json", "_redfish_v1.json"} {
			if _, err := os.Stat(filepath.Join(p, rootFile)); err == nil && p != root {
				dirs = append(dirs, p)
				return fs.SkipDir
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 25 {
		t.Fatalf("found %d capture directories under %s, want the 29 imported ones", len(dirs), root)
	}
	return dirs
}

// summary is what the golden files record per capture.
type summary struct {
	Fans         int            `json:"fans"`
	PSUs         int            `json:"psus"`
	Temperatures int            `json:"temperatures"`
	Drives       int            `json:"drives"`
	Events       int            `json:"events"`
	Worst        model.Health   `json:"worst_health"`
	Requests     int            `json:"requests"`
	ByKindHealth map[string]int `json:"by_kind_health"`
	Redundancy   []string       `json:"redundancy,omitempty"`
	Warnings     []string       `json:"warnings,omitempty"`
}

func summarize(s *model.Snapshot) summary {
	sum := summary{
		Fans: s.Count(model.KindFan), PSUs: s.Count(model.KindPSU), Temperatures: s.Count(model.KindTemperature),
		Drives: s.Count(model.KindDrive), Events: len(s.Events), Worst: s.Worst(), Requests: s.Requests,
		ByKindHealth: map[string]int{},
	}
	for _, c := range s.Components {
		sum.ByKindHealth[string(c.Kind)+"/"+string(c.Health)]++
	}
	for _, g := range s.Redundancy {
		sum.Redundancy = append(sum.Redundancy, fmt.Sprintf("%s %s %s: %d ok, %d working of %d, %d needed, redundant=%v",
			g.Kind, g.ID, g.Health, g.Healthy, g.Working, len(g.Members), g.MinNeeded, g.Redundant))
	}
	for _, w := range s.Warnings {
		sum.Warnings = append(sum.Warnings, w.Source+": "+w.Message)
	}
	sort.Strings(sum.Warnings)
	return sum
}

func scanTree(t *testing.T, tree *redfishmock.Tree, opts ...redfishmock.Option) (*model.Snapshot, *redfishtest.TestServer) {
	t.Helper()
	ts := redfishtest.NewServer(tree, opts...)
	t.Cleanup(ts.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	snap, err := redfish.Scan(ctx, ts.URL, redfish.WithCredentials("admin", "password"))
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	return snap, ts
}

// TestCaptures scans every real capture through the mock server over HTTP
// and checks: the golden summary; that the reader's request count is what
// the server saw; that no component is reported twice; that every fan,
// PSU, temperature sensor and drive in the capture files is reported (an
// oracle that counts them in the files directly); and that each
// component's health is what its own Status object says.
func TestCaptures(t *testing.T) {
	for _, dir := range captureDirs(t) {
		rel, _ := filepath.Rel(filepath.Join("..", "testdata", "redfish"), dir)
		t.Run(rel, func(t *testing.T) {
			tree, err := redfishmock.LoadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			snap, ts := scanTree(t, tree)
			if got, want := int64(snap.Requests), ts.Mock.Requests(); got != want {
				t.Errorf("snapshot says %d requests, the server saw %d", got, want)
			}
			seen := map[string]bool{}
			for _, c := range snap.Components {
				if seen[c.ID] {
					t.Errorf("component %s reported twice", c.ID)
				}
				seen[c.ID] = true
			}
			checkOracle(t, tree, snap)
			checkHealthAgainstStatus(t, tree, snap)

			got := summarize(snap)
			golden := filepath.Join("testdata", "golden", strings.ReplaceAll(rel, string(filepath.Separator), "__")+".json")
			if *update {
				b, _ := json.MarshalIndent(got, "", "  ")
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, append(b, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			b, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./redfish -update to create it)", err)
			}
			var want summary
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("summary mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// checkOracle counts parts in the capture files themselves, by resource
// type, independently of the reader's walk.
func checkOracle(t *testing.T, tree *redfishmock.Tree, snap *model.Snapshot) {
	t.Helper()
	var newFans, legacyFans, fanSensors, newPSUs, legacyPSUs, drives, simpleDevices, sensorTemps, legacyTemps int
	driveIDs := map[string]bool{}
	// Only what some link reaches counts: mockups hold orphan files (a
	// collection that lists Bay3 twice and never Bay2). Sensors that a
	// PSU's or fan's metrics point at are that part's readings.
	docs := map[string]map[string]any{}
	linked, readingOf := map[string]bool{}, map[string]bool{}
	for _, p := range tree.Paths() {
		b, _ := tree.Get(p)
		var m map[string]any
		if json.Unmarshal(b, &m) != nil || m["error"] != nil {
			continue // malformed captures are tested for warnings elsewhere
		}
		docs[p] = m
		typ, _ := m["@odata.type"].(string)
		partReadings := strings.HasPrefix(typ, "#PowerSupplyMetrics.") || strings.HasPrefix(typ, "#Fan.")
		walkRefs(m, true, func(key, id string) {
			if key != "DataSourceUri" {
				linked[strings.TrimRight(id, "/")] = true
			} else if partReadings {
				readingOf[strings.TrimRight(id, "/")] = true
			}
		})
	}
	// A chassis's standard sub-resources (URIs fixed by the Chassis schema)
	// are reachable even when the chassis resource itself is malformed.
	for _, p := range tree.Paths() {
		parent, last := path.Split(strings.TrimRight(p, "/"))
		if strings.HasPrefix(p, "/redfish/v1/Chassis/") && linked[strings.TrimRight(parent, "/")] &&
			(last == "Thermal" || last == "Power" || last == "ThermalSubsystem" || last == "PowerSubsystem" || last == "Sensors") {
			linked[strings.TrimRight(p, "/")] = true
		}
	}
	for _, p := range tree.Paths() {
		m, ok := docs[p]
		if !ok || !linked[strings.TrimRight(p, "/")] {
			continue
		}
		typ, _ := m["@odata.type"].(string)
		inChassis := strings.HasPrefix(p, "/redfish/v1/Chassis/")
		switch {
		case strings.HasPrefix(typ, "#Fan.") && inChassis:
			newFans++
		case strings.HasPrefix(typ, "#PowerSupply.") && inChassis:
			newPSUs++
		case strings.HasPrefix(typ, "#Drive."):
			// Mockups serve one drive at two URIs (Storage and Chassis):
			// it is one drive, as its @odata.id says, or as its serial
			// number and model say.
			id, _ := m["@odata.id"].(string)
			key := strings.TrimRight(id, "/")
			if serial, _ := m["SerialNumber"].(string); serial != "" {
				key = fmt.Sprintf("serial %s %v", serial, m["Model"])
			}
			if !driveIDs[key] {
				driveIDs[key] = true
				drives++
			}
		case strings.HasPrefix(typ, "#SimpleStorage."):
			devs, _ := m["Devices"].([]any)
			simpleDevices += len(devs)
		case strings.HasPrefix(typ, "#Thermal.") || strings.HasSuffix(p, "/Thermal"):
			fans, _ := m["Fans"].([]any)
			temps, _ := m["Temperatures"].([]any)
			legacyFans += len(fans)
			legacyTemps += len(temps)
		case strings.HasPrefix(typ, "#Power.") || strings.HasSuffix(p, "/Power"):
			psus, _ := m["PowerSupplies"].([]any)
			legacyPSUs += len(psus)
		case strings.HasPrefix(typ, "#Sensor.") && inChassis:
			units, _ := m["ReadingUnits"].(string)
			rt, _ := m["ReadingType"].(string)
			ctx, _ := m["PhysicalContext"].(string)
			switch {
			case readingOf[strings.TrimRight(p, "/")]:
			case units == "Cel" || rt == "Temperature":
				sensorTemps++
			case rt == "Rotational" || ((ctx == "Fan" || strings.Contains(strings.ToLower(fmt.Sprint(m["Name"])), "fan")) && (units == "RPM" || units == "%")):
				fanSensors++
			}
		}
	}
	pick := func(a, b int) int {
		if a > 0 {
			return a
		}
		return b
	}
	want := map[model.Kind]int{
		model.KindFan:         pick(newFans, pick(legacyFans, fanSensors)),
		model.KindPSU:         pick(newPSUs, legacyPSUs),
		model.KindDrive:       pick(drives, simpleDevices),
		model.KindTemperature: pick(sensorTemps, legacyTemps),
	}
	for kind, n := range want {
		if kind == model.KindTemperature {
			continue
		}
		if got := snap.Count(kind); got != n {
			t.Errorf("%s: reported %d, the capture files hold %d", kind, got, n)
		}
	}
	// Temperatures in both the Sensors and the legacy Thermal are merged
	// by identity (sensorIdentities): at least all of either, at most all
	// of both. The exact numbers are pinned in testdata/golden/counts.json.
	if got, lo, hi := snap.Count(model.KindTemperature), max(sensorTemps, legacyTemps), sensorTemps+legacyTemps; got < lo || got > hi {
		t.Errorf("temperature: reported %d, the capture files hold %d Sensors and %d legacy entries", got, sensorTemps, legacyTemps)
	}
}

// checkHealthAgainstStatus finds each component's own JSON object in the
// capture (by @odata.id, or by #fragment into a legacy array) and checks
// the health against its Status: Absent is absent, a null Health is
// unknown; neither may ever be ok.
func checkHealthAgainstStatus(t *testing.T, tree *redfishmock.Tree, snap *model.Snapshot) {
	t.Helper()
	for _, c := range snap.Components {
		if strings.Contains(c.ID, "#/Members/") || strings.Contains(c.ID, "#/derived/") {
			continue // ids we derived for members that have none
		}
		obj, ok := lookup(tree, c.ID)
		if !ok {
			continue
		}
		st, _ := obj["Status"].(map[string]any)
		state, _ := st["State"].(string)
		health, _ := st["Health"].(string)
		var want model.Health
		switch {
		case st == nil:
			want = model.HealthUnknown
		case state == "Absent":
			want = model.HealthAbsent
		case health == "OK" && state != "UnavailableOffline" && state != "Deferring":
			want = model.HealthOK
		case health == "Warning":
			want = model.HealthWarning
		case health == "Critical":
			want = model.HealthCritical
		default:
			want = model.HealthUnknown
		}
		if c.Health != want {
			t.Errorf("%s %s: health %s, its Status %v says %s", c.Kind, c.ID, c.Health, st, want)
		}
	}
}

// walkRefs calls fn for every reference in v: "@odata.id" values below
// the top object (links) and DataSourceUri values.
func walkRefs(v any, top bool, fn func(key, id string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if k == "Links" || k == "RelatedItem" || strings.HasSuffix(k, "Redundancy") {
				continue // references to parts, not the tree's own structure
			}
			if s, ok := e.(string); ok && ((k == "@odata.id" && !top) || k == "DataSourceUri") {
				fn(k, s)
				continue
			}
			walkRefs(e, false, fn)
		}
	case []any:
		for _, e := range x {
			walkRefs(e, false, fn)
		}
	}
}

func lookup(tree *redfishmock.Tree, id string) (map[string]any, bool) {
	path, frag, _ := strings.Cut(id, "#")
	b, ok := tree.Get(path)
	if !ok {
		return nil, false
	}
	var v any
	if json.Unmarshal(b, &v) != nil {
		return nil, false
	}
	for _, tok := range strings.Split(strings.Trim(frag, "/"), "/") {
		if tok == "" {
			continue
		}
		switch x := v.(type) {
		case map[string]any:
			v = x[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	m, ok := v.(map[string]any)
	return m, ok
}

func embedded(t *testing.T, name string) *redfishmock.Tree {
	t.Helper()
	tree, err := redfishmock.Embedded(name)
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func find(t *testing.T, s *model.Snapshot, id string) model.Component {
	t.Helper()
	for _, c := range s.Components {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no component %s", id)
	return model.Component{}
}

func ids(s *model.Snapshot) map[string]model.Health {
	out := map[string]model.Health{}
	for _, c := range s.Components {
		out[c.ID] = c.Health
	}
	return out
}

func fmtHealth(m map[string]model.Health) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, m[k])
	}
	return b.String()
}
