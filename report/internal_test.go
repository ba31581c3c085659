package report

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/prefail/prefail/agent"
	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/model"
)

func fp(v float64) *float64 { return &v }

func TestGauge(t *testing.T) {
	tests := []struct {
		name  string
		v     float64
		th    model.Thresholds
		want  gaugeView
		style string
	}{
		{
			// A fan: lower limits only; the domain starts at 0.
			name: "fan", v: 5400, th: model.Thresholds{LowerCritical: fp(1000), LowerNonCritical: fp(1500)},
			want:  gaugeView{LowCrit: 16.5, LowWarn: 24.8, HighWarn: 100, HighCrit: 100, Marker: 89.1, Class: "sev-ok", Title: "lower critical 1000, lower warning 1500"},
			style: "--a:16.5%;--b:24.8%;--c:100%;--d:100%;--m:89.1%",
		},
		{
			// Below its critical limit: critical, whatever the BMC says.
			name: "stalling fan", v: 600, th: model.Thresholds{LowerCritical: fp(1000), LowerNonCritical: fp(1500)},
			want: gaugeView{LowCrit: 61.2, LowWarn: 91.7, HighWarn: 100, HighCrit: 100, Marker: 36.7, Class: "sev-crit", Title: "lower critical 1000, lower warning 1500"},
		},
		{
			// A temperature between its warning and critical limits, far
			// from zero: the domain is the limits padded. The fatal limit
			// is used only where no critical one is given.
			name: "hot", v: 85, th: model.Thresholds{UpperNonCritical: fp(80), UpperCritical: fp(90), UpperFatal: fp(95)},
			want: gaugeView{LowCrit: 0, LowWarn: 0, HighWarn: 11.5, HighCrit: 62.8, Marker: 37.2, Class: "sev-warn", Title: "upper critical 90, upper warning 80, upper fatal 95"},
		},
		{
			name: "voltage both sides", v: 12, th: model.Thresholds{LowerCritical: fp(10.8), UpperCritical: fp(13.2)},
			want: gaugeView{LowCrit: 11.5, LowWarn: 11.5, HighWarn: 88.5, HighCrit: 88.5, Marker: 50, Class: "sev-ok", Title: "lower critical 10.8, upper critical 13.2"},
		},
		{
			// Limits out of order (a broken BMC): the zones stay ordered.
			name: "inverted", v: 50, th: model.Thresholds{UpperNonCritical: fp(90), UpperCritical: fp(60)},
			want: gaugeView{LowCrit: 0, LowWarn: 0, HighWarn: 30.8, HighCrit: 30.8, Marker: 11.5, Class: "sev-ok", Title: "upper critical 60, upper warning 90"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGauge(tt.v, &tt.th)
			if g == nil {
				t.Fatal("no gauge")
			}
			if diff := cmp.Diff(tt.want, *g); diff != "" {
				t.Errorf("gauge (-want +got):\n%s", diff)
			}
			if tt.style != "" && string(g.Style()) != tt.style {
				t.Errorf("style %q, want %q", g.Style(), tt.style)
			}
		})
	}
	if g := newGauge(5, &model.Thresholds{LowerCritical: fp(math.NaN())}); g != nil {
		t.Errorf("gauge %+v of no finite limit", g)
	}
}

func TestMergePoints(t *testing.T) {
	var pts []chartPoint
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10 {
		v := float64(i)
		pts = append(pts, chartPoint{t: t0.Add(time.Duration(i) * time.Hour), v: v, lo: v - 1, hi: v + 1, n: i + 1})
	}
	got := mergePoints(pts, 3)
	// Groups [0,3), [3,6), [6,10): means weighted by the readings.
	want := []chartPoint{
		{t: t0, v: (0*1 + 1*2 + 2*3) / 6.0, lo: -1, hi: 3, n: 6},
		{t: t0.Add(3 * time.Hour), v: (3*4 + 4*5 + 5*6) / 15.0, lo: 2, hi: 6, n: 15},
		{t: t0.Add(6 * time.Hour), v: (6*7 + 7*8 + 8*9 + 9*10) / 34.0, lo: 5, hi: 10, n: 34},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(chartPoint{})); diff != "" {
		t.Errorf("merged (-want +got):\n%s", diff)
	}
	if got := mergePoints(pts, 20); len(got) != 10 {
		t.Errorf("%d points, want the 10 unmerged", len(got))
	}
}

func TestCleanPoints(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	got := cleanPoints([]agent.Point{
		{Time: t0.Add(time.Hour), Value: 5},              // Min, Max left zero
		{Time: t0, Value: 3, Min: 2, Max: 4, N: 2},       // out of order
		{Time: t0.Add(2 * time.Hour), Value: math.NaN()}, // dropped
		{Value: 1}, // no time: dropped
		{Time: t0.Add(3 * time.Hour), Value: 7, Min: 9, Max: math.NaN()}, // inconsistent
	})
	want := []chartPoint{
		{t: t0, v: 3, lo: 2, hi: 4, n: 2},
		{t: t0.Add(time.Hour), v: 5, lo: 5, hi: 5, n: 1},
		{t: t0.Add(3 * time.Hour), v: 7, lo: 7, hi: 7, n: 1},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(chartPoint{})); diff != "" {
		t.Errorf("points (-want +got):\n%s", diff)
	}
}

