package detector

import (
	"fmt"
	"math"
	"time"

	"github.com/prefail/prefail/model"
)

// The learned disk model (diskmodel.go) reads a fixed set of features,
// computed from the drive's own history as the detector keeps it (the
// series of its SMART readings: daily, sparse, the newest History slots).
// A feature of day D reads only what was observed up to D, so training on
// recorded histories sees exactly what the live detector will.
//
// Every feature is defined by one row of diskFeatureDefs: a reading, a
// kind (what is computed from its series) and a window. Their names are
// the model file's vocabulary ("smart_5_raw.growth_7d"); a model uses any
// subset of them, by name.

// featureKind says what a feature computes from its reading's series.
type featureKind uint8

const (
	// featLevel: log(1 + value), the counter as it stands.
	featLevel featureKind = iota
	// featGrowth: log(1 + the increase within Days), or since first
	// seen for a younger history.
	featGrowth
	// featGrown: 1 when the counter ever rose above its first value.
	featGrown
	// featRecency: exp(-(days since the counter first rose) / Days); 0
	// when it never rose. Recent first growth is the classic precursor;
	// an old one that stopped is a scar.
	featRecency
	// featRate: log(1 + the increase per day over Days, times Unit):
	// workload (TB written and read, load cycles) and power-on time.
	featRate
	// featPerPowerOn: log(1 + value per 1000 power-on hours): a scar of
	// 8 sectors on a drive of 4 years is not 8 sectors in its first month.
	featPerPowerOn
	// featPerTB: log(1 + growth of the media counters within Days per TB
	// read and written in the same days): errors per unit of work.
	featPerTB
	// featPerLoadCycles: log(1 + growth of the media counters within Days
	// per 1000 load cycles (193) in the same days, at least 10): errors
	// per head load (a drive that parks its heads often wears them).
	featPerLoadCycles
	// featValue: the value times Unit (age in years, temperature in °C).
	featValue
	// featSwing: the largest minus the smallest value within Days
	// (temperature swings).
	featSwing
	// featMediaLevel, featMediaGrowth: log(1 + the sum over the media
	// counters) of their levels, or of their growth within Days.
	featMediaLevel
	featMediaGrowth
	// featChanges: log(1 + the days within Days on which the counter
	// changed): a failing drive's counters move day after day, a scar
	// moved once.
	featChanges
	// featMediaChanges: the same, summed over the media counters.
	featMediaChanges
	// featLastChange: exp(-(days since the counter last changed) / Days);
	// 0 when it never changed.
	featLastChange
	// featDrop: log(1 + how far the counter fell below its highest value
	// within Days): pending sectors that come and go.
	featDrop
)

// featureDef is one feature.
type featureDef struct {
	Name    string
	Kind    featureKind
	Reading string
	Days    int
	Unit    float64
}

// The readings the features read.
const (
	readingPowerOnHours = "smart_9_raw"
	readingLoadCycles   = "smart_193_raw"
	readingTemperature  = "smart_194_raw"
	readingAirflowTemp  = "smart_190_raw"
	readingLBAsWritten  = "smart_241_raw"
	readingLBAsRead     = "smart_242_raw"
	// lbaTB is one 512-byte LBA in TB (Seagate counts 241/242 in LBAs).
	lbaTB = 512 / 1e12
)

// mediaCounters are the counters whose growth is media failure: the
// Backblaze five, then those some sources carry (end-to-end errors, high
// fly writes, interface CRC errors).
func mediaCounters() []string {
	return []string{"smart_5_raw", "smart_187_raw", "smart_188_raw", "smart_197_raw", "smart_198_raw",
		"smart_184_raw", "smart_189_raw", "smart_199_raw"}
}

