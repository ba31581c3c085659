package smart

import (
	"strings"
	"testing"

	"github.com/prefail/prefail/model"
)

func u8(v uint8) *uint8 { return &v }

func boolp(v bool) *bool { return &v }

func TestVerdict(t *testing.T) {
	attr := func(id uint8, value, worst, thresh uint8) Attribute {
		return Attribute{ID: id, Name: DefaultAttributeName(id), Flags: 0x33, Value: value, Worst: worst,
			Threshold: u8(thresh), WhenFailed: whenFailed(value, worst, thresh)}
	}
	tests := []struct {
		name string
		r    Report
		want model.Health
		msg  string // a condition must contain it
	}{
		{"passed, counters grown", Report{Protocol: ProtocolATA, OverallPassed: boolp(true),
			ATA: &ATAHealth{Attributes: []Attribute{attr(5, 95, 95, 10), {ID: 197, Value: 100, Worst: 100, Raw: 8, Decoded: 8}}}},
			model.HealthOK, ""},
		{"SMART RETURN STATUS failed", Report{Protocol: ProtocolATA, OverallPassed: boolp(false)}, model.HealthCritical, "FAILED"},
		{"attribute failing now", Report{Protocol: ProtocolATA, OverallPassed: boolp(true),
			ATA: &ATAHealth{Attributes: []Attribute{attr(5, 9, 9, 10)}}}, model.HealthCritical, "failing now"},
		{"attribute failed in the past", Report{Protocol: ProtocolATA, OverallPassed: boolp(true),
			ATA: &ATAHealth{Attributes: []Attribute{attr(5, 100, 5, 10)}}}, model.HealthWarning, "in the past"},
		{"threshold 0 never fails", Report{Protocol: ProtocolATA, ATA: &ATAHealth{Attributes: []Attribute{attr(9, 1, 1, 0)}}},
			model.HealthOK, ""},
		{"NVMe spare below threshold", Report{Protocol: ProtocolNVMe, NVMe: &NVMeHealth{CriticalWarning: NVMeWarnSpare}},
			model.HealthCritical, "available spare"},
		{"NVMe worn out", Report{Protocol: ProtocolNVMe, NVMe: &NVMeHealth{PercentageUsed: 104, AvailableSpare: 100}},
			model.HealthWarning, "endurance"},
		{"newest self-test failed", Report{Protocol: ProtocolATA, OverallPassed: boolp(true),
			SelfTests: []SelfTest{{Type: "extended", Status: "Completed: read failure", Failed: true}, {Type: "short"}}},
			model.HealthWarning, "read failure"},
		{"older self-test failed only", Report{Protocol: ProtocolATA, OverallPassed: boolp(true),
			SelfTests: []SelfTest{{Type: "short"}, {Type: "extended", Failed: true}}}, model.HealthOK, ""},
		{"standby: not read", Report{Protocol: ProtocolATA, PowerMode: "standby", Skipped: "in standby"}, model.HealthUnknown, "standby"},
		{"no health data", Report{}, model.HealthUnknown, "no SMART"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.r
			r.Finish()
			c := r.Component()
			if c.Health != tt.want {
				t.Errorf("health %s, want %s (conditions %+v)", c.Health, tt.want, c.Conditions)
			}
			if tt.msg != "" {
				found := false
				for _, cd := range c.Conditions {
					found = found || strings.Contains(cd.Message, tt.msg)
				}
				if !found {
					t.Errorf("no condition mentions %q: %+v", tt.msg, c.Conditions)
				}
			}
		})
	}
}

// A drive with no serial is named by its WWN, then its device, so that its
// id stays stable across scans.
func TestComponentID(t *testing.T) {
	for _, c := range []struct {
		r    Report
		want string
	}{
		{Report{Serial: "ZA1", WWN: "5 000c50 0a", Device: "/dev/sda"}, "ZA1"},
		{Report{Serial: "--", WWN: "5 000c50 0a", Device: "/dev/sda"}, "wwn-5 000c50 0a"},
		{Report{Device: "/dev/sda", Origin: "x.json"}, "/dev/sda"},
	} {
		if got := c.r.Component().ID; got != c.want {
			t.Errorf("id %q, want %q", got, c.want)
		}
	}
}
