package detector

import (
	"bytes"
	_ "embed" // the default model file
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// The learned disk model: a logistic regression over the drive features
// of diskmodel_features.go, trained offline on the tune half of the
// Backblaze 2018 set (tools/trainmodel) and shipped as data: the versioned
// file diskmodel/disk-model-v1.json (docs/evaluation.md describes it).
// Inside the detector it is one more disk signal: its reason scores
// Disk.Model.Weight x sigmoid(logit - alarm_logit) and says, in words,
// which features pushed the risk up.

// DiskModelFormat is the format of the model files this build reads.
const DiskModelFormat = "prefail.disk-model/v1"

// DefaultDiskModelFile is the embedded model's name.
const DefaultDiskModelFile = "detector/diskmodel/disk-model-v1.json"

// ErrBadModel is wrapped by every error reading a model file.
var ErrBadModel = errors.New("bad disk model")

//go:embed diskmodel/disk-model-v1.json
var defaultDiskModel []byte // read-only: the file as shipped

// DefaultDiskModelJSON returns the embedded model file as shipped.
func DefaultDiskModelJSON() []byte { return slices.Clone(defaultDiskModel) }

// DiskModel is a learned disk model, as its file says.
type DiskModel struct {
	// Format is DiskModelFormat; Name the model's version
	// ("disk-model-v1"); Kind "logistic".
	Format string `json:"format"`
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	// Description says what the model predicts.
	Description string `json:"description"`
	// HorizonDays: the model was trained to tell the days within this
	// many days of a failure.
	HorizonDays int `json:"horizon_days"`
	// Features are the model's inputs, by name (DiskFeatureNames), with
	// their standardization and weights: the logit is Intercept + the sum
	// of Weight x clamp((x - Mean) / Scale, -Clip, Clip); a missing
	// feature counts as its Mean (nothing).
	Features  []ModelFeature `json:"features"`
	Intercept float64        `json:"intercept"`
	Clip      float64        `json:"clip"`
	// AlarmLogit is the logit at which the model alone alarms (its reason
	// scores Weight/2: degrading at a Weight of 1), chosen on the tune
	// split; MinScore the score below which the model says nothing (a
	// reason on every drive every day would be noise, and costs time).
	AlarmLogit float64 `json:"alarm_logit"`
	MinScore   float64 `json:"min_score"`
	// Explain: how many features a reason names at most, and the share of
	// the largest contribution a feature needs to be named.
	Explain ExplainConfig `json:"explain"`
	// Training says how the file was made, so that it can be made again.
	Training Provenance `json:"training"`

	defs []featureDef // resolved Features
	// cleanLogit bounds the logit of a drive whose media counters are
	// zero and never grew, without the other features; otherMax is the
	// most the other features can add. A clean drive whose bound scores
	// below the floor costs no feature.
	cleanLogit, otherMax float64
	media                []bool // per feature: reads a media counter
	// reads are the readings the features read, looked up once per
	// drive and day; at[i] is feature i's reading in reads (-1: none).
	reads []string
	at    []int
}

// ModelFeature is one input of the model.
type ModelFeature struct {
	Name   string  `json:"name"`
	Mean   float64 `json:"mean"`
	Scale  float64 `json:"scale"`
	Weight float64 `json:"weight"`
}

// ExplainConfig bounds a reason's list of features.
type ExplainConfig struct {
	MaxFeatures int     `json:"max_features"`
	MinShare    float64 `json:"min_share"`
}

// Provenance is how a model file was trained.
type Provenance struct {
	Command   string   `json:"command"`
	Data      []string `json:"data"`
	Split     string   `json:"split"`
	Drives    int      `json:"drives"`
	Failed    int      `json:"failed"`
	Examples  int      `json:"examples"`
	Positives int      `json:"positives"`
	// Settings are the trainer's settings (regularization, iterations,
	// sampling), as it wrote them.
	Settings map[string]float64 `json:"settings"`
}

// ParseDiskModel reads a model file (name is the file's name, for errors)
// and checks it: the format, every feature known, finite numbers,
// positive scales.
func ParseDiskModel(name string, data []byte) (*DiskModel, error) {
	var m DiskModel
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", name, ErrBadModel, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s: %w: data after the model", name, ErrBadModel)
	}
	if err := m.resolve(); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", name, ErrBadModel, err)
	}
	return &m, nil
}