// diskFeatureDefs returns every feature a model may use, in a fixed order.
func diskFeatureDefs() []featureDef {
	var defs []featureDef
	for _, r := range mediaCounters() {
		defs = append(defs,
			featureDef{Name: r + ".level", Kind: featLevel, Reading: r},
			featureDef{Name: r + ".growth_1d", Kind: featGrowth, Reading: r, Days: 1},
			featureDef{Name: r + ".growth_7d", Kind: featGrowth, Reading: r, Days: 7},
			featureDef{Name: r + ".growth_30d", Kind: featGrowth, Reading: r, Days: 30},
			featureDef{Name: r + ".grown", Kind: featGrown, Reading: r},
			featureDef{Name: r + ".first_growth_recency_30d", Kind: featRecency, Reading: r, Days: 30},
			featureDef{Name: r + ".change_days_30d", Kind: featChanges, Reading: r, Days: 30},
			featureDef{Name: r + ".last_change_recency_7d", Kind: featLastChange, Reading: r, Days: 7},
		)
	}
	defs = append(defs,
		featureDef{Name: "media.level", Kind: featMediaLevel},
		featureDef{Name: "media.growth_7d", Kind: featMediaGrowth, Days: 7},
		featureDef{Name: "media.growth_30d", Kind: featMediaGrowth, Days: 30},
		featureDef{Name: "media.growth_30d_per_tb", Kind: featPerTB, Days: 30},
		featureDef{Name: "media.growth_30d_per_1000_load_cycles", Kind: featPerLoadCycles, Days: 30},
		featureDef{Name: "media.change_days_7d", Kind: featMediaChanges, Days: 7},
		featureDef{Name: "media.change_days_30d", Kind: featMediaChanges, Days: 30},
		featureDef{Name: "smart_197_raw.drop_30d", Kind: featDrop, Reading: "smart_197_raw", Days: 30},
		featureDef{Name: "smart_5_raw.per_1000_power_on_hours", Kind: featPerPowerOn, Reading: "smart_5_raw"},
		featureDef{Name: "smart_197_raw.per_1000_power_on_hours", Kind: featPerPowerOn, Reading: "smart_197_raw"},
		featureDef{Name: "smart_9_raw.age_years", Kind: featValue, Reading: readingPowerOnHours, Unit: 1 / 8766.0},
		featureDef{Name: "smart_9_raw.hours_per_day_7d", Kind: featRate, Reading: readingPowerOnHours, Days: 7, Unit: 1},
		featureDef{Name: "smart_193_raw.per_day_7d", Kind: featRate, Reading: readingLoadCycles, Days: 7, Unit: 1},
		featureDef{Name: "smart_193_raw.per_day_30d", Kind: featRate, Reading: readingLoadCycles, Days: 30, Unit: 1},
		featureDef{Name: "smart_241_raw.tb_per_day_7d", Kind: featRate, Reading: readingLBAsWritten, Days: 7, Unit: lbaTB},
		featureDef{Name: "smart_241_raw.tb_per_day_30d", Kind: featRate, Reading: readingLBAsWritten, Days: 30, Unit: lbaTB},
		featureDef{Name: "smart_242_raw.tb_per_day_7d", Kind: featRate, Reading: readingLBAsRead, Days: 7, Unit: lbaTB},
		featureDef{Name: "smart_242_raw.tb_per_day_30d", Kind: featRate, Reading: readingLBAsRead, Days: 30, Unit: lbaTB},
		featureDef{Name: "smart_194_raw.celsius", Kind: featValue, Reading: readingTemperature, Unit: 1},
		featureDef{Name: "smart_194_raw.swing_7d", Kind: featSwing, Reading: readingTemperature, Days: 7},
		featureDef{Name: "smart_194_raw.swing_30d", Kind: featSwing, Reading: readingTemperature, Days: 30},
		featureDef{Name: "smart_190_raw.celsius", Kind: featValue, Reading: readingAirflowTemp, Unit: 1},
		featureDef{Name: "smart_190_raw.swing_7d", Kind: featSwing, Reading: readingAirflowTemp, Days: 7},
	)
	return defs
}

// DiskFeatureNames returns the names of every feature a disk model may
// use, in the order DriveHistory.Features fills them.
func DiskFeatureNames() []string {
	defs := diskFeatureDefs()
	names := make([]string, len(defs))
	for i, f := range defs {
		names[i] = f.Name
	}
	return names
}

