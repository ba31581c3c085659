// Package model is the hardware model shared by every reader (redfish, ipmi,
// smart) and by the detector. It has no dependencies beyond the standard
// library, so that the detector can consume snapshots from any reader and a
// reader can be used without pulling in the others.
//
// The JSON form of these types is the stable schema of `prefail scan --json`
// (documented in docs/json-schema.md): fields are only ever added.
package model

import (
	"encoding/json"
	"time"
)

// Kind says what sort of part a component is.
type Kind string

// Component kinds. Readers may add kinds; consumers must tolerate unknown ones.
const (
	KindChassis     Kind = "chassis"
	KindSystem      Kind = "system"
	KindBMC         Kind = "bmc"
	KindPSU         Kind = "psu"
	KindFan         Kind = "fan"
	KindTemperature Kind = "temperature"
	KindVoltage     Kind = "voltage"
	KindCurrent     Kind = "current"
	KindPower       Kind = "power"
	KindDrive       Kind = "drive"
	KindMemory      Kind = "memory"
	KindProcessor   Kind = "processor"
	KindStorage     Kind = "storage_controller"
	KindBattery     Kind = "battery"
	KindSensor      Kind = "sensor" // a sensor of a type with no kind of its own (humidity, frequency, ...)
)

// Health is the verdict of the BMC (or drive) itself, normalized. It is not
// prefail's prediction: that is the detector's job.
type Health string

// Health values. Absent and unknown are never ok: a missing PSU or a sensor
// that cannot be read must not pass as healthy.
const (
	HealthOK       Health = "ok"
	HealthWarning  Health = "warning"
	HealthCritical Health = "critical"
	HealthAbsent   Health = "absent"
	HealthUnknown  Health = "unknown"
)

// Severity returns a rank for sorting worst-first: critical > warning >
// unknown > absent > ok. An unrecognized value ranks as unknown.
func (h Health) Severity() int {
	switch h {
	case HealthOK:
		return 0
	case HealthAbsent:
		return 1
	case HealthWarning:
		return 3
	case HealthCritical:
		return 4
	default:
		return 2
	}
}

// Worst returns the worse of two health values.
func Worst(a, b Health) Health {
	if b.Severity() > a.Severity() {
		return b
	}
	return a
}

// Thresholds are the limits the BMC or drive applies to a reading. A nil
// field means the source did not give that limit.
type Thresholds struct {
	LowerNonCritical *float64 `json:"lower_non_critical,omitempty"`
	UpperNonCritical *float64 `json:"upper_non_critical,omitempty"`
	LowerCritical    *float64 `json:"lower_critical,omitempty"`
	UpperCritical    *float64 `json:"upper_critical,omitempty"`
	LowerFatal       *float64 `json:"lower_fatal,omitempty"`
	UpperFatal       *float64 `json:"upper_fatal,omitempty"`
}

// IsZero reports whether no threshold is set.
func (t Thresholds) IsZero() bool {
	return t.LowerNonCritical == nil && t.UpperNonCritical == nil && t.LowerCritical == nil &&
		t.UpperCritical == nil && t.LowerFatal == nil && t.UpperFatal == nil
}

// Reading is one measured value of a component.
type Reading struct {
	// Name says what is measured, in snake case: "temperature", "speed",
	// "input_power", "output_power", "input_voltage", "media_life_left", ...
	Name string `json:"name"`
	// Value is nil when the source reported the reading as unavailable.
	Value *float64 `json:"value"`
	// Unit is a UCUM-style unit as Redfish uses: "Cel", "RPM", "%", "V", "A", "W", "Wh", "Hz", "h".
	Unit       string      `json:"unit,omitempty"`
	Thresholds *Thresholds `json:"thresholds,omitempty"`
	// Source is where the value came from (a URL, a sensor number).
	Source string `json:"source,omitempty"`
}

// Inventory is the identity and lifecycle data of a part.
type Inventory struct {
	Manufacturer    string `json:"manufacturer,omitempty"`
	Model           string `json:"model,omitempty"`
	SerialNumber    string `json:"serial_number,omitempty"`
	PartNumber      string `json:"part_number,omitempty"`
	FirmwareVersion string `json:"firmware_version,omitempty"`
	// ManufactureDate is kept as the source printed it (formats vary).
	ManufactureDate string `json:"manufacture_date,omitempty"`
	// PowerOnHours is the age where the part reports it.
	PowerOnHours  *float64 `json:"power_on_hours,omitempty"`
	CapacityBytes int64    `json:"capacity_bytes,omitempty"`
	// MediaType of a drive: "HDD", "SSD".
	MediaType string `json:"media_type,omitempty"`
	// Protocol of a drive: "SATA", "SAS", "NVMe".
	Protocol string `json:"protocol,omitempty"`
}

// IsZero reports whether nothing is known.
func (i Inventory) IsZero() bool { return i == (Inventory{}) }

