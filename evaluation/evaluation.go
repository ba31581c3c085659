// Package evaluation scores a failure predictor against labelled drive
// histories (Backblaze Drive Stats): how many failed drives it alarmed on
// N days ahead (recall@N), how many healthy drives it flagged per year,
// how often it opened a new alarm episode on a healthy drive, and the lead
// times, with bootstrap confidence intervals. It also holds the baseline
// rules the detector is compared with.
//
// The package is pure: no I/O, no clock, no goroutines. A replay feeds a
// Tracker with every row's label and every alarm; Evaluate turns the
// drives into a Report. For a whole frontier a replay records each
// predictor's score per row instead (Traces: the detector's risk, a rule
// family's statistic, Families); Sweep evaluates the thresholds that
// matter, replaying the detector's state machine (Hysteresis) or a rule
// (Above) over them; PlotSVG draws the frontiers. docs/evaluation.md
// gives the protocol and every formula.
package evaluation

import (
	"cmp"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// Day is a calendar day, counted from 1970-01-01 UTC.
type Day int32

// DayOf returns the day of t (in UTC).
func DayOf(t time.Time) Day {
	return Day(math.Floor(float64(t.Unix()) / 86400))
}

// Time returns the day at 00:00 UTC.
func (d Day) Time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

func (d Day) String() string { return d.Time().Format(time.DateOnly) }

// MarshalJSON writes the day as "2018-01-31".
func (d Day) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads "2018-01-31".
func (d *Day) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return err
	}
	*d = DayOf(t)
	return nil
}

// Drive is what an evaluation knows of one drive.
type Drive struct {
	Serial string `json:"serial"`
	Model  string `json:"model"`
	// FirstSeen and LastSeen are the days of its first and last rows;
	// Rows how many rows it has.
	FirstSeen Day `json:"first_seen"`
	LastSeen  Day `json:"last_seen"`
	Rows      int `json:"rows"`
	// Failed: some row has failure=1. FailureDay is then the drive's last
	// row (Backblaze marks the last day a failed drive reported; an
	// extract that marks several days, like the 2019 Toshiba 10-day file,
	// still ends on it).
	Failed     bool `json:"failed"`
	FailureDay Day  `json:"failure_day,omitzero"`
	// Alarmed: the predictor alarmed at least once; FirstAlarm and
	// LastAlarm are the days of its first and last alarms.
	Alarmed    bool `json:"alarmed"`
	FirstAlarm Day  `json:"first_alarm,omitzero"`
	LastAlarm  Day  `json:"last_alarm,omitzero"`
	// Episodes counts the alarms that opened an episode (a raised event;
	// for a rule, a day alarmed after a day that was not).
	Episodes int `json:"episodes"`
}

// Tracker collects drives during a replay. Drives are named by a dense
// index (the reader's Row.Drive) so the per-row work is an array access.
type Tracker struct {
	drives   []Drive
	ruleOn   []bool
	bySerial map[string]int
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker { return &Tracker{bySerial: map[string]int{}} }

func (t *Tracker) drive(id int) *Drive {
	for id >= len(t.drives) {
		t.drives = append(t.drives, Drive{})
		t.ruleOn = append(t.ruleOn, false)
	}
	return &t.drives[id]
}

// Row records one row of drive id: its day and its failure label. Rows
// of a drive come in day order.
func (t *Tracker) Row(id int, serial, model string, day Day, failure bool) {
	d := t.drive(id)
	if d.Rows == 0 {
		d.Serial, d.FirstSeen = serial, day
		t.bySerial[serial] = id
	}
	d.Model = model
	d.LastSeen = day
	d.Rows++
	d.Failed = d.Failed || failure
}

// Alarm records an alarm on the drive with that serial number (an event
// of the detector names its component by serial); onset says it opened
// an episode. The drive must have had a row.
func (t *Tracker) Alarm(serial string, day Day, onset bool) error {
	id, ok := t.bySerial[serial]
	if !ok {
		return fmt.Errorf("evaluation: alarm on %q, a drive never seen", serial)
	}
	t.alarm(&t.drives[id], day, onset)
	return nil
}

func (t *Tracker) alarm(d *Drive, day Day, onset bool) {
	if !d.Alarmed {
		d.Alarmed, d.FirstAlarm = true, day
	}
	d.LastAlarm = max(d.LastAlarm, day)
	if onset {
		d.Episodes++
	}
}

// RuleDay records a rule's verdict on drive id's row of that day: an
// alarm opens an episode unless the drive's previous row alarmed too.
func (t *Tracker) RuleDay(id int, day Day, alarm bool) {
	d := t.drive(id)
	if alarm {
		t.alarm(d, day, !t.ruleOn[id])
	}
	t.ruleOn[id] = alarm
}

// Drives returns the drives seen, in index order, with their failure days.
func (t *Tracker) Drives() []Drive {
	out := make([]Drive, 0, len(t.drives))
	for _, d := range t.drives {
		if d.Rows == 0 {
			continue
		}
		if d.Failed {
			d.FailureDay = d.LastSeen
		}
		out = append(out, d)
	}
	return out
}

// Split names the half of the drives a serial number belongs to: "tune"
// when the 32-bit FNV-1a hash of the serial is even, "validate" when odd.
// The split is stable across runs, files and machines.
func Split(serial string) string {
	h := fnv.New32a()
	h.Write([]byte(serial))
	if h.Sum32()%2 == 0 {
		return "tune"
	}
	return "validate"
}

// Options are an evaluation's settings; zero values take the defaults.
type Options struct {
	// Horizons are the N of recall@N, in days (default 0, 1, 7, 14, 30).
	Horizons []int
	// Resamples of the bootstrap (default 1000); Seed its fixed seed.
	Resamples int
	Seed      uint64
}

// DefaultHorizons are the recall horizons reported by default.
func DefaultHorizons() []int { return []int{0, 1, 7, 14, 30} }

// DefaultSeed is the bootstrap's seed unless told otherwise.
const DefaultSeed = 20180101

// Fraction is a ratio; NaN (nothing to divide by) is written as null.
type Fraction float64

// MarshalJSON writes the value rounded to 6 decimals, or null for NaN.
func (f Fraction) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, math.Round(v*1e6)/1e6, 'f', -1, 64), nil
}

