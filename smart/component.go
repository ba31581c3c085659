package smart

import (
	"cmp"
	"fmt"
	"strconv"

	"github.com/prefail/prefail/model"
)

// Component maps the report into the shared model: one drive component
// whose Health is the drive's own verdict, as smartctl would give it, and
// whose Readings carry every counter the detector scores.
//
// The verdict:
//   - critical: the overall self-assessment failed (ATA SMART RETURN STATUS
//     "threshold exceeded", any NVMe critical warning bit, a SCSI
//     informational exception), or an ATA attribute is at or below its
//     threshold now (smartctl's FAILING_NOW);
//   - warning: an attribute crossed its threshold in the past, the newest
//     self-test failed, or an NVMe drive has used up its rated endurance;
//   - unknown: the drive was not read (standby, no SMART, a failed probe);
//   - ok otherwise. Counters that merely grew (reallocated sectors, media
//     errors) do not change the verdict: scoring them is the detector's job.
func (r *Report) Component() model.Component {
	c := model.Component{
		Kind:     model.KindDrive,
		ID:       r.componentID(),
		Name:     cmp.Or(r.Model, r.Device, r.Origin),
		Location: r.Device,
		Source:   cmp.Or(r.Origin, r.Device),
		Inventory: model.Inventory{
			Manufacturer:    r.Vendor,
			Model:           r.Model,
			SerialNumber:    r.Serial,
			FirmwareVersion: r.Firmware,
			PowerOnHours:    r.PowerOnHours,
			CapacityBytes:   r.CapacityBytes,
			MediaType:       r.mediaType(),
			Protocol:        r.inventoryProtocol(),
		},
	}
	if r.OverallPassed != nil {
		fp := !*r.OverallPassed
		c.FailurePredicted = &fp
	}
	c.Health, c.State, c.Conditions = r.verdict()
	c.Readings = r.readings()
	return c
}

// componentID is stable across scans and sources: the serial number (as
// Backblaze and Redfish name drives), else the WWN, else the device path.
func (r *Report) componentID() string {
	if r.Serial != "" && r.Serial != "--" {
		return r.Serial
	}
	if r.WWN != "" {
		return "wwn-" + r.WWN
	}
	return cmp.Or(r.Device, r.Origin)
}

func (r *Report) mediaType() string {
	switch {
	case r.Protocol == ProtocolNVMe:
		return "SSD"
	case r.RotationRPM == nil:
		return ""
	case *r.RotationRPM == 0:
		return "SSD"
	default:
		return "HDD"
	}
}

func (r *Report) inventoryProtocol() string {
	switch r.Protocol {
	case ProtocolNVMe:
		return "NVMe"
	case ProtocolSCSI:
		return "SAS"
	case ProtocolATA:
		return "SATA"
	}
	return r.Transport
}

func (r *Report) verdict() (model.Health, string, []model.Condition) {
	if r.Skipped != "" {
		return model.HealthUnknown, r.PowerMode, []model.Condition{{Message: r.Skipped, Severity: model.SeverityInfo}}
	}
	if r.Protocol == "" {
		return model.HealthUnknown, "", []model.Condition{{Message: "no SMART health data read", Severity: model.SeverityWarning}}
	}
	h := model.HealthOK
	var conds []model.Condition
	add := func(hh model.Health, msg string) {
		h = model.Worst(h, hh)
		sev := model.SeverityWarning
		if hh == model.HealthCritical {
			sev = model.SeverityCritical
		}
		conds = append(conds, model.Condition{Message: msg, Severity: sev})
	}
	if r.OverallPassed != nil && !*r.OverallPassed {
		add(model.HealthCritical, "SMART overall-health self-assessment: FAILED")
	}
	if a := r.ATA; a != nil {
		for _, at := range a.Attributes {
			switch at.WhenFailed {
			case "now":
				add(model.HealthCritical, fmt.Sprintf("attribute %d %s failing now: value %d <= threshold %d", at.ID, at.Name, at.Value, deref(at.Threshold)))
			case "past":
				add(model.HealthWarning, fmt.Sprintf("attribute %d %s failed in the past: worst %d <= threshold %d", at.ID, at.Name, at.Worst, deref(at.Threshold)))
			}
		}
	}
	if n := r.NVMe; n != nil {
		for _, w := range nvmeWarningTexts(n.CriticalWarning) {
			add(model.HealthCritical, "NVMe critical warning: "+w)
		}
		if n.PercentageUsed >= 100 {
			add(model.HealthWarning, fmt.Sprintf("NVMe percentage used %d%%: rated endurance consumed", n.PercentageUsed))
		}
	}
	if s := r.SCSI; s != nil && s.IEASC != nil && *s.IEASC != 0 {
		add(model.HealthCritical, "SCSI informational exception: "+s.HealthStatus)
	}
	if len(r.SelfTests) > 0 && r.SelfTests[0].Failed {
		t := r.SelfTests[0]
		msg := fmt.Sprintf("newest self-test (%s) failed: %s", t.Type, t.Status)
		if t.LifetimeHours != nil {
			msg += fmt.Sprintf(" at %d h", *t.LifetimeHours)
		}
		if t.FailingLBA != nil {
			msg += fmt.Sprintf(", first error at LBA %d", *t.FailingLBA)
		}
		add(model.HealthWarning, msg)
	}
	return h, "", conds
}

