package report

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prefail/prefail/agent"
	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/model"
)

// hostileSeeds reads testdata/hostile-strings.txt: one Go-quoted string
// a line.
func hostileSeeds(t testing.TB) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "hostile-strings.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := strconv.Unquote(line)
		if err != nil {
			t.Fatalf("hostile-strings.txt:%d: %v", n, err)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// fuzzInput puts s (and t) in every string of a small fleet a BMC or the
// agent controls: names, locations, units, messages, reasons, targets,
// series names, inventory; and the numbers in a reading, its thresholds,
// a risk and a history.
func fuzzInput(s, u string, value, limit, risk float64) Input {
	now := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	target := "https://" + s
	comp := model.Component{Kind: model.KindFan, ID: "/fan/" + s, Name: s, Location: u, Health: model.HealthWarning, State: u,
		Conditions: []model.Condition{{Message: s}},
		Readings:   []model.Reading{{Name: u, Value: &value, Unit: s, Thresholds: &model.Thresholds{LowerCritical: &limit, UpperNonCritical: &value}}},
	}
	other := model.Component{Kind: model.KindTemperature, ID: "/t/" + u, Name: u, Health: model.HealthOK,
		Readings: []model.Reading{{Name: "temperature", Value: &limit, Unit: u}}}
	snap := &model.Snapshot{Target: target, Time: now, Components: []model.Component{comp, other},
		Warnings: []model.Warning{{Source: s, Message: u}}}
	return Input{
		Generated: now,
		Title:     s,
		Results: []agent.Result{
			{Target: target, Kind: u, Duration: time.Second, Snapshot: snap},
			{Target: "https://failed.example.net", Kind: "redfish", Err: errors.New(s + "\n" + u)},
		},
		Assessments: map[string][]detector.Assessment{target: {{
			Component: detector.ComponentRef{Kind: model.KindFan, ID: "/fan/" + s, Name: u},
			State:     detector.StateFailing, Risk: risk,
			Reasons:  []detector.Reason{{Signal: u, Text: s}, {Signal: s, Value: &value}},
			Forecast: &detector.Forecast{Signal: u, Threshold: limit, At: now.Add(time.Duration(math.Mod(math.Abs(value), 1e6)) * time.Minute)},
		}, {
			Component: detector.ComponentRef{Kind: model.KindPSU, ID: s, Name: s}, State: detector.State(u), Risk: 0.5,
		}}},
		History: map[string][]agent.Series{target: {
			{Component: "fan//fan/" + s, Reading: u, Unit: s, Points: []agent.Point{
				{Time: now.Add(-time.Hour), Value: value, Min: limit, Max: value, N: 3},
				{Time: now, Value: limit, Min: math.NaN(), Max: math.Inf(1), N: 0},
			}},
			{Component: s, Reading: s, Unit: u, Points: []agent.Point{{Time: now, Value: risk}}},
		}},
		Inventory: []InventoryRow{{Target: target, Kind: u, ComponentID: s, Name: s, Location: u, Model: s, Serial: u,
			PartNumber: s, Firmware: u, Age: s, AgeSource: u, Wear: s, RefreshDue: true, Rule: u}},
	}
}

// tagPattern finds the start of every tag; escaped text has no '<'.
var tagPattern = regexp.MustCompile(`<[!/a-zA-Z][a-zA-Z0-9-]*`)

// tagSequence is the page's tags in order, without their attributes.
func tagSequence(page []byte) []string {
	var out []string
	for _, m := range tagPattern.FindAll(page, -1) {
		out = append(out, string(m))
	}
	return out
}

// benign returns harmless stand-ins for s and u that take the same
// branches of the page: empty exactly when they are empty once clipped,
// equal exactly when they are equal.
func benign(s, u string) (string, string) {
	stand := func(v, name string) string {
		if clip(v, 200) == "" {
			return v
		}
		return name
	}
	bs, bu := stand(s, "x"), stand(u, "y")
	if s == u {
		bu = bs
	}
	return bs, bu
}

// FuzzWriteHTML renders a fleet whose every string and number comes from
// the fuzzer. It must never panic or fail, must not let html/template
// refuse a value (ZgotmplZ), and must have exactly the tags of the same
// fleet with harmless strings: whatever a BMC sends, it adds no markup.
func FuzzWriteHTML(f *testing.F) {
	seeds := hostileSeeds(f)
	for i, s := range seeds {
		f.Add(s, seeds[(i+1)%len(seeds)], 5400.0, 1000.0, 0.9)
	}
	f.Add("fan", "Cel", math.NaN(), math.Inf(-1), math.Inf(1))
	f.Add("", "", math.Copysign(0, -1), 1e308, -1.0)
	f.Fuzz(func(t *testing.T, s, u string, value, limit, risk float64) {
		var got bytes.Buffer
		if err := WriteHTML(context.Background(), &got, fuzzInput(s, u, value, limit, risk)); err != nil {
			t.Fatal(err)
		}
		page := got.Bytes()
		if bytes.Contains(page, []byte("ZgotmplZ")) {
			t.Fatalf("html/template refused a value: %s", excerpt(page, "ZgotmplZ"))
		}
		if !bytes.HasSuffix(bytes.TrimSpace(page), []byte("</html>")) {
			t.Fatal("the page does not end with </html>")
		}
		var want bytes.Buffer
		bs, bu := benign(s, u)
		if err := WriteHTML(context.Background(), &want, fuzzInput(bs, bu, value, limit, risk)); err != nil {
			t.Fatal(err)
		}
		if g, w := tagSequence(page), tagSequence(want.Bytes()); !slices.Equal(g, w) {
			t.Fatalf("strings %q, %q changed the page's tags: %d tags, %d with harmless strings", s, u, len(g), len(w))
		}
	})
}

func excerpt(page []byte, near string) string {
	i := bytes.Index(page, []byte(near))
	return string(page[max(0, i-200):min(len(page), i+50)])
}
