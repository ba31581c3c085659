package agent

import (
	"bufio"
	"compress/gzip"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"

	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/model"
)

// Metrics is the agent's Prometheus instrumentation. It has its own
// registry (never the global default one) with the Go and process
// collectors, and is safe for concurrent use: the scans of different
// targets observe concurrently.
//
// # Readings
//
// A reading becomes a sample of the family of its unit, converted to the
// Prometheus base unit: prefail_reading_celsius, prefail_reading_volts,
// prefail_reading_watts, prefail_reading_rpm, prefail_reading_ratio (a
// percentage divided by 100), prefail_reading_seconds (hours times 3600),
// ... (see readingUnits), and prefail_reading for dimensionless values
// (counts, SMART raw and normalized attribute values). The reading's name
// ("temperature", "input_power", "smart_5_raw") is the reading label.
// One family per unit, rather than one prefail_reading family with a unit
// label, is what https://prometheus.io/docs/practices/naming/ asks: a
// metric name "MUST refer to a single unit and to a single quantity" and
// "SHOULD have a suffix describing the unit", so that sum() or avg()
// over a family means something; node_exporter's hwmon collector and the
// IPMI exporter do the same. A unit prefail does not know how to convert
// (a new UCUM code from a BMC) still gets exported, in
// prefail_reading_unconverted with the UCUM code in a unit label, rather
// than be dropped.
//
// # Series lifetime and cost
//
// Series are created on first sight and deleted as soon as what they
// describe goes away: a component missing from a target's snapshot, a
// reading without a value, a forecast that no longer exists, a target
// removed from the configuration (ForgetTarget). A failed scan drops
// nothing: it only sets prefail_target_up to 0.
//
// Each target keeps the handles of its series, so a round that sees the
// same components as the last one costs one map lookup per component and
// one atomic store per sample, with no allocation; label hashing and
// allocation happen only for new series.
//
// Label values are the component's stable id (component) and its human
// name (name); a label value that is not valid UTF-8 has its bad bytes
// replaced and one longer than 512 bytes is cut, so a hostile BMC can
// neither make the exposition invalid nor blow up the label sizes.
type Metrics struct {
	reg        *prometheus.Registry
	full       prometheus.Gatherers // reg and the component families
	thresholds bool
	inflight   chan struct{} // /metrics requests served at once

	// The per-component series are not client_golang vectors: a fleet
	// has hundreds of thousands of them, and a vector keeps a label set,
	// a hash and a metric object for each (about 580 bytes a series:
	// 110 MiB for 500 BMCs). They are plain values in the targets' maps,
	// turned into constant metrics at scrape time (componentCollector).
	healthDesc, stateDesc, riskDesc *prometheus.Desc // target, kind, component, name
	tttDesc                         *prometheus.Desc // + signal
	readingDescs                    [numReadingFamilies]*prometheus.Desc
	thresholdDescs                  [numReadingFamilies]*prometheus.Desc

	scanDuration                *prometheus.HistogramVec // target, reader
	scans, scanErrors, requests *prometheus.CounterVec   // target, reader
	up, lastScan                *prometheus.GaugeVec     // target
	selEntries                  *prometheus.GaugeVec     // target
	selRead                     *prometheus.CounterVec   // target

	outbox  prometheus.Gauge
	outputs *outputStatsCollector

	mu      sync.Mutex
	targets map[string]*metricsTarget
}

// MetricsOption configures NewMetrics.
type MetricsOption func(*Metrics)

// WithThresholdMetrics also exports each reading's thresholds, as
// prefail_reading_threshold_<unit>{...,level="upper_critical"} (levels:
// lower_non_critical, upper_non_critical, lower_critical, upper_critical,
// lower_fatal, upper_fatal). Off by default: thresholds hardly ever
// change, the BMC's health verdict already applies them, and they would
// multiply the series of a fleet by up to seven.
func WithThresholdMetrics() MetricsOption { return func(m *Metrics) { m.thresholds = true } }

// Label names.
var (
	componentLabels = []string{"target", "kind", "component", "name"}
	readingLabels   = []string{"target", "kind", "component", "name", "reading"}
	scanLabels      = []string{"target", "reader"}
	targetLabels    = []string{"target"}
)

// ScanDurationBuckets are the buckets of prefail_scan_duration_seconds:
// from an IPMI sensor sweep of a few tens of milliseconds to a slow BMC's
// full Redfish tree under a two-minute timeout.
var ScanDurationBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120}

