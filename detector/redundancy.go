package detector

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prefail/prefail/model"
)

// The source's own redundancy groups (Redfish PowerSubsystem
// PowerSupplyRedundancy and ThermalSubsystem FanRedundancy, RedundantGroup
// v1.1; legacy Power/Thermal Redundancy; IPMI redundancy sensors, generic
// event/reading type 0Bh, IPMI v2.0 Table 42-2) say what the siblings
// cannot always show: a group can lose its redundancy without a member
// going critical, or with members prefail does not see. A group that
// reports it (Redundant false, or Health warning or critical) gives its
// working members the "redundancy" reason the sibling rule gives (fan.go,
// psu.go), once per member, the stronger of the two kept:
//
//   - only a group seen redundant before: one that never was (an empty
//     bay, a server built with one PSU, a BMC that reports
//     "Non-Redundant" for good) is how the server is built, not a loss;
//   - a warning counts once it has held for Source.WarningHold, as the
//     source's warning on a part does (a PSU is in warning for the minutes
//     its input is lost, and its group with it); a critical group at once;
//   - a member whose own failure is the only one in the group is not
//     told it again: the group's loss is its siblings' risk;
//   - groups prefail derived itself (Derived) are left to the sibling
//     rule, which judges the same parts.

// groupState is what the detector remembers of one of the source's
// redundancy groups.
type groupState struct {
	Target string `json:"target"`
	ID     string `json:"id"`
	// WasRedundant: the group has reported redundancy at least once.
	WasRedundant bool `json:"was_redundant,omitempty"`
	// LostSince is when it last started reporting the loss; zero while
	// redundant.
	LostSince time.Time `json:"lost_since,omitzero"`
	// LastSeen is the time of the newest snapshot that showed it: an
	// older one is ignored, as it is for a component.
	LastSeen time.Time `json:"last_seen"`
}

// groupLoss is a group's lost redundancy as one member sees it.
type groupLoss struct {
	group  string // the group's name
	health model.Health
	causes []string // names of the members that are not healthy
	ids    []string // and their ids
}

// updateGroups records the snapshot's redundancy groups and returns the
// lost ones, by member id.
func (d *Detector) updateGroups(s *model.Snapshot, v *view, now time.Time) map[string]*groupLoss {
	var out map[string]*groupLoss
	for i := range s.Redundancy {
		g := &s.Redundancy[i]
		if g.Derived || g.ID == "" {
			continue
		}
		key := compKey{s.Target, g.ID}
		st := d.groups[key]
		if st == nil {
			st = &groupState{Target: s.Target, ID: g.ID}
			d.groups[key] = st
		} else if now.Before(st.LastSeen) {
			continue
		}
		st.LastSeen = now
		lost := !g.Redundant || g.Health == model.HealthWarning || g.Health == model.HealthCritical
		if !lost {
			st.WasRedundant, st.LostSince = true, time.Time{}
			continue
		}
		if st.LostSince.IsZero() {
			st.LostSince = now
		}
		if !st.WasRedundant || g.Health != model.HealthCritical && now.Sub(st.LostSince) < d.cfg.Source.WarningHold.D() {
			continue
		}
		members := v.groupMembers(g, s)
		if len(members) == 0 {
			continue
		}
		loss := &groupLoss{group: cmp.Or(g.Name, g.ID), health: g.Health}
		for _, m := range members {
			if m.Health != model.HealthOK && (m.Health != model.HealthAbsent || m.WasPresent) {
				loss.causes = append(loss.causes, nameOf(m)+" is "+string(m.Health))
				loss.ids = append(loss.ids, m.Ref.ID)
			}
		}
		for _, m := range members {
			if m.Health != model.HealthOK && m.Health != model.HealthWarning {
				continue // not working: it has no redundancy to lose
			}
			if len(loss.ids) == 1 && loss.ids[0] == m.Ref.ID {
				continue // the loss is this member's own failure
			}
			if out == nil {
				out = map[string]*groupLoss{}
			}
			if _, dup := out[m.Ref.ID]; !dup {
				out[m.Ref.ID] = loss
			}
		}
	}
	return out
}

// groupMembers are the group's members seen in this snapshot: its
// Members, else the components of its kind in its chassis when that can
// be told (the chassis of the component the group is, as an IPMI
// redundancy sensor is; else of the chassis whose id its id extends, as a
// Redfish PowerSubsystem's group extends /Chassis/1U; else the one
// chassis all parts of the kind are in). Unknown: none.
func (v *view) groupMembers(g *model.RedundancyGroup, s *model.Snapshot) []*component {
	var out []*component
	if len(g.Members) > 0 {
		for _, o := range v.touched {
			if slices.Contains(g.Members, o.Ref.ID) {
				out = append(out, o)
			}
		}
		return out
	}
	ch, ok := groupChassis(g, s)
	if !ok {
		return nil
	}
	for _, o := range v.touched {
		if o.Ref.Kind == g.Kind && o.Chassis == ch && o.Ref.ID != g.ID {
			out = append(out, o)
		}
	}
	return out
}

// groupChassis is the chassis of a group without members, if it can be
// told.
func groupChassis(g *model.RedundancyGroup, s *model.Snapshot) (string, bool) {
	best, found := "", false
	for i := range s.Components {
		c := &s.Components[i]
		if c.ID == g.ID {
			return c.Chassis, true
		}
		if c.Kind == model.KindChassis && len(c.ID) > len(best) && strings.HasPrefix(g.ID, c.ID) &&
			len(g.ID) > len(c.ID) && strings.ContainsRune("/#", rune(g.ID[len(c.ID)])) {
			best, found = c.ID, true
		}
	}
	if found {
		return best, true
	}
	ch, seen := "", false
	for i := range s.Components {
		switch c := &s.Components[i]; {
		case c.Kind != g.Kind:
		case !seen:
			ch, seen = c.Chassis, true
		case c.Chassis != ch:
			return "", false
		}
	}
	return ch, seen
}

// groupReason is the redundancy reason a lost source group gives comp,
// scored weight.
func (v *view) groupReason(comp *component, weight float64, consequence string) (Reason, bool) {
	l := v.groupLost[comp.Ref.ID]
	if l == nil {
		return Reason{}, false
	}
	var why []string
	if l.health == model.HealthWarning || l.health == model.HealthCritical {
		why = append(why, string(l.health))
	}
	for i, id := range l.ids {
		if id != comp.Ref.ID {
			why = append(why, l.causes[i])
		}
	}
	text := fmt.Sprintf("redundancy lost: the source's group %q is not redundant", l.group)
	if len(why) > 0 {
		text += " (" + strings.Join(why, "; ") + ")"
	}
	return Reason{Signal: "redundancy", Score: weight, Text: text + ", so " + fmt.Sprintf(consequence, nameOf(comp))}, true
}
