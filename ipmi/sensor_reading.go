package ipmi

import (
	"fmt"
	"strings"

	"github.com/prefail/prefail/model"
)

// SensorReading is a Get Sensor Reading response (IPMI v2.0 §35.14,
// Table 35-15).
type SensorReading struct {
	Raw uint8
	// Byte 2: bit 7 clear = event messages disabled, bit 6 clear =
	// scanning disabled, bit 5 set = reading/state unavailable.
	EventMessagesDisabled, ScanningDisabled, Unavailable bool
	// States: byte 3 (threshold comparison status, or discrete states
	// 0-7) and byte 4 (discrete states 8-14). HasStates is false when the
	// BMC sent neither.
	States    uint16
	HasStates bool
}

// ParseSensorReading decodes the response data after the completion
// code. BMCs send 2 to 4 bytes: byte 4 is optional, and some omit byte 3
// of a sensor with no states.
func ParseSensorReading(data []byte) (SensorReading, error) {
	if len(data) < 2 {
		return SensorReading{}, errShort("Get Sensor Reading", len(data), 2)
	}
	r := SensorReading{
		Raw:                   data[0],
		EventMessagesDisabled: data[1]&0x80 == 0,
		ScanningDisabled:      data[1]&0x40 == 0,
		Unavailable:           data[1]&0x20 != 0,
	}
	if len(data) >= 3 {
		r.HasStates = true
		r.States = uint16(data[2])
		if len(data) >= 4 {
			r.States |= uint16(data[3]&0x7f) << 8
		}
	}
	return r, nil
}

// sensorKind maps a sensor type to a component kind.
func sensorKind(s *SDR) model.Kind {
	switch s.SensorType {
	case 0x01:
		return model.KindTemperature
	case 0x02:
		return model.KindVoltage
	case 0x03:
		return model.KindCurrent
	case 0x04:
		return model.KindFan
	case 0x08, 0x09:
		if s.IsThreshold() {
			if u, _ := s.Unit(); u == "W" {
				return model.KindPower
			}
		}
		return model.KindPSU
	case 0x07:
		return model.KindProcessor
	case 0x0c:
		return model.KindMemory
	case 0x0d:
		return model.KindDrive
	case 0x29:
		return model.KindBattery
	}
	if s.IsThreshold() {
		if u, _ := s.Unit(); u == "W" {
			return model.KindPower
		}
	}
	return model.KindSensor
}

// readingName names what a threshold sensor measures.
func readingName(s *SDR) string {
	u, text := s.Unit()
	switch u {
	case "Cel", "[degF]", "K":
		return "temperature"
	case "RPM":
		return "speed"
	case "V":
		return "voltage"
	case "A":
		return "current"
	case "W":
		return "power"
	case "%":
		if s.SensorType == 0x04 {
			return "speed"
		}
		return "percent"
	}
	return strings.ReplaceAll(text, " ", "_")
}

// Threshold comparison status bits (byte 3 of a threshold sensor's
// reading, §35.14): at or below LNC, LC, LNR; at or above UNC, UC, UNR.
func thresholdStatusText() [6]string {
	return [6]string{"at or below Lower Non-critical", "at or below Lower Critical", "at or below Lower Non-recoverable",
		"at or above Upper Non-critical", "at or above Upper Critical", "at or above Upper Non-recoverable"}
}