// featureReadings returns the readings the features read.
func featureReadings(defs []featureDef) []string {
	seen := map[string]bool{}
	var out []string
	add := func(r string) {
		if r != "" && !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	for _, f := range defs {
		switch f.Kind {
		case featMediaLevel, featMediaGrowth, featMediaChanges:
			for _, r := range mediaCounters() {
				add(r)
			}
		case featPerTB:
			for _, r := range mediaCounters() {
				add(r)
			}
			add(readingLBAsWritten)
			add(readingLBAsRead)
		case featPerLoadCycles:
			for _, r := range mediaCounters() {
				add(r)
			}
			add(readingLoadCycles)
		case featPerPowerOn:
			add(f.Reading)
			add(readingPowerOnHours)
		default:
			add(f.Reading)
		}
	}
	return out
}

// featureContext is what computing one drive's features on one day reads:
// its series by name and the time, in unix seconds, with the series more
// than one feature reads looked up once (newFeatureContext).
type featureContext struct {
	series map[string]*series
	now    int64
	// media are the series of mediaCounters() (nil: absent); hours,
	// written, read those of power-on hours and LBAs written and read.
	media                       [8]*series
	hours, written, read, loads *series
}

func newFeatureContext(series map[string]*series, now int64) featureContext {
	c := featureContext{series: series, now: now, hours: series[readingPowerOnHours],
		written: series[readingLBAsWritten], read: series[readingLBAsRead], loads: series[readingLoadCycles]}
	for i, r := range mediaCounters() {
		c.media[i] = series[r]
	}
	return c
}

// computeFeatures fills out[i] with feature defs[i] (NaN where the drive
// has no such reading: the model scores a missing feature as its training
// mean, which contributes nothing).
func computeFeatures(defs []featureDef, c featureContext, out []float64) {
	for i, f := range defs {
		out[i] = c.feature(f, c.series[f.Reading])
	}
}

// feature computes f; s is the series of f.Reading (nil: none).
func (c featureContext) feature(f featureDef, s *series) float64 {
	switch f.Kind {
	case featMediaLevel, featMediaGrowth, featMediaChanges:
		sum, any := 0.0, false
		for _, s := range c.media {
			if s == nil {
				continue
			}
			any = true
			switch f.Kind {
			case featMediaLevel:
				sum += math.Max(0, s.last())
			case featMediaGrowth:
				g, _ := c.growth(s, f.Days)
				sum += g
			default:
				sum += float64(c.changes(s, f.Days))
			}
		}
		if !any {
			return math.NaN()
		}
		return math.Log1p(sum)
	case featPerTB:
		sum, any := c.mediaGrowth(f.Days)
		tb, ok := 0.0, false
		for _, s := range []*series{c.written, c.read} {
			if s != nil {
				g, _ := c.growth(s, f.Days)
				tb += g * lbaTB
				ok = true
			}
		}
		if !any || !ok {
			return math.NaN()
		}
		return math.Log1p(sum / math.Max(tb, 0.1))
	case featPerLoadCycles:
		if c.loads == nil {
			return math.NaN()
		}
		sum, any := c.mediaGrowth(f.Days)
		if !any {
			return math.NaN()
		}
		loads, _ := c.growth(c.loads, f.Days)
		return math.Log1p(sum / math.Max(loads/1000, 0.01))
	}
	if s == nil || len(s.Buckets) == 0 {
		return math.NaN()
	}
	switch f.Kind {
	case featLevel:
		return math.Log1p(math.Max(0, s.last()))
	case featGrowth:
		g, _ := c.growth(s, f.Days)
		return math.Log1p(g)
	case featGrown:
		if s.last() > s.First || firstRise(s) > 0 {
			return 1
		}
		return 0
	case featRecency:
		t := firstRise(s)
		if t == 0 {
			return 0
		}
		days := math.Max(0, float64(c.now-t)/86400)
		return math.Exp(-days / float64(f.Days))
	case featRate:
		g, days := c.growth(s, f.Days)
		if days <= 0 {
			return math.NaN()
		}
		return math.Log1p(g / days * f.Unit)
	case featPerPowerOn:
		h := c.hours
		if h == nil || h.last() <= 0 {
			return math.NaN()
		}
		return math.Log1p(math.Max(0, s.last()) / (h.last() / 1000))
	case featValue:
		return temperatureOrValue(f.Reading, s.last()) * f.Unit
	case featSwing:
		lo, hi := c.span(s, f.Days)
		return temperatureOrValue(f.Reading, hi) - temperatureOrValue(f.Reading, lo)
	case featChanges:
		return math.Log1p(float64(c.changes(s, f.Days)))
	case featLastChange:
		if s.LastChange == 0 {
			return 0
		}
		return math.Exp(-math.Max(0, float64(c.now-s.LastChange)/86400) / float64(f.Days))
	case featDrop:
		_, hi := c.span(s, f.Days)
		return math.Log1p(math.Max(0, hi-s.last()))
	}
	return math.NaN()
}

// mediaGrowth sums the media counters' growth within the last days; any
// is false when the drive has none of them.
func (c featureContext) mediaGrowth(days int) (sum float64, any bool) {
	for _, s := range c.media {
		if s != nil {
			any = true
			g, _ := c.growth(s, days)
			sum += g
		}
	}
	return sum, any
}

// changes counts the days within the last days on which the series'
// value changed (a slot whose value differs from the slot before it).
func (c featureContext) changes(s *series, days int) int {
	if s.LastChange == 0 || s.LastChange <= c.now-int64(days)*86400 {
		return 0 // the common case: never, or not lately
	}
	since := c.now - int64(days)*86400
	w := s.window(since)
	n := 0
	prev, ok := s.valueAt(since)
	for i, b := range w {
		if i == 0 && !ok {
			prev = b.Last
			if b.Start <= s.FirstTime {
				continue // the first slot is not a change
			}
		}
		if b.Last != prev || b.Min != b.Max {
			n++
		}
		prev = b.Last
	}
	return n
}

// growth returns the series' increase within the last days (from the
// value in force then; from its first value when it is younger), never
// negative, and the days it was measured over.
func (c featureContext) growth(s *series, days int) (float64, float64) {
	since := c.now - int64(days)*86400
	then, ok := s.valueAt(since)
	if !ok {
		then, since = s.First, s.FirstTime
	}
	return math.Max(0, s.last()-then), float64(c.now-since) / 86400
}

// span returns the smallest and largest values in force within the last
// days.
func (c featureContext) span(s *series, days int) (lo, hi float64) {
	since := c.now - int64(days)*86400
	v, ok := s.valueAt(since)
	if !ok {
		v = s.First
	}
	lo, hi = v, v
	for _, b := range s.window(since) {
		lo, hi = math.Min(lo, b.Min), math.Max(hi, b.Max)
	}
	return lo, hi
}

// firstRise returns when the series first rose above its first value
// (unix seconds; 0 if it never did). A history that slid past its first
// rise gives its oldest slot, the latest the rise can have been.
func firstRise(s *series) int64 {
	for _, b := range s.Buckets {
		if b.Max > s.First {
			return max(b.Start, s.FirstTime)
		}
	}
	return 0
}

// temperatureOrValue reads a temperature attribute's raw value: some
// drives pack the lowest and highest temperatures into its upper bytes,
// the current one being the lowest byte.
func temperatureOrValue(reading string, v float64) float64 {
	if (reading == readingTemperature || reading == readingAirflowTemp) && v > 255 && v < 1<<48 {
		return float64(int64(v) & 0xff)
	}
	return v
}

// DriveHistory keeps one drive's readings exactly as the detector keeps a
// drive's series (same slots, same sparseness, same window), so that a
// tool outside the detector (the model's training, the evaluation's
// threshold sweep) computes the features the detector's model reads.
type DriveHistory struct {
	set    *DriveHistories
	series map[string]*series
}

// DriveHistories makes drive histories that share their settings (a
// replay keeps one history per drive: tens of thousands).
type DriveHistories struct {
	kind KindConfig
	defs []featureDef
	keep map[string]bool
}

// NewDriveHistories returns the maker of histories for the detector
// configured by cfg (its drive kind's slots and window).
func NewDriveHistories(cfg Config) *DriveHistories {
	hs := &DriveHistories{kind: cfg.kind(model.KindDrive), defs: diskFeatureDefs(), keep: map[string]bool{}}
	for _, r := range featureReadings(hs.defs) {
		hs.keep[r] = true
	}
	return hs
}

// New returns an empty history.
func (hs *DriveHistories) New() *DriveHistory {
	return &DriveHistory{set: hs, series: map[string]*series{}}
}

// NewDriveHistory returns an empty history for the detector configured by
// cfg.
func NewDriveHistory(cfg Config) *DriveHistory { return NewDriveHistories(cfg).New() }

// Add records one reading of the drive at t (readings come in time
// order, as the detector's snapshots do). Readings no feature reads, and
// values that are not numbers, are ignored.
func (h *DriveHistory) Add(t time.Time, name string, v float64) {
	if !h.set.keep[name] {
		return
	}
	s := h.series[name]
	if s == nil {
		k := &h.set.kind
		s = newSeries(k.Bucket.D(), k.History, k.Baseline.D(), t, v)
		s.Sparse = k.Sparse
		h.series[name] = s
	}
	s.add(t, v)
}

// Features fills out (len(DiskFeatureNames())) with the drive's features
// at t: NaN for a feature whose reading the drive never had.
func (h *DriveHistory) Features(t time.Time, out []float64) error {
	defs := h.set.defs
	if len(out) != len(defs) {
		return fmt.Errorf("detector: features: want %d values, got room for %d", len(defs), len(out))
	}
	computeFeatures(defs, newFeatureContext(h.series, t.Unix()), out)
	return nil
}
