package evaluation

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// A predictor's alarms depend on a threshold: the detector's risk at which
// a drive enters degrading, a rule's k in "raw 5 above k". The frontier is
// what the whole range of thresholds trades: recall against healthy drives
// flagged per year. A replay records, per drive, one score per row (the
// detector's risk, or a rule family's statistic: a Trace); a Policy turns
// a trace into alarms at one threshold, exactly as the detector's state
// machine or the rule would have; Sweep evaluates the thresholds that
// matter. Recording scores once and sweeping them costs one replay for
// every threshold instead of one replay per threshold.

// Trace is one drive's score on each of its rows, in day order.
type Trace struct {
	Days   []Day
	Scores []float64
}

// Traces collects the traces of a replay, by the Tracker's drive index.
type Traces struct {
	traces []Trace
}

// Add records the score of drive id's row of that day.
func (t *Traces) Add(id int, day Day, score float64) {
	for id >= len(t.traces) {
		t.traces = append(t.traces, Trace{})
	}
	tr := &t.traces[id]
	tr.Days = append(tr.Days, day)
	tr.Scores = append(tr.Scores, score)
}

// For returns the traces of the drives a Tracker holds, in the order of
// its Drives (drives without rows are skipped there, and here).
func (t *Traces) For(tr *Tracker) []Trace {
	out := make([]Trace, 0, len(tr.drives))
	for id, d := range tr.drives {
		if d.Rows == 0 {
			continue
		}
		if id < len(t.traces) {
			out = append(out, t.traces[id])
		} else {
			out = append(out, Trace{})
		}
	}
	return out
}

// Policy turns a drive's trace into its alarms at one threshold.
type Policy interface {
	// Alarms sets d's Alarmed, FirstAlarm, LastAlarm and Episodes from
	// the trace (d's other fields are left as they are).
	Alarms(tr Trace, d *Drive)
	// Threshold is the policy's threshold (for reports).
	Threshold() float64
}

// Above is a rule's policy: a row alarms when its score is above K (a
// missing score, NaN, does not); an episode opens on an alarmed row whose
// previous row did not alarm (as Tracker.RuleDay counts it).
type Above struct{ K float64 }

// Threshold returns K.
func (a Above) Threshold() float64 { return a.K }

// Alarms applies the rule to the trace.
func (a Above) Alarms(tr Trace, d *Drive) {
	resetAlarms(d)
	on := false
	for i, s := range tr.Scores {
		alarm := s > a.K
		if alarm {
			markAlarm(d, tr.Days[i], !on)
		}
		on = alarm
	}
}

// Hysteresis is the detector's policy: its state machine (detector.go,
// transition) replayed over the risk trace. A component enters a level
// (watch 1, degrading 2, failing 3) after Confirm consecutive rows at or
// above its entry risk; it leaves one only once its risk (rounded to
// three decimals, as the detector keeps it) has stayed Hysteresis below
// that level's entry for ClearAfterDays. Entering degrading or failing
// opens an episode (raised: an alarm); failing after degrading escalates
// it (an alarm, not an onset); falling to watch or ok clears it.
type Hysteresis struct {
	Watch, Degrading, Failing float64
	Hysteresis                float64
	Confirm                   int
	ClearAfterDays            float64
}

// Threshold returns the degrading level: what an alarm needs.
func (h Hysteresis) Threshold() float64 { return h.Degrading }

// At returns the policy with the alarm threshold moved to t: degrading at
// t, watch and failing moved only as far as needed to stay ordered around
// it (watch below t, failing above it).
func (h Hysteresis) At(t float64) Hysteresis {
	h.Degrading = t
	h.Watch = math.Min(h.Watch, t/2)
	if h.Failing <= t {
		h.Failing = (t + 1) / 2
	}
	return h
}

func (h Hysteresis) level(risk float64) int {
	switch {
	case risk >= h.Failing:
		return 3
	case risk >= h.Degrading:
		return 2
	case risk >= h.Watch:
		return 1
	}
	return 0
}

func (h Hysteresis) entry(level int) float64 {
	switch level {
	case 1:
		return h.Watch
	case 2:
		return h.Degrading
	case 3:
		return h.Failing
	}
	return math.Inf(1)
}

// Alarms replays the state machine over the trace.
func (h Hysteresis) Alarms(tr Trace, d *Drive) {
	resetAlarms(d)
	cur, upLevel, upCount, episode := -1, 0, 0, 0
	below, hasBelow := Day(0), false
	for i, risk := range tr.Scores {
		day := tr.Days[i]
		want := h.level(risk)
		next := cur
		switch {
		case want > cur:
			if upLevel != want {
				upLevel, upCount = want, 0
			}
			upCount++
			hasBelow = false
			if upCount >= h.Confirm || cur < 0 && want <= 0 {
				next = want
			}
		case want < cur:
			upLevel, upCount = 0, 0
			if math.Round(risk*1000)/1000 < h.entry(cur)-h.Hysteresis {
				if !hasBelow {
					below, hasBelow = day, true
				}
				if float64(day-below) >= h.ClearAfterDays {
					next, hasBelow = want, false
				}
			} else {
				hasBelow = false
			}
		default:
			upLevel, upCount, hasBelow = 0, 0, false
		}
		if next == cur {
			continue
		}
		prev := cur
		cur = next
		if prev < 0 && next == 0 {
			continue
		}
		switch {
		case next >= 2 && episode == 0:
			markAlarm(d, day, true)
			episode = next
		case next >= 3 && episode == 2:
			markAlarm(d, day, false)
			episode = next
		case next <= 1 && episode > 0:
			episode = 0
		}
	}
}

