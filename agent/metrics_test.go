package agent_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/prefail/prefail/agent"
	"github.com/prefail/prefail/agent/prometheustest"
	"github.com/prefail/prefail/detector"
	prommodel "github.com/prometheus/common/model"

	"github.com/prefail/prefail/model"
)

var metricsT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const metricsTarget = "https://bmc1"

// metricsSnapshot is a small server: a fan, a temperature sensor, a PSU
// with an unavailable reading, a drive with readings in %, h, no unit and
// a unit prefail does not convert, and an absent DIMM.
func metricsSnapshot() *model.Snapshot {
	return &model.Snapshot{
		Target: metricsTarget, Time: metricsT0, Requests: 12,
		Components: []model.Component{
			{Kind: model.KindFan, ID: "/redfish/v1/Chassis/1/Thermal#/Fans/0", Name: "Fan 1", Health: model.HealthOK,
				Readings: []model.Reading{{Name: "speed", Value: model.Float(5400), Unit: "RPM",
					Thresholds: &model.Thresholds{LowerCritical: model.Float(1000)}}}},
			{Kind: model.KindTemperature, ID: "/redfish/v1/Chassis/1/Thermal#/Temperatures/0", Name: "CPU1 Temp", Health: model.HealthWarning,
				Readings: []model.Reading{{Name: "temperature", Value: model.Float(71), Unit: "Cel",
					Thresholds: &model.Thresholds{UpperNonCritical: model.Float(80), UpperCritical: model.Float(90)}}}},
			{Kind: model.KindPSU, ID: "/redfish/v1/Chassis/1/Power#/PowerSupplies/0", Name: "PSU 1", Health: model.HealthCritical,
				Readings: []model.Reading{
					{Name: "input_power", Value: model.Float(220), Unit: "W"},
					{Name: "output_power", Value: model.Float(200), Unit: "W"},
					{Name: "input_voltage", Unit: "V"}, // unavailable
				}},
			{Kind: model.KindDrive, ID: "Disk.Bay.0", Name: "Disk 0", Health: model.HealthOK,
				Readings: []model.Reading{
					{Name: "media_life_left", Value: model.Float(97), Unit: "%"},
					{Name: "power_on_hours", Value: model.Float(1000), Unit: "h"},
					{Name: "smart_5_raw", Value: model.Float(3)},
					{Name: "illuminance", Value: model.Float(12), Unit: "lx"},
				}},
			{Kind: model.KindMemory, ID: "DIMM.A1", Name: "DIMM A1", Health: model.HealthAbsent},
		},
	}
}

func metricsAssessments(snap *model.Snapshot) []detector.Assessment {
	ref := func(i int) detector.ComponentRef {
		c := snap.Components[i]
		return detector.ComponentRef{Target: snap.Target, Kind: c.Kind, ID: c.ID, Name: c.Name}
	}
	return []detector.Assessment{
		{Component: ref(0), State: detector.StateDegrading, Risk: 0.7, Updated: snap.Time,
			Forecast: &detector.Forecast{Signal: "speed", Threshold: 1000, At: snap.Time.Add(48 * time.Hour)}},
		{Component: ref(1), State: detector.StateWatch, Risk: 0.2, Updated: snap.Time},
		{Component: ref(2), State: detector.StateFailed, Risk: 1, Updated: snap.Time},
		{Component: ref(3), State: detector.StateOK, Risk: 0, Updated: snap.Time},
		{Component: ref(4), State: detector.StateUnknown, Risk: 0, Updated: snap.Time},
		// Not in the snapshot: ignored.
		{Component: detector.ComponentRef{Target: snap.Target, Kind: model.KindFan, ID: "gone"}, State: detector.StateFailing, Risk: 0.9},
	}
}

// metricsSeries gathers the registry into "name{labels}" -> value for the
// families whose name starts with one of prefixes (all prefail_ ones when
// none is given); a histogram's value is its sample count.
func metricsSeries(t testing.TB, reg prometheus.Gatherer, prefixes ...string) map[string]float64 {
	t.Helper()
	if len(prefixes) == 0 {
		prefixes = []string{"prefail_"}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := make(map[string]float64)
	for _, mf := range mfs {
		if !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(mf.GetName(), p) }) {
			continue
		}
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, lp := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
			}
			key := mf.GetName() + "{" + strings.Join(ls, ",") + "}"
			switch {
			case m.GetGauge() != nil:
				out[key] = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				out[key] = float64(m.GetHistogram().GetSampleCount())
			default:
				t.Fatalf("%s: unexpected type", key)
			}
		}
	}
	return out
}

// comp names a component series' labels as metricsSeries prints them.
func comp(kind, id, name string, extra ...string) string {
	s := fmt.Sprintf("component=%q,kind=%q,name=%q", id, kind, name)
	for _, e := range extra {
		s += "," + e
	}
	return s
}

