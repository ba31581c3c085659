package detector

import (
	"strings"
	"time"

	"github.com/prefail/prefail/model"
)

// Fans and PSUs are field-replaceable parts: a bay can be empty, a part
// can be pulled, and a part can be swapped for another during maintenance.
// None of these is a fault of the part:
//
//   - an absent part (Health absent, or State "Absent": the source's word
//     for an empty bay) has no readings: its 0 RPM or 0 W is not recorded,
//     and it is never scored as stopped or degraded;
//   - a part that was present and is absent, or gone from a complete scan
//     (no warnings, and other parts of its kind still in its chassis), for
//     Source.RemovedHold is "removed or no longer detected" (Source.Absent,
//     a warning), and only then "gone" for its siblings' redundancy;
//   - a part whose serial number changed, or that came back after an
//     absence with no serial to tell, was replaced: its history (series,
//     log, input-loss runs, zone, thermal fit) starts again there, a new
//     baseline;
//   - input loss within Source.Maintenance of a maintenance mark (the
//     replacement, a return after an absence, a "removed"/"inserted" log
//     entry) is the swap: it counts for nothing. The same loss without a
//     swap counts as before.

// isPart says whether components of kind k are replaceable parts judged
// by this file's rules.
func isPart(k model.Kind) bool { return k == model.KindFan || k == model.KindPSU }

// isAbsent says whether the source reports the component absent.
func isAbsent(c *model.Component) bool {
	return c.Health == model.HealthAbsent || strings.EqualFold(c.State, "Absent")
}

// presence handles a part the snapshot shows present: back after an
// absence, or with another serial number, it was (maybe) replaced. It runs
// before the update records the new serial and health.
func (d *Detector) presence(comp *component, c *model.Component, now time.Time) {
	if comp.Seen == 0 {
		return
	}
	serial, old := c.Inventory.SerialNumber, comp.Ref.Serial
	switch {
	case serial != "" && old != "" && serial != old:
		d.replace(comp, now)
	case comp.Health == model.HealthAbsent && comp.WasPresent:
		// Back after an absence: the same part if its serial says so,
		// else (no serial to tell) as good as a new one.
		if serial == "" || old == "" {
			d.replace(comp, now)
		} else {
			d.mark(comp, now)
		}
	case comp.Health == model.HealthAbsent:
		d.mark(comp, now) // an empty bay filled
	}
}

// replace starts a part's history again: a new part, a new baseline.
func (d *Detector) replace(comp *component, now time.Time) {
	comp.Series = map[string]*series{}
	comp.slots = nil
	comp.counters, comp.countersFor = nil, 0
	comp.Log = nil
	comp.InputLost = nil
	comp.Thermal = nil
	comp.zone = nil
	comp.FirstSeen = now
	comp.Replaced = now
	d.mark(comp, now)
}

// mark records a maintenance mark, keeping those of the recurrence window.
func (d *Detector) mark(comp *component, now time.Time) {
	keep := comp.Maint[:0]
	for _, t := range comp.Maint {
		if now.Sub(t) <= d.cfg.PSU.RecurrenceWindow.D() {
			keep = append(keep, t)
		}
	}
	comp.Maint = append(keep, now)
}

// settling says whether a part was replaced or came back within
// Source.Maintenance: its zero readings are the swap (not cabled, not
// spinning yet), not recorded.
func (d *Detector) settling(comp *component, now time.Time) bool {
	n := len(comp.Maint)
	return n > 0 && isPart(comp.Ref.Kind) && now.Sub(comp.Maint[n-1]) <= d.cfg.Source.Maintenance.D()
}

// maintenance returns the part's maintenance marks (unix seconds): its
// replacements and returns, and the times of its log entries that say it
// was removed or inserted.
func (d *Detector) maintenance(comp *component) []int64 {
	var out []int64
	for _, t := range comp.Maint {
		out = append(out, t.Unix())
	}
	for i := range comp.Log {
		if t := d.logType(&comp.Log[i]); t != nil && t.Type == "presence" {
			out = append(out, comp.Log[i].Time.Unix())
		}
	}
	return out
}

// nearMaintenance says whether the span [from, to] comes within
// Source.Maintenance of a mark.
func (d *Detector) nearMaintenance(marks []int64, from, to int64) bool {
	w := secs(d.cfg.Source.Maintenance)
	for _, m := range marks {
		if m >= from-w && m <= to+w {
			return true
		}
	}
	return false
}

// removed says whether a part that was present has been absent for
// Source.RemovedHold: removed, or no longer detected.
func (d *Detector) removed(comp *component, now time.Time) bool {
	return comp.Health == model.HealthAbsent && comp.WasPresent && now.Sub(comp.HealthSince) >= d.cfg.Source.RemovedHold.D()
}

// missingParts adds to touched the target's fans and PSUs that were
// present and are gone from this snapshot, marked absent, so that they
// are judged (removed) and their siblings see them gone. Only a complete
// scan says a part is gone: one with warnings may simply not have read it,
// and one without any part of its kind in its chassis is the target's
// problem (the agent tells a target answering without a kind of part).
func (d *Detector) missingParts(s *model.Snapshot, touched []*component, now time.Time) []*component {
	parts := d.parts[s.Target]
	if len(parts) == 0 || len(s.Warnings) > 0 {
		return touched
	}
	seen := make(map[*component]bool, len(touched))
	for _, c := range touched {
		seen[c] = true
	}
	n := len(touched)
	for _, p := range parts {
		if seen[p] || !p.WasPresent || now.Before(p.LastSeen) {
			continue
		}
		others := false
		for _, o := range touched[:n] {
			if o.Ref.Kind == p.Ref.Kind && o.Chassis == p.Chassis {
				others = true
				break
			}
		}
		if !others {
			continue
		}
		if p.Health != model.HealthAbsent {
			p.Health, p.HealthSince = model.HealthAbsent, now
		}
		p.conds = nil
		touched = append(touched, p)
	}
	return touched
}
