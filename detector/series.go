package detector

import (
	"math"
	"sort"
	"time"
)

// bucket aggregates the samples of one time slot.
type bucket struct {
	Start int64   `json:"t"` // unix seconds of the slot's start
	N     int     `json:"n"`
	Sum   float64 `json:"sum"`
	SumSq float64 `json:"sumsq"`
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
	Last  float64 `json:"last"`
}

func (b *bucket) mean() float64 { return b.Sum / float64(b.N) }

// stddev is the samples' standard deviation within the slot.
func (b *bucket) stddev() float64 {
	if b.N < 2 {
		return 0
	}
	m := b.mean()
	return math.Sqrt(math.Max(0, b.SumSq/float64(b.N)-m*m))
}

// series is the bounded history of one reading: fixed-width time buckets
// (a day for drives, an hour for BMC sensors: config), the newest
// MaxBuckets of them, plus the first value ever seen and the baseline
// buckets' aggregate. Memory is bounded per component whatever the
// sampling rate or the length of the replay.
type series struct {
	Width   int64    `json:"width"` // bucket width, seconds
	Buckets []bucket `json:"buckets"`
	Max     int      `json:"max"`
	// Sparse series open a slot only when the value changes: a counter
	// is a step function, so the value at any time is still the last
	// slot's, and a drive's quiet days cost nothing.
	Sparse bool `json:"sparse,omitempty"`
	// First is the first value seen and when.
	First     float64 `json:"first"`
	FirstTime int64   `json:"first_time"`
	// Base aggregates the samples of the baseline period (the first
	// BaselinePeriod after FirstTime).
	Base       bucket `json:"base"`
	BaseUntil  int64  `json:"base_until"`
	Total      int    `json:"total"` // samples ever added
	LastChange int64  `json:"last_change"`
	// LastValue and MinValue are the newest and the smallest value ever
	// added, kept here so that the common questions ("did it ever go
	// up?") need not touch the buckets.
	LastValue float64 `json:"last_value"`
	MinValue  float64 `json:"min_value"`

	buf []bucket // the backing array Buckets slides in (see add)
}

func newSeries(width time.Duration, maxBuckets int, baseline time.Duration, t time.Time, v float64) *series {
	s := &series{Width: int64(width / time.Second), Max: maxBuckets, First: v, FirstTime: t.Unix(),
		BaseUntil: t.Add(baseline).Unix()}
	if s.Width < 1 {
		s.Width = 1
	}
	return s
}

// add records a sample. Samples older than the newest bucket are folded
// into it (replays are in order; a late sample must not reorder history).
func (s *series) add(t time.Time, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	ts := t.Unix()
	start := ts - ((ts%s.Width)+s.Width)%s.Width
	n := len(s.Buckets)
	if n > 0 && s.LastValue != v {
		s.LastChange = ts
	}
	if s.Sparse && n > 0 && v == s.LastValue && ts >= s.BaseUntil {
		s.Total++
		return
	}
	if s.Total == 0 || v < s.MinValue {
		s.MinValue = v
	}
	s.LastValue = v
	if n == 0 || start > s.Buckets[n-1].Start {
		if n >= s.Max {
			// Slide the window inside one backing array (buf) of Max +
			// Max/2 slots: drop the oldest by reslicing, and when the
			// window reaches the array's end move its newest Max-1 slots
			// back to the start. Each new slot costs O(1) amortized, and
			// nothing is allocated once the array exists.
			switch {
			case cap(s.buf) < s.Max+s.Max/2: // first time, or restored from JSON
				s.buf = make([]bucket, s.Max+s.Max/2)
				copy(s.buf, s.Buckets[n-s.Max+1:])
				s.Buckets = s.buf[:s.Max-1]
			case n == cap(s.Buckets): // at the end of buf
				s.buf = s.buf[:cap(s.buf)]
				copy(s.buf, s.Buckets[n-s.Max+1:])
				s.Buckets = s.buf[:s.Max-1]
			default:
				s.Buckets = s.Buckets[n-s.Max+1:]
			}
		} else if n == cap(s.Buckets) {
			s.buf = make([]bucket, n, min(max(4, 2*n), s.Max+s.Max/2))
			copy(s.buf, s.Buckets)
			s.Buckets = s.buf
		}
		s.Buckets = append(s.Buckets, bucket{Start: start, Min: v, Max: v})
	}
	b := &s.Buckets[len(s.Buckets)-1]
	b.N++
	b.Sum += v
	b.SumSq += v * v
	b.Min, b.Max, b.Last = math.Min(b.Min, v), math.Max(b.Max, v), v
	if ts < s.BaseUntil || s.Base.N == 0 {
		if s.Base.N == 0 {
			s.Base.Min, s.Base.Max = v, v
		}
		s.Base.N++
		s.Base.Sum += v
		s.Base.SumSq += v * v
		s.Base.Min, s.Base.Max, s.Base.Last = math.Min(s.Base.Min, v), math.Max(s.Base.Max, v), v
	}
	s.Total++
}

