package ipmisim

import (
	"fmt"
	"strconv"
	"strings"
)

// IpmitoolSensor is one line of `ipmitool sensor`.
type IpmitoolSensor struct {
	Name   string
	Value  *float64 // nil for "na"; discrete sensors give their state word
	Unit   string   // "degrees C", "RPM", "Volts", "discrete", ...
	Status string   // ok, nc, cr, nr, na, or the discrete state (0x0180)
	// Thresholds in ipmitool's column order: LNR, LC, LNC, UNC, UC, UNR.
	Thresholds [6]*float64
}

// ParseIpmitoolSensor parses `ipmitool sensor` output (10 columns split
// by '|').
func ParseIpmitoolSensor(text string) ([]IpmitoolSensor, error) {
	var out []IpmitoolSensor
	for i, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(line, "|")
		if len(f) < 10 {
			return out, fmt.Errorf("ipmitool sensor line %d: %d columns, want 10: %q", i+1, len(f), line)
		}
		for j := range f {
			f[j] = strings.TrimSpace(f[j])
		}
		s := IpmitoolSensor{Name: f[0], Unit: f[2], Status: f[3]}
		if s.Unit != "discrete" {
			s.Value = num(f[1])
		}
		for j := 0; j < 6; j++ {
			s.Thresholds[j] = num(f[4+j])
		}
		out = append(out, s)
	}
	return out, nil
}

func num(s string) *float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil
	}
	return &v
}

// IpmitoolSEL is one line of `ipmitool sel elist`.
type IpmitoolSEL struct {
	ID       int
	Sensor   string // "Temperature CPU1 Temp", "Power Supply #0x01"
	Event    string // "Upper Critical going high"
	Asserted bool
	Detail   string // "Reading 92 > Threshold 90 degrees C", if any
	OEM      bool   // OEM records print differently
}

// ParseIpmitoolSELElist parses `ipmitool sel elist` output.
func ParseIpmitoolSELElist(text string) ([]IpmitoolSEL, error) {
	var out []IpmitoolSEL
	for i, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(line, "|")
		for j := range f {
			f[j] = strings.TrimSpace(f[j])
		}
		if len(f) < 2 {
			return out, fmt.Errorf("ipmitool sel line %d: %q", i+1, line)
		}
		id, err := strconv.ParseInt(f[0], 16, 32)
		if err != nil {
			return out, fmt.Errorf("ipmitool sel line %d: id %q", i+1, f[0])
		}
		e := IpmitoolSEL{ID: int(id)}
		if len(f) < 6 || (f[len(f)-1] != "Asserted" && f[len(f)-1] != "Deasserted" && (len(f) < 7 || (f[5] != "Asserted" && f[5] != "Deasserted"))) {
			e.OEM = true
			e.Sensor = strings.Join(f[1:], " | ")
			out = append(out, e)
			continue
		}
		e.Sensor, e.Event = f[3], f[4]
		e.Asserted = f[5] == "Asserted"
		if len(f) > 6 {
			e.Detail = f[6]
		}
		out = append(out, e)
	}
	return out, nil
}