// DefaultDiskModel returns the embedded model.
func DefaultDiskModel() (*DiskModel, error) {
	return ParseDiskModel(DefaultDiskModelFile, defaultDiskModel)
}

func (m *DiskModel) resolve() error {
	if m.Format != DiskModelFormat {
		return fmt.Errorf("format %q, this build reads %q", m.Format, DiskModelFormat)
	}
	if m.Kind != "logistic" {
		return fmt.Errorf("kind %q: want logistic", m.Kind)
	}
	if len(m.Features) == 0 {
		return errors.New("no features")
	}
	finite := func(what string, v float64) error {
		if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 1e12 {
			return fmt.Errorf("%s %v: want a finite number", what, v)
		}
		return nil
	}
	for _, c := range []struct {
		what string
		v    float64
	}{{"intercept", m.Intercept}, {"alarm_logit", m.AlarmLogit}, {"clip", m.Clip}, {"min_score", m.MinScore}, {"explain.min_share", m.Explain.MinShare}} {
		if err := finite(c.what, c.v); err != nil {
			return err
		}
	}
	if m.Clip <= 0 || m.MinScore < 0 || m.MinScore >= 1 || m.Explain.MaxFeatures < 1 || m.Explain.MinShare < 0 || m.Explain.MinShare > 1 {
		return fmt.Errorf("want clip > 0, min_score in [0, 1), explain.max_features >= 1, explain.min_share in [0, 1]; got %g, %g, %d, %g",
			m.Clip, m.MinScore, m.Explain.MaxFeatures, m.Explain.MinShare)
	}
	known := map[string]featureDef{}
	for _, f := range diskFeatureDefs() {
		known[f.Name] = f
	}
	seen := map[string]bool{}
	m.defs = make([]featureDef, len(m.Features))
	m.media = make([]bool, len(m.Features))
	media := map[string]bool{}
	for _, r := range mediaCounters() {
		media[r] = true
	}
	m.cleanLogit = m.Intercept
	m.reads = nil
	m.at = make([]int, len(m.Features))
	for i, f := range m.Features {
		def, ok := known[f.Name]
		if !ok {
			return fmt.Errorf("feature %d %q: no such feature", i, f.Name)
		}
		if seen[f.Name] {
			return fmt.Errorf("feature %q twice", f.Name)
		}
		seen[f.Name] = true
		for _, c := range []struct {
			what string
			v    float64
		}{{"mean", f.Mean}, {"scale", f.Scale}, {"weight", f.Weight}} {
			if err := finite("feature "+f.Name+" "+c.what, c.v); err != nil {
				return err
			}
		}
		if f.Scale <= 0 {
			return fmt.Errorf("feature %q: scale %g, want > 0", f.Name, f.Scale)
		}
		m.defs[i] = def
		m.at[i] = slices.Index(m.reads, def.Reading)
		if def.Reading != "" && m.at[i] < 0 {
			m.at[i] = len(m.reads)
			m.reads = append(m.reads, def.Reading)
		}
		m.media[i] = media[def.Reading] || isMediaGroup(def.Kind)
		if m.media[i] {
			// A clean drive has every media feature at 0 (log1p(0), never
			// grown, no recency, no errors per TB), or missing (nothing):
			// the larger of the two bounds it.
			m.cleanLogit += math.Max(0, m.contribution(i, 0))
		} else {
			m.otherMax += math.Abs(f.Weight) * m.Clip
		}
	}
	return nil
}

// contribution is feature i's term of the logit at value x (NaN: none).
func (m *DiskModel) contribution(i int, x float64) float64 {
	if math.IsNaN(x) {
		return 0
	}
	f := &m.Features[i]
	z := math.Max(-m.Clip, math.Min(m.Clip, (x-f.Mean)/f.Scale))
	return float64(f.Weight * z)
}

// Readings returns the readings the model's features read: the drive
// readings a detector running it must keep.
func (m *DiskModel) Readings() []string { return featureReadings(m.defs) }

