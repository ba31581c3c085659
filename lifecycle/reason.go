package lifecycle

import (
	"fmt"
	"math"
	"time"
)

// reason says in words why the row is due (or why it cannot be judged):
// "powered on 5.3 years (46,400 h), rule hdd-age: over 5 years".
func (inv *Inventory) reason(r *row, at time.Time) string {
	if r.rule == 0 {
		if r.flags&flagAgeRule != 0 {
			if _, src := ageOf(r, at); src == AgeUnknown {
				return "age unknown: no power-on hours, manufacture date or first-seen date"
			}
		}
		return ""
	}
	ru := &inv.policy.Rules[r.rule-1]
	s := measure(r, ru.Condition, at) + ", rule " + ru.Name + ": " + ru.shortLimit()
	if r.due == dueWithin {
		s += " in " + daysText(float64(r.dueIn))
	}
	if r.also > 0 {
		s += "; also " + inv.policy.Rules[r.also-1].Name
	}
	return s
}

// shortLimit is the rule's limit after the measure that already says
// what is measured: "over 5 years", "at or over 80%".
func (r *Rule) shortLimit() string {
	switch r.Condition {
	case AgeOver:
		return "over " + spanText(r.LimitText, r.Limit)
	case PercentageUsedAtLeast:
		return "at or over " + fmtNum(r.Limit, 2) + "%"
	case SectorGrowthOver:
		return "over " + fmtNum(r.Limit, 0)
	case SpeedLossOver:
		return "over " + fmtNum(r.Limit, 2) + "%"
	case EfficiencyLossOver:
		return "over " + fmtNum(r.Limit, 2) + " points"
	}
	return string(r.Condition)
}

// measure says what the condition measured on the row.
func measure(r *row, c Condition, at time.Time) string {
	switch c {
	case AgeOver:
		age, src := ageOf(r, at)
		years := fmtNum(age/hoursPerYear, 1)
		switch src {
		case AgePowerOnHours:
			return fmt.Sprintf("powered on %s years (%s h)", years, fmtNum(age, 0))
		case AgeManufactureDate:
			return fmt.Sprintf("made %s, %s years ago", time.Unix(int64(r.mfgDay)*86400, 0).UTC().Format(time.DateOnly), years)
		case AgeFirstSeen:
			return fmt.Sprintf("first seen by the agent %s, %s years ago", time.Unix(int64(r.firstSeen)*3600, 0).UTC().Format(time.DateOnly), years)
		}
	case PercentageUsedAtLeast:
		s := fmtNum(float64(r.pctUsed), 1) + "% of rated endurance used"
		if r.flags&flagLifeLeft != 0 {
			s += " (media life left " + fmtNum(100-float64(r.pctUsed), 1) + "%)"
		}
		if !isNaN32(r.pctRate) && r.pctRate > 0 {
			s += ", " + fmtNum(float64(r.pctRate)*30, 1) + " points a month"
		}
		return s
	case SectorGrowthOver:
		return "sector counters grew by " + fmtNum(float64(r.sectorGrowth), 0) + " over the agent's history"
	case SpeedLossOver:
		loss, _ := speedLoss(r)
		unit, prec := " RPM", 0
		if r.flags&flagFanPercent != 0 {
			unit, prec = "%", 1
		}
		return fmt.Sprintf("speed %s%% below its baseline (%s%s, now %s%s)", fmtNum(loss, 1),
			fmtNum(float64(r.base), prec), unit, fmtNum(float64(r.recent), prec), unit)
	case EfficiencyLossOver:
		loss, _ := efficiencyLoss(r)
		return fmt.Sprintf("efficiency %s points below its baseline (%s%%, now %s%%)", fmtNum(loss, 1),
			fmtNum(float64(r.base)*100, 1), fmtNum(float64(r.recent)*100, 1))
	}
	return string(c)
}

// daysText says a number of days ahead: "12 days", "1 day".
func daysText(d float64) string {
	n := math.Ceil(d)
	if n <= 1 {
		return "1 day"
	}
	return fmtNum(n, 0) + " days"
}