func resetAlarms(d *Drive) {
	d.Alarmed, d.FirstAlarm, d.LastAlarm, d.Episodes = false, 0, 0, 0
}

func markAlarm(d *Drive, day Day, onset bool) {
	if !d.Alarmed {
		d.Alarmed, d.FirstAlarm = true, day
	}
	d.LastAlarm = max(d.LastAlarm, day)
	if onset {
		d.Episodes++
	}
}

// Apply returns the drives with the alarms the policy gives their traces
// (traces[i] is drives[i]'s).
func Apply(drives []Drive, traces []Trace, p Policy) []Drive {
	out := slices.Clone(drives)
	for i := range out {
		p.Alarms(traces[i], &out[i])
	}
	return out
}

// Point is one threshold of a frontier and how it scores.
type Point struct {
	Threshold float64 `json:"threshold"`
	Report    Report  `json:"report"`
}

// Frontier is one predictor's trade-off over its thresholds, points in
// order of increasing healthy flag rate.
type Frontier struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Points are the thresholds swept (see Sweep), with bootstrap
	// intervals.
	Points []Point `json:"points"`
	// Default is the point at the predictor's own threshold (the
	// configured one for the detector, k = 0 for the published rules),
	// when it has one.
	Default *Point `json:"default,omitempty"`
}

// SweepOptions say which thresholds a sweep evaluates.
type SweepOptions struct {
	// Budgets are healthy flag rates per year (0.02 is 2%): the sweep
	// evaluates, for each, the loosest threshold that flags at most that
	// rate (default: DefaultBudgets).
	Budgets []float64
	// Evaluation options of every point (the bootstrap).
	Options Options
}

// DefaultBudgets are the flag rates per year a frontier is traced at:
// log-spaced from 0.1% to 10%, plus the marks.
func DefaultBudgets() []float64 {
	var b []float64
	for i := 0; i <= 24; i++ {
		b = append(b, 0.001*math.Pow(10, float64(i)/12))
	}
	b = append(b, 0.005, 0.02, 0.025, 0.05)
	slices.Sort(b)
	return slices.Compact(b)
}

// Sweep evaluates a predictor at the thresholds that matter: for each
// budget, the loosest threshold flagging at most that rate of healthy
// drives per year, plus the extra thresholds given (a configured
// default). at makes the policy of a threshold; strict says whether the
// policy alarms on scores above the threshold (a rule) or at it and above
// (the detector's levels). A drive is flagged at threshold t exactly when
// its largest score passes t, which the thresholds are read from; this
// holds for every policy here whose Confirm is 1, and stays a fair grid
// otherwise.
func Sweep(name, description string, drives []Drive, traces []Trace, at func(t float64) Policy, strict bool, extra []float64, o SweepOptions) (Frontier, error) {
	if len(drives) != len(traces) {
		return Frontier{}, fmt.Errorf("evaluation: sweep %s: %d drives, %d traces", name, len(drives), len(traces))
	}
	budgets := o.Budgets
	if len(budgets) == 0 {
		budgets = DefaultBudgets()
	}
	span := spanDays(drives)
	var peaks []float64 // the healthy drives' largest scores, descending
	for i, d := range drives {
		if d.Failed {
			continue
		}
		p := math.Inf(-1)
		for _, s := range traces[i].Scores {
			if s > p { // NaN never passes a threshold
				p = s
			}
		}
		peaks = append(peaks, p)
	}
	slices.SortFunc(peaks, func(a, b float64) int { return cmp.Compare(b, a) })
	var thresholds []float64
	for _, b := range budgets {
		n := int(math.Floor(b*float64(len(peaks))*float64(span)/365.25 + 1e-9))
		thresholds = append(thresholds, thresholdFlagging(peaks, n, strict))
	}
	thresholds = append(thresholds, extra...)
	slices.Sort(thresholds)
	thresholds = slices.Compact(thresholds)
	f := Frontier{Name: name, Description: description}
	for _, t := range thresholds {
		if math.IsInf(t, 0) || math.IsNaN(t) {
			continue
		}
		rep, err := Evaluate(Apply(drives, traces, at(t)), o.Options)
		if err != nil {
			return f, fmt.Errorf("evaluation: sweep %s at %g: %w", name, t, err)
		}
		f.Points = append(f.Points, Point{Threshold: t, Report: rep})
	}
	for _, e := range extra {
		if i := slices.IndexFunc(f.Points, func(p Point) bool { return p.Threshold == e }); i >= 0 {
			p := f.Points[i]
			f.Default = &p
			break
		}
	}
	slices.SortStableFunc(f.Points, func(a, b Point) int {
		return cmp.Or(cmp.Compare(a.Report.HealthyFlagged, b.Report.HealthyFlagged), cmp.Compare(b.Threshold, a.Threshold))
	})
	return f, nil
}