// Interval is a bootstrap 95% confidence interval (2.5th and 97.5th
// percentiles of the resampled statistic).
type Interval struct {
	Low  Fraction `json:"low"`
	High Fraction `json:"high"`
}

// Recall is recall at one horizon.
type Recall struct {
	// Days is the horizon N.
	Days int `json:"days"`
	// Eligible failed drives have at least N days of history before their
	// failure day; Detected ones among them were first alarmed at least N
	// days before it.
	Eligible int      `json:"eligible"`
	Detected int      `json:"detected"`
	Recall   Fraction `json:"recall"`
	CI       Interval `json:"ci"`
}

// LeadTime is the distribution of the days from first alarm to failure
// of the failed drives alarmed on or before their failure day.
type LeadTime struct {
	N      int     `json:"n"`
	Min    float64 `json:"min"`
	P10    float64 `json:"p10"`
	P25    float64 `json:"p25"`
	Median float64 `json:"median"`
	P75    float64 `json:"p75"`
	P90    float64 `json:"p90"`
	Max    float64 `json:"max"`
}

// Report is the outcome of an evaluation.
type Report struct {
	Drives  int `json:"drives"`
	Failed  int `json:"failed"`
	Healthy int `json:"healthy"`
	// First and Last are the first and last days of any drive; SpanDays
	// the days from First to Last, both included.
	First    Day `json:"first"`
	Last     Day `json:"last"`
	SpanDays int `json:"span_days"`
	// HealthyDriveYears is the observed time of the healthy drives: the sum
	// of (LastSeen - FirstSeen + 1) days, over 365.25.
	HealthyDriveYears float64 `json:"healthy_drive_years"`

	Recall []Recall `json:"recall"`

	// HealthyFlagged healthy drives alarmed at least once, as a fraction
	// of the healthy drives, and as a yearly rate: the fraction times
	// 365.25 / SpanDays (with its bootstrap interval).
	HealthyFlagged         int      `json:"healthy_flagged"`
	HealthyFlaggedFraction Fraction `json:"healthy_flagged_fraction"`
	HealthyFlagRate        Fraction `json:"healthy_flag_rate_per_year"`
	HealthyFlagRateCI      Interval `json:"healthy_flag_rate_ci"`
	// HealthyFlaggedPerDriveYear is HealthyFlagged over HealthyDriveYears
	// (the rate per observed drive-year, for sets whose drives come and go).
	HealthyFlaggedPerDriveYear Fraction `json:"healthy_flagged_per_drive_year"`
	// NewOnset episodes opened on healthy drives, per 100 healthy
	// drive-years.
	NewOnsetEpisodes         int      `json:"new_onset_episodes"`
	NewOnsetPer100DriveYears Fraction `json:"new_onset_per_100_drive_years"`
	// NewOnsetCI is its bootstrap interval: with a dozen episodes in a
	// thousand drive-years the figure is a small count, and a target such
	// as "at most 1" can only be judged against its spread.
	NewOnsetCI Interval `json:"new_onset_ci"`

	// Detected failed drives were alarmed on or before their failure day;
	// LeadTime is nil when none was.
	Detected int       `json:"detected"`
	LeadTime *LeadTime `json:"lead_time,omitempty"`

	Resamples int    `json:"resamples"`
	Seed      uint64 `json:"seed"`
}