func withTarget(labels, target string) string {
	// Labels are sorted: target comes after name and before unit.
	if i := strings.Index(labels, ",unit="); i >= 0 {
		return labels[:i] + fmt.Sprintf(",target=%q", target) + labels[i:]
	}
	return labels + fmt.Sprintf(",target=%q", target)
}

func TestMetricsObserveTarget(t *testing.T) {
	m := agent.NewMetrics()
	snap := metricsSnapshot()
	m.ObserveTarget(metricsTarget, snap, metricsAssessments(snap))

	fan := comp("fan", "/redfish/v1/Chassis/1/Thermal#/Fans/0", "Fan 1")
	temp := comp("temperature", "/redfish/v1/Chassis/1/Thermal#/Temperatures/0", "CPU1 Temp")
	psu := comp("psu", "/redfish/v1/Chassis/1/Power#/PowerSupplies/0", "PSU 1")
	drive := comp("drive", "Disk.Bay.0", "Disk 0")
	dimm := comp("memory", "DIMM.A1", "DIMM A1")
	s := func(name, labels string, v float64) (string, float64) {
		return name + "{" + withTarget(labels, metricsTarget) + "}", v
	}
	want := map[string]float64{}
	add := func(k string, v float64) { want[k] = v }
	add(s("prefail_component_health", fan, 0))
	add(s("prefail_component_health", temp, 3))
	add(s("prefail_component_health", psu, 4))
	add(s("prefail_component_health", drive, 0))
	add(s("prefail_component_health", dimm, 1))
	add(s("prefail_component_state", fan, 2))
	add(s("prefail_component_state", temp, 1))
	add(s("prefail_component_state", psu, 4))
	add(s("prefail_component_state", drive, 0))
	add(s("prefail_component_state", dimm, -1))
	add(s("prefail_component_risk", fan, 0.7))
	add(s("prefail_component_risk", temp, 0.2))
	add(s("prefail_component_risk", psu, 1))
	add(s("prefail_component_risk", drive, 0))
	add(s("prefail_component_risk", dimm, 0))
	add(s("prefail_time_to_threshold_seconds", fan+`,signal="speed"`, 48*3600))
	add(s("prefail_reading_rpm", fan+`,reading="speed"`, 5400))
	add(s("prefail_reading_celsius", temp+`,reading="temperature"`, 71))
	add(s("prefail_reading_watts", psu+`,reading="input_power"`, 220))
	add(s("prefail_reading_watts", psu+`,reading="output_power"`, 200))
	add(s("prefail_reading_ratio", drive+`,reading="media_life_left"`, 0.97))
	add(s("prefail_reading_seconds", drive+`,reading="power_on_hours"`, 3.6e6))
	add(s("prefail_reading", drive+`,reading="smart_5_raw"`, 3))
	add(s("prefail_reading_unconverted", drive+`,reading="illuminance",unit="lx"`, 12))
	add(`prefail_target_up{target="https://bmc1"}`, 1)
	add(`prefail_last_scan_timestamp_seconds{target="https://bmc1"}`, float64(metricsT0.Unix()))

	got := metricsSeries(t, m.Gatherer(), "prefail_component_", "prefail_time_to", "prefail_reading", "prefail_target_up", "prefail_last_scan")
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-9 })); d != "" {
		t.Errorf("series (-want +got):\n%s", d)
	}

	// The same snapshot again, values moved: same series, new values.
	snap.Components[0].Readings[0].Value = model.Float(5100)
	as := metricsAssessments(snap)
	as[0].Risk = 0.75
	m.ObserveTarget(metricsTarget, snap, as)
	got2 := metricsSeries(t, m.Gatherer(), "prefail_component_", "prefail_time_to", "prefail_reading", "prefail_target_up", "prefail_last_scan")
	if !slices.Equal(slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(got2))) {
		t.Errorf("series changed on a second identical round:\n%v\n%v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(got2)))
	}
	if k, _ := s("prefail_reading_rpm", fan+`,reading="speed"`, 0); got2[k] != 5100 {
		t.Errorf("fan speed = %v, want 5100", got2[k])
	}
	if k, _ := s("prefail_component_risk", fan, 0); got2[k] != 0.75 {
		t.Errorf("fan risk = %v, want 0.75", got2[k])
	}
}