// Component is one part of a server as one scan saw it.
type Component struct {
	Kind Kind `json:"kind"`
	// ID is stable across scans of the same target (for Redfish, the
	// resource's @odata.id; for IPMI, the sensor's owner/LUN/number).
	ID   string `json:"id"`
	Name string `json:"name"`
	// Location is a human place ("PSU 1", "Bay 3") where the source gives one.
	Location string `json:"location,omitempty"`
	// Chassis is the ID of the enclosure the part is in, if known.
	Chassis string `json:"chassis,omitempty"`
	// Health is the source's own verdict; State is its raw state string
	// ("Enabled", "Absent", ...) kept for reasons.
	Health Health `json:"health"`
	State  string `json:"state,omitempty"`
	// Conditions are the active condition messages the source attached
	// (Redfish Status.Conditions, IPMI discrete sensor states).
	Conditions []Condition `json:"conditions,omitempty"`
	// FailurePredicted is the part's own predictive flag where it has one
	// (Redfish Drive.FailurePredicted, SMART status).
	FailurePredicted *bool     `json:"failure_predicted,omitempty"`
	Readings         []Reading `json:"readings,omitempty"`
	Inventory        Inventory `json:"inventory,omitzero"`
	// Source is the URL or command the component was read from.
	Source string `json:"source,omitempty"`
}

// Reading returns the named reading, or false.
func (c *Component) Reading(name string) (Reading, bool) {
	for _, r := range c.Readings {
		if r.Name == name {
			return r, true
		}
	}
	return Reading{}, false
}

// Condition is an active condition on a component.
type Condition struct {
	MessageID string    `json:"message_id,omitempty"`
	Message   string    `json:"message"`
	Severity  Severity  `json:"severity,omitempty"`
	Time      time.Time `json:"time,omitzero"`
}

// RedundancyGroup is a set of parts of which some number must work.
type RedundancyGroup struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Kind of the members (psu, fan).
	Kind Kind   `json:"kind"`
	Mode string `json:"mode,omitempty"` // "N+m", "Redundant", "Sharing", ...
	// MinNeeded members must be healthy for the group to be redundant
	// (Redfish MinNeededInGroup / MinNumNeeded).
	MinNeeded int `json:"min_needed,omitempty"`
	// Members are component IDs. Healthy counts those whose health is ok;
	// Working also counts those in warning (a PSU with a predicted failure
	// still carries load).
	Members []string `json:"members,omitempty"`
	Healthy int      `json:"healthy"`
	Working int      `json:"working"`
	// Redundant: at least MinNeeded members are healthy. When the members
	// cannot be resolved (a BMC that lists empty references), this and
	// Health are the BMC's own verdict.
	Redundant bool   `json:"redundant"`
	Health    Health `json:"health"`
	// Derived is true when prefail computed the group (from present vs
	// required parts) because the source reported none.
	Derived bool `json:"derived,omitempty"`
}

// Severity of an event.
type Severity string

// Event severities.
const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// Event is one normalized log entry (Redfish LogEntry, IPMI SEL record).
type Event struct {
	// Time is zero when the source gave none (IPMI pre-init timestamps).
	Time     time.Time `json:"time,omitzero"`
	Severity Severity  `json:"severity"`
	// Component is the ID of the component the event concerns, when it
	// could be matched; SensorType and SensorName say what the source named.
	Component  string `json:"component,omitempty"`
	SensorType string `json:"sensor_type,omitempty"`
	SensorName string `json:"sensor_name,omitempty"`
	Message    string `json:"message"`
	MessageID  string `json:"message_id,omitempty"`
	// Code is the source's event code (Redfish EntryCode, IPMI event type/offset).
	Code string `json:"code,omitempty"`
	// Asserted is false for a deassertion (the condition went away), nil
	// when the source does not say.
	Asserted *bool `json:"asserted,omitempty"`
	// Active, for an assertion, says whether its condition still holds as
	// far as the log tells: false once a later deassertion of the same
	// sensor and state pairs with it. Nil when the source cannot pair
	// (Redfish logs, OEM records).
	Active *bool `json:"active,omitempty"`
	// PairedWith is the record id of the matching assertion/deassertion.
	PairedWith string `json:"paired_with,omitempty"`
	// ID is the source's record id, Source the log it came from.
	ID     string `json:"id,omitempty"`
	Source string `json:"source,omitempty"`
	// Raw is the record as the source sent it.
	Raw json.RawMessage `json:"raw,omitempty"`
}

// Warning says what could not be read and why. A warning never hides the
// rest of the scan.
type Warning struct {
	// Source is the URL, command or record the problem concerns.
	Source  string `json:"source"`
	Message string `json:"message"`
}

// Snapshot is everything one scan of one target saw.
type Snapshot struct {
	Target     string            `json:"target"`
	Time       time.Time         `json:"time"`
	Components []Component       `json:"components"`
	Redundancy []RedundancyGroup `json:"redundancy,omitempty"`
	Events     []Event           `json:"events"`
	Warnings   []Warning         `json:"warnings"`
	// Requests is the number of protocol requests the scan cost
	// (HTTP requests, IPMI commands, ioctls), login and logout included.
	Requests int `json:"requests"`
}

// Worst returns the worst component health in the snapshot.
//
// A snapshot without components is unknown, never ok: a BMC that answers
// with an empty tree says nothing about the server's health.
func (s *Snapshot) Worst() Health {
	if len(s.Components) == 0 {
		return HealthUnknown
	}
	w := HealthOK
	for _, c := range s.Components {
		w = Worst(w, c.Health)
	}
	return w
}

// Count returns how many components of kind k the snapshot has.
func (s *Snapshot) Count(k Kind) int {
	n := 0
	for _, c := range s.Components {
		if c.Kind == k {
			n++
		}
	}
	return n
}

// Float returns a pointer to v, for building readings and thresholds.
func Float(v float64) *float64 { return &v }
