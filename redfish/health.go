package redfish

import (
	"strings"
	"time"

	"github.com/prefail/prefail/model"
)

// status maps a Redfish Status object to the model's health. A part whose
// State is Absent is absent whatever its Health says; a missing or null
// Health is unknown, never ok (DSP0268 Resource.Status: Health may be null
// when the service cannot determine it).
func status(n node) (model.Health, string, []model.Condition) {
	st := n.obj("Status")
	if !st.ok() {
		return model.HealthUnknown, "", nil
	}
	state := st.str("State")
	var conds []model.Condition
	for _, c := range st.list("Conditions") {
		cond := model.Condition{MessageID: c.str("MessageId"), Message: c.str("Message"), Severity: severity(c.str("Severity"))}
		if t, ok := parseTime(c.str("Timestamp")); ok {
			cond.Time = t
		}
		conds = append(conds, cond)
	}
	if strings.EqualFold(state, "Absent") {
		return model.HealthAbsent, state, conds
	}
	h := healthValue(st.str("Health"))
	if h == model.HealthOK && (strings.EqualFold(state, "UnavailableOffline") || strings.EqualFold(state, "Deferring")) {
		// Present but not in service: the BMC's "OK" is about the part, not
		// about it doing its job.
		h = model.HealthUnknown
	}
	return h, state, conds
}

func healthValue(s string) model.Health {
	switch strings.ToLower(s) {
	case "ok":
		return model.HealthOK
	case "warning":
		return model.HealthWarning
	case "critical":
		return model.HealthCritical
	}
	return model.HealthUnknown
}

func severity(s string) model.Severity {
	switch strings.ToLower(s) {
	case "critical":
		return model.SeverityCritical
	case "warning":
		return model.SeverityWarning
	}
	return model.SeverityInfo
}

// parseTime accepts RFC 3339 and the near misses BMCs send (no zone, a
// space instead of T).
func parseTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	if strings.HasPrefix(s, "0000-") {
		// iLO's "0000-00-00T00:00:00Z": logged before the clock was set.
		// A known unknown, not a malformed value.
		return time.Time{}, true
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// sensorThresholds reads a Sensor's Thresholds object (Sensor.v1):
// Caution maps to non-critical. The *User variants are used where the
// standard one is not given.
func sensorThresholds(sn node) *model.Thresholds {
	th := sn.obj("Thresholds")
	if !th.ok() {
		return nil
	}
	get := func(key string) *float64 {
		if v := th.obj(key).num("Reading"); v != nil {
			return v
		}
		return th.obj(key + "User").num("Reading")
	}
	t := model.Thresholds{
		LowerNonCritical: get("LowerCaution"), UpperNonCritical: get("UpperCaution"),
		LowerCritical: get("LowerCritical"), UpperCritical: get("UpperCritical"),
		LowerFatal: get("LowerFatal"), UpperFatal: get("UpperFatal"),
	}
	if t.IsZero() {
		return nil
	}
	return &t
}

// legacyThresholds reads the Thermal/Power v1 threshold properties.
func legacyThresholds(n node) *model.Thresholds {
	t := model.Thresholds{
		LowerNonCritical: n.num("LowerThresholdNonCritical"), UpperNonCritical: n.num("UpperThresholdNonCritical"),
		LowerCritical: n.num("LowerThresholdCritical"), UpperCritical: n.num("UpperThresholdCritical"),
		LowerFatal: n.num("LowerThresholdFatal"), UpperFatal: n.num("UpperThresholdFatal"),
	}
	if t.IsZero() {
		return nil
	}
	return &t
}
