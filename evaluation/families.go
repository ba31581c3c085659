package evaluation

import (
	"math"
	"slices"
)

// Family is a family of threshold rules, one rule per k: the rules people
// write by hand. A level family alarms on a row when one of its raw
// counters is above k (k = 0 is the published rule of the same columns);
// a growth family when one of them grew by more than k within
// GrowthDays (from the value in force GrowthDays before, or since the
// drive was first seen).
type Family struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Columns     []string
	GrowthDays  int `json:"growth_days,omitempty"`
	// Published is the k of the published rule of this family, when it
	// has one (0 for the level families).
	Published *float64 `json:"published,omitempty"`
}

// mediaColumns are the counters of Backblaze's rule.
func mediaColumns() []string {
	return []string{"smart_5_raw", "smart_187_raw", "smart_188_raw", "smart_197_raw", "smart_198_raw"}
}

// Families returns the rule families a frontier is compared with.
func Families() []Family {
	zero := 0.0
	return []Family{
		{Name: "any5", Description: "any of raw SMART 5, 187, 188, 197, 198 above k (k = 0: Backblaze's rule)",
			Columns: mediaColumns(), Published: &zero},
		{Name: "5or197", Description: "raw SMART 5 (reallocated) or 197 (pending) above k",
			Columns: []string{"smart_5_raw", "smart_197_raw"}, Published: &zero},
		{Name: "growth7", Description: "any of raw SMART 5, 187, 188, 197, 198 grew by more than k within 7 days",
			Columns: mediaColumns(), GrowthDays: 7},
		{Name: "growth30", Description: "any of raw SMART 5, 187, 188, 197, 198 grew by more than k within 30 days",
			Columns: mediaColumns(), GrowthDays: 30},
	}
}

// FamilyByName returns the named family.
func FamilyByName(name string) (Family, bool) {
	fs := Families()
	i := slices.IndexFunc(fs, func(f Family) bool { return f.Name == name })
	if i < 0 {
		return Family{}, false
	}
	return fs[i], true
}

// Statistic is a family bound to a column layout: the score of each row
// whose threshold the family's k is.
type Statistic struct {
	idx    []int
	growth int
	// hist holds, per drive and column, the values in force over the
	// growth window: the changes, oldest first (a growth family only).
	hist [][]changes
}

type changes struct {
	days []Day
	vals []float64
}

// Bind resolves the family's columns in names (a row's column names); a
// column the data lacks never alarms.
func (f Family) Bind(names []string) *Statistic {
	st := &Statistic{growth: f.GrowthDays}
	for _, c := range f.Columns {
		if i := slices.Index(names, c); i >= 0 {
			st.idx = append(st.idx, i)
		}
	}
	return st
}

// Score returns the statistic of drive id's row of that day (rows of a
// drive in day order; values in the bound layout, NaN when missing): the
// largest counter, or the largest growth within the window. NaN when the
// row has none of the columns.
func (st *Statistic) Score(id int, day Day, values []float64) float64 {
	best := math.NaN()
	if st.growth == 0 {
		for _, i := range st.idx {
			if v := values[i]; !math.IsNaN(v) && !(v <= best) {
				best = v
			}
		}
		return best
	}
	for id >= len(st.hist) {
		st.hist = append(st.hist, nil)
	}
	if st.hist[id] == nil {
		st.hist[id] = make([]changes, len(st.idx))
	}
	cut := day - Day(st.growth)
	for k, i := range st.idx {
		v := values[i]
		if math.IsNaN(v) {
			continue
		}
		h := &st.hist[id][k]
		if n := len(h.vals); n == 0 || h.vals[n-1] != v {
			h.days = append(h.days, day)
			h.vals = append(h.vals, v)
		}
		// Keep the value in force at the cut and every change after it.
		drop := 0
		for drop+1 < len(h.days) && h.days[drop+1] <= cut {
			drop++
		}
		if drop > 0 {
			h.days = slices.Delete(h.days, 0, drop)
			h.vals = slices.Delete(h.vals, 0, drop)
		}
		if g := v - h.vals[0]; !(g <= best) {
			best = g
		}
	}
	return best
}
