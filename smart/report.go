// Package smart reads a disk's own health data (SMART) and turns it into
// prefail's model: local SATA, NVMe and SAS/SCSI disks through the kernel's
// pass-through ioctls (on smart.go), and saved or live smartctl output (JSON
// and classic text), which is how users reach disks behind RAID controllers
// and USB bridges and their years of saved history.
//
// Every source first becomes a Report (what the drive said, nothing
// inferred); Report.Component maps it into a model.Component with the
// drive's own verdict. Decoders are pure functions over bytes so that
// recorded pages, captures and fuzzers exercise exactly the code a live scan
// runs.
package smart

import "time"

// Protocol is the command set a drive's health data was read with.
type Protocol string

// Protocols.
const (
	ProtocolATA  Protocol = "ATA"  // SATA/PATA, directly or through SAT (SCSI-ATA translation)
	ProtocolNVMe Protocol = "NVMe" // NVMe SMART / Health Information log
	ProtocolSCSI Protocol = "SCSI" // SAS/SCSI log pages
)

// Source says where a Report came from.
type Source string

// Sources.
const (
	SourceDevice       Source = "device"        // read live through ioctls
	SourceSmartctlJSON Source = "smartctl-json" // smartctl --json output
	SourceSmartctlText Source = "smartctl-text" // classic smartctl -a / -x output
)

// Report is what one drive said about its own health, read from one
// source. A field the source did not give is nil or empty: an absent
// counter is never reported as zero.
type Report struct {
	// Device is the device path (/dev/sda, /dev/nvme0) or, for a capture,
	// the device smartctl named; Origin is the file or command read.
	Device string `json:"device,omitempty"`
	Origin string `json:"origin,omitempty"`
	Source Source `json:"source"`
	// Protocol is empty when the source gave no health data at all.
	Protocol Protocol `json:"protocol,omitempty"`
	// Transport is the bus as the source named it ("SATA", "SAS", "NVMe",
	// "USB", "MegaRAID"), for inventory.
	Transport string `json:"transport,omitempty"`

	Model         string `json:"model,omitempty"`
	Family        string `json:"family,omitempty"` // the model family in smartctl's drive database
	Vendor        string `json:"vendor,omitempty"`
	Serial        string `json:"serial,omitempty"`
	Firmware      string `json:"firmware,omitempty"`
	WWN           string `json:"wwn,omitempty"`
	CapacityBytes int64  `json:"capacity_bytes,omitempty"`
	// RotationRPM is 0 for a solid-state device, nil when unknown.
	RotationRPM *int `json:"rotation_rpm,omitempty"`

	// SMARTAvailable/SMARTEnabled are nil when the source does not say.
	SMARTAvailable *bool `json:"smart_available,omitempty"`
	SMARTEnabled   *bool `json:"smart_enabled,omitempty"`

	// PowerMode is the ATA power mode found before reading ("active",
	// "idle", "standby", "sleep"), empty when not checked. A drive in
	// standby is not woken unless asked: Skipped then says so and no
	// health data is read.
	PowerMode string `json:"power_mode,omitempty"`
	Skipped   string `json:"skipped,omitempty"`

	// OverallPassed is the drive's overall self-assessment: ATA SMART
	// RETURN STATUS, NVMe critical warning == 0, SCSI informational
	// exceptions ASC == 0. Nil when it could not be read.
	OverallPassed *bool `json:"overall_passed,omitempty"`

	// Temperature in degrees Celsius, PowerOnHours and PowerCycles, from
	// whichever page carries them for the protocol.
	Temperature  *float64 `json:"temperature,omitempty"`
	PowerOnHours *float64 `json:"power_on_hours,omitempty"`
	PowerCycles  *uint64  `json:"power_cycles,omitempty"`

	ATA  *ATAHealth  `json:"ata,omitempty"`
	NVMe *NVMeHealth `json:"nvme,omitempty"`
	SCSI *SCSIHealth `json:"scsi,omitempty"`

	// ErrorLogCount is the device's error count (ATA SMART error log,
	// NVMe error information log entries), nil when not read.
	ErrorLogCount *uint64 `json:"error_log_count,omitempty"`
	// SelfTests is the self-test log, newest first.
	SelfTests []SelfTest `json:"self_tests,omitempty"`

	// Time is when the data was read (zero for a capture that says not).
	Time time.Time `json:"time,omitzero"`
	// Warnings say what could not be read or decoded; they never hide
	// the rest of the report.
	Warnings []string `json:"warnings,omitempty"`
}