// NewMetrics returns the agent's metrics, registered in a registry of
// their own (Registry).
func NewMetrics(opts ...MetricsOption) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), targets: make(map[string]*metricsTarget)}
	for _, o := range opts {
		o(m)
	}
	gauge := func(name, help string, labels []string) *prometheus.GaugeVec {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
		m.reg.MustRegister(v)
		return v
	}
	counter := func(name, help string, labels []string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		m.reg.MustRegister(v)
		return v
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)

	m.healthDesc = prometheus.NewDesc("prefail_component_health",
		"The source's own verdict on the component (BMC or drive), not prefail's: 0 ok, 1 absent, 2 unknown, 3 warning, 4 critical (model.Health.Severity, so max() is the worst).",
		componentLabels, nil)
	m.stateDesc = prometheus.NewDesc("prefail_component_state",
		"The detector's state of the component: -1 unknown (no usable data yet), 0 ok, 1 watch, 2 degrading, 3 failing, 4 failed.",
		componentLabels, nil)
	m.riskDesc = prometheus.NewDesc("prefail_component_risk",
		"The detector's risk that the component is on its way to failure, in [0,1].",
		componentLabels, nil)
	m.tttDesc = prometheus.NewDesc("prefail_time_to_threshold_seconds",
		"Seconds from the snapshot to when the detector expects the trending signal to cross its threshold (0 when already past); only while a forecast exists.",
		append(componentLabels[:len(componentLabels):len(componentLabels)], "signal"), nil)
	for f := range readingFamily(numReadingFamilies) {
		d := readingFamilies[f]
		labels := readingLabels
		if f == famUnconverted {
			labels = append(readingLabels[:len(readingLabels):len(readingLabels)], "unit")
		}
		m.readingDescs[f] = prometheus.NewDesc(d.name, d.help, labels, nil)
		if m.thresholds {
			m.thresholdDescs[f] = prometheus.NewDesc(d.threshold, "The source's threshold for "+d.name+", by level.",
				append(labels[:len(labels):len(labels)], "level"), nil)
		}
	}
	components := prometheus.NewRegistry()
	components.MustRegister(componentCollector{m})
	m.full = prometheus.Gatherers{m.reg, components}
	m.inflight = make(chan struct{}, 4)

	m.scanDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "prefail_scan_duration_seconds",
		Help:    "How long a scan of the target took, failed scans included.",
		Buckets: ScanDurationBuckets,
	}, scanLabels)
	m.reg.MustRegister(m.scanDuration)
	m.scans = counter("prefail_scans_total", "Scans of the target, failed ones included.", scanLabels)
	m.scanErrors = counter("prefail_scan_errors_total", "Scans of the target that failed.", scanLabels)
	m.requests = counter("prefail_bmc_requests_total",
		"Protocol requests the scans cost, login and logout included: HTTP requests (redfish), IPMI commands (ipmi), device commands (smart).",
		scanLabels)
	m.up = gauge("prefail_target_up", "1 if the last scan of the target returned a snapshot, 0 if it failed.", targetLabels)
	m.lastScan = gauge("prefail_last_scan_timestamp_seconds",
		"Unix time of the target's last successful scan (its snapshot's time).", targetLabels)
	m.selEntries = gauge("prefail_sel_entries", "Entries in the target's IPMI System Event Log, as the BMC last said.", targetLabels)
	m.selRead = counter("prefail_sel_entries_read_total", "IPMI System Event Log entries read from the target.", targetLabels)

	m.outbox = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "prefail_outbox_events", Help: "Events in the store's outbox not yet confirmed by every output.",
	})
	m.outputs = newOutputStatsCollector()
	m.reg.MustRegister(m.outbox, m.outputs)
	return m
}

// Registry returns the registry of the agent-wide and per-target metrics;
// register more collectors in it to serve them on the same /metrics. The
// per-component families are not in it (see Gatherer).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Gatherer gathers every metric, the per-component families included,
// for a program that serves them itself. Handler writes the same text
// without building a metric object for each of a fleet's hundreds of
// thousands of component series.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.full }

// ObserveScan records one scan of target by reader ("redfish", "ipmi",
// "smart"): how long it took, the requests it cost, and whether it failed
// (a failed scan also sets prefail_target_up to 0).
func (m *Metrics) ObserveScan(target, reader string, took time.Duration, requests int, err error) {
	target, reader = labelValue(target), labelValue(reader)
	m.scans.WithLabelValues(target, reader).Inc()
	m.scanDuration.WithLabelValues(target, reader).Observe(took.Seconds())
	m.requests.WithLabelValues(target, reader).Add(float64(max(requests, 0)))
	errs := m.scanErrors.WithLabelValues(target, reader) // exported from the first scan on, at 0
	if err != nil {
		errs.Inc()
		m.up.WithLabelValues(target).Set(0)
	}
}