func TestNiceTicks(t *testing.T) {
	tests := []struct {
		lo, hi float64
		want   []float64
	}{
		{0, 100, []float64{0, 25, 50, 75, 100}},
		{-3, 7, []float64{-2.5, 0, 2.5, 5}},
		{0.1, 0.5, []float64{0.1, 0.2, 0.3, 0.4, 0.5}},
		{5, 5, nil},
		{math.Inf(-1), 3, nil},
	}
	for _, tt := range tests {
		if got := niceTicks(tt.lo, tt.hi, 4); !cmp.Equal(tt.want, got, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-12 })) {
			t.Errorf("niceTicks(%v, %v) = %v, want %v", tt.lo, tt.hi, got, tt.want)
		}
	}
}

// TestRuleLabels: labels of close thresholds do not overlap; from the
// top down, one too close to a label moves to the left end, and one too
// close to labels at both ends has none.
func TestRuleLabels(t *testing.T) {
	rules := []chartRule{{Y: 100}, {Y: 105}, {Y: 50}, {Y: 103}}
	placeRuleLabels(rules)
	want := []chartRule{
		{Y: 100, LabelX: plotRight, Anchor: "end", Shown: true},
		{Y: 105},
		{Y: 50, LabelX: plotRight, Anchor: "end", Shown: true},
		{Y: 103, LabelX: plotLeft + 4, Anchor: "start", Shown: true},
	}
	if diff := cmp.Diff(want, rules); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
}

func TestNewChart(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	s := agent.Series{Component: "fan/x", Reading: "speed", Unit: "RPM", Points: []agent.Point{
		{Time: t0, Value: 5000}, {Time: t0.Add(time.Hour), Value: 4000}, {Time: t0.Add(2 * time.Hour), Value: 3000},
	}}
	r := &model.Reading{Name: "speed", Unit: "RPM", Thresholds: &model.Thresholds{LowerCritical: fp(1000), LowerFatal: fp(500)}}
	c := newChart("Fan 1", s, r)
	if c == nil {
		t.Fatal("no chart")
	}
	// Domain 1000..5000 padded by 6%: 760..5240 over y 124..10, so 4000
	// is at 124 - 114*3240/4480 = 41.55.
	if c.Line != "M46 16.1L199 41.6L352 67" {
		t.Errorf("line %q", c.Line)
	}
	if c.Band != "" {
		t.Errorf("band %q for points without spread", c.Band)
	}
	// The fatal limit is left out when a critical one is given.
	if len(c.Thresholds) != 1 || c.Thresholds[0].Label != "lower critical 1000" || c.Thresholds[0].Y != 117.9 {
		t.Errorf("thresholds %+v", c.Thresholds)
	}
	if c.Title != "Fan 1" || c.Reading != "speed (RPM)" || c.Last != "3000 RPM" || c.XStart != "2026-03-01 00:00" || c.XEnd != "2026-03-01 02:00" {
		t.Errorf("labels %q %q %q %q %q", c.Title, c.Reading, c.Last, c.XStart, c.XEnd)
	}
	if one := newChart("x", agent.Series{Points: s.Points[:1]}, nil); one == nil || !strings.HasSuffix(one.Line, "h0.01") {
		t.Errorf("a single point is not drawn as a dot: %+v", one)
	}
	if none := newChart("x", agent.Series{Points: []agent.Point{{Time: t0, Value: math.NaN()}}}, nil); none != nil {
		t.Errorf("a chart of no drawable point: %+v", none)
	}
}

func TestClip(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"Fan 1", 100, "Fan 1"},
		{"  a\t\nb\x00c  ", 100, "a b c"},
		{"\x1b[31mred", 100, "[31mred"},
		{"bad \xff utf8", 100, "bad \uFFFD utf8"},
		{"\u202eevil", 100, "?evil"}, // a bidi override would reorder the text around it
		{"0123456789", 5, "01234…"},
		{"01234", 5, "01234"},
		{"0123 56789", 5, "0123…"},
		{"日本語テキスト", 3, "日本語…"},
		{strings.Repeat("x", 1<<20), 10, "xxxxxxxxxx…"},
	}
	for _, tt := range tests {
		if got := clip(tt.in, tt.max); got != tt.want {
			t.Errorf("clip(%.20q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

func TestForecastText(t *testing.T) {
	now := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	f := &detector.Forecast{Signal: "speed", Threshold: 630, At: now.Add(6 * 24 * time.Hour), Earliest: now.Add(4 * 24 * time.Hour), Latest: now.Add(10 * 24 * time.Hour)}
	tests := []struct {
		name string
		f    detector.Forecast
		now  time.Time
		unit string
		want string
	}{
		{"band", *f, now, "RPM", "speed reaches 630 RPM in about 6 days (4 days to 10 days), on 2026-03-20"},
		{"open band", detector.Forecast{Signal: "speed", Threshold: 630, At: f.At, Earliest: f.Earliest}, now, "RPM", "speed reaches 630 RPM in about 6 days (4 days or later), on 2026-03-20"},
		{"hours", detector.Forecast{Signal: "temperature", Threshold: 90, At: now.Add(5 * time.Hour)}, now, "Cel", "temperature reaches 90 °C in about 5 hours, on 2026-03-14"},
		{"passed", *f, now.Add(7 * 24 * time.Hour), "RPM", "speed crossed 630 RPM (expected 2026-03-20)"},
		{"no now", *f, time.Time{}, "", "speed reaches 630 around 2026-03-20"},
	}
	for _, tt := range tests {
		if got := forecastText(&tt.f, tt.unit, tt.now); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestFormatNumber(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", math.Copysign(0, -1): "0", -0.001: "-0.001", 0.0004: "0.0004", 0.1234: "0.123", 12.346: "12.35",
		123.45: "123.5", 5130.5: "5131", 2e9: "2e+09", math.Inf(1): "+Inf",
	} {
		if got := formatNumber(v); got != want {
			t.Errorf("formatNumber(%v) = %q, want %q", v, got, want)
		}
	}
}
