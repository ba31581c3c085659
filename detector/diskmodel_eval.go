package detector

import "time"

// What the evaluation and the trainer read of a detector and of a drive's
// history: the risk as the levels compare it, and the model's score as
// the detector would give it.

// Risk returns the risk the detector gives component id of target now,
// before the three-decimal rounding of its assessment (the levels compare
// this one), and whether the component is known.
func (d *Detector) Risk(target, id string) (float64, bool) {
	c := d.comps[compKey{target, id}]
	if c == nil {
		return 0, false
	}
	keep := 1.0
	for _, r := range c.Reasons {
		keep *= 1 - clamp01(r.Score)
	}
	return 1 - keep, true
}

// ModelScore returns the score the detector's disk model reason would
// have for this drive at t (0: below the model's floor, no reason), at
// weight w.
func (h *DriveHistory) ModelScore(m *DiskModel, w float64, t time.Time) float64 {
	var buf [96]float64 // on the stack: no allocation per drive per day
	var feats []float64
	if len(m.defs) <= len(buf) {
		feats = buf[:len(m.defs)]
	} else {
		feats = make([]float64, len(m.defs))
	}
	s, _ := m.diskModelScore(h.series, t.Unix(), cleanMedia(h.series), w, feats)
	return s
}