// thresholdFlagging returns the loosest threshold that flags at most n of
// the drives whose peaks (descending) are given: a value between the
// (n+1)-th peak and the next larger one, for a policy alarming at the
// threshold and above (for a strict one, the (n+1)-th peak itself).
func thresholdFlagging(peaks []float64, n int, strict bool) float64 {
	if n >= len(peaks) {
		if len(peaks) == 0 {
			return math.Inf(1)
		}
		n = len(peaks) - 1 // flag all but... none left: the lowest peak
		low := peaks[n]
		if strict {
			return low - math.Max(1, math.Abs(low)) // below every peak: everything flagged
		}
		return low
	}
	v := peaks[n] // must not flag this one
	if strict {
		return v // score > v
	}
	// score >= t must exclude v: t in (v, next larger peak].
	upper := math.Inf(1)
	for i := n - 1; i >= 0; i-- {
		if peaks[i] > v {
			upper = peaks[i]
			break
		}
	}
	return roundBetween(v, upper)
}

// roundBetween returns a short decimal in (lo, hi], as close above lo as
// three decimals allow (the loosest threshold is the best: a failed
// drive's peak just above lo is caught), more digits where lo and hi are
// closer than that.
func roundBetween(lo, hi float64) float64 {
	for digits := 3; digits <= 12; digits++ {
		p := math.Pow(10, float64(digits))
		t := math.Ceil(lo*p) / p
		if t == lo {
			t += 1 / p
		}
		if t > lo && t <= hi {
			return t
		}
	}
	return hi
}

func spanDays(drives []Drive) int {
	if len(drives) == 0 {
		return 1
	}
	first, last := drives[0].FirstSeen, drives[0].LastSeen
	for _, d := range drives {
		first, last = min(first, d.FirstSeen), max(last, d.LastSeen)
	}
	return int(last-first) + 1
}

// Budget is the best a frontier reaches within one budget: of healthy
// drives flagged per year (AtBudget) or of new onsets per 100 healthy
// drive-years (AtOnsetBudget).
type Budget struct {
	// Rate is the budget of flags (flag rate per year), when it is one.
	Rate float64 `json:"rate,omitempty"`
	// Onsets is the budget of new onsets per 100 healthy drive-years,
	// when it is one.
	Onsets float64 `json:"onsets_per_100_drive_years,omitempty"`
	// Point is the frontier's point of highest recall at Days among those
	// within the budget (nil: none is).
	Point *Point `json:"point,omitempty"`
}

// AtBudget returns, for each rate, the point of the frontier with the
// highest recall at the horizon of index h (of the report's Recall) among
// those flagging at most that rate per year; ties go to the fewer flags.
func (f Frontier) AtBudget(rates []float64, h int) []Budget {
	out := make([]Budget, len(rates))
	for i, p := range f.bestWithin(rates, func(r *Report) float64 { return float64(r.HealthyFlagRate) }, h) {
		out[i] = Budget{Rate: rates[i], Point: p}
	}
	return out
}

// bestWithin returns, for each limit, the point with the highest recall
// at the horizon of index h among those whose value is at most the limit
// (a NaN value never is); ties go to the earlier point, the fewer flags.
func (f Frontier) bestWithin(limits []float64, value func(*Report) float64, h int) []*Point {
	out := make([]*Point, len(limits))
	for i, limit := range limits {
		for j := range f.Points {
			p := &f.Points[j]
			if v := value(&p.Report); math.IsNaN(v) || v > limit+1e-12 || h >= len(p.Report.Recall) {
				continue
			}
			if out[i] == nil || recallOf(p, h) > recallOf(out[i], h) {
				out[i] = p
			}
		}
	}
	return out
}

// AtOnsetBudget is AtBudget for new onsets per 100 healthy drive-years:
// for each ceiling, the point with the highest recall at the horizon of
// index h among those opening at most that many episodes on healthy
// drives. The points are the thresholds the sweep evaluated, which the
// flag-rate budgets chose: the best within a ceiling is the best of
// those, not of every threshold.
func (f Frontier) AtOnsetBudget(onsets []float64, h int) []Budget {
	out := make([]Budget, len(onsets))
	for i, p := range f.bestWithin(onsets, func(r *Report) float64 { return float64(r.NewOnsetPer100DriveYears) }, h) {
		out[i] = Budget{Onsets: onsets[i], Point: p}
	}
	return out
}

func recallOf(p *Point, h int) float64 {
	v := float64(p.Report.Recall[h].Recall)
	if math.IsNaN(v) {
		return -1
	}
	return v
}