// ObserveTarget records what the detector made of a target's snapshot:
// each component's health, state, risk, forecast and readings. The
// series of components, readings and forecasts the snapshot no longer has
// are deleted. A nil snap (the scan failed) sets prefail_target_up to 0
// and deletes nothing; assessments then update the state and risk of the
// components already known.
func (m *Metrics) ObserveTarget(target string, snap *model.Snapshot, assessments []detector.Assessment) {
	t := m.target(target)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.forgotten {
		return
	}
	if snap == nil {
		t.up.Set(0)
		for i := range assessments {
			a := &assessments[i]
			if c := t.comps[metricsKey{labelValue(string(a.Component.Kind)), labelValue(a.Component.ID)}]; c != nil {
				m.observeAssessment(t, c, a, a.Updated, false)
			}
		}
		return
	}

	t.gen++
	for i := range snap.Components {
		m.observeComponent(t, &snap.Components[i])
	}
	for i := range assessments {
		a := &assessments[i]
		c := t.comps[metricsKey{labelValue(string(a.Component.Kind)), labelValue(a.Component.ID)}]
		if c == nil || c.gen != t.gen || c.agen == t.gen {
			continue // not in this snapshot, or a second assessment of it
		}
		c.agen = t.gen
		m.observeAssessment(t, c, a, snap.Time, true)
	}
	for k, c := range t.comps {
		if c.gen != t.gen {
			m.deleteComponent(t, c)
			delete(t.comps, k)
			continue
		}
		if c.agen != t.gen && c.assessed {
			m.deleteAssessment(t, c)
		}
		if c.stale {
			m.sweepReadings(t, c)
		}
	}

	t.up.Set(1)
	ts := snap.Time
	if ts.IsZero() {
		ts = time.Now()
	}
	t.lastScan.Set(float64(ts.UnixNano()) / 1e9)
}

// ForgetTarget deletes every series of target: it was removed from the
// configuration.
func (m *Metrics) ForgetTarget(target string) {
	m.mu.Lock()
	t := m.targets[target]
	delete(m.targets, target)
	m.mu.Unlock()
	if t != nil {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.forgotten = true
		t.comps = nil
	}
	match := prometheus.Labels{"target": labelValue(target)}
	for _, v := range m.targetVecs() {
		v.DeletePartialMatch(match)
	}
}

// SetSELEntries records how many entries the target's IPMI SEL holds.
func (m *Metrics) SetSELEntries(target string, total int) {
	m.selEntries.WithLabelValues(labelValue(target)).Set(float64(total))
}

// AddSELRead counts n SEL entries read from the target.
func (m *Metrics) AddSELRead(target string, n int) {
	m.selRead.WithLabelValues(labelValue(target)).Add(float64(max(n, 0)))
}

// SetOutputStats records an output's delivery statistics, as the
// dispatcher counts them: events delivered and failed deliveries since
// the process started (exported as the counters
// prefail_events_delivered_total and prefail_output_failures_total, so
// they must only grow; a smaller value reads as a counter reset), and the
// events of the outbox the output has not confirmed yet (lag). The agent
// pushes the dispatcher's stats here after each delivery round rather than
// the registry pulling them at scrape time, so that a scrape never waits
// on the dispatcher's lock.
func (m *Metrics) SetOutputStats(name string, delivered, failed uint64, lag int) {
	m.outputs.set(labelValue(name), outputStats{delivered: delivered, failed: failed, lag: lag})
}

// ForgetOutput deletes the series of an output removed from the
// configuration.
func (m *Metrics) ForgetOutput(name string) { m.outputs.forget(labelValue(name)) }

// SetOutbox records the events waiting in the outbox and how many the
// outbox dropped since the process started (its bound reached).
func (m *Metrics) SetOutbox(pending int, dropped uint64) {
	m.outbox.Set(float64(pending))
	m.outputs.setDropped(dropped)
}

// Handler serves /metrics (the registry, in the Prometheus text format or
// OpenMetrics as the scraper asks), /healthz (200 "ok" while the process
// runs) and /readyz (200 once ready returns nil: the store is open and the
// first round finished; 503 with ready's error otherwise; a nil ready is
// always ready). Other paths are 404, other methods than GET and HEAD 405.
func (m *Metrics) Handler(ready func() error) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", m.serveMetrics)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		plain(w, http.StatusOK, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ready != nil {
			if err := ready(); err != nil {
				plain(w, http.StatusServiceUnavailable, "not ready: "+err.Error()+"\n")
				return
			}
		}
		plain(w, http.StatusOK, "ready\n")
	})
	return mux
}

func plain(w http.ResponseWriter, code int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}