// Logit returns the model's logit for the features x (in the model's
// feature order; NaN for missing).
func (m *DiskModel) Logit(x []float64) (float64, error) {
	if len(x) != len(m.Features) {
		return 0, fmt.Errorf("detector: model %s: %d features given, it reads %d", m.Name, len(x), len(m.Features))
	}
	z := m.Intercept
	for i, v := range x {
		z += m.contribution(i, v)
	}
	return z, nil
}

// Score maps a logit to the model reason's score at weight w.
func (m *DiskModel) Score(logit, w float64) float64 {
	return w / (1 + math.Exp(-(logit - m.AlarmLogit)))
}

// diskModelScore computes the model's score of a drive from its series at
// now: 0 when below the model's floor. clean says the drive's media
// counters are all zero and never rose: then the logit is bounded without
// computing any feature, and a bound under the floor scores 0 at once.
// feats receives the features when they are computed (computed true).
func (m *DiskModel) diskModelScore(all map[string]*series, now int64, clean bool, weight float64, feats []float64) (score float64, computed bool) {
	floor := m.MinScore
	if floor > 0 && clean && m.Score(m.cleanLogit+m.otherMax, weight) < floor {
		return 0, false
	}
	c := newFeatureContext(all, now)
	var buf [16]*series
	rs := buf[:0]
	for _, r := range m.reads {
		rs = append(rs, all[r])
	}
	z := m.Intercept
	for i, def := range m.defs {
		var s *series
		if m.at[i] >= 0 {
			s = rs[m.at[i]]
		}
		feats[i] = c.feature(def, s)
		z += m.contribution(i, feats[i])
	}
	s := m.Score(z, weight)
	if s < floor {
		return 0, true
	}
	return s, true
}

// cleanSeries: a counter at zero that never rose.
func cleanSeries(s *series) bool {
	return s == nil || s.LastValue == 0 && s.MinValue == 0 && s.First == 0 && s.LastChange == 0
}

// cleanMedia: every media counter the series hold is at zero and never
// rose.
func cleanMedia(series map[string]*series) bool {
	for _, r := range mediaCounters() {
		if !cleanSeries(series[r]) {
			return false
		}
	}
	return true
}

// diskModel adds the learned model's reason to a drive's evaluation.
func (d *Detector) diskModel(comp *component, now int64, ev *evaluation) {
	mc := &d.cfg.Disk.Model
	m := mc.parsed
	if !mc.Enabled || m == nil || mc.Weight <= 0 {
		return
	}
	var buf [96]float64 // on the stack: no allocation per drive per day
	var feats []float64
	if len(m.defs) <= len(buf) {
		feats = buf[:len(m.defs)]
	} else {
		feats = make([]float64, len(m.defs))
	}
	score, _ := m.diskModelScore(comp.Series, now, d.cleanDrive(comp), mc.Weight, feats)
	if score <= 0 {
		return
	}
	c := newFeatureContext(comp.Series, now)
	z, _ := m.Logit(feats)
	logit, alarm := round3(z), m.AlarmLogit
	ev.reasons = append(ev.reasons, Reason{Signal: "disk_model", Value: &logit, Threshold: &alarm, Score: score,
		Text: fmt.Sprintf("learned risk %s (%s): %s", fmtNum(round3(score)), m.Name, d.explain(m, c, feats))})
}

// cleanDrive is cleanMedia for a drive the detector follows, reading the
// configured counters from the cache the counter signals keep (a map
// lookup per counter per drive per day is most of a replay's time
// otherwise) and looking up only the media counters not configured.
func (d *Detector) cleanDrive(comp *component) bool {
	var covered [8]bool
	for i, s := range d.counterSeries(comp) {
		if !cleanSeries(s) {
			return false
		}
		if k := mediaIndex(d.cfg.Disk.Counters[i].Reading); k >= 0 {
			covered[k] = true
		}
	}
	for k, r := range mediaCounters() {
		if !covered[k] && !cleanSeries(comp.Series[r]) {
			return false
		}
	}
	return true
}

// mediaIndex is the reading's position in mediaCounters(), or -1.
func mediaIndex(r string) int {
	switch r {
	case "smart_5_raw":
		return 0
	case "smart_187_raw":
		return 1
	case "smart_188_raw":
		return 2
	case "smart_197_raw":
		return 3
	case "smart_198_raw":
		return 4
	case "smart_184_raw":
		return 5
	case "smart_189_raw":
		return 6
	case "smart_199_raw":
		return 7
	}
	return -1
}

