package lifecycle

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/prefail/prefail/model"
)

func TestAddErrors(t *testing.T) {
	at := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	b, err := NewBuilder()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		target string
		snap   *model.Snapshot
		want   string
	}{
		{"https://a", nil, "https://a: no snapshot"},
		{"", &model.Snapshot{Time: at}, "a snapshot without a target name"},
		{"https://b", &model.Snapshot{}, "https://b: the snapshot has no time"},
	} {
		if err := b.Add(tt.target, tt.snap); err == nil || !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Add(%q): %v; want an ErrInvalidInput saying %q", tt.target, err, tt.want)
		}
	}
	if err := b.Add("", &model.Snapshot{Target: "https://c", Time: at}); err != nil {
		t.Errorf("a snapshot naming its target: %v", err)
	}
	if err := b.Add("https://c", &model.Snapshot{Time: at}); err == nil || !strings.Contains(err.Error(), "https://c: target added twice") {
		t.Errorf("the same target twice: %v", err)
	}
	inv := b.Inventory()
	if inv.Summary().Targets != 1 {
		t.Errorf("%d targets; want 1", inv.Summary().Targets)
	}
	if err := b.Add("https://d", &model.Snapshot{Time: at}); err == nil || !strings.Contains(err.Error(), "already built") {
		t.Errorf("Add after Inventory: %v", err)
	}
}

// Sensors are left out unless asked for, absent parts counted, a part
// listed twice in one scan kept once, and a snapshot without a time
// takes WithNow's.
func TestAddSelection(t *testing.T) {
	now := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	snap := &model.Snapshot{Components: []model.Component{
		{Kind: model.KindTemperature, ID: "t1", Health: model.HealthOK},
		{Kind: model.KindVoltage, ID: "v1", Health: model.HealthOK},
		{Kind: model.KindPSU, ID: "p1", Health: model.HealthOK, Inventory: model.Inventory{ManufactureDate: "2020-01-15"}},
		{Kind: model.KindPSU, ID: "p1", Health: model.HealthOK},
		{Kind: model.KindPSU, ID: "p2", Health: model.HealthAbsent},
		{Kind: "gpu", ID: "g1", Health: model.HealthWarning},
	}}
	for _, tt := range []struct {
		opts []Option
		want []string
	}{
		{nil, []string{"psu/p1", "gpu/g1"}},
		{[]Option{WithSensors()}, []string{"psu/p1", "gpu/g1", "temperature/t1", "voltage/v1"}},
	} {
		b, err := NewBuilder(append(tt.opts, WithNow(now))...)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Add("https://a", snap); err != nil {
			t.Fatal(err)
		}
		inv := b.Inventory()
		var got []string
		for _, r := range inv.Rows() {
			got = append(got, string(r.Kind)+"/"+r.Component)
			if !r.SeenAt.Equal(now) {
				t.Errorf("%s seen at %v; want %v", r.Component, r.SeenAt, now)
			}
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("rows (-want +got):\n%s", diff)
		}
		if inv.Summary().Absent != 1 {
			t.Errorf("%d absent; want 1", inv.Summary().Absent)
		}
		if r := inv.Row(0); r.AgeSource != AgeManufactureDate || r.AgeHours == nil || *r.AgeHours != 6*8760+2*24 {
			t.Errorf("p1: age %v from %s; want 52,608 h (6 years and 2 leap days) from its manufacture date", fmtPtr(r.AgeHours), r.AgeSource)
		}
	}
}

