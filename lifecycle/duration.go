package lifecycle

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Lengths of the calendar units a policy may use. A year is 365.25 days,
// so "5y" is 43,830 hours.
const (
	hoursPerDay  = 24.0
	hoursPerWeek = 7 * hoursPerDay
	hoursPerYear = 365.25 * hoursPerDay

	// maxPolicyHours bounds a policy's durations: a century is far past
	// any part's life, and keeps every sum of hours exact in a float64.
	maxPolicyHours = 100 * hoursPerYear
)

// parseSpan reads a policy duration: a non-negative number and a unit,
// h (hours), d (days), w (weeks) or y (years of 365.25 days): "5y",
// "43800h", "90d", "1.5w". It returns hours.
func parseSpan(s string) (float64, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i <= 0 {
		return 0, fmt.Errorf("want a number and a unit (h, d, w or y) such as 5y, 43800h or 90d, got %q", clip(s, 40))
	}
	num, unit := s[:i], s[i:]
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, fmt.Errorf("want a non-negative number before the unit, got %q", clip(s, 40))
	}
	var per float64
	switch unit {
	case "h":
		per = 1
	case "d":
		per = hoursPerDay
	case "w":
		per = hoursPerWeek
	case "y":
		per = hoursPerYear
	default:
		return 0, fmt.Errorf("unknown unit %q in %q: want h, d, w or y", clip(unit, 10), clip(s, 40))
	}
	h := v * per
	if h > maxPolicyHours {
		return 0, fmt.Errorf("%q is more than 100 years", clip(s, 40))
	}
	return h, nil
}

// spanText says a policy duration in words, in the unit it was written
// in: "5 years", "43,800 h", "90 days", "1 week".
func spanText(written string, hours float64) string {
	unit := ""
	if written != "" {
		unit = written[len(written)-1:]
	}
	plural := func(v float64, one, many string) string {
		if v == 1 {
			return "1 " + one
		}
		return fmtNum(v, 2) + " " + many
	}
	switch unit {
	case "y":
		return plural(hours/hoursPerYear, "year", "years")
	case "w":
		return plural(hours/hoursPerWeek, "week", "weeks")
	case "d":
		return plural(hours/hoursPerDay, "day", "days")
	}
	return fmtNum(hours, 0) + " h"
}

// hours converts hours to a time.Duration (policy spans are bounded, so
// this never overflows).
func hours(h float64) time.Duration { return time.Duration(h * float64(time.Hour)) }

// fmtNum prints v with at most prec decimals (trailing zeros dropped) and
// thousands separated by commas: 46400 -> "46,400", 5.30 -> "5.3".
func fmtNum(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if hasFrac {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

// clip bounds a string quoted in a message (never more than n bytes of
// whatever the input held).
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
