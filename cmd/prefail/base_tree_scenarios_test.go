package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/prefail/prefail/redfish/redfishmock"
)

// scenarioDir holds scenarios on the base trees of other makes than the
// embedded ones (HPE iLO, Intel/Cray legacy-only, DMTF tower, HPE DL325
// with empty bays): one directory per case, discovered by walking, each
// with scenario.json (its base a capture in testdata/redfish) and
// expect.json (what the detector must make of it).
const scenarioDir = "../../testdata/scenarios"

// scenarioExpect is expect.json: healthy (no event at all), or targets
// warned at least a day before the BMC's Critical and the consequences
// allowed after it (see scenarioCase).
type scenarioExpect struct {
	Healthy bool     `json:"healthy"`
	Targets []string `json:"targets"`
	After   []string `json:"after"`
	// AfterWarning: the after components may raise from the BMC's first
	// Warning on a target, not only from its Critical.
	AfterWarning bool `json:"after_warning"`
}

// TestBaseTreeScenarios: healthy servers of every make stay silent over
// 30 simulated days of realistic load (stepped fan curves, weekday and
// weekend, seasonal inlet drift, a maintenance swap), and their parts'
// degradations are warned of at least a day before the BMC says Critical.
func TestBaseTreeScenarios(t *testing.T) {
	withoutRace(t)
	interval := scenarioTestInterval(t)
	old := debug.SetGCPercent(400)
	t.Cleanup(func() { debug.SetGCPercent(old) })
	dirs, err := os.ReadDir(scenarioDir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		n++
		dir := filepath.Join(scenarioDir, d.Name())
		t.Run(d.Name(), func(t *testing.T) {
			t.Parallel()
			var want scenarioExpect
			b, err := os.ReadFile(filepath.Join(dir, "expect.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatalf("expect.json: %v", err)
			}
			if want.Healthy == (len(want.Targets) > 0) {
				t.Fatalf("expect.json: say healthy, or name targets (not both)")
			}
			sc, err := redfishmock.LoadScenarioFile(filepath.Join(dir, "scenario.json"))
			if err != nil {
				t.Fatal(err)
			}
			checkScenario(t, sc, scenarioCase{name: d.Name(), healthy: want.Healthy, targets: want.Targets, after: want.After, afterWarning: want.AfterWarning}, interval)
		})
	}
	if n == 0 {
		t.Fatalf("no scenario in %s", scenarioDir)
	}
}
