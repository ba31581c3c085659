package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/redfish"
	"github.com/prefail/prefail/redfish/redfishmock"
	"github.com/prefail/prefail/redfish/redfishtest"
)

// TestRackmount1PSUCondition reads the DMTF public-rackmount1 mockup as
// captured (its PSU Bay1 has the Status.Conditions entry
// Power.1.0.PowerSupplyPredictiveFailure, Health Warning) through the real
// Redfish reader and the detector: two scans raise a warning on Bay1 from
// its condition, before the BMC's own Warning has held an hour. Nothing
// else raises: the other conditions of the capture are threshold
// crossings (CPU1 Temp above its caution threshold, rolled up to the
// processor and the system), which the readings judge, and the PSU group
// never was redundant (Bay2 is an empty bay).
func TestRackmount1PSUCondition(t *testing.T) {
	tree, err := redfishmock.LoadDir(filepath.Join("..", "..", "testdata", "redfish", "dmtf", "public-rackmount1"))
	if err != nil {
		t.Fatal(err)
	}
	ts := redfishtest.NewServer(tree)
	defer ts.Close()
	c, err := redfish.New(ts.URL, redfish.WithHTTPClient(ts.Client()),
		redfish.WithCredentials(redfishmock.DefaultUser, redfishmock.DefaultPassword))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = c.Close(context.Background()) }()
	det, err := detector.New(detector.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var events []detector.Event
	for i := range 2 {
		snap, err := c.Scan(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			checkCaptureHasCondition(t, snap)
		}
		snap.Target, snap.Time = "rackmount1", start.Add(time.Duration(i)*10*time.Minute)
		events = append(events, det.Observe(snap)...)
	}
	if len(events) != 1 || events[0].Component.ID != psuBay1 || events[0].Type != detector.EventRaised || events[0].Severity != model.SeverityWarning {
		t.Fatalf("events %+v, want one warning on %s", events, psuBay1)
	}
	r := events[0].Reasons[0]
	if r.Signal != "condition" || !strings.Contains(r.Text, `condition "Power supply 'PSU 1' has a predicted failure condition." (PowerSupplyPredictiveFailure)`) {
		t.Errorf("reason %+v", r)
	}
}

// checkCaptureHasCondition makes sure the reader still maps the capture's
// condition: without it the test above would prove nothing.
func checkCaptureHasCondition(t *testing.T, snap *model.Snapshot) {
	t.Helper()
	for _, c := range snap.Components {
		if c.ID == psuBay1 {
			for _, cond := range c.Conditions {
				if cond.MessageID == "Power.1.0.PowerSupplyPredictiveFailure" {
					return
				}
			}
			t.Fatalf("%s conditions %+v", psuBay1, c.Conditions)
		}
	}
	t.Fatalf("no %s in the snapshot", psuBay1)
}