// lifetimeLimit is a specified lifetime count as an upper threshold. SSDs
// report 0 ("no limit": they have no heads to load), which is no threshold.
func lifetimeLimit(spec *uint64) *model.Thresholds {
	if spec == nil || *spec == 0 {
		return nil
	}
	return &model.Thresholds{UpperCritical: model.Float(float64(*spec))}
}

func deref[T any](p *T) T {
	var z T
	if p == nil {
		return z
	}
	return *p
}

// nvmeWarningTexts names the set critical warning bits as smartctl does.
func nvmeWarningTexts(cw uint8) []string {
	names := []string{
		"available spare has fallen below threshold",
		"temperature is above or below threshold",
		"reliability has been degraded",
		"media has been placed in read only mode",
		"volatile memory backup device has failed",
		"persistent memory region has become read-only or unreliable",
	}
	var out []string
	for i, n := range names {
		if cw&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	if cw&0xc0 != 0 {
		out = append(out, fmt.Sprintf("reserved bits 0x%02x", cw&0xc0))
	}
	return out
}

// Reading names. The ATA attributes are named as the Backblaze Drive Stats
// columns are (smart_5_raw, smart_5_normalized), so that a live drive, a
// capture and a Backblaze row feed the detector the same signals.
const (
	ReadingTemperature     = "temperature"
	ReadingPowerOnHours    = "power_on_hours"
	ReadingPowerCycles     = "power_cycles"
	ReadingErrorLogCount   = "error_log_count"
	ReadingSelfTestsFailed = "self_tests_failed"

	ReadingCriticalWarning  = "critical_warning"
	ReadingAvailableSpare   = "available_spare"
	ReadingPercentageUsed   = "percentage_used"
	ReadingMediaErrors      = "media_errors"
	ReadingErrorLogEntries  = "error_log_entries"
	ReadingUnsafeShutdowns  = "unsafe_shutdowns"
	ReadingDataUnitsRead    = "data_units_read"
	ReadingDataUnitsWritten = "data_units_written"

	ReadingGrownDefects      = "grown_defects"
	ReadingReadUncorrected   = "read_uncorrected_errors"
	ReadingWriteUncorrected  = "write_uncorrected_errors"
	ReadingVerifyUncorrected = "verify_uncorrected_errors"
	ReadingNonMediumErrors   = "non_medium_errors"
	ReadingStartStopCycles   = "start_stop_cycles"
	ReadingLoadUnloadCycles  = "load_unload_cycles"
)

// AttributeRawReading and AttributeNormalizedReading name an ATA
// attribute's readings.
func AttributeRawReading(id uint8) string { return "smart_" + strconv.Itoa(int(id)) + "_raw" }

// AttributeNormalizedReading: see AttributeRawReading.
func AttributeNormalizedReading(id uint8) string {
	return "smart_" + strconv.Itoa(int(id)) + "_normalized"
}

func (r *Report) readings() []model.Reading {
	var out []model.Reading
	src := string(r.Protocol)
	num := func(name string, v float64, unit string, th *model.Thresholds, source string) {
		out = append(out, model.Reading{Name: name, Value: model.Float(v), Unit: unit, Thresholds: th, Source: source})
	}
	if r.Temperature != nil {
		var th *model.Thresholds
		if s := r.SCSI; s != nil && s.TripTemperature != nil {
			th = &model.Thresholds{UpperCritical: model.Float(*s.TripTemperature)}
		}
		num(ReadingTemperature, *r.Temperature, "Cel", th, src)
	}
	if r.PowerOnHours != nil {
		num(ReadingPowerOnHours, *r.PowerOnHours, "h", nil, src)
	}
	if r.PowerCycles != nil {
		num(ReadingPowerCycles, float64(*r.PowerCycles), "", nil, src)
	}
	if r.ErrorLogCount != nil {
		num(ReadingErrorLogCount, float64(*r.ErrorLogCount), "", nil, src+" error log")
	}
	if len(r.SelfTests) > 0 {
		n := 0
		for _, t := range r.SelfTests {
			if t.Failed {
				n++
			}
		}
		num(ReadingSelfTestsFailed, float64(n), "", nil, src+" self-test log")
	}
	if a := r.ATA; a != nil {
		for _, at := range a.Attributes {
			label := fmt.Sprintf("ATA attribute %d %s", at.ID, at.Name)
			if at.PreFail() {
				label += " (pre-fail)"
			}
			num(AttributeRawReading(at.ID), float64(at.Decoded), "", nil, label)
			var th *model.Thresholds
			if at.Threshold != nil && *at.Threshold > 0 {
				th = &model.Thresholds{LowerCritical: model.Float(float64(*at.Threshold))}
			}
			num(AttributeNormalizedReading(at.ID), float64(at.Value), "", th, label)
		}
	}
	if n := r.NVMe; n != nil {
		const s = "NVMe SMART/Health log"
		num(ReadingCriticalWarning, float64(n.CriticalWarning), "", &model.Thresholds{UpperCritical: model.Float(0)}, s)
		num(ReadingAvailableSpare, float64(n.AvailableSpare), "%", &model.Thresholds{LowerCritical: model.Float(float64(n.SpareThreshold))}, s)
		num(ReadingPercentageUsed, float64(n.PercentageUsed), "%", &model.Thresholds{UpperCritical: model.Float(100)}, s)
		num(ReadingMediaErrors, float64(n.MediaErrors), "", nil, s)
		num(ReadingErrorLogEntries, float64(n.ErrorLogEntries), "", nil, s)
		num(ReadingUnsafeShutdowns, float64(n.UnsafeShutdowns), "", nil, s)
		num(ReadingDataUnitsRead, float64(n.DataUnitsRead), "", nil, s)
		num(ReadingDataUnitsWritten, float64(n.DataUnitsWritten), "", nil, s)
	}
	if s := r.SCSI; s != nil {
		opt := func(name string, v *uint64, th *model.Thresholds, source string) {
			if v != nil {
				num(name, float64(*v), "", th, source)
			}
		}
		opt(ReadingGrownDefects, s.GrownDefects, nil, "SCSI grown defect list")
		for _, e := range []struct {
			name string
			c    *ErrorCounters
		}{{ReadingReadUncorrected, s.Read}, {ReadingWriteUncorrected, s.Write}, {ReadingVerifyUncorrected, s.Verify}} {
			if e.c != nil {
				num(e.name, float64(e.c.Uncorrected), "", nil, "SCSI error counter log")
			}
		}
		opt(ReadingNonMediumErrors, s.NonMediumErrors, nil, "SCSI non-medium error log")
		opt(ReadingStartStopCycles, s.StartStopCycles, lifetimeLimit(s.SpecifiedStartStopCycles), "SCSI start-stop cycle counter log")
		opt(ReadingLoadUnloadCycles, s.LoadUnloadCycles, lifetimeLimit(s.SpecifiedLoadUnloadCycles), "SCSI start-stop cycle counter log")
		if s.PercentageUsed != nil {
			num(ReadingPercentageUsed, float64(*s.PercentageUsed), "%", &model.Thresholds{UpperCritical: model.Float(100)}, "SCSI solid state media log")
		}
	}
	return out
}