// targetVecs are the vectors with a target label.
func (m *Metrics) targetVecs() []interface {
	DeletePartialMatch(prometheus.Labels) int
} {
	vs := []interface {
		DeletePartialMatch(prometheus.Labels) int
	}{
		m.scanDuration, m.scans, m.scanErrors, m.requests, m.up, m.lastScan, m.selEntries, m.selRead,
	}
	return vs
}

// metricsTarget is what the metrics keep of one target: the handles of
// its component series, so that a round costs no label hashing.
type metricsTarget struct {
	mu        sync.Mutex
	name      string // the target label
	gen       uint64 // ObserveTarget calls with a snapshot
	forgotten bool
	comps     map[metricsKey]*metricsComponent
	up        prometheus.Gauge
	lastScan  prometheus.Gauge
}

type metricsKey struct{ kind, id string }

type metricsComponent struct {
	kind, id, name string // label values
	gen            uint64 // last round that saw it
	agen           uint64 // last round that assessed it
	stale          bool   // a reading may be missing from the last round

	health      float64
	assessed    bool // state and risk are set
	state, risk float64
	ttt         *float64 // nil without a forecast
	signal      string
	readings    []*metricsReading
}

type metricsReading struct {
	name string // label value
	unit string // as the source gave it
	conv readingUnit
	gen  uint64
	v    float64
	th   [numThresholdLevels]*float64
}

func (m *Metrics) target(name string) *metricsTarget {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.targets[name]
	if t == nil {
		l := labelValue(name)
		t = &metricsTarget{
			name: l, comps: make(map[metricsKey]*metricsComponent),
			up: m.up.WithLabelValues(l), lastScan: m.lastScan.WithLabelValues(l),
		}
		m.targets[name] = t
	}
	return t
}

func (m *Metrics) observeComponent(t *metricsTarget, mc *model.Component) {
	k := metricsKey{labelValue(string(mc.Kind)), labelValue(mc.ID)}
	name := labelValue(mc.Name)
	c := t.comps[k]
	if c != nil && c.gen == t.gen {
		return // the same component twice in one snapshot: the first wins
	}
	if c != nil && c.name != name { // renamed: its series change labels
		m.deleteComponent(t, c)
		c = nil
	}
	if c == nil {
		c = &metricsComponent{kind: k.kind, id: k.id, name: name}
		t.comps[k] = c
	}
	c.gen = t.gen
	c.health = float64(mc.Health.Severity())

	seen := 0
	for i := range mc.Readings {
		if m.observeReading(t, c, i, &mc.Readings[i]) {
			seen++
		}
	}
	c.stale = seen != len(c.readings)
}

// observeReading sets one reading's series and reports whether it is
// one more of the component's readings seen this round.
func (m *Metrics) observeReading(t *metricsTarget, c *metricsComponent, i int, r *model.Reading) bool {
	if r.Value == nil {
		return false // unavailable: its series goes in the sweep
	}
	name := labelValue(r.Name)
	var mr *metricsReading
	if i < len(c.readings) && c.readings[i].name == name { // the usual case: same order as last round
		mr = c.readings[i]
	} else {
		for _, x := range c.readings {
			if x.name == name {
				mr = x
				break
			}
		}
	}
	if mr != nil && mr.gen == t.gen {
		return false // the same reading twice: the first wins
	}
	if mr != nil && mr.unit != r.Unit {
		m.deleteReading(t, c, mr)
		mr.gen = 0 // swept
		mr = nil
	}
	if mr == nil {
		mr = &metricsReading{name: name, unit: r.Unit, conv: lookupUnit(r.Unit)}
		c.readings = append(c.readings, mr)
	}
	mr.gen = t.gen
	mr.v = mr.conv.apply(*r.Value)
	if m.thresholds {
		m.observeThresholds(t, c, mr, r.Thresholds)
	}
	return true
}

func (m *Metrics) observeThresholds(t *metricsTarget, c *metricsComponent, mr *metricsReading, th *model.Thresholds) {
	var vs [numThresholdLevels]*float64
	if th != nil {
		vs = [...]*float64{th.LowerNonCritical, th.UpperNonCritical, th.LowerCritical, th.UpperCritical, th.LowerFatal, th.UpperFatal}
	}
	for l, v := range vs {
		if v == nil {
			mr.th[l] = nil
			continue
		}
		x := mr.conv.apply(*v)
		mr.th[l] = &x
	}
}

func (m *Metrics) readingLabelValues(t *metricsTarget, c *metricsComponent, mr *metricsReading, level string) []string {
	lvs := make([]string, 0, 7)
	lvs = append(lvs, t.name, c.kind, c.id, c.name, mr.name)
	if mr.conv.family == famUnconverted {
		lvs = append(lvs, labelValue(mr.unit))
	}
	if level != "" {
		lvs = append(lvs, level)
	}
	return lvs
}