// History comes as the caller has it: out of order, with NaNs, infinities
// and points after the scan (a clock ahead); only the sound points count.
func TestHistoryCleaned(t *testing.T) {
	at := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	day := func(d int) time.Time { return at.AddDate(0, 0, d) }
	pts := []HistoryPoint{
		{day(-2), 8000}, {day(-40), 10000}, {day(-39), math.NaN()}, {day(-38), math.Inf(1)},
		{day(1), 0}, {time.Time{}, 0}, {day(-41), 10000},
	}
	b, err := NewBuilder(WithHistory(func(_, component, reading string) []HistoryPoint {
		if component == "fan/f1" && reading == "speed" {
			return pts
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	snap := &model.Snapshot{Time: at, Components: []model.Component{
		{Kind: model.KindFan, ID: "f1", Health: model.HealthOK, Readings: []model.Reading{{Name: "speed", Value: model.Float(8000)}}},
	}}
	if err := b.Add("https://a", snap); err != nil {
		t.Fatal(err)
	}
	r := b.Inventory().Row(0)
	if r.SpeedLossPercent == nil || *r.SpeedLossPercent != 20 || r.RefreshDue != DueNow || r.Rule != "fan-speed-loss" {
		t.Errorf("speed loss %s%%, due %s by %q; want 20%%, now by fan-speed-loss", fmtPtr(r.SpeedLossPercent), r.RefreshDue, r.Rule)
	}
}

// The order lines: due parts by kind and model, with their part numbers
// and how many the fleet has.
func TestSummaryOrder(t *testing.T) {
	at := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	b, err := NewBuilder()
	if err != nil {
		t.Fatal(err)
	}
	drive := func(id string, poh float64, pn string) model.Component {
		return model.Component{Kind: model.KindDrive, ID: id, Health: model.HealthOK,
			Inventory: model.Inventory{Manufacturer: "Seagate", Model: "ST4000DM000", PartNumber: pn, MediaType: "HDD", PowerOnHours: model.Float(poh)}}
	}
	psu := func(id, made string) model.Component {
		return model.Component{Kind: model.KindPSU, ID: id, Health: model.HealthOK,
			Inventory: model.Inventory{Model: "DPS-800AB", ManufactureDate: made}}
	}
	for i, comps := range [][]model.Component{
		{drive("a", 50000, "1CH166-500"), drive("b", 43500, "1CH166-500"), drive("c", 1000, "1CH166-500"), psu("p1", "2015-01-01"), psu("p2", "2024-01-01")},
		{drive("a", 44000, "1CH166-501"), drive("b", 100, ""), psu("p1", "2014-01-01"), psu("p2", "2015-06-01")},
	} {
		if err := b.Add("https://bmc"+string(rune('1'+i)), &model.Snapshot{Time: at, Components: comps}); err != nil {
			t.Fatal(err)
		}
	}
	s := b.Inventory().Summary()
	want := []OrderLine{
		{Kind: model.KindPSU, Model: "DPS-800AB", DueNow: 3, Installed: 4},
		{Kind: model.KindDrive, Manufacturer: "Seagate", Model: "ST4000DM000", PartNumbers: []string{"1CH166-500", "1CH166-501"}, DueNow: 2, DueWithinHorizon: 1, Installed: 5},
	}
	if diff := cmp.Diff(want, s.Order); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	if s.DueNow != 5 || s.DueWithinHorizon != 1 || s.Parts != 9 || s.Targets != 2 || !s.AsOf.Equal(at) {
		t.Errorf("summary %+v", s)
	}
}

// Rows come out by target name whatever the order the targets were
// added in, each target's parts by kind, then location as people count
// ("Bay 2" before "Bay 10").
func TestRowOrder(t *testing.T) {
	at := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	b, err := NewBuilder()
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"https://c", "https://a", "https://b"} {
		snap := &model.Snapshot{Time: at, Components: []model.Component{
			{Kind: model.KindFan, ID: "f10", Location: "Bay 10", Health: model.HealthOK},
			{Kind: model.KindDrive, ID: "d", Health: model.HealthOK},
			{Kind: model.KindFan, ID: "f2", Location: "Bay 2", Health: model.HealthOK},
			{Kind: model.KindPSU, ID: "p", Health: model.HealthOK},
		}}
		if err := b.Add(target, snap); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, r := range b.Inventory().Rows() {
		got = append(got, r.Target[len("https://"):]+" "+r.Component)
	}
	var want []string
	for _, target := range []string{"a", "b", "c"} {
		for _, c := range []string{"p", "f2", "f10", "d"} {
			want = append(want, target+" "+c)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("row order (-want +got):\n%s", diff)
	}
}

// A rule with horizon 0 looks no further than now; when two rules fire
// the more urgent one is the row's rule and the reason names the other.
func TestHorizonAndAlso(t *testing.T) {
	at := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	p, err := ParsePolicy("p.yaml", []byte(`horizon: 90d
rules:
  - {name: strict-age, kind: drive, age_over: 40000h, horizon: 0d}
  - {name: sectors, kind: drive, sector_growth_over: 0}
  - {name: late-age, kind: drive, age_over: 50000h}
`))
	if err != nil {
		t.Fatal(err)
	}
	history := func(_, component, reading string) []HistoryPoint {
		if reading == "smart_5_raw" {
			return []HistoryPoint{{at.AddDate(0, -1, 0), 0}}
		}
		return nil
	}
	b, err := NewBuilder(WithPolicy(p), WithHistory(history))
	if err != nil {
		t.Fatal(err)
	}
	drive := func(id string, poh, realloc float64) model.Component {
		return model.Component{Kind: model.KindDrive, ID: id, Health: model.HealthOK, Inventory: model.Inventory{PowerOnHours: model.Float(poh)},
			Readings: []model.Reading{{Name: "smart_5_raw", Value: model.Float(realloc)}}}
	}
	err = b.Add("https://a", &model.Snapshot{Time: at, Components: []model.Component{
		drive("near", 39000, 0), // 40,000 h in 42 days, but strict-age looks at now only
		drive("both", 45000, 2), // strict-age now, sectors now
		drive("old", 50500, 0),  // strict-age now, late-age now
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range b.Inventory().Rows() {
		got[r.Component] = string(r.RefreshDue) + " " + r.Rule + ": " + r.Reason
	}
	want := map[string]string{
		"near": "no : ",
		"both": "now strict-age: powered on 5.1 years (45,000 h), rule strict-age: over 40,000 h; also sectors",
		"old":  "now strict-age: powered on 5.8 years (50,500 h), rule strict-age: over 40,000 h; also late-age",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