// ATAHealth is the ATA SMART attribute table.
type ATAHealth struct {
	Attributes []Attribute `json:"attributes"`
	// Revision is the SMART data structure revision number.
	Revision int `json:"revision,omitempty"`
}

// Attribute is one ATA SMART attribute (ATA/ATAPI-8 SMART READ DATA, and
// the vendor conventions smartctl documents).
type Attribute struct {
	ID   uint8  `json:"id"`
	Name string `json:"name"`
	// Flags is the 16-bit flag word; bit 0 is pre-fail, bit 1 online.
	Flags     uint16 `json:"flags"`
	Value     uint8  `json:"value"`
	Worst     uint8  `json:"worst"`
	Threshold *uint8 `json:"threshold,omitempty"`
	// Raw is the 48-bit raw field as an integer, little-endian, exactly
	// as smartctl's JSON raw.value.
	Raw uint64 `json:"raw"`
	// Decoded is the raw field interpreted per attribute convention (hours
	// for 9, the low byte for temperatures, the error count for Seagate 1
	// and 7, ...); it equals Raw when the raw field is a plain counter.
	Decoded int64 `json:"decoded"`
	// RawString is the raw value as smartctl prints it, where known.
	RawString string `json:"raw_string,omitempty"`
	// WhenFailed: "" (never), "now" (value <= threshold), "past" (worst <=
	// threshold).
	WhenFailed string `json:"when_failed,omitempty"`
}

// PreFail reports whether the attribute is a pre-failure one: crossing its
// threshold means the drive predicts its own failure.
func (a Attribute) PreFail() bool { return a.Flags&0x1 != 0 }

// NVMeHealth is the NVMe SMART / Health Information log (NVM Express Base
// Specification 2.0, 5.16.1.3, log identifier 02h).
type NVMeHealth struct {
	CriticalWarning uint8 `json:"critical_warning"`
	// Temperature is the composite temperature in degrees Celsius.
	Temperature           float64 `json:"temperature"`
	AvailableSpare        uint8   `json:"available_spare"`
	SpareThreshold        uint8   `json:"available_spare_threshold"`
	PercentageUsed        uint8   `json:"percentage_used"`
	DataUnitsRead         uint64  `json:"data_units_read"`
	DataUnitsWritten      uint64  `json:"data_units_written"`
	HostReads             uint64  `json:"host_reads"`
	HostWrites            uint64  `json:"host_writes"`
	ControllerBusyMinutes uint64  `json:"controller_busy_time"`
	PowerCycles           uint64  `json:"power_cycles"`
	PowerOnHours          uint64  `json:"power_on_hours"`
	UnsafeShutdowns       uint64  `json:"unsafe_shutdowns"`
	MediaErrors           uint64  `json:"media_errors"`
	ErrorLogEntries       uint64  `json:"num_err_log_entries"`
	WarningTempMinutes    uint32  `json:"warning_temp_time"`
	CriticalTempMinutes   uint32  `json:"critical_comp_time"`
	// TemperatureSensors in degrees Celsius, for the sensors reported.
	TemperatureSensors []float64 `json:"temperature_sensors,omitempty"`
}

// NVMe critical warning bits (NVMe Base 2.0, Figure 207).
const (
	NVMeWarnSpare          = 1 << 0 // available spare below threshold
	NVMeWarnTemperature    = 1 << 1 // temperature outside a threshold
	NVMeWarnReliability    = 1 << 2 // reliability degraded by media or internal errors
	NVMeWarnReadOnly       = 1 << 3 // media placed in read-only mode
	NVMeWarnVolatileBackup = 1 << 4 // volatile memory backup device failed
	NVMeWarnPMR            = 1 << 5 // persistent memory region read-only or unreliable
)

