package lifecycle

import (
	"testing"
	"time"
)

func TestParseManufactureDate(t *testing.T) {
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	for _, tt := range []struct {
		in   string
		want time.Time // zero: unknown
	}{
		// Redfish ProductionDate (DMTF public-tower, public-telemetry).
		{"2017-04-01T14:55:33+03:00", time.Date(2017, 4, 1, 11, 55, 33, 0, time.UTC)},
		{"2019-10-01T06:00:00Z", time.Date(2019, 10, 1, 6, 0, 0, 0, time.UTC)},
		{"2021-01-11T08:00:00.123Z", time.Date(2021, 1, 11, 8, 0, 0, 123e6, time.UTC)},
		{"2021-01-11T08:00:00", time.Date(2021, 1, 11, 8, 0, 0, 0, time.UTC)},
		{"2021-01-11 08:00:00", time.Date(2021, 1, 11, 8, 0, 0, 0, time.UTC)},
		{"2021-01-11", day(2021, 1, 11)},
		{" 2021-01-11 ", day(2021, 1, 11)},
		// ipmitool fru print (testdata/ipmi/captures/*/ipmitool-fru.txt).
		{"Tue Feb 28 18:40:00 2012 UTC", time.Date(2012, 2, 28, 18, 40, 0, 0, time.UTC)},
		{"Mon Jul  8 16:00:00 2024 UTC", time.Date(2024, 7, 8, 16, 0, 0, 0, time.UTC)},
		{"Sun Aug 14 05:20:00 2022", time.Date(2022, 8, 14, 5, 20, 0, 0, time.UTC)},
		// FreeIPMI ipmi-fru: month first.
		{"02/28/12 - 18:40:00", time.Date(2012, 2, 28, 18, 40, 0, 0, time.UTC)},
		{"02/28/12 - 18:40", time.Date(2012, 2, 28, 18, 40, 0, 0, time.UTC)},
		// SCSI drives: smartctl's text and the log page's YYYYWW, the
		// Monday of the ISO week.
		{"Manufactured in week 07 of year 2022", day(2022, 2, 14)},
		{"week 37 of year 2017", day(2017, 9, 11)},
		{"201837", day(2018, 9, 10)},
		{"202101", day(2021, 1, 4)},
		{"202053", day(2020, 12, 28)}, // 2020 has 53 ISO weeks
		// Unknown, never an error.
		{"", time.Time{}},
		{"N/A", time.Time{}},
		{"Unspecified", time.Time{}},
		{"201954", time.Time{}}, // no week 54
		{"202153", time.Time{}}, // 2021 has 52 weeks
		{"201800", time.Time{}},
		{"1969-12-31", time.Time{}},
		{"0000-00-00", time.Time{}},
		{"week +7 of year 2022", time.Time{}},
		{"12/06/2017", time.Time{}}, // day and month order unknowable
		{"2510", time.Time{}},       // HPE DIMM YYWW: ambiguous with a year
	} {
		got, ok := ParseManufactureDate(tt.in)
		if ok != !tt.want.IsZero() || !got.Equal(tt.want) {
			t.Errorf("ParseManufactureDate(%q) = %v, %v; want %v", tt.in, got, ok, tt.want)
		}
	}
}

func FuzzParseManufactureDate(f *testing.F) {
	for _, s := range []string{"2017-04-01T14:55:33+03:00", "Tue Feb 28 18:40:00 2012 UTC", "02/28/12 - 18:40:00",
		"Manufactured in week 07 of year 2022", "201837", "N/A", "9999-12-31T23:59:59-23:59"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseManufactureDate(s)
		if ok && (got.Year() < 1970 || got.Location() != time.UTC) {
			t.Fatalf("ParseManufactureDate(%q) = %v", s, got)
		}
		if !ok && !got.IsZero() {
			t.Fatalf("ParseManufactureDate(%q) = %v with false", s, got)
		}
	})
}

func TestParseSpan(t *testing.T) {
	for _, tt := range []struct {
		in    string
		hours float64
		text  string
	}{
		{"5y", 43830, "5 years"},
		{"1y", 8766, "1 year"},
		{"43800h", 43800, "43,800 h"},
		{"90d", 2160, "90 days"},
		{"1.5w", 252, "1.5 weeks"},
		{"0d", 0, "0 days"},
	} {
		h, err := parseSpan(tt.in)
		if err != nil || h != tt.hours {
			t.Errorf("parseSpan(%q) = %v, %v; want %v", tt.in, h, err, tt.hours)
		}
		if got := spanText(tt.in, h); got != tt.text {
			t.Errorf("spanText(%q) = %q; want %q", tt.in, got, tt.text)
		}
	}
	for _, bad := range []string{"", "5", "y", "5 years", "-1d", "5m", "1e9y", "NaNh", "101y", "1.2.3d"} {
		if h, err := parseSpan(bad); err == nil {
			t.Errorf("parseSpan(%q) = %v, accepted", bad, h)
		}
	}
}

func TestFmtNum(t *testing.T) {
	for v, want := range map[float64]string{46400: "46,400", 5.3: "5.3", 5.25: "5.25", -1234567.5: "-1,234,567.5", 0: "0", 999: "999", 1000: "1,000"} {
		if got := fmtNum(v, 2); got != want {
			t.Errorf("fmtNum(%v) = %q; want %q", v, got, want)
		}
	}
}