func TestMetricsComponentGone(t *testing.T) {
	m := agent.NewMetrics(agent.WithThresholdMetrics())
	snap := metricsSnapshot()
	m.ObserveTarget(metricsTarget, snap, metricsAssessments(snap))
	before := metricsSeries(t, m.Gatherer())

	// The PSU is gone, the drive lost a reading, the fan its forecast,
	// the temperature sensor its upper critical threshold, the DIMM was
	// renamed, the fan's speed is now in percent.
	next := metricsSnapshot()
	next.Time = metricsT0.Add(time.Minute)
	as := metricsAssessments(next)
	as[0].Forecast = nil
	as = slices.Delete(as, 2, 3)
	next.Components = slices.Delete(next.Components, 2, 3)
	next.Components[2].Readings = next.Components[2].Readings[1:] // drive: no media_life_left
	next.Components[1].Readings[0].Thresholds = &model.Thresholds{UpperNonCritical: model.Float(80)}
	next.Components[3].Name = "DIMM A1 (slot 1)"
	next.Components[0].Readings[0].Value, next.Components[0].Readings[0].Unit = model.Float(60), "%"
	m.ObserveTarget(metricsTarget, next, as)
	after := metricsSeries(t, m.Gatherer())

	for k := range after {
		if strings.Contains(k, "PowerSupplies") || strings.Contains(k, "media_life_left") ||
			strings.HasPrefix(k, "prefail_time_to_threshold") || strings.Contains(k, `name="DIMM A1"`) ||
			strings.HasPrefix(k, "prefail_reading_rpm") || strings.HasPrefix(k, "prefail_reading_threshold_rpm") ||
			strings.Contains(k, `level="upper_critical"`) {
			t.Errorf("stale series after the round: %s", k)
		}
	}
	for _, k := range []string{
		`prefail_component_health{component="DIMM.A1",kind="memory",name="DIMM A1 (slot 1)",target="https://bmc1"}`,
		`prefail_reading_ratio{component="/redfish/v1/Chassis/1/Thermal#/Fans/0",kind="fan",name="Fan 1",reading="speed",target="https://bmc1"}`,
		`prefail_reading_threshold_celsius{component="/redfish/v1/Chassis/1/Thermal#/Temperatures/0",kind="temperature",level="upper_non_critical",name="CPU1 Temp",reading="temperature",target="https://bmc1"}`,
		`prefail_reading_seconds{component="Disk.Bay.0",kind="drive",name="Disk 0",reading="power_on_hours",target="https://bmc1"}`,
	} {
		if _, ok := after[k]; !ok {
			t.Errorf("missing %s", k)
		}
	}
	// The thresholds were there before, converted like their reading.
	for k, want := range map[string]float64{
		`prefail_reading_threshold_celsius{component="/redfish/v1/Chassis/1/Thermal#/Temperatures/0",kind="temperature",level="upper_critical",name="CPU1 Temp",reading="temperature",target="https://bmc1"}`: 90,
		`prefail_reading_threshold_rpm{component="/redfish/v1/Chassis/1/Thermal#/Fans/0",kind="fan",level="lower_critical",name="Fan 1",reading="speed",target="https://bmc1"}`:                               1000,
	} {
		if before[k] != want {
			t.Errorf("before: %s = %v, want %v", k, before[k], want)
		}
	}

	// A component without an assessment keeps its health, loses its verdict.
	m.ObserveTarget(metricsTarget, next, nil)
	got := metricsSeries(t, m.Gatherer(), "prefail_component_")
	if n := countPrefix(got, "prefail_component_state"); n != 0 {
		t.Errorf("%d state series without assessments", n)
	}
	if n := countPrefix(got, "prefail_component_health"); n != 4 {
		t.Errorf("%d health series, want 4", n)
	}

	// An empty snapshot deletes every component series.
	m.ObserveTarget(metricsTarget, &model.Snapshot{Target: metricsTarget, Time: metricsT0.Add(2 * time.Minute)}, nil)
	got = metricsSeries(t, m.Gatherer(), "prefail_component_", "prefail_reading")
	if len(got) != 0 {
		t.Errorf("series left after an empty snapshot: %v", got)
	}
}

func countPrefix(m map[string]float64, prefix string) int {
	n := 0
	for k := range m {
		if strings.HasPrefix(k, prefix+"{") {
			n++
		}
	}
	return n
}