// explain names, in words, the features that pushed the logit up most:
// those with the largest positive contributions, one phrase per reading.
func (d *Detector) explain(m *DiskModel, c featureContext, feats []float64) string {
	type push struct {
		i int
		v float64
	}
	var pushes []push
	for i := range m.Features {
		if v := m.contribution(i, feats[i]) - m.contribution(i, m.Features[i].Mean); v > 0 {
			pushes = append(pushes, push{i, v})
		}
	}
	slices.SortStableFunc(pushes, func(a, b push) int {
		switch {
		case a.v > b.v:
			return -1
		case a.v < b.v:
			return 1
		}
		return 0
	})
	var parts []string
	said := map[string]bool{} // readings told already
	for _, p := range pushes {
		if len(parts) >= m.Explain.MaxFeatures || p.v < m.Explain.MinShare*pushes[0].v {
			break
		}
		def := m.defs[p.i]
		if isMediaGroup(def.Kind) {
			if t := d.mediaPhrase(def, c, said); t != "" {
				parts = append(parts, t)
			}
			continue
		}
		if said[def.Reading] {
			continue
		}
		said[def.Reading] = true
		parts = append(parts, d.phrase(def, c))
	}
	if len(parts) == 0 {
		return "no single feature stands out"
	}
	return strings.Join(parts, "; ")
}

// phrase says what a feature saw, with the values it read.
func (d *Detector) phrase(f featureDef, c featureContext) string {
	label := d.readingLabel(f.Reading)
	s := c.series[f.Reading]
	if s == nil || len(s.Buckets) == 0 {
		return f.Name
	}
	switch f.Kind {
	case featPerPowerOn:
		if h := c.hours; h != nil && h.last() > 0 {
			return fmt.Sprintf("%s %s after %s power-on hours", label, fmtNum(s.last()), fmtNum(h.last()))
		}
		return counterPhrase(label, s, c, 30)
	case featLevel, featGrowth, featGrown, featRecency, featLastChange:
		return counterPhrase(label, s, c, max(f.Days, 7))
	case featRate:
		g, span := c.growth(s, f.Days)
		if span <= 0 {
			return f.Name
		}
		unit := ""
		switch f.Reading {
		case readingLBAsWritten, readingLBAsRead:
			unit = " TB"
		}
		return fmt.Sprintf("%s %s%s a day over %s", label, fmtNum(round3(g/span*f.Unit)), unit, fmtDays(math.Round(span)))
	case featValue:
		v := temperatureOrValue(f.Reading, s.last()) * f.Unit
		if f.Reading == readingPowerOnHours {
			return fmt.Sprintf("%s years powered on", fmtNum(math.Round(v*10)/10))
		}
		return fmt.Sprintf("%s %s", label, fmtNum(round3(v)))
	case featSwing:
		lo, hi := c.span(s, f.Days)
		return fmt.Sprintf("%s swung %s -> %s within %s", label, fmtNum(temperatureOrValue(f.Reading, lo)), fmtNum(temperatureOrValue(f.Reading, hi)), fmtDays(float64(f.Days)))
	case featChanges:
		return fmt.Sprintf("%s, changed on %d of the last %d days", counterPhrase(label, s, c, f.Days), c.changes(s, f.Days), f.Days)
	case featDrop:
		_, hi := c.span(s, f.Days)
		return fmt.Sprintf("%s fell %s -> %s within %s", label, fmtNum(hi), fmtNum(s.last()), fmtDays(float64(f.Days)))
	}
	return f.Name
}

// counterPhrase tells a counter: its growth when it grew within days,
// else its value and when it first grew, else its value.
func counterPhrase(label string, s *series, c featureContext, days int) string {
	if g, span := c.growth(s, days); g > 0 {
		return fmt.Sprintf("%s grew %s -> %s in %s", label, fmtNum(s.last()-g), fmtNum(s.last()), fmtDays(riseDays(s, c.now, span)))
	}
	if t := firstRise(s); t > 0 {
		return fmt.Sprintf("%s %s, first grew %s ago", label, fmtNum(s.last()), fmtDays(math.Round(float64(c.now-t)/86400)))
	}
	return fmt.Sprintf("%s %s", label, fmtNum(s.last()))
}