// SCSIHealth is what the SAS/SCSI log pages say (SPC-5 7.3, SBC-4 6.5).
// Each field is nil when its page was not supported or not read.
type SCSIHealth struct {
	// InformationalExceptions (log page 2Fh): ASC/ASCQ of the most recent
	// exception; 0/0 means none. 5Dh is a failure prediction.
	IEASC  *uint8 `json:"ie_asc,omitempty"`
	IEASCQ *uint8 `json:"ie_ascq,omitempty"`
	// HealthStatus is the text for IEASC/IEASCQ ("OK", "FAILURE
	// PREDICTION THRESHOLD EXCEEDED ...").
	HealthStatus string `json:"health_status,omitempty"`

	// Temperature page (0Dh), degrees Celsius.
	Temperature     *float64 `json:"temperature,omitempty"`
	TripTemperature *float64 `json:"trip_temperature,omitempty"`

	// Error counter pages: read (03h), write (02h), verify (05h).
	Read   *ErrorCounters `json:"read,omitempty"`
	Write  *ErrorCounters `json:"write,omitempty"`
	Verify *ErrorCounters `json:"verify,omitempty"`
	// NonMediumErrors (page 06h).
	NonMediumErrors *uint64 `json:"non_medium_errors,omitempty"`

	// Start-stop cycle counter page (0Eh).
	StartStopCycles           *uint64 `json:"start_stop_cycles,omitempty"`
	SpecifiedStartStopCycles  *uint64 `json:"specified_start_stop_cycles,omitempty"`
	LoadUnloadCycles          *uint64 `json:"load_unload_cycles,omitempty"`
	SpecifiedLoadUnloadCycles *uint64 `json:"specified_load_unload_cycles,omitempty"`

	// GrownDefects is the length of the grown defect list (READ DEFECT
	// DATA, SBC-4 5.8).
	GrownDefects *uint64 `json:"grown_defects,omitempty"`
	// PercentageUsed is the SSD endurance indicator (page 11h), if any.
	PercentageUsed *uint8 `json:"percentage_used,omitempty"`
}

// ErrorCounters is one of the error counter log pages (SBC-4 6.5.x: write
// 02h, read 03h, verify 05h).
type ErrorCounters struct {
	CorrectedFast        uint64 `json:"errors_corrected_by_eccfast"`
	CorrectedDelayed     uint64 `json:"errors_corrected_by_eccdelayed"`
	Rereads              uint64 `json:"errors_corrected_by_rereads_rewrites"`
	TotalCorrected       uint64 `json:"total_errors_corrected"`
	AlgorithmInvocations uint64 `json:"correction_algorithm_invocations"`
	BytesProcessed       uint64 `json:"gigabytes_processed_bytes"`
	Uncorrected          uint64 `json:"total_uncorrected_errors"`
}

// SelfTest is one entry of a self-test log.
type SelfTest struct {
	// Type: "short", "extended", "conveyance", "selective", "offline", or
	// the source's own words.
	Type string `json:"type"`
	// Status is the result in smartctl's words ("Completed without error").
	Status string `json:"status"`
	// Failed is true for a test that ended in a failure of the drive
	// (not one aborted by the host or interrupted by a reset).
	Failed bool `json:"failed"`
	// InProgress is true for a test still running.
	InProgress bool `json:"in_progress,omitempty"`
	// LifetimeHours is the power-on hours at which it ran.
	LifetimeHours *uint64 `json:"lifetime_hours,omitempty"`
	// FailingLBA of the first error, where reported.
	FailingLBA *uint64 `json:"failing_lba,omitempty"`
}

// Finish fills the protocol-independent fields (temperature, power-on
// hours, power cycles) from the protocol's own data where the source did
// not set them, and sorts nothing: every importer and the live reader call
// it last, so the same data yields the same Report whatever its source.
func (r *Report) Finish() {
	set := func(dst **float64, v float64) {
		if *dst == nil {
			*dst = &v
		}
	}
	setU := func(dst **uint64, v uint64) {
		if *dst == nil {
			*dst = &v
		}
	}
	if a := r.ATA; a != nil {
		for _, at := range a.Attributes {
			switch at.ID {
			case 194:
				set(&r.Temperature, float64(at.Decoded))
			case 9:
				set(&r.PowerOnHours, float64(at.Decoded))
			case 12:
				setU(&r.PowerCycles, uint64(at.Decoded))
			}
		}
		for _, at := range a.Attributes {
			if at.ID == 190 { // airflow temperature only when 194 is absent
				set(&r.Temperature, float64(at.Decoded))
			}
		}
	}
	if n := r.NVMe; n != nil {
		// A composite temperature of 0 K (-273) is "not reported"; an
		// import that lacked the field leaves 0, which no running drive
		// reads either.
		if n.Temperature > -273 && n.Temperature != 0 {
			set(&r.Temperature, n.Temperature)
		}
		set(&r.PowerOnHours, float64(n.PowerOnHours))
		setU(&r.PowerCycles, n.PowerCycles)
		setU(&r.ErrorLogCount, n.ErrorLogEntries)
		if r.OverallPassed == nil {
			ok := n.CriticalWarning == 0
			r.OverallPassed = &ok
		}
	}
	if s := r.SCSI; s != nil {
		if s.Temperature != nil {
			set(&r.Temperature, *s.Temperature)
		}
		if r.OverallPassed == nil && s.IEASC != nil {
			ok := *s.IEASC == 0
			r.OverallPassed = &ok
		}
	}
}