// observeAssessment sets the detector's verdict on a component; ref is
// the time the forecast counts from. On a failed scan (prune false) a
// missing forecast deletes nothing.
func (m *Metrics) observeAssessment(t *metricsTarget, c *metricsComponent, a *detector.Assessment, ref time.Time, prune bool) {
	c.assessed = true
	c.state = stateValue(a.State)
	c.risk = min(max(a.Risk, 0), 1)

	f := a.Forecast
	if f == nil || f.At.IsZero() {
		if prune {
			c.ttt = nil
		}
		return
	}
	ttt := max(f.At.Sub(ref).Seconds(), 0)
	c.ttt, c.signal = &ttt, labelValue(f.Signal)
}

func (m *Metrics) deleteAssessment(_ *metricsTarget, c *metricsComponent) {
	c.assessed, c.ttt = false, nil
}

// deleteComponent drops a component's series (the caller drops it from
// the target's map, or replaces it).
func (m *Metrics) deleteComponent(t *metricsTarget, c *metricsComponent) {
	m.deleteAssessment(t, c)
	c.readings = nil
}

func (m *Metrics) deleteReading(_ *metricsTarget, _ *metricsComponent, mr *metricsReading) {
	mr.th = [numThresholdLevels]*float64{}
}

// sweepReadings deletes the readings the last round did not see.
func (m *Metrics) sweepReadings(t *metricsTarget, c *metricsComponent) {
	kept := c.readings[:0]
	for _, mr := range c.readings {
		switch {
		case mr.gen == t.gen:
			kept = append(kept, mr)
		case mr.gen != 0: // 0: already deleted when its unit changed
			m.deleteReading(t, c, mr)
		}
	}
	clear(c.readings[len(kept):])
	c.readings = kept
	c.stale = false
}

// stateValue is prefail_component_state's number for a detector state.
func stateValue(s detector.State) float64 {
	if s == detector.StateUnknown || s == "" {
		return -1
	}
	return float64(s.Level())
}

// maxLabelValue bounds a label value's length in bytes.
const maxLabelValue = 512