// Evaluate computes the report of a set of drives. It fails if an alarm
// on a failed drive came after its failure day (a replay only alarms on a
// drive's own rows and the failure day is its last row, so that would be
// a bug in the caller).
func Evaluate(drives []Drive, opts Options) (Report, error) {
	if len(opts.Horizons) == 0 {
		opts.Horizons = DefaultHorizons()
	}
	if opts.Resamples <= 0 {
		opts.Resamples = 1000
	}
	rep := Report{Drives: len(drives), Resamples: opts.Resamples, Seed: opts.Seed}
	var failed, healthy []Drive
	for i, d := range drives {
		if d.Rows <= 0 || d.LastSeen < d.FirstSeen {
			return rep, fmt.Errorf("evaluation: drive %q: no rows or last seen before first seen", d.Serial)
		}
		if d.Failed && d.Alarmed && d.LastAlarm > d.FailureDay {
			return rep, fmt.Errorf("evaluation: drive %q alarmed on %s, after its failure day %s", d.Serial, d.LastAlarm, d.FailureDay)
		}
		if d.Alarmed && (d.FirstAlarm < d.FirstSeen || d.LastAlarm > d.LastSeen) {
			return rep, fmt.Errorf("evaluation: drive %q alarmed outside the days it was seen", d.Serial)
		}
		if i == 0 || d.FirstSeen < rep.First {
			rep.First = d.FirstSeen
		}
		if i == 0 || d.LastSeen > rep.Last {
			rep.Last = d.LastSeen
		}
		if d.Failed {
			failed = append(failed, d)
		} else {
			healthy = append(healthy, d)
			rep.HealthyDriveYears += float64(d.LastSeen-d.FirstSeen+1) / 365.25
		}
	}
	rep.Failed, rep.Healthy = len(failed), len(healthy)
	if len(drives) > 0 {
		rep.SpanDays = int(rep.Last-rep.First) + 1
	}

	// Recall: each failed drive's history and lead (-1: never alarmed in time).
	hist := make([]int, len(failed))
	lead := make([]int, len(failed))
	var leads []float64
	for i, d := range failed {
		hist[i] = int(d.FailureDay - d.FirstSeen)
		lead[i] = -1
		if d.Alarmed && d.FirstAlarm <= d.FailureDay {
			lead[i] = int(d.FailureDay - d.FirstAlarm)
			leads = append(leads, float64(lead[i]))
		}
	}
	recallOf := func(idx []int, n int) (det, elig int) {
		for _, i := range idx {
			if hist[i] >= n {
				elig++
				if lead[i] >= n {
					det++
				}
			}
		}
		return det, elig
	}
	all := make([]int, len(failed))
	for i := range all {
		all[i] = i
	}
	for _, n := range opts.Horizons {
		det, elig := recallOf(all, n)
		rep.Recall = append(rep.Recall, Recall{Days: n, Eligible: elig, Detected: det, Recall: ratio(det, elig)})
	}
	rep.Detected = len(leads)
	if len(leads) > 0 {
		slices.Sort(leads)
		q := func(p float64) float64 { return math.Round(quantile(leads, p)*1e6) / 1e6 }
		rep.LeadTime = &LeadTime{N: len(leads), Min: leads[0], P10: q(0.10), P25: q(0.25),
			Median: q(0.5), P75: q(0.75), P90: q(0.90), Max: leads[len(leads)-1]}
	}

	// Healthy drives.
	flagged := make([]bool, len(healthy))
	years := make([]float64, len(healthy))
	for i, d := range healthy {
		years[i] = float64(d.LastSeen-d.FirstSeen+1) / 365.25
		if d.Alarmed {
			flagged[i] = true
			rep.HealthyFlagged++
		}
		rep.NewOnsetEpisodes += d.Episodes
	}
	annual := 365.25 / float64(max(rep.SpanDays, 1))
	rate := func(n, of int) Fraction { return Fraction(float64(ratio(n, of)) * annual) }
	rep.HealthyFlaggedFraction = ratio(rep.HealthyFlagged, len(healthy))
	rep.HealthyFlagRate = rate(rep.HealthyFlagged, len(healthy))
	rep.HealthyFlaggedPerDriveYear = Fraction(math.NaN())
	rep.NewOnsetPer100DriveYears = Fraction(math.NaN())
	if rep.HealthyDriveYears > 0 {
		rep.HealthyFlaggedPerDriveYear = Fraction(float64(rep.HealthyFlagged) / rep.HealthyDriveYears)
		rep.NewOnsetPer100DriveYears = Fraction(100 * float64(rep.NewOnsetEpisodes) / rep.HealthyDriveYears)
	}

	// Bootstrap: failed and healthy drives are resampled separately (a
	// stratified bootstrap: each resample keeps the set's number of failed
	// and of healthy drives), with replacement, from one fixed seed.
	rng := rand.New(rand.NewPCG(opts.Seed, 0x9e3779b97f4a7c15))
	recalls := make([][]float64, len(opts.Horizons))
	rates := make([]float64, 0, opts.Resamples)
	onsets := make([]float64, 0, opts.Resamples)
	pick := make([]int, len(failed))
	for range opts.Resamples {
		if len(failed) > 0 {
			for i := range pick {
				pick[i] = rng.IntN(len(failed))
			}
			for h, n := range opts.Horizons {
				if det, elig := recallOf(pick, n); elig > 0 {
					recalls[h] = append(recalls[h], float64(det)/float64(elig))
				}
			}
		}
		if len(healthy) > 0 {
			n, episodes, dy := 0, 0, 0.0
			for range healthy {
				j := rng.IntN(len(healthy))
				if flagged[j] {
					n++
				}
				episodes += healthy[j].Episodes
				dy += years[j]
			}
			rates = append(rates, float64(rate(n, len(healthy))))
			if dy > 0 {
				onsets = append(onsets, 100*float64(episodes)/dy)
			}
		}
	}
	for h := range rep.Recall {
		rep.Recall[h].CI = interval(recalls[h])
	}
	rep.HealthyFlagRateCI = interval(rates)
	rep.NewOnsetCI = interval(onsets)
	return rep, nil
}