func TestMetricsFailedScanDropsNothing(t *testing.T) {
	m := agent.NewMetrics()
	snap := metricsSnapshot()
	m.ObserveScan(metricsTarget, "redfish", 1500*time.Millisecond, 12, nil)
	m.ObserveTarget(metricsTarget, snap, metricsAssessments(snap))
	before := metricsSeries(t, m.Gatherer(), "prefail_component_", "prefail_reading", "prefail_time_to")

	m.ObserveScan(metricsTarget, "redfish", 30*time.Second, 1, errors.New("timeout"))
	as := metricsAssessments(snap)
	as[0].Risk, as[0].Forecast = 0.8, nil
	m.ObserveTarget(metricsTarget, nil, as)
	after := metricsSeries(t, m.Gatherer(), "prefail_component_", "prefail_reading", "prefail_time_to")
	if !slices.Equal(slices.Sorted(maps.Keys(before)), slices.Sorted(maps.Keys(after))) {
		t.Errorf("a failed scan changed the series:\n%s", cmp.Diff(before, after))
	}
	all := metricsSeries(t, m.Gatherer())
	want := map[string]float64{
		`prefail_target_up{target="https://bmc1"}`:                                                                                0,
		`prefail_scans_total{reader="redfish",target="https://bmc1"}`:                                                             2,
		`prefail_scan_errors_total{reader="redfish",target="https://bmc1"}`:                                                       1,
		`prefail_bmc_requests_total{reader="redfish",target="https://bmc1"}`:                                                      13,
		`prefail_scan_duration_seconds{reader="redfish",target="https://bmc1"}`:                                                   2,
		`prefail_last_scan_timestamp_seconds{target="https://bmc1"}`:                                                              float64(metricsT0.Unix()),
		`prefail_component_risk{component="/redfish/v1/Chassis/1/Thermal#/Fans/0",kind="fan",name="Fan 1",target="https://bmc1"}`: 0.8,
	}
	for k, v := range want {
		if got, ok := all[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	// The histogram's buckets are those documented.
	if got := testutil.CollectAndCount(m.Registry(), "prefail_scan_duration_seconds"); got != 1 {
		t.Errorf("%d scan duration series, want 1", got)
	}
	if n := len(agent.ScanDurationBuckets); agent.ScanDurationBuckets[0] != 0.05 || agent.ScanDurationBuckets[n-1] != 120 {
		t.Errorf("buckets %v, want 0.05 .. 120", agent.ScanDurationBuckets)
	}
}

func TestMetricsForgetTarget(t *testing.T) {
	m := agent.NewMetrics(agent.WithThresholdMetrics())
	for _, target := range []string{"https://bmc1", "ipmi://10.0.0.7"} {
		snap := metricsSnapshot()
		snap.Target = target
		m.ObserveScan(target, "redfish", time.Second, 10, nil)
		m.ObserveTarget(target, snap, metricsAssessments(snap))
		m.SetSELEntries(target, 42)
		m.AddSELRead(target, 7)
	}
	all := metricsSeries(t, m.Gatherer())
	m.ForgetTarget("https://bmc1")
	left := metricsSeries(t, m.Gatherer())
	for k := range left {
		if strings.Contains(k, `target="https://bmc1"`) {
			t.Errorf("series of the forgotten target: %s", k)
		}
	}
	want := 0
	for k := range all {
		if strings.Contains(k, `target="ipmi://10.0.0.7"`) {
			want++
			if _, ok := left[k]; !ok {
				t.Errorf("series of the other target deleted: %s", k)
			}
		}
	}
	withTargetLabel := 0
	for k := range left {
		if strings.Contains(k, "target=") {
			withTargetLabel++
		}
	}
	if want < 30 || withTargetLabel != want {
		t.Errorf("%d series with a target left, want %d (all of the other target's)", withTargetLabel, want)
	}
	// Observed again after SIGHUP put it back: fresh series.
	snap := metricsSnapshot()
	m.ObserveTarget("https://bmc1", snap, metricsAssessments(snap))
	if got := countPrefix(metricsSeries(t, m.Gatherer()), "prefail_component_health"); got != 10 {
		t.Errorf("%d health series after the target came back, want 10", got)
	}
}

func TestMetricsOutputsAndSEL(t *testing.T) {
	m := agent.NewMetrics()
	m.SetOutputStats("webhook", 120, 3, 5)
	m.SetOutputStats("nats", 125, 0, 0)
	m.SetOutputStats("webhook", 130, 4, 2)
	m.SetOutbox(7, 1)
	m.SetSELEntries("ipmi://10.0.0.7", 512)
	m.AddSELRead("ipmi://10.0.0.7", 500)
	m.AddSELRead("ipmi://10.0.0.7", 12)
	want := map[string]float64{
		`prefail_events_delivered_total{output="webhook"}`:         130,
		`prefail_events_delivered_total{output="nats"}`:            125,
		`prefail_output_failures_total{output="webhook"}`:          4,
		`prefail_output_failures_total{output="nats"}`:             0,
		`prefail_output_lag_events{output="webhook"}`:              2,
		`prefail_output_lag_events{output="nats"}`:                 0,
		`prefail_outbox_events{}`:                                  7,
		`prefail_outbox_dropped_events_total{}`:                    1,
		`prefail_sel_entries{target="ipmi://10.0.0.7"}`:            512,
		`prefail_sel_entries_read_total{target="ipmi://10.0.0.7"}`: 512,
	}
	if d := cmp.Diff(want, metricsSeries(t, m.Gatherer())); d != "" {
		t.Errorf("series (-want +got):\n%s", d)
	}
	m.ForgetOutput("nats")
	if got := testutil.CollectAndCount(m.Registry(), "prefail_events_delivered_total"); got != 1 {
		t.Errorf("%d delivered series after ForgetOutput, want 1", got)
	}
}

func TestMetricsLint(t *testing.T) {
	m := agent.NewMetrics(agent.WithThresholdMetrics())
	snap := metricsSnapshot()
	// A reading in every family, so that every name is linted.
	every := model.Component{Kind: model.KindSensor, ID: "every", Name: "Every unit", Health: model.HealthOK}
	for _, u := range []string{"", "[degF]", "V", "A", "W", "VA", "Wh", "RPM", "Hz", "%", "h", "By", "[cft_i]/min", "lx"} {
		every.Readings = append(every.Readings, model.Reading{Name: "in_" + u, Value: model.Float(1), Unit: u,
			Thresholds: &model.Thresholds{UpperCritical: model.Float(2)}})
	}
	snap.Components = append(snap.Components, every)
	m.ObserveScan(metricsTarget, "redfish", time.Second, 10, nil)
	m.ObserveTarget(metricsTarget, snap, metricsAssessments(snap))
	if n := len(metricsSeries(t, m.Gatherer(), "prefail_reading_threshold")); n != 14+3 {
		t.Errorf("%d threshold series, want 17", n)
	}
	m.SetSELEntries(metricsTarget, 1)
	m.AddSELRead(metricsTarget, 1)
	m.SetOutputStats("file", 1, 0, 0)
	m.SetOutbox(0, 0)
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestMetricsHostileLabels(t *testing.T) {
	m := agent.NewMetrics(agent.WithThresholdMetrics())
	bad := "Fan \xff\xfe 1"
	long := strings.Repeat("é", 1000)
	snap := &model.Snapshot{Target: "ipmi://10.0.0.7\xc3", Time: metricsT0, Components: []model.Component{
		{Kind: model.KindFan, ID: bad, Name: long, Health: "bogus",
			Readings: []model.Reading{{Name: bad, Value: model.Float(1), Unit: "\xff"}}},
		{Kind: "\x00kind", ID: long, Name: "", Health: model.HealthOK},
	}}
	as := []detector.Assessment{{Component: detector.ComponentRef{Kind: model.KindFan, ID: bad}, State: "bogus", Risk: 7,
		Forecast: &detector.Forecast{Signal: bad, At: metricsT0.Add(-time.Hour)}}}
	for range 2 {
		m.ObserveTarget(snap.Target, snap, as)
	}
	got := metricsSeries(t, m.Gatherer())
	for k, v := range got {
		if !utf8Valid(k) {
			t.Errorf("invalid UTF-8 in %q", k)
		}
		if len(k) > 4000 {
			t.Errorf("series key of %d bytes", len(k))
		}
		switch {
		case strings.HasPrefix(k, "prefail_component_risk"):
			if v != 1 {
				t.Errorf("risk %v, want clamped to 1", v)
			}
		case strings.HasPrefix(k, "prefail_time_to_threshold"):
			if v != 0 {
				t.Errorf("time to threshold %v for a forecast in the past, want 0", v)
			}
		case strings.HasPrefix(k, "prefail_component_health") && strings.Contains(k, `kind="fan"`):
			if v != 2 {
				t.Errorf("unrecognized health = %v, want 2 (unknown)", v)
			}
		}
	}
	if n := countPrefix(got, "prefail_component_health"); n != 2 {
		t.Errorf("%d health series, want 2", n)
	}
	// The exposition parses.
	rec := httptest.NewRecorder()
	m.Handler(nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	m.ForgetTarget(snap.Target)
	if n := len(metricsSeries(t, m.Gatherer(), "prefail_component_", "prefail_reading")); n != 0 {
		t.Errorf("%d series left after ForgetTarget", n)
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "") == s }

func TestMetricsHandler(t *testing.T) {
	m := agent.NewMetrics()
	m.ObserveScan(metricsTarget, "redfish", time.Second, 10, nil)
	var (
		mu       sync.Mutex
		notReady = errors.New("store not open")
	)
	readyErr := notReady
	h := m.Handler(func() error { mu.Lock(); defer mu.Unlock(); return readyErr })
	srv := httptest.NewServer(h)
	defer srv.Close()

	get := func(path string, header ...string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}

	if code, _, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, _, body := get("/readyz"); code != 503 || !strings.Contains(body, "store not open") {
		t.Errorf("/readyz before ready: %d %q", code, body)
	}
	mu.Lock()
	readyErr = nil
	mu.Unlock()
	if code, _, body := get("/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("/readyz when ready: %d %q", code, body)
	}
	for _, p := range []string{"/", "/metricsx", "/metrics/", "/health", "/debug/pprof/"} {
		if code, _, _ := get(p); code != 404 {
			t.Errorf("%s: %d, want 404", p, code)
		}
	}
	code, hdr, body := get("/metrics")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") ||
		!strings.Contains(body, `prefail_scans_total{reader="redfish",target="https://bmc1"} 1`) ||
		!strings.Contains(body, "go_goroutines") || !strings.Contains(body, "process_cpu_seconds_total") {
		t.Errorf("/metrics: %d %s\n%.2000s", code, hdr.Get("Content-Type"), body)
	}
	// The text format whatever is asked (Prometheus takes it): the
	// component families are written by hand, not through client_golang.
	code, hdr, _ = get("/metrics", "Accept", "application/openmetrics-text;version=1.0.0")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Errorf("/metrics asked for OpenMetrics: %d %s", code, hdr.Get("Content-Type"))
	}
	// A second handler on the same metrics does not panic (promhttp's own
	// metrics are registered once).
	_ = m.Handler(nil)
}

func TestMetricsConcurrent(t *testing.T) {
	m := agent.NewMetrics(agent.WithThresholdMetrics())
	var wg sync.WaitGroup
	for i := range 8 {
		target := fmt.Sprintf("https://bmc%d", i)
		wg.Go(func() {
			for r := range 20 {
				snap := metricsBenchSnapshot(target, 30)
				snap.Time = metricsT0.Add(time.Duration(r) * time.Minute)
				if r%3 == 0 {
					snap.Components = snap.Components[:20]
				}
				m.ObserveScan(target, "redfish", time.Second, 5, nil)
				m.ObserveTarget(target, snap, metricsBenchAssessments(snap))
				if r%7 == 6 {
					m.ForgetTarget(target)
				}
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			if _, err := m.Registry().Gather(); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
}

// TestPrometheusScrapesMetrics runs the real Prometheus against the
// handler: the degrading fan must rank above the healthy ones, its
// forecast be there, and a fan gone from the snapshot leave the query.
func TestPrometheusScrapesMetrics(t *testing.T) {
	m := agent.NewMetrics()
	const target = "https://bmc1"
	fans := func(n int) (*model.Snapshot, []detector.Assessment) {
		snap := &model.Snapshot{Target: target, Time: time.Now()}
		var as []detector.Assessment
		for i := range n {
			c := model.Component{Kind: model.KindFan, ID: fmt.Sprintf("/redfish/v1/Chassis/1/Thermal#/Fans/%d", i),
				Name: fmt.Sprintf("Fan %d", i+1), Health: model.HealthOK,
				Readings: []model.Reading{{Name: "speed", Value: model.Float(float64(5400 - 1000*min(i, 1))), Unit: "RPM"}}}
			snap.Components = append(snap.Components, c)
			a := detector.Assessment{Component: detector.ComponentRef{Target: target, Kind: c.Kind, ID: c.ID, Name: c.Name},
				State: detector.StateOK, Updated: snap.Time}
			if i == 1 {
				a.State, a.Risk = detector.StateDegrading, 0.7
				a.Forecast = &detector.Forecast{Signal: "speed", Threshold: 1000, At: snap.Time.Add(72 * time.Hour)}
			}
			as = append(as, a)
		}
		return snap, as
	}
	snap, as := fans(3)
	m.ObserveScan(target, "redfish", 800*time.Millisecond, 9, nil)
	m.ObserveTarget(target, snap, as)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: m.Handler(nil), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })

	p := prometheustest.Start(t, []string{l.Addr().String()}, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()

	const degrading = "/redfish/v1/Chassis/1/Thermal#/Fans/1"
	v, err := p.WaitFor(ctx, `max by (component) (prefail_component_risk{kind="fan"})`, func(v prometheustest.Vector) bool { return len(v) == 3 })
	if err != nil {
		t.Fatalf("%v\nprometheus log:\n%s", err, p.Log())
	}
	sort.Slice(v, func(i, j int) bool { return v[i].Value > v[j].Value })
	if v[0].Labels["component"] != degrading || v[0].Value != 0.7 || v[1].Value != 0 || v[2].Value != 0 {
		t.Errorf("risk ranking:\n%s", v)
	}
	top, err := p.Query(ctx, `topk(1, prefail_component_risk{kind="fan"})`)
	if err != nil || len(top) != 1 || top[0].Labels["component"] != degrading || top[0].Labels["name"] != "Fan 2" ||
		top[0].Labels["target"] != target || top[0].Labels["job"] != "prefail" {
		t.Errorf("topk: %v\n%s", err, top)
	}
	ttt, err := p.Query(ctx, `prefail_time_to_threshold_seconds{kind="fan"}`)
	if err != nil || len(ttt) != 1 || ttt[0].Labels["component"] != degrading || ttt[0].Labels["signal"] != "speed" ||
		math.Abs(ttt[0].Value-72*3600) > 1 {
		t.Errorf("time to threshold: %v\n%s", err, ttt)
	}
	if v, err := p.Query(ctx, `prefail_reading_rpm{component="`+degrading+`"}`); err != nil || len(v) != 1 || v[0].Value != 4400 {
		t.Errorf("fan speed: %v\n%s", err, v)
	}
	if v, err := p.Query(ctx, `sum(prefail_scans_total) + sum(prefail_bmc_requests_total)`); err != nil || len(v) != 1 || v[0].Value != 10 {
		t.Errorf("scan counters: %v\n%s", err, v)
	}

	// The degrading fan is pulled: Prometheus marks its series stale at
	// the next scrape, and it leaves the query.
	snap, as = fans(3)
	snap.Components, as = slices.Delete(snap.Components, 1, 2), slices.Delete(as, 1, 2)
	m.ObserveTarget(target, snap, as)
	if v, err := p.WaitFor(ctx, `prefail_component_risk{kind="fan"}`, func(v prometheustest.Vector) bool { return len(v) == 2 }); err != nil {
		t.Errorf("after the fan was pulled: %v\n%s", err, v)
	}
	if v, err := p.Query(ctx, `prefail_time_to_threshold_seconds`); err != nil || len(v) != 0 {
		t.Errorf("forecast of a pulled fan: %v\n%s", err, v)
	}
}

// metricsBenchSnapshot is a realistic 2U server as Redfish shows it:
// 2 PSUs (input/output power, input voltage), 8 fans, 2 CPUs, 16 DIMMs,
// 8 drives (temperature, media life, power-on hours), 40 temperature and
// 20 voltage sensors with thresholds, and the chassis, system and BMC.
func metricsBenchSnapshot(target string, n int) *model.Snapshot {
	snap := &model.Snapshot{Target: target, Time: metricsT0}
	th := func(lc, uc float64) *model.Thresholds {
		return &model.Thresholds{LowerCritical: model.Float(lc), UpperCritical: model.Float(uc), UpperNonCritical: model.Float(uc * 0.9)}
	}
	add := func(kind model.Kind, id, name string, rs ...model.Reading) {
		snap.Components = append(snap.Components, model.Component{Kind: kind, ID: id, Name: name, Health: model.HealthOK, Readings: rs})
	}
	r := func(name string, v float64, unit string, t *model.Thresholds) model.Reading {
		return model.Reading{Name: name, Value: model.Float(v), Unit: unit, Thresholds: t}
	}
	add(model.KindChassis, "/redfish/v1/Chassis/1", "Chassis")
	add(model.KindSystem, "/redfish/v1/Systems/1", "System")
	add(model.KindBMC, "/redfish/v1/Managers/1", "iDRAC")
	for i := range 2 {
		add(model.KindPSU, fmt.Sprintf("/redfish/v1/Chassis/1/Power#/PowerSupplies/%d", i), fmt.Sprintf("PSU %d", i+1),
			r("input_power", 220, "W", nil), r("output_power", 200, "W", nil), r("input_voltage", 230, "V", th(180, 264)))
	}
	for i := range 8 {
		add(model.KindFan, fmt.Sprintf("/redfish/v1/Chassis/1/Thermal#/Fans/%d", i), fmt.Sprintf("System Board Fan%d", i+1),
			r("speed", 5400, "RPM", th(600, 16000)))
	}
	for i := range 2 {
		add(model.KindProcessor, fmt.Sprintf("/redfish/v1/Systems/1/Processors/CPU.Socket.%d", i+1), fmt.Sprintf("CPU %d", i+1))
	}
	for i := range 16 {
		add(model.KindMemory, fmt.Sprintf("/redfish/v1/Systems/1/Memory/DIMM.Socket.A%d", i+1), fmt.Sprintf("DIMM A%d", i+1))
	}
	for i := range 8 {
		add(model.KindDrive, fmt.Sprintf("/redfish/v1/Systems/1/Storage/RAID.Integrated.1-1/Drives/Disk.Bay.%d", i),
			fmt.Sprintf("Physical Disk 0:1:%d", i),
			r("temperature", 34, "Cel", nil), r("media_life_left", 97, "%", nil), r("power_on_hours", 21000, "h", nil))
	}
	for i := range 40 {
		add(model.KindTemperature, fmt.Sprintf("/redfish/v1/Chassis/1/Sensors/Temp%d", i), fmt.Sprintf("Temp Sensor %d", i),
			r("temperature", 40, "Cel", th(3, 90)))
	}
	for i := range 20 {
		add(model.KindVoltage, fmt.Sprintf("/redfish/v1/Chassis/1/Sensors/Volt%d", i), fmt.Sprintf("PS%d Voltage", i),
			r("voltage", 12, "V", th(10.8, 13.2)))
	}
	snap.Components = snap.Components[:min(n, len(snap.Components))]
	return snap
}

func metricsBenchAssessments(snap *model.Snapshot) []detector.Assessment {
	as := make([]detector.Assessment, 0, len(snap.Components))
	for i, c := range snap.Components {
		a := detector.Assessment{Component: detector.ComponentRef{Target: snap.Target, Kind: c.Kind, ID: c.ID, Name: c.Name},
			State: detector.StateOK, Updated: snap.Time, Since: snap.Time}
		if i%25 == 7 {
			a.State, a.Risk = detector.StateDegrading, 0.6
			a.Forecast = &detector.Forecast{Signal: "speed", Threshold: 600, At: snap.Time.Add(96 * time.Hour)}
		}
		as = append(as, a)
	}
	return as
}

// BenchmarkObserveTarget is one target's round in steady state: a
// 100-component snapshot whose values moved, with its assessments.
func BenchmarkObserveTarget(b *testing.B) {
	for _, thresholds := range []bool{false, true} {
		b.Run(fmt.Sprintf("thresholds=%v", thresholds), func(b *testing.B) {
			var opts []agent.MetricsOption
			if thresholds {
				opts = append(opts, agent.WithThresholdMetrics())
			}
			m := agent.NewMetrics(opts...)
			snap := metricsBenchSnapshot("https://bmc1", 100)
			as := metricsBenchAssessments(snap)
			m.ObserveTarget(snap.Target, snap, as)
			var series int
			if n, err := testutil.GatherAndCount(m.Gatherer()); err == nil {
				series = n
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				snap.Time = snap.Time.Add(time.Minute)
				*snap.Components[5].Readings[0].Value = float64(5000 + i%100)
				m.ObserveTarget(snap.Target, snap, as)
			}
			b.ReportMetric(float64(series), "series")
		})
	}
}

// BenchmarkMetricsFleet fills the metrics of 500 targets of 100
// components and reports the heap they hold and one scrape's cost.
func BenchmarkMetricsFleet(b *testing.B) {
	const targets = 500
	snaps := make([]*model.Snapshot, targets)
	ass := make([][]detector.Assessment, targets)
	for i := range snaps {
		snaps[i] = metricsBenchSnapshot(fmt.Sprintf("https://bmc%d.example.net", i), 100)
		ass[i] = metricsBenchAssessments(snaps[i])
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	runtime.KeepAlive(snaps)
	m := agent.NewMetrics()
	for i, s := range snaps {
		m.ObserveTarget(s.Target, s, ass[i])
		m.ObserveScan(s.Target, "redfish", time.Second, 40, nil)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(snaps) // the snapshots count in neither reading
	series, _ := testutil.GatherAndCount(m.Gatherer())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Registry().Gather(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(series), "series")
	grown := float64(after.HeapAlloc) - float64(before.HeapAlloc)
	b.ReportMetric(grown/(1<<20), "heap-MiB")
	b.ReportMetric(grown/float64(series), "heap-B/series")
	runtime.KeepAlive(m)
}

// The component families /metrics writes by hand are exactly what the
// collector gathers: parsed back with Prometheus's own text parser,
// every series and value agrees, hostile label values included.
func TestMetricsHandlerTextMatchesGatherer(t *testing.T) {
	m := agent.NewMetrics(agent.WithThresholdMetrics())
	for i := 0; i < 3; i++ {
		snap := metricsBenchSnapshot(fmt.Sprintf("https://bmc%d", i), 20)
		snap.Components[0].Name = "quote \" back\\slash \n newline"
		m.ObserveTarget(snap.Target, snap, metricsBenchAssessments(snap))
	}
	srv := httptest.NewServer(m.Handler(nil))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(prommodel.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the exposition does not parse: %v", err)
	}
	got := map[string]float64{}
	for name, mf := range fams {
		if !strings.HasPrefix(name, "prefail_component_") && !strings.HasPrefix(name, "prefail_reading") && !strings.HasPrefix(name, "prefail_time_to") {
			continue
		}
		for _, mm := range mf.GetMetric() {
			var ls []string
			for _, lp := range mm.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
			}
			slices.Sort(ls)
			got[name+"{"+strings.Join(ls, ",")+"}"] = mm.GetGauge().GetValue()
		}
	}
	want := metricsSeries(t, m.Gatherer(), "prefail_component_", "prefail_reading", "prefail_time_to")
	if len(want) < 100 {
		t.Fatalf("only %d series gathered", len(want))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("/metrics text and the gatherer differ (-gathered +served):\n%s", diff)
	}
}

// BenchmarkMetricsScrape500 is one /metrics scrape of an agent watching
// 500 BMCs of 100 components each (about 200,000 series), through the
// handler (text format, no gzip).
func BenchmarkMetricsScrape500(b *testing.B) {
	m := agent.NewMetrics()
	for i := 0; i < 500; i++ {
		s := metricsBenchSnapshot(fmt.Sprintf("https://bmc%d.example.net", i), 100)
		m.ObserveTarget(s.Target, s, metricsBenchAssessments(s))
	}
	h := m.Handler(nil)
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	var size int
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		size = rec.Body.Len()
	}
	b.ReportMetric(float64(size), "bytes/scrape")
}