// labelValue makes s a valid, bounded label value; it returns s itself
// (no allocation) when it already is one.
func labelValue(s string) string {
	if len(s) <= maxLabelValue && utf8.ValidString(s) {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) > maxLabelValue {
		n := maxLabelValue
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	return s
}

// Threshold levels, in the order of observeThresholds.
const numThresholdLevels = 6

var thresholdLevels = [numThresholdLevels]string{
	"lower_non_critical", "upper_non_critical", "lower_critical", "upper_critical", "lower_fatal", "upper_fatal",
}

// readingFamily is the metric family of a reading's unit.
type readingFamily int

const (
	famDimensionless readingFamily = iota
	famCelsius
	famVolts
	famAmperes
	famWatts
	famVoltAmperes
	famJoules
	famRPM
	famHertz
	famRatio
	famSeconds
	famBytes
	famCubicMetersPerSecond
	famUnconverted
	numReadingFamilies
)

var readingFamilies = [numReadingFamilies]struct{ name, threshold, help string }{
	famDimensionless:        {"prefail_reading", "prefail_reading_threshold", "A dimensionless reading (a count, a SMART attribute's raw or normalized value), as the source gave it."},
	famCelsius:              {"prefail_reading_celsius", "prefail_reading_threshold_celsius", "A temperature reading in degrees Celsius (Fahrenheit and kelvin converted)."},
	famVolts:                {"prefail_reading_volts", "prefail_reading_threshold_volts", "A voltage reading in volts."},
	famAmperes:              {"prefail_reading_amperes", "prefail_reading_threshold_amperes", "A current reading in amperes."},
	famWatts:                {"prefail_reading_watts", "prefail_reading_threshold_watts", "A power reading in watts."},
	famVoltAmperes:          {"prefail_reading_voltamperes", "prefail_reading_threshold_voltamperes", "An apparent power reading in volt-amperes."},
	famJoules:               {"prefail_reading_joules", "prefail_reading_threshold_joules", "An energy reading in joules (Wh times 3600)."},
	famRPM:                  {"prefail_reading_rpm", "prefail_reading_threshold_rpm", "A rotational speed reading in revolutions per minute."},
	famHertz:                {"prefail_reading_hertz", "prefail_reading_threshold_hertz", "A frequency reading in hertz."},
	famRatio:                {"prefail_reading_ratio", "prefail_reading_threshold_ratio", "A percentage reading as a ratio (percent / 100)."},
	famSeconds:              {"prefail_reading_seconds", "prefail_reading_threshold_seconds", "A duration reading in seconds (hours times 3600)."},
	famBytes:                {"prefail_reading_bytes", "prefail_reading_threshold_bytes", "A size reading in bytes."},
	famCubicMetersPerSecond: {"prefail_reading_cubic_meters_per_second", "prefail_reading_threshold_cubic_meters_per_second", "An airflow reading in cubic meters per second (CFM converted)."},
	famUnconverted:          {"prefail_reading_unconverted", "prefail_reading_threshold_unconverted", "A reading in a unit prefail does not convert, as the source gave it; the unit label is its UCUM code."},
}

// readingUnit converts a unit's values to its family's base unit:
// value*scale + offset.
type readingUnit struct {
	family        readingFamily
	scale, offset float64
}

func (u readingUnit) apply(v float64) float64 { return v*u.scale + u.offset }

// readingUnits maps the UCUM codes the readers use (Redfish's
// ReadingUnits, ipmi.SDR.Unit, smart) to their family.
var readingUnits = map[string]readingUnit{
	"":            {famDimensionless, 1, 0},
	"1":           {famDimensionless, 1, 0},
	"{count}":     {famDimensionless, 1, 0},
	"Cel":         {famCelsius, 1, 0},
	"[degF]":      {famCelsius, 5.0 / 9, -32 * 5.0 / 9},
	"K":           {famCelsius, 1, -273.15},
	"V":           {famVolts, 1, 0},
	"mV":          {famVolts, 1e-3, 0},
	"A":           {famAmperes, 1, 0},
	"mA":          {famAmperes, 1e-3, 0},
	"W":           {famWatts, 1, 0},
	"mW":          {famWatts, 1e-3, 0},
	"kW":          {famWatts, 1e3, 0},
	"VA":          {famVoltAmperes, 1, 0},
	"J":           {famJoules, 1, 0},
	"kJ":          {famJoules, 1e3, 0},
	"Wh":          {famJoules, 3600, 0},
	"kW.h":        {famJoules, 3.6e6, 0},
	"kWh":         {famJoules, 3.6e6, 0},
	"RPM":         {famRPM, 1, 0},
	"{rev}/min":   {famRPM, 1, 0},
	"Hz":          {famHertz, 1, 0},
	"kHz":         {famHertz, 1e3, 0},
	"MHz":         {famHertz, 1e6, 0},
	"GHz":         {famHertz, 1e9, 0},
	"%":           {famRatio, 0.01, 0},
	"s":           {famSeconds, 1, 0},
	"ms":          {famSeconds, 1e-3, 0},
	"min":         {famSeconds, 60, 0},
	"h":           {famSeconds, 3600, 0},
	"d":           {famSeconds, 86400, 0},
	"By":          {famBytes, 1, 0},
	"KiBy":        {famBytes, 1 << 10, 0},
	"MiBy":        {famBytes, 1 << 20, 0},
	"GiBy":        {famBytes, 1 << 30, 0},
	"[cft_i]/min": {famCubicMetersPerSecond, 0.028316846592 / 60, 0},
}

func lookupUnit(unit string) readingUnit {
	if u, ok := readingUnits[unit]; ok {
		return u
	}
	return readingUnit{famUnconverted, 1, 0}
}

// outputStatsCollector exposes the stats the agent pushes with
// SetOutputStats and SetOutbox: counters that a client_golang Counter
// cannot be set to.
type outputStatsCollector struct {
	delivered, failed, lag, dropped *prometheus.Desc

	mu           sync.Mutex
	outputs      map[string]outputStats
	droppedTotal uint64
}

type outputStats struct {
	delivered, failed uint64
	lag               int
}

func newOutputStatsCollector() *outputStatsCollector {
	return &outputStatsCollector{
		delivered: prometheus.NewDesc("prefail_events_delivered_total", "Events the output confirmed.", []string{"output"}, nil),
		failed:    prometheus.NewDesc("prefail_output_failures_total", "Failed deliveries to the output (each attempt that did not deliver everything it was handed).", []string{"output"}, nil),
		lag:       prometheus.NewDesc("prefail_output_lag_events", "Events of the outbox the output has not confirmed yet.", []string{"output"}, nil),
		dropped:   prometheus.NewDesc("prefail_outbox_dropped_events_total", "Events the outbox dropped because it was full.", nil, nil),
		outputs:   make(map[string]outputStats),
	}
}

func (c *outputStatsCollector) set(name string, s outputStats) {
	c.mu.Lock()
	c.outputs[name] = s
	c.mu.Unlock()
}

func (c *outputStatsCollector) forget(name string) {
	c.mu.Lock()
	delete(c.outputs, name)
	c.mu.Unlock()
}

func (c *outputStatsCollector) setDropped(n uint64) {
	c.mu.Lock()
	c.droppedTotal = n
	c.mu.Unlock()
}

func (c *outputStatsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.delivered
	ch <- c.failed
	ch <- c.lag
	ch <- c.dropped
}

func (c *outputStatsCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, s := range c.outputs {
		ch <- prometheus.MustNewConstMetric(c.delivered, prometheus.CounterValue, float64(s.delivered), name)
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.CounterValue, float64(s.failed), name)
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(s.lag), name)
	}
	ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(c.droppedTotal))
}