func ratio(n, of int) Fraction {
	if of == 0 {
		return Fraction(math.NaN())
	}
	return Fraction(float64(n) / float64(of))
}

// interval is the percentile interval of a bootstrap distribution.
func interval(v []float64) Interval {
	if len(v) == 0 {
		return Interval{Fraction(math.NaN()), Fraction(math.NaN())}
	}
	slices.Sort(v)
	return Interval{Fraction(quantile(v, 0.025)), Fraction(quantile(v, 0.975))}
}

// quantile of sorted values, linearly interpolated between order
// statistics (Hyndman & Fan type 7, the default of R and NumPy).
func quantile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	h := p * float64(len(sorted)-1)
	lo := int(math.Floor(h))
	if lo+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}

// ByModel groups drives by model, models in name order.
func ByModel(drives []Drive) (models []string, groups [][]Drive) {
	idx := map[string]int{}
	for _, d := range drives {
		i, ok := idx[d.Model]
		if !ok {
			i = len(models)
			idx[d.Model] = i
			models = append(models, d.Model)
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], d)
	}
	order := make([]int, len(models))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(models[a], models[b]) })
	sm, sg := make([]string, len(order)), make([][]Drive, len(order))
	for i, o := range order {
		sm[i], sg[i] = models[o], groups[o]
	}
	return sm, sg
}

// Rule is a baseline: alarm on a day when any of its raw SMART counters
// is above zero on that day's row.
type Rule struct {
	Name        string
	Description string
	Columns     []string
}

// rules are the baselines, by name (a read-only table); each is its
// family's rule at k = 0 (Families).
var rules = []Rule{
	{Name: "backblaze", Description: "Backblaze's rule: raw SMART 5, 187, 188, 197 or 198 above zero",
		Columns: mediaColumns()},
	{Name: "5or197", Description: "raw SMART 5 (reallocated sectors) or 197 (pending sectors) above zero",
		Columns: []string{"smart_5_raw", "smart_197_raw"}},
}

// Rules returns the baseline rules.
func Rules() []Rule { return slices.Clone(rules) }

// RuleByName returns the named baseline rule.
func RuleByName(name string) (Rule, bool) {
	i := slices.IndexFunc(rules, func(r Rule) bool { return r.Name == name })
	if i < 0 {
		return Rule{}, false
	}
	return rules[i], true
}

// BoundRule is a rule resolved against a column layout.
type BoundRule struct {
	idx []int
}

// Bind resolves the rule's columns in names (a row's column names); a
// column the data lacks never alarms.
func (r Rule) Bind(names []string) BoundRule {
	var b BoundRule
	for _, c := range r.Columns {
		if i := slices.Index(names, c); i >= 0 {
			b.idx = append(b.idx, i)
		}
	}
	return b
}

// Alarm says whether a row (its values in the bound layout, NaN when
// missing) trips the rule: a missing value does not.
func (b BoundRule) Alarm(values []float64) bool {
	for _, i := range b.idx {
		if values[i] > 0 { // NaN compares false
			return true
		}
	}
	return false
}
