package lifecycle

import (
	"strconv"
	"strings"
	"time"
)

// The manufacture date formats the readers pass through as printed
// (model.Inventory.ManufactureDate), each seen in testdata/:
//
//   - RFC 3339, with or without fraction and offset: Redfish
//     ProductionDate ("2017-04-01T14:55:33+03:00", DMTF mockups), the
//     IPMI reader's FRU board date ("2012-02-28T18:40:00Z");
//   - a date or a date and time without zone ("2021-01-11",
//     "2021-01-11T08:00:00", "2021-01-11 08:00:00"), taken as UTC;
//   - ipmitool's FRU print ("Tue Feb 28 18:40:00 2012 UTC",
//     testdata/ipmi/captures/*/ipmitool-fru.txt) and FreeIPMI's
//     ("02/28/12 - 18:40:00", month first);
//   - the week of year of SCSI drives: smartctl's "Manufactured in week 07
//     of year 2022" and the start-stop cycle log page's "201837"
//     (YYYYWW, smart/scsi_log_pages.go), read as the Monday of that ISO
//     week.
//
// Anything else is unknown, never an error: a BMC's free text must not
// fail an inventory. Dates before 1970 are unknown too (BMCs print the
// epoch, or 1900, for "not set").

// ParseManufactureDate reads a manufacture date as a source printed it
// (see the formats above). It returns false when s is empty, in no format
// it knows, or before 1970.
func ParseManufactureDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 64 {
		return time.Time{}, false
	}
	layouts := [...]string{
		time.RFC3339Nano,
		"2006-01-02T15:04:05",
		"2006-01-02 15:04:05",
		"2006-01-02T15:04",
		"2006-01-02",
		"Mon Jan _2 15:04:05 2006 MST", // ipmitool
		"Mon Jan _2 15:04:05 2006",     // ipmitool without a zone
		"01/02/06 - 15:04:05",          // FreeIPMI
		"01/02/06 - 15:04",
	}
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			return plausible(t.UTC())
		}
	}
	// smartctl: "Manufactured in week 07 of year 2022".
	lower := strings.ToLower(s)
	lower = strings.TrimPrefix(lower, "manufactured in ")
	if rest, ok := strings.CutPrefix(lower, "week "); ok {
		if w, y, ok := strings.Cut(rest, " of year "); ok && len(w) <= 2 && len(y) == 4 {
			return isoWeek(y, w)
		}
		return time.Time{}, false
	}
	// SCSI start-stop cycle log page: YYYYWW.
	if len(s) == 6 && strings.Trim(s, "0123456789") == "" {
		return isoWeek(s[:4], s[4:])
	}
	return time.Time{}, false
}

func plausible(t time.Time) (time.Time, bool) {
	if t.Year() < 1970 || t.Year() > 9999 {
		return time.Time{}, false
	}
	return t, true
}

// isoWeek is the Monday of ISO week w of year y (both decimal strings).
func isoWeek(ys, ws string) (time.Time, bool) {
	if ys == "" || ws == "" || strings.Trim(ys+ws, "0123456789") != "" {
		return time.Time{}, false
	}
	y, err1 := strconv.Atoi(ys)
	w, err2 := strconv.Atoi(ws)
	if err1 != nil || err2 != nil || w < 1 || w > 53 {
		return time.Time{}, false
	}
	// January 4th is always in week 1.
	jan4 := time.Date(y, time.January, 4, 0, 0, 0, 0, time.UTC)
	monday := jan4.AddDate(0, 0, -((int(jan4.Weekday()) + 6) % 7))
	t := monday.AddDate(0, 0, 7*(w-1))
	if _, tw := t.ISOWeek(); tw != w {
		return time.Time{}, false // week 53 of a year that has 52
	}
	return plausible(t)
}