// componentCollector turns the targets' component values into constant
// metrics at scrape time.
type componentCollector struct{ m *Metrics }

func (c componentCollector) Describe(ch chan<- *prometheus.Desc) {
	m := c.m
	ch <- m.healthDesc
	ch <- m.stateDesc
	ch <- m.riskDesc
	ch <- m.tttDesc
	for f := range readingFamily(numReadingFamilies) {
		ch <- m.readingDescs[f]
		if m.thresholdDescs[f] != nil {
			ch <- m.thresholdDescs[f]
		}
	}
}

func (c componentCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	m.mu.Lock()
	targets := make([]*metricsTarget, 0, len(m.targets))
	for _, t := range m.targets {
		targets = append(targets, t)
	}
	m.mu.Unlock()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, t := range targets {
		t.mu.Lock()
		for _, mc := range t.comps {
			gauge(m.healthDesc, mc.health, t.name, mc.kind, mc.id, mc.name)
			if mc.assessed {
				gauge(m.stateDesc, mc.state, t.name, mc.kind, mc.id, mc.name)
				gauge(m.riskDesc, mc.risk, t.name, mc.kind, mc.id, mc.name)
			}
			if mc.ttt != nil {
				gauge(m.tttDesc, *mc.ttt, t.name, mc.kind, mc.id, mc.name, mc.signal)
			}
			for _, mr := range mc.readings {
				if mr.gen == 0 {
					continue // deleted when its unit changed
				}
				gauge(m.readingDescs[mr.conv.family], mr.v, m.readingLabelValues(t, mc, mr, "")...)
				if m.thresholdDescs[mr.conv.family] == nil {
					continue
				}
				for l, v := range mr.th {
					if v != nil {
						gauge(m.thresholdDescs[mr.conv.family], *v, m.readingLabelValues(t, mc, mr, thresholdLevels[l])...)
					}
				}
			}
		}
		t.mu.Unlock()
	}
}

// serveMetrics writes the registry in the Prometheus text format (0.0.4),
// then the per-component families straight from the targets' values: a
// scrape of 500 BMCs writes 200,000 series without allocating for each.
func (m *Metrics) serveMetrics(w http.ResponseWriter, r *http.Request) {
	select {
	case m.inflight <- struct{}{}:
		defer func() { <-m.inflight }()
	default:
		http.Error(w, "too many scrapes at once", http.StatusServiceUnavailable)
		return
	}
	mfs, err := m.reg.Gather()
	if err != nil && len(mfs) == 0 {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	var out io.Writer = w
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		h.Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		defer zw.Close()
		out = zw
	}
	bw := bufio.NewWriterSize(out, 64<<10)
	defer bw.Flush()
	enc := expfmt.NewEncoder(bw, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return
		}
	}
	m.writeComponents(bw)
}

