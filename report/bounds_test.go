package report_test

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/prefail/prefail/agent"
	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/report"
)

// server builds a scanned server with one fan of the given health, and
// its assessment at risk (none when risk < 0).
func server(in *report.Input, target string, health model.Health, risk float64) {
	id := "/redfish/v1/Chassis/1/Fans/" + target
	snap := &model.Snapshot{Target: target, Time: fixtureNow(), Components: []model.Component{
		{Kind: model.KindFan, ID: id, Name: "Fan of " + target, Health: health,
			Readings: []model.Reading{{Name: "speed", Value: ptr(5000.0), Unit: "RPM"}}},
	}}
	in.Results = append(in.Results, agent.Result{Target: target, Kind: "redfish", Duration: time.Second, Snapshot: snap})
	if risk >= 0 {
		if in.Assessments == nil {
			in.Assessments = map[string][]detector.Assessment{}
		}
		in.Assessments[target] = []detector.Assessment{{Component: detector.ComponentRef{Kind: model.KindFan, ID: id}, State: detector.StateOK, Risk: risk}}
	}
}

var rankingRow = regexp.MustCompile(`<td class="target txt">(?:<a href="#([^"]*)">)?([^<]*)`)

// ranking returns the ranked targets and their section anchors.
func ranking(page string) (targets, anchors []string) {
	for _, m := range rankingRow.FindAllStringSubmatch(page, -1) {
		targets = append(targets, m[2])
		anchors = append(anchors, m[1])
	}
	return targets, anchors
}

func TestRanking(t *testing.T) {
	var in report.Input
	server(&in, "a-healthy", model.HealthOK, 0)
	in.Results = append(in.Results, agent.Result{Target: "b-failed", Kind: "redfish", Err: errors.New("connection refused")})
	server(&in, "c-risky", model.HealthOK, 0.3)
	server(&in, "d-warning", model.HealthWarning, 0)
	server(&in, "e-risky-critical", model.HealthCritical, 0.3)
	server(&in, "f-no-verdict", model.HealthOK, -1)
	targets, _ := ranking(writeHTML(t, in))
	// Risk first, then health (failed: unknown, above ok), then failed
	// before the others, then name.
	want := []string{"e-risky-critical", "c-risky", "d-warning", "b-failed", "a-healthy", "f-no-verdict"}
	if diff := cmp.Diff(want, targets); diff != "" {
		t.Errorf("ranking (-want +got):\n%s", diff)
	}
}

// TestSectionsBound: beyond MaxServerDetails, the failed scans and the
// riskiest servers get a section, the others are in the ranking only,
// and the page says so.
func TestSectionsBound(t *testing.T) {
	in := report.Input{MaxServerDetails: 2}
	for i := range 4 {
		server(&in, fmt.Sprintf("healthy-%d", i), model.HealthOK, 0)
	}
	in.Results = append(in.Results, agent.Result{Target: "z-failed", Kind: "redfish", Err: errors.New("connection refused")})
	server(&in, "risky", model.HealthOK, 0.7)
	page := writeHTML(t, in)
	targets, anchors := ranking(page)
	if diff := cmp.Diff([]string{"risky", "z-failed", "healthy-0", "healthy-1", "healthy-2", "healthy-3"}, targets); diff != "" {
		t.Errorf("ranking (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"server-1", "server-2", "", "", "", ""}, anchors); diff != "" {
		t.Errorf("sections (-want +got):\n%s", diff)
	}
	if n := strings.Count(page, `<section class="card server"`); n != 2 {
		t.Errorf("%d sections, want 2", n)
	}
	if !strings.Contains(page, "Sections below for 2 of 6 servers: every failed scan and the riskiest first; the other 4 are in the ranking only.") {
		t.Error("the page does not say which servers have no section")
	}

	in.MaxServerDetails = -1
	page = writeHTML(t, in)
	if n := strings.Count(page, `<section class="card server"`); n != 0 {
		t.Errorf("%d sections, want none", n)
	}
}

func TestInventoryBound(t *testing.T) {
	var in report.Input
	server(&in, "bmc", model.HealthOK, 0)
	for i := range 2500 {
		in.Inventory = append(in.Inventory, report.InventoryRow{Target: "bmc", Kind: "psu", Name: fmt.Sprintf("PSU %04d", i), RefreshDue: i%100 == 99})
	}
	page := writeHTML(t, in)
	if !strings.Contains(page, "2500 parts, <b>25 due for refresh</b> (highlighted, first); 500 rows not shown.") {
		t.Error("the inventory does not count its rows")
	}
	rows := regexp.MustCompile(`<tr( class="due")?><td><a href="#server-1">bmc</a></td><td>psu</td><td>PSU (\d+)`).FindAllStringSubmatch(page, -1)
	if len(rows) != 2000 {
		t.Fatalf("%d inventory rows, want 2000", len(rows))
	}
	for i, r := range rows {
		if due := r[1] != ""; due != (i < 25) {
			t.Fatalf("row %d (PSU %s) due=%t: the due rows must come first", i, r[2], due)
		}
	}
	// 1,975 rows that are not due follow, in their order: 0000 to 1993
	// (1,994 rows less the 19 due among them).
	if rows[25][2] != "0000" || rows[1999][2] != "1993" {
		t.Errorf("rows after the due ones: %s ... %s, want 0000 ... 1993", rows[25][2], rows[1999][2])
	}
}

// TestCharts: a server's series beyond the bound are counted, not drawn;
// a series is titled by its component's name when the snapshot has it.
func TestCharts(t *testing.T) {
	var in report.Input
	server(&in, "bmc", model.HealthOK, 0)
	fan := in.Results[0].Snapshot.Components[0]
	pts := []agent.Point{{Time: fixtureNow().Add(-time.Hour), Value: 5100}, {Time: fixtureNow(), Value: 5000}}
	in.History = map[string][]agent.Series{"bmc": {{Component: "fan/" + fan.ID, Reading: "speed", Unit: "RPM", Points: pts}}}
	for i := range 9 {
		in.History["bmc"] = append(in.History["bmc"], agent.Series{Component: fmt.Sprintf("temperature/gone-%d", i), Reading: "temperature", Unit: "Cel", Points: pts})
	}
	page := writeHTML(t, in)
	if n := strings.Count(page, `<path class="line"`); n != 6 {
		t.Errorf("%d chart lines, want 6", n)
	}
	if !strings.Contains(page, "4 more series not charted.") {
		t.Error("the page does not count the series left out")
	}
	// The fan's main reading first, by its name; then the unknown ones by
	// their history names.
	titles := regexp.MustCompile(`<figcaption><b>([^<]*)</b>`).FindAllStringSubmatch(page, -1)
	if len(titles) != 6 || titles[0][1] != "Fan of bmc" || titles[1][1] != "temperature/gone-0" {
		t.Errorf("chart titles %q", titles)
	}
}

func TestAssessmentNotInScan(t *testing.T) {
	var in report.Input
	server(&in, "bmc", model.HealthOK, 0)
	in.Assessments["bmc"] = append(in.Assessments["bmc"], detector.Assessment{
		Component: detector.ComponentRef{Kind: model.KindPSU, ID: "/psu/2", Name: "PSU 2"}, State: detector.StateDegrading, Risk: 0.6,
	})
	page := writeHTML(t, in)
	row := regexp.MustCompile(`<tr class="l-degrading"><td class="nowrap">psu</td><td class="part txt">PSU 2</td>.*not in this scan`).FindString(page)
	if row == "" {
		t.Error("an assessed part missing from the scan is not shown as such")
	}
}