// last is the newest value.
func (s *series) last() float64 { return s.LastValue }

// lastTime is the start of the newest bucket.
func (s *series) lastTime() int64 { return s.Buckets[len(s.Buckets)-1].Start }

// baseline is the mean of the baseline period.
func (s *series) baseline() float64 { return s.Base.mean() }

// valueAt returns the last value of the newest bucket that starts at or
// before t, and whether there is one.
func (s *series) valueAt(t int64) (float64, bool) {
	n := len(s.Buckets)
	if n == 0 || s.Buckets[0].Start > t {
		return 0, false
	}
	// Slots are usually contiguous: guess the index, then step to it.
	i := n - 1 - int((s.Buckets[n-1].Start-t)/s.Width)
	i = max(0, min(i, n-1))
	for i < n-1 && s.Buckets[i+1].Start <= t {
		i++
	}
	for ; i >= 0; i-- {
		if s.Buckets[i].Start <= t {
			return s.Buckets[i].Last, true
		}
	}
	return 0, false
}

// window returns the buckets that start after since.
func (s *series) window(since int64) []bucket {
	// Buckets are in time order: a binary search, since the fan checks
	// ask for windows all along the history (a linear scan back from the
	// end made each observation cost the history's length squared).
	i := sort.Search(len(s.Buckets), func(i int) bool { return s.Buckets[i].Start > since })
	return s.Buckets[i:]
}

// fit is an ordinary least-squares line through bucket means.
type fit struct {
	slope, intercept float64 // per second, at time 0 (unix)
	slopeSE          float64
	n                int
	t0               int64
}

// steps returns one slot per bucket width from since to now, each holding
// the value in force in it. A sparse series keeps a slot only when its
// value changes, so a line fitted to its slots alone would weigh every
// change as much as a month without one; fitted to its steps, the days in
// between count as the steady days they were.
func (s *series) steps(since, now int64) []bucket {
	if len(s.Buckets) == 0 {
		return nil
	}
	start := max(since, s.FirstTime)
	start -= start % s.Width
	var out []bucket
	for t := start; t <= now; t += s.Width {
		v, ok := s.valueAt(t + s.Width - 1)
		if !ok {
			continue
		}
		out = append(out, bucket{Start: t, N: 1, Sum: v, SumSq: v * v, Min: v, Max: v, Last: v})
	}
	return out
}

// fitLine fits the bucket means (at bucket mid-points). Needs >= 3 buckets.
func fitLine(bs []bucket, width int64) (fit, bool) {
	n := len(bs)
	if n < 3 {
		return fit{}, false
	}
	t0 := bs[0].Start
	var sx, sy, sxx, sxy float64
	for _, b := range bs {
		x := float64(b.Start-t0) + float64(width)/2
		y := b.mean()
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
	}
	fn := float64(n)
	den := fn*sxx - sx*sx
	if den == 0 {
		return fit{}, false
	}
	slope := (fn*sxy - sx*sy) / den
	icept := (sy - slope*sx) / fn
	var sse float64
	for _, b := range bs {
		x := float64(b.Start-t0) + float64(width)/2
		r := b.mean() - (icept + slope*x)
		sse += r * r
	}
	se := 0.0
	if n > 2 {
		se = math.Sqrt(sse/float64(n-2)) / math.Sqrt(sxx-sx*sx/fn)
	}
	return fit{slope: slope, intercept: icept, slopeSE: se, n: n, t0: t0}, true
}

// at is the fitted value at unix time t.
func (f fit) at(t int64) float64 { return f.intercept + f.slope*float64(t-f.t0) }

// crossing forecasts when the fitted line reaches threshold, from now,
// with an ~80% band from the slope's standard error (z = 1.28). ok is false
// when the trend is flat or moving away from the threshold.
func (f fit) crossing(now int64, threshold float64, signal string) (*Forecast, bool) {
	cur := f.at(now)
	gap := threshold - cur
	if f.slope == 0 || gap/f.slope <= 0 {
		return nil, false
	}
	eta := func(slope float64) (time.Time, bool) {
		if slope == 0 || gap/slope <= 0 {
			return time.Time{}, false
		}
		secs := gap / slope
		if secs > 10*365*86400 {
			return time.Time{}, false
		}
		return time.Unix(now+int64(secs), 0).UTC(), true
	}
	at, ok := eta(f.slope)
	if !ok {
		return nil, false
	}
	fc := &Forecast{Signal: signal, Threshold: threshold, At: at}
	steep := f.slope + math.Copysign(1.28*f.slopeSE, f.slope)
	fc.Earliest, _ = eta(steep)
	fc.Latest, _ = eta(f.slope - math.Copysign(1.28*f.slopeSE, f.slope))
	if fc.Earliest.IsZero() {
		fc.Earliest = at
	}
	return fc, true
}

// lastChangeOr is when the value last changed, or when it was first seen.
func (s *series) lastChangeOr() int64 {
	if s.LastChange == 0 {
		return s.FirstTime
	}
	return s.LastChange
}