// writeComponents writes the per-component families in the text format,
// each family's series together, targets in name order.
func (m *Metrics) writeComponents(w *bufio.Writer) {
	m.mu.Lock()
	targets := make([]*metricsTarget, 0, len(m.targets))
	for _, t := range m.targets {
		targets = append(targets, t)
	}
	m.mu.Unlock()
	slices.SortFunc(targets, func(a, b *metricsTarget) int { return strings.Compare(a.name, b.name) })
	tw := textWriter{w: w}
	each := func(fn func(t *metricsTarget, c *metricsComponent)) {
		for _, t := range targets {
			t.mu.Lock()
			for _, c := range t.comps {
				fn(t, c)
			}
			t.mu.Unlock()
		}
	}
	comp := func(name string, d *prometheus.Desc, value func(*metricsComponent) (float64, bool)) {
		tw.header(name, descHelp(d))
		each(func(t *metricsTarget, c *metricsComponent) {
			if v, ok := value(c); ok {
				tw.sample(name, v, "target", t.name, "kind", c.kind, "component", c.id, "name", c.name)
			}
		})
	}
	comp("prefail_component_health", m.healthDesc, func(c *metricsComponent) (float64, bool) { return c.health, true })
	comp("prefail_component_state", m.stateDesc, func(c *metricsComponent) (float64, bool) { return c.state, c.assessed })
	comp("prefail_component_risk", m.riskDesc, func(c *metricsComponent) (float64, bool) { return c.risk, c.assessed })
	tw.header("prefail_time_to_threshold_seconds", descHelp(m.tttDesc))
	each(func(t *metricsTarget, c *metricsComponent) {
		if c.ttt != nil {
			tw.sample("prefail_time_to_threshold_seconds", *c.ttt, "target", t.name, "kind", c.kind, "component", c.id, "name", c.name, "signal", c.signal)
		}
	})
	for f := range readingFamily(numReadingFamilies) {
		name := readingFamilies[f].name
		tw.header(name, readingFamilies[f].help)
		each(func(t *metricsTarget, c *metricsComponent) {
			for _, mr := range c.readings {
				if mr.gen == 0 || mr.conv.family != f {
					continue
				}
				if f == famUnconverted {
					tw.sample(name, mr.v, "target", t.name, "kind", c.kind, "component", c.id, "name", c.name, "reading", mr.name, "unit", labelValue(mr.unit))
				} else {
					tw.sample(name, mr.v, "target", t.name, "kind", c.kind, "component", c.id, "name", c.name, "reading", mr.name)
				}
			}
		})
		if m.thresholdDescs[f] == nil {
			continue
		}
		tname := readingFamilies[f].threshold
		tw.header(tname, descHelp(m.thresholdDescs[f]))
		each(func(t *metricsTarget, c *metricsComponent) {
			for _, mr := range c.readings {
				if mr.gen == 0 || mr.conv.family != f {
					continue
				}
				for l, v := range mr.th {
					if v == nil {
						continue
					}
					if f == famUnconverted {
						tw.sample(tname, *v, "target", t.name, "kind", c.kind, "component", c.id, "name", c.name, "reading", mr.name, "unit", labelValue(mr.unit), "level", thresholdLevels[l])
					} else {
						tw.sample(tname, *v, "target", t.name, "kind", c.kind, "component", c.id, "name", c.name, "reading", mr.name, "level", thresholdLevels[l])
					}
				}
			}
		})
	}
}

// descHelp is a Desc's help text (client_golang keeps it unexported; its
// String form quotes it).
func descHelp(d *prometheus.Desc) string {
	s := d.String()
	const key = `help: "`
	i := strings.Index(s, key)
	if i < 0 {
		return ""
	}
	rest := s[i+len(key):]
	if j := strings.Index(rest, `", constLabels`); j >= 0 {
		rest = rest[:j]
	}
	if u, err := strconv.Unquote(`"` + rest + `"`); err == nil {
		return u
	}
	return rest
}

// textWriter writes the Prometheus text format (0.0.4) by hand: a family
// header, then samples, escaped as the format says.
type textWriter struct {
	w   *bufio.Writer
	buf []byte
}

func (tw *textWriter) header(name, help string) {
	tw.w.WriteString("# HELP ")
	tw.w.WriteString(name)
	tw.w.WriteByte(' ')
	for i := 0; i < len(help); i++ {
		switch help[i] {
		case '\\':
			tw.w.WriteString(`\\`)
		case '\n':
			tw.w.WriteString(`\n`)
		default:
			tw.w.WriteByte(help[i])
		}
	}
	tw.w.WriteString("\n# TYPE ")
	tw.w.WriteString(name)
	tw.w.WriteString(" gauge\n")
}

// sample writes name{k="v",...} value; labels alternate names and values.
func (tw *textWriter) sample(name string, v float64, labels ...string) {
	w := tw.w
	w.WriteString(name)
	w.WriteByte('{')
	for i := 0; i+1 < len(labels); i += 2 {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(labels[i])
		w.WriteString(`="`)
		lv := labels[i+1]
		for j := 0; j < len(lv); j++ {
			switch lv[j] {
			case '\\':
				w.WriteString(`\\`)
			case '"':
				w.WriteString(`\"`)
			case '\n':
				w.WriteString(`\n`)
			default:
				w.WriteByte(lv[j])
			}
		}
		w.WriteByte('"')
	}
	w.WriteString("} ")
	switch {
	case math.IsNaN(v):
		w.WriteString("NaN")
	case math.IsInf(v, 1):
		w.WriteString("+Inf")
	case math.IsInf(v, -1):
		w.WriteString("-Inf")
	default:
		tw.buf = strconv.AppendFloat(tw.buf[:0], v, 'g', -1, 64)
		w.Write(tw.buf)
	}
	w.WriteByte('\n')
}