// isMediaGroup: a feature of the media counters together.
func isMediaGroup(k featureKind) bool {
	return k == featMediaLevel || k == featMediaGrowth || k == featMediaChanges || k == featPerTB || k == featPerLoadCycles
}

// mediaPhrase tells the media counters not told yet together: each one
// that is not zero, with its growth when it grew within the feature's
// window (at least a week); "" when there is none left to tell.
func (d *Detector) mediaPhrase(f featureDef, c featureContext, said map[string]bool) string {
	days := max(f.Days, 7)
	var parts []string
	for _, r := range mediaCounters() {
		s := c.series[r]
		if said[r] || s == nil || s.last() <= 0 {
			continue
		}
		said[r] = true
		parts = append(parts, counterPhrase(d.readingLabel(r), s, c, days))
	}
	if f.Kind == featPerTB && len(parts) > 0 {
		return strings.Join(parts, ", ") + fmt.Sprintf(" (per TB read and written in %s)", fmtDays(float64(f.Days)))
	}
	if f.Kind == featPerLoadCycles && len(parts) > 0 {
		return strings.Join(parts, ", ") + fmt.Sprintf(" (per 1000 head load cycles in %s)", fmtDays(float64(f.Days)))
	}
	return strings.Join(parts, ", ")
}

// riseDays is how many days ago, within the last span days, the series
// started its latest rise (at least 1).
func riseDays(s *series, now int64, span float64) float64 {
	since := now - int64(span*86400)
	base, ok := s.valueAt(since)
	if !ok {
		base = s.First
	}
	for _, b := range s.window(since) {
		if b.Max > base {
			return math.Max(1, math.Round(float64(now-b.Start)/86400))
		}
	}
	return math.Max(1, math.Round(span))
}

// readingLabel names a reading in words: a counter's configured label,
// else the attribute's usual name.
func (d *Detector) readingLabel(r string) string {
	for _, cc := range d.cfg.Disk.Counters {
		if cc.Reading == r && cc.Label != "" {
			return cc.Label
		}
	}
	switch r {
	case readingPowerOnHours:
		return "power-on hours"
	case readingLoadCycles:
		return "load cycles"
	case readingTemperature:
		return "temperature (°C)"
	case readingAirflowTemp:
		return "airflow temperature (°C)"
	case readingLBAsWritten:
		return "written"
	case readingLBAsRead:
		return "read"
	case "smart_189_raw":
		return "high fly writes"
	}
	return r
}

// diskModelReadings returns the drive readings the configured model reads
// (none when it is off): a detector must keep their series.
func diskModelReadings(c *DiskConfig) []string {
	if !c.Model.Enabled || c.Model.parsed == nil {
		return nil
	}
	return c.Model.parsed.Readings()
}

// embeddedDiskModel is the embedded model, or nil when it does not parse
// (Config.Validate then says why; TestDefaultDiskModel keeps it from
// happening).
func embeddedDiskModel() *DiskModel {
	m, err := DefaultDiskModel()
	if err != nil {
		return nil
	}
	return m
}

// Model returns the model the configuration runs (nil: none loaded).
func (c *DiskModelConfig) Model() *DiskModel { return c.parsed }

// UseModel makes the configuration run m (a model read with
// ParseDiskModel) instead of the embedded one.
func (c *DiskModelConfig) UseModel(m *DiskModel) { c.parsed = m }

// Equal says whether two model settings are the same: switch, weight and
// model (the same file's content). Comparisons of configurations (go-cmp
// uses an Equal method) need it, the parsed model being no configuration
// field of its own.
func (c DiskModelConfig) Equal(o DiskModelConfig) bool {
	return c.Enabled == o.Enabled && c.Weight == o.Weight && c.parsed.Equal(o.parsed)
}

// Equal says whether two models are the same file's content (nil equals
// only nil).
func (m *DiskModel) Equal(o *DiskModel) bool {
	if m == nil || o == nil {
		return m == o
	}
	a, errA := json.Marshal(m)
	b, errB := json.Marshal(o)
	return errA == nil && errB == nil && bytes.Equal(a, b)
}