// SensorComponent turns an SDR and its reading into a component. rd is
// nil when the reading failed (readErr says why). The BMC's own verdict
// is interpreted here, strictly: the non-critical band is a warning (a
// FreeIPMI default maps it to Nominal), and a reading that is
// unavailable, not scanned or not read is unknown, never ok.
func SensorComponent(s *SDR, rd *SensorReading, readErr error) (c model.Component) {
	c = model.Component{
		Kind:     sensorKind(s),
		ID:       s.ID(),
		Name:     s.Name,
		Location: s.EntityName(),
		Source:   fmt.Sprintf("sdr 0x%04x sensor 0x%02x", s.RecordID, s.Number),
	}
	if c.Name == "" {
		c.Name = fmt.Sprintf("%s #0x%02x", sensorTypeName(s.SensorType), s.Number)
	}
	var reading *model.Reading
	if s.IsThreshold() {
		u, _ := s.Unit()
		reading = &model.Reading{Name: readingName(s), Unit: u, Thresholds: s.Thresholds(), Source: c.Source}
		defer func() { c.Readings = []model.Reading{*reading} }()
	}
	switch {
	case readErr != nil:
		c.Health = model.HealthUnknown
		if completionCodeIs(readErr, ccNotPresent) {
			c.Health = model.HealthAbsent
			c.State = "not present"
		}
		c.Conditions = append(c.Conditions, model.Condition{Message: "no reading: " + readErr.Error(), Severity: model.SeverityWarning})
		return c
	case rd == nil:
		c.Health = model.HealthUnknown
		c.Conditions = append(c.Conditions, model.Condition{Message: "no reading", Severity: model.SeverityWarning})
		return c
	case rd.ScanningDisabled:
		c.Health = model.HealthUnknown
		c.State = "scanning disabled"
		c.Conditions = append(c.Conditions, model.Condition{Message: "sensor scanning disabled", Severity: model.SeverityWarning})
		return c
	case rd.Unavailable:
		c.Health = model.HealthUnknown
		c.State = "reading unavailable"
		c.Conditions = append(c.Conditions, model.Condition{Message: "reading unavailable", Severity: model.SeverityWarning})
		return c
	}
	if s.IsThreshold() {
		if v, ok := s.Convert(rd.Raw); ok {
			reading.Value = &v
		}
		c.Health = model.HealthOK
		c.State = "ok"
		if !rd.HasStates {
			return c
		}
		st := rd.States & 0x3f
		for i, text := range thresholdStatusText() {
			if st&(1<<i) == 0 {
				continue
			}
			sev := model.SeverityCritical
			if i == 0 || i == 3 {
				sev = model.SeverityWarning
			}
			c.Conditions = append(c.Conditions, model.Condition{Message: text, Severity: sev})
		}
		switch {
		case st&0x24 != 0: // LNR, UNR
			c.Health, c.State = model.HealthCritical, "non-recoverable"
		case st&0x12 != 0: // LC, UC
			c.Health, c.State = model.HealthCritical, "critical"
		case st&0x09 != 0: // LNC, UNC
			c.Health, c.State = model.HealthWarning, "non-critical"
		}
		return c
	}
	return discreteHealth(s, rd, c)
}

// discreteHealth decodes a discrete sensor's asserted states.
func discreteHealth(s *SDR, rd *SensorReading, c model.Component) model.Component {
	c.Health = model.HealthOK
	if !rd.HasStates {
		c.State = "no states"
		return c
	}
	var states []string
	worst := model.SeverityInfo
	for off := uint8(0); off < 15; off++ {
		if rd.States&(1<<off) == 0 {
			continue
		}
		text, sev, ok := eventOffset(s.EventReadingType, s.SensorType, off)
		if !ok {
			text, sev = fmt.Sprintf("state %d", off), model.SeverityInfo
		}
		states = append(states, text)
		if sev != model.SeverityInfo {
			c.Conditions = append(c.Conditions, model.Condition{Message: text, Severity: sev})
		}
		if severityRank(sev) > severityRank(worst) {
			worst = sev
		}
	}
	c.State = strings.Join(states, ", ")
	switch worst {
	case model.SeverityCritical:
		c.Health = model.HealthCritical
	case model.SeverityWarning:
		c.Health = model.HealthWarning
	}
	// Redundancy sensors: only "Fully Redundant" is ok.
	if s.EventReadingType == eventTypeRedundancy && rd.States&0x01 == 0 && c.Health == model.HealthOK && rd.States != 0 {
		c.Health = model.HealthWarning
	}
	if off, ok := presenceOffset(s.EventReadingType, s.SensorType); ok && c.Health == model.HealthOK {
		supported := s.ReadingMask == 0 || s.ReadingMask&(1<<off) != 0
		if supported && rd.States&(1<<off) == 0 {
			c.Health = model.HealthAbsent
			if c.State == "" {
				c.State = "absent"
			}
		}
	}
	if c.State == "" {
		c.State = "no state asserted"
	}
	return c
}

func severityRank(s model.Severity) int {
	switch s {
	case model.SeverityCritical:
		return 2
	case model.SeverityWarning:
		return 1
	}
	return 0
}
