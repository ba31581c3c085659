package smart

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ParseSmartctlText imports the classic text output of smartctl -a or -x
// (smartmontools 5.x to 7.5) for ATA, NVMe and SCSI/SAS drives: the
// information section, the overall-health verdict, the ATA attribute table
// in both its layouts, the NVMe SMART/Health log, the SCSI log pages
// smartctl prints, the error log counts and the self-test logs.
//
// Lines the importer does not know are ignored, so output of any smartctl
// version and locale reads. Input that is not smartctl output at all (no
// banner and no section smartctl prints) is an error wrapping
// ErrMalformed. Output with a banner but no health data (SMART
// unavailable, an unknown USB bridge, a drive left in standby) is a Report
// with an empty Protocol and a warning quoting smartctl.
//
// smartctl text does not name the device it read, so Device is left empty.
func ParseSmartctlText(data []byte) (*Report, error) {
	p := &textParser{r: &Report{Source: SourceSmartctlText}}
	text := decodeText(data)
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	for n, line := range strings.Split(text, "\n") {
		if !p.line(n+1, line) {
			break
		}
	}
	if !p.banner && !p.recognized {
		return nil, malformed("not smartctl output: no smartctl banner and no section smartctl prints")
	}
	p.finish()
	return p.r, nil
}

// decodeText reads the output as UTF-8, and any byte that is not UTF-8 as
// Latin-1: Windows builds of smartctl write the console's code page, whose
// thousands separator is a lone 0xA0 (no-break space).
func decodeText(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b))
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			r = rune(b[0])
		}
		sb.WriteRune(r)
		b = b[n:]
	}
	return sb.String()
}

// section is the part of the output the parser is in; tables end at a
// blank line, as smartctl prints them.
type section int

const (
	secNone         section = iota
	secAttributes           // ATA attribute table
	secATASelfTest          // SMART Self-test log (ATA -a)
	secATAXSelfTest         // SMART Extended Self-test Log (ATA -x)
	secSCSISelfTest         // SCSI SMART Self-test log
	secNVMeSelfTest         // NVMe Self-test Log (0x06)
	secNVMeHealth           // NVMe SMART/Health Information (0x02)
	secSCSIErrors           // SCSI Error counter log
)

// errLog is the error log whose "No Errors Logged" line comes next.
type errLog int

const (
	errLogNone   errLog = iota
	errLogATA           // SMART Error Log (summary)
	errLogATAExt        // SMART Extended Comprehensive Error Log
	errLogNVMe          // NVMe Error Information log: its count is in the health log
)

type textParser struct {
	r          *Report
	banner     bool // the "smartctl 7.1 ..." line
	recognized bool // a section header or table smartctl prints
	content    bool // anything after the banner
	sec        section
	errLog     errLog

	// Protocol evidence from the identity, used when the health data does
	// not say by itself.
	isATA, isNVMe, isSCSI bool

	ata  *ATAHealth
	nvme *NVMeHealth
	scsi *SCSIHealth

	ataErrors, ataExtErrors *uint64
	// Self-test tables by kind: -x output may print both ATA logs.
	ataTests, ataXTests, scsiTests, nvmeTests []SelfTest
	sawATATests, sawATAXTests                 bool

	nsSize, totalNVM *uint64
	scsiPOH          *float64 // background scan log "Accumulated power on time"
	seagatePOH       *float64 // Seagate factory log "number of hours powered up"
	scsiEnvTemp      *float64 // "Current temperature = N" (environmental page)
	sctTemp          *float64 // ATA SCT Status "Current Temperature: 27 Celsius"

	attrCheck    bool   // "Warning: This result is based on an Attribute check."
	statusReason string // why SMART RETURN STATUS could not be read
	unavailable  string // smartctl's "SMART support is: Unavailable ..." line
	// messages are smartctl's lines that explain missing data, quoted
	// when the report ends up with none.
	messages []string
}

// line handles one line; it returns false to stop reading.
func (p *textParser) line(n int, raw string) bool {
	t := strings.TrimSpace(raw)
	if t == "" {
		p.sec = secNone
		return true
	}
	if isBanner(t) {
		if p.banner && p.content {
			// Several reports saved into one file: the first is the one read.
			p.warn("line %d: another smartctl report starts here; only the first one is read", n)
			return false
		}
		p.banner = true
		return true
	}
	if strings.HasPrefix(t, "Copyright (C)") || strings.HasPrefix(t, "Home page is") {
		return true
	}
	p.content = true
	if strings.HasPrefix(t, "=== START OF ") {
		p.recognized = true
		p.sec = secNone
		return true
	}

	// Tables first: their rows have no "key: value" shape.
	switch p.sec {
	case secAttributes:
		if p.attributeRow(n, t) {
			return true
		}
	case secATASelfTest, secATAXSelfTest:
		if strings.HasPrefix(t, "#") {
			if st, ok := parseATASelfTestRow(t); ok {
				if p.sec == secATASelfTest {
					p.ataTests = append(p.ataTests, st)
				} else {
					p.ataXTests = append(p.ataXTests, st)
				}
			} else {
				p.warn("line %d: self-test log entry not understood: %q", n, t)
			}
			return true
		}
	case secSCSISelfTest:
		if strings.HasPrefix(t, "#") {
			if st, ok := parseSCSISelfTestRow(t); ok {
				p.scsiTests = append(p.scsiTests, st)
			} else {
				p.warn("line %d: self-test log entry not understood: %q", n, t)
			}
			return true
		}
	case secNVMeSelfTest:
		if t[0] >= '0' && t[0] <= '9' {
			if st, ok := parseNVMeSelfTestRow(t); ok {
				p.nvmeTests = append(p.nvmeTests, st)
			} else {
				p.warn("line %d: self-test log entry not understood: %q", n, t)
			}
			return true
		}
	case secSCSIErrors:
		if p.errorCounterRow(n, t) {
			return true
		}
	}

	if p.headline(t) {
		return true
	}
	if k, v, ok := keyValue(t); ok {
		p.keyValue(n, k, v, t)
		return true
	}
	p.message(t)
	return true
}

// isBanner matches smartctl's first line: "smartctl 7.1 2019-12-30 r5022
// [...]", "smartctl pre-7.4 ...", and 5.x's "smartctl version 5.38 [...]".
func isBanner(t string) bool {
	rest, ok := strings.CutPrefix(t, "smartctl ")
	if !ok {
		return false
	}
	rest = strings.TrimPrefix(rest, "version ")
	rest = strings.TrimPrefix(rest, "pre-")
	return len(rest) >= 3 && isDigit(rest[0]) && strings.Contains(rest[:min(len(rest), 6)], ".")
}

// headline handles the lines that open a section or table, and the lines
// without a colon that carry a value.
func (p *textParser) headline(t string) bool {
	switch {
	case strings.HasPrefix(t, "ID# ATTRIBUTE_NAME"), t == "Vendor Specific SMART Attributes with Thresholds:":
		p.recognized, p.isATA, p.sec = true, true, secAttributes
		if p.ata == nil {
			p.ata = &ATAHealth{Attributes: []Attribute{}}
		}
	case strings.HasPrefix(t, "SMART Self-test log structure revision number"):
		p.recognized, p.isATA, p.sec, p.sawATATests = true, true, secATASelfTest, true
	case strings.HasPrefix(t, "SMART Extended Self-test Log Version"):
		p.recognized, p.isATA, p.sec, p.sawATAXTests = true, true, secATAXSelfTest, true
	case t == "SMART Self-test log":
		p.recognized, p.isSCSI, p.sec = true, true, secSCSISelfTest
	case strings.HasPrefix(t, "Self-test Log (NVMe Log 0x06"):
		p.recognized, p.isNVMe, p.sec = true, true, secNVMeSelfTest
	case strings.HasPrefix(t, "SMART/Health Information (NVMe Log 0x02"):
		p.recognized, p.isNVMe, p.sec = true, true, secNVMeHealth
		if p.nvme == nil {
			p.nvme = &NVMeHealth{}
		}
	case strings.HasPrefix(t, "Error Information (NVMe Log 0x01"):
		p.errLog = errLogNVMe
	case t == "Error counter log:":
		p.recognized, p.isSCSI, p.sec = true, true, secSCSIErrors
		p.scsiHealth()
	case t == "No Errors Logged":
		zero := uint64(0)
		switch p.errLog {
		case errLogATA:
			p.ataErrors = &zero
		case errLogATAExt:
			p.ataExtErrors = &zero
		}
	case strings.HasPrefix(t, "Device is in ") && strings.Contains(t, " mode, exit("):
		// smartctl -n standby: "Device is in STANDBY mode, exit(2)"; the
		// drive was not woken and nothing else was read.
		mode := strings.TrimSuffix(strings.Fields(strings.TrimPrefix(t, "Device is in "))[0], ",")
		p.r.PowerMode = powerMode(mode)
		p.r.Skipped = "smartctl did not wake the drive: " + t
		p.messages = append(p.messages, t)
	case strings.HasPrefix(t, "Device supports SMART and is "):
		// smartctl 5.x SCSI wording.
		p.isSCSI = true
		p.r.SMARTAvailable = boolPtr(true)
		p.r.SMARTEnabled = boolPtr(strings.HasSuffix(t, "Enabled"))
	case strings.HasPrefix(t, "Device does not support SMART"):
		p.r.SMARTAvailable = boolPtr(false)
		p.unavailable = t
	case strings.Contains(t, " = ") && !strings.Contains(t, ":"):
		p.equalsLine(t)
	default:
		return false
	}
	return true
}

// keyValue splits "Key:   value", collapsing runs of blanks in the key
// (smartctl pads some keys, and Windows builds collapse the padding).
func keyValue(t string) (key, val string, ok bool) {
	i := strings.IndexByte(t, ':')
	if i <= 0 {
		return "", "", false
	}
	return strings.Join(strings.Fields(t[:i]), " "), strings.TrimSpace(t[i+1:]), true
}

func (p *textParser) keyValue(n int, k, v, line string) {
	r := p.r
	if p.sec == secNVMeHealth && p.nvmeHealthKey(n, k, v) {
		return
	}
	switch k {
	// Information section.
	case "Device Model":
		r.Model, p.isATA = v, true
	case "Model Number":
		r.Model, p.isNVMe = v, true
	case "Product":
		r.Model, p.isSCSI = v, true
	case "Vendor":
		r.Vendor, p.isSCSI = v, true
	case "Device":
		// smartctl 5.x SCSI: "Device: SEAGATE  ST3300655SS  Version: 0003".
		if before, after, ok := strings.Cut(v, "Version:"); ok {
			f := strings.Fields(before)
			if len(f) > 0 {
				r.Vendor, r.Model = f[0], strings.Join(f[1:], " ")
			}
			r.Firmware, p.isSCSI = strings.TrimSpace(after), true
		}
	case "Serial Number", "Serial number":
		r.Serial = v
	case "Firmware Version":
		r.Firmware = v
	case "Revision":
		r.Firmware, p.isSCSI = v, true
	case "User Capacity":
		p.capacity(n, k, v, &r.CapacityBytes)
	case "Total NVM Capacity":
		p.totalNVM = p.uintVal(n, k, v)
		p.isNVMe = true
	case "Namespace 1 Size/Capacity", "Namespace 1 Size":
		p.nsSize = p.uintVal(n, k, v)
		p.isNVMe = true
	case "Rotation Rate":
		if strings.HasPrefix(v, "Solid State") {
			zero := 0
			r.RotationRPM = &zero
		} else if u, ok := leadingUint(v); ok && strings.Contains(v, "rpm") && u <= math.MaxInt32 {
			rpm := int(u)
			r.RotationRPM = &rpm
		}
	case "LU WWN Device Id":
		r.WWN = hexID(v)
	case "Logical Unit id":
		r.WWN = hexID(strings.TrimPrefix(v, "0x"))
		p.isSCSI = true
	case "Transport protocol":
		// "SAS (SPL-3)", "Fibre channel (FCP-2)", "Parallel SCSI (SPI-4)"
		name, _, _ := strings.Cut(v, " (")
		r.Transport, p.isSCSI = strings.TrimSpace(name), true
	case "SATA Version is":
		if r.Transport == "" {
			r.Transport = "SATA"
		}
		p.isATA = true
	case "ATA Version is":
		p.isATA = true
	case "NVMe Version", "PCI Vendor/Subsystem ID", "PCI Vendor Subsystem ID", "IEEE OUI Identifier", "Number of Namespaces":
		p.isNVMe = true
	case "Compliance", "Device type":
		p.isSCSI = true
	case "SMART support is":
		switch {
		case strings.HasPrefix(v, "Available"):
			r.SMARTAvailable = boolPtr(true)
		case strings.HasPrefix(v, "Unavailable"):
			r.SMARTAvailable = boolPtr(false)
			p.unavailable = line
		case strings.HasPrefix(v, "Enabled"):
			r.SMARTEnabled = boolPtr(true)
		case strings.HasPrefix(v, "Disabled"):
			r.SMARTEnabled = boolPtr(false)
			p.messages = append(p.messages, line)
		}
	case "Local Time is":
		r.Time = localTime(v)
	case "Power mode is", "Power mode was":
		if f := strings.Fields(v); len(f) > 0 {
			r.PowerMode = powerMode(f[0])
		}

	// Overall health.
	case "SMART overall-health self-assessment test result":
		p.recognized = true
		switch {
		case strings.HasPrefix(v, "PASSED"):
			r.OverallPassed = boolPtr(true)
		case strings.HasPrefix(v, "FAILED"):
			r.OverallPassed = boolPtr(false)
		default:
			p.warn("line %d: overall-health self-assessment %q not understood", n, v)
		}
	case "SMART Status not supported", "SMART Status command failed":
		p.statusReason = line
		p.messages = append(p.messages, line)
	case "Current Temperature":
		// SCT Status (ATA -x): the temperature when no attribute has one.
		if f, ok := leadingFloat(v); ok {
			p.sctTemp = &f
		}
	case "Warning":
		if strings.HasPrefix(v, "This result is based on an Attribute check") {
			p.attrCheck = true
		} else {
			p.warn("smartctl: %s", line)
		}
	case "SMART Health Status":
		p.recognized, p.isSCSI = true, true
		p.scsiHealthStatus(n, v)
	case "SMART Sense":
		// smartctl 5.x SCSI before "SMART Health Status".
		if strings.HasPrefix(strings.ToLower(v), "ok") {
			p.scsiHealth().SetInformationalException(0, 0)
		}

	// ATA.
	case "SMART Attributes Data Structure revision number":
		if u, ok := leadingUint(v); ok && u <= math.MaxInt32 {
			if p.ata == nil {
				p.ata = &ATAHealth{Attributes: []Attribute{}}
			}
			p.ata.Revision = int(u)
		}
		p.isATA = true
	case "SMART Error Log Version":
		p.errLog, p.isATA = errLogATA, true
	case "SMART Extended Comprehensive Error Log Version":
		p.errLog, p.isATA = errLogATAExt, true
	case "ATA Error Count":
		p.ataErrors = p.uintVal(n, k, v)
	case "Device Error Count":
		p.ataExtErrors = p.uintVal(n, k, v)

	// SCSI log pages.
	case "Current Drive Temperature":
		if f, ok := leadingFloat(v); ok {
			p.scsiHealth().Temperature = &f
		}
		p.isSCSI = true
	case "Drive Trip Temperature":
		if f, ok := leadingFloat(v); ok {
			p.scsiHealth().TripTemperature = &f
		}
		p.isSCSI = true
	case "Elements in grown defect list":
		p.scsiHealth().GrownDefects = p.uintVal(n, k, v)
	case "Accumulated start-stop cycles":
		p.scsiHealth().StartStopCycles = p.uintVal(n, k, v)
	case "Specified cycle count over device lifetime":
		p.scsiHealth().SpecifiedStartStopCycles = p.uintVal(n, k, v)
	case "Accumulated load-unload cycles":
		p.scsiHealth().LoadUnloadCycles = p.uintVal(n, k, v)
	case "Specified load-unload count over device lifetime":
		p.scsiHealth().SpecifiedLoadUnloadCycles = p.uintVal(n, k, v)
	case "Non-medium error count":
		p.scsiHealth().NonMediumErrors = p.uintVal(n, k, v)
	case "Percentage used endurance indicator":
		if u := p.uintVal(n, k, v); u != nil {
			p.scsiHealth().PercentageUsed = clampUint8(p, n, k, *u)
		}
	case "Accumulated power on time, hours":
		// "Accumulated power on time, hours:minutes 12345:06 [740706 minutes]"
		if m := rePowerOnTime.FindStringSubmatch(v); m != nil {
			h, _ := strconv.ParseFloat(m[1], 64)
			mins, _ := strconv.ParseFloat(m[2], 64)
			poh := h + mins/60
			p.scsiPOH = &poh
		}

	default:
		p.message(line)
	}
}

// equalsLine handles SCSI "name = value" lines.
func (p *textParser) equalsLine(t string) {
	k, v, _ := strings.Cut(t, " = ")
	switch strings.TrimSpace(k) {
	case "Current temperature":
		// Environmental reporting page (0Dh/01h), printed by smartctl 7.3+
		// instead of "Current Drive Temperature" for some drives.
		if f, ok := leadingFloat(v); ok {
			p.scsiEnvTemp = &f
		}
	case "number of hours powered up":
		// Seagate factory log page (3Eh): "number of hours powered up = 33487.13".
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && f >= 0 {
			p.seagatePOH = &f
		}
	}
}

// nvmeHealthKey handles a line of the NVMe SMART/Health Information log.
func (p *textParser) nvmeHealthKey(n int, k, v string) bool {
	h := p.nvme
	u := func() uint64 {
		if x := p.uintVal(n, k, v); x != nil {
			return *x
		}
		return 0
	}
	switch k {
	case "Critical Warning":
		if x, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(v), "0x"), 16, 8); err == nil {
			h.CriticalWarning = uint8(x)
		} else {
			p.warn("line %d: %s %q not understood", n, k, v)
		}
	case "Temperature":
		if f, ok := leadingFloat(v); ok {
			h.Temperature = f
		}
	case "Available Spare":
		h.AvailableSpare = deref(clampUint8(p, n, k, u()))
	case "Available Spare Threshold":
		h.SpareThreshold = deref(clampUint8(p, n, k, u()))
	case "Percentage Used":
		h.PercentageUsed = deref(clampUint8(p, n, k, u()))
	case "Data Units Read":
		h.DataUnitsRead = u()
	case "Data Units Written":
		h.DataUnitsWritten = u()
	case "Host Read Commands":
		h.HostReads = u()
	case "Host Write Commands":
		h.HostWrites = u()
	case "Controller Busy Time":
		h.ControllerBusyMinutes = u()
	case "Power Cycles":
		h.PowerCycles = u()
	case "Power On Hours":
		h.PowerOnHours = u()
	case "Unsafe Shutdowns":
		h.UnsafeShutdowns = u()
	case "Media and Data Integrity Errors":
		h.MediaErrors = u()
	case "Error Information Log Entries":
		h.ErrorLogEntries = u()
	case "Warning Comp. Temperature Time":
		h.WarningTempMinutes = uint32(min(u(), math.MaxUint32))
	case "Critical Comp. Temperature Time":
		h.CriticalTempMinutes = uint32(min(u(), math.MaxUint32))
	default:
		if strings.HasPrefix(k, "Temperature Sensor ") {
			if f, ok := leadingFloat(v); ok {
				h.TemperatureSensors = append(h.TemperatureSensors, f)
			}
			return true
		}
		return false
	}
	return true
}

// scsiHealthStatus reads "SMART Health Status: OK" or, for an
// informational exception, smartctl's "<text> [asc=5d, ascq=10]".
func (p *textParser) scsiHealthStatus(n int, v string) {
	s := p.scsiHealth()
	if strings.EqualFold(v, "OK") {
		s.SetInformationalException(0, 0)
		return
	}
	if m := reASC.FindStringSubmatchIndex(v); m != nil {
		asc, err1 := strconv.ParseUint(v[m[2]:m[3]], 16, 8)
		ascq, err2 := strconv.ParseUint(v[m[4]:m[5]], 16, 8)
		if err1 == nil && err2 == nil {
			s.SetInformationalException(uint8(asc), uint8(ascq))
			if t := strings.TrimSpace(v[:m[0]]); t != "" {
				s.HealthStatus = t // smartctl's own words
			}
			return
		}
	}
	// Any other text is an exception smartctl reported without its sense
	// code: record it as a failure prediction (ASC 5Dh) so the verdict is
	// smartctl's.
	asc := uint8(0x5d)
	s.IEASC, s.IEASCQ, s.HealthStatus = &asc, nil, v
	p.warn("line %d: SCSI health status %q without an additional sense code; recorded as ASC 5Dh (failure prediction)", n, v)
}

func (p *textParser) scsiHealth() *SCSIHealth {
	if p.scsi == nil {
		p.scsi = &SCSIHealth{}
	}
	return p.scsi
}

// errorCounterRow reads a row of the SCSI "Error counter log" table:
//
//	read:  ECC-fast ECC-delayed rereads total-corrected invocations gigabytes uncorrected
func (p *textParser) errorCounterRow(n int, t string) bool {
	label, rest, ok := strings.Cut(t, ":")
	if !ok {
		return false
	}
	var dst **ErrorCounters
	switch label {
	case "read":
		dst = &p.scsiHealth().Read
	case "write":
		dst = &p.scsiHealth().Write
	case "verify":
		dst = &p.scsiHealth().Verify
	default:
		return false
	}
	f := strings.Fields(rest)
	if len(f) != 7 {
		p.warn("line %d: error counter row not understood: %q", n, t)
		return true
	}
	var v [7]uint64
	for i, s := range f {
		var err error
		if i == 5 {
			v[i], err = gigabytesToBytes(s)
		} else {
			v[i], err = strconv.ParseUint(s, 10, 64)
		}
		if err != nil {
			p.warn("line %d: error counter row not understood: %q", n, t)
			return true
		}
	}
	*dst = &ErrorCounters{
		CorrectedFast: v[0], CorrectedDelayed: v[1], Rereads: v[2], TotalCorrected: v[3],
		AlgorithmInvocations: v[4], BytesProcessed: v[5], Uncorrected: v[6],
	}
	return true
}

// gigabytesToBytes converts smartctl's "%.3f" gigabytes processed [10^9
// bytes] back to bytes, the unit of the log parameter (and of the live
// reader): exact to the printed megabyte. The decimal separator follows
// the locale ("42524.564", "38280,029").
func gigabytesToBytes(s string) (uint64, error) {
	i := strings.LastIndexAny(s, ".,")
	intPart, frac := s, ""
	if i >= 0 {
		intPart, frac = s[:i], s[i+1:]
	}
	if len(frac) > 9 || !allDigits(intPart) || (frac != "" && !allDigits(frac)) {
		return 0, fmt.Errorf("gigabytes %q", s)
	}
	g, err := strconv.ParseUint(intPart, 10, 64)
	if err != nil || g > math.MaxUint64/1_000_000_000 {
		return 0, fmt.Errorf("gigabytes %q", s)
	}
	b := g * 1_000_000_000
	if frac != "" {
		f, _ := strconv.ParseUint(frac, 10, 64)
		for range 9 - len(frac) {
			f *= 10
		}
		b += f
	}
	return b, nil
}

// attributeRow reads one ATA attribute line, in either layout:
//
//	-a: "  5 Reallocated_Sector_Ct   0x0033   100   100   010    Pre-fail  Always       -       0"
//	-x: "  5 Reallocated_Sector_Ct   PO--CK   100   100   010    -    0"
//
// (ataprint.cpp PrintSmartAttribWithThres). It returns false for a line
// that is not a row (the legend under the -x table).
func (p *textParser) attributeRow(n int, t string) bool {
	if !isDigit(t[0]) {
		return strings.HasPrefix(t, "|") // the -x flag legend
	}
	f, offs := fieldsWithOffsets(t)
	bad := func() bool {
		p.warn("line %d: attribute row not understood: %q", n, t)
		return true
	}
	if len(f) < 8 {
		return bad()
	}
	id, ok1 := parseSmallUint(f[0], 255)
	value, ok2 := parseNormalized(f[3])
	worst, ok3 := parseNormalized(f[4])
	if !ok1 || !ok2 || !ok3 {
		return bad()
	}
	a := Attribute{ID: uint8(id), Name: f[1], Value: value, Worst: worst}
	if f[5] != "---" && f[5] != "----" {
		th, ok := parseSmallUint(f[5], 255)
		if !ok {
			return bad()
		}
		t := uint8(th)
		a.Threshold = &t
	}
	var rawAt int
	if strings.HasPrefix(f[2], "0x") {
		// -a layout: FLAG TYPE UPDATED WHEN_FAILED RAW_VALUE
		if len(f) < 10 {
			return bad()
		}
		fl, err := strconv.ParseUint(f[2][2:], 16, 16)
		if err != nil {
			return bad()
		}
		a.Flags = uint16(fl)
		switch f[8] {
		case "FAILING_NOW":
			a.WhenFailed = "now"
		case "In_the_past":
			a.WhenFailed = "past"
		case "-":
		default:
			return bad()
		}
		rawAt = 9
	} else {
		fl, ok := briefFlags(f[2])
		if !ok {
			return bad()
		}
		a.Flags = fl
		switch f[6] {
		case "NOW":
			a.WhenFailed = "now"
		case "Past":
			a.WhenFailed = "past"
		case "-":
		default:
			return bad()
		}
		rawAt = 7
	}
	a.RawString = t[offs[rawAt]:]
	var ok bool
	a.Raw, a.Decoded, ok = decodeRawText(a.ID, a.RawString, p.r.Model)
	if !ok {
		p.warn("line %d: attribute %d raw value %q not understood", n, a.ID, a.RawString)
	}
	if p.ata == nil {
		p.ata = &ATAHealth{Attributes: []Attribute{}}
	}
	p.ata.Attributes = append(p.ata.Attributes, a)
	return true
}

// briefFlags decodes the -x layout's flag letters: P pre-fail (bit 0), O
// online (1), S performance (2), R error rate (3), C event count (4), K
// self-preserving (5). smartctl 7.3+ appends "+" when any of bits 6-15 is
// set, without saying which: those bits are lost in this layout.
func briefFlags(s string) (uint16, bool) {
	s = strings.TrimSuffix(s, "+")
	const letters = "POSRCK"
	if len(s) != len(letters) {
		return 0, false
	}
	var fl uint16
	for i := range len(letters) {
		switch s[i] {
		case letters[i]:
			fl |= 1 << i
		case '-':
		default:
			return 0, false
		}
	}
	return fl, true
}

// parseNormalized reads VALUE or WORST: decimal, hex with -f hex,val, or
// "---" when the attribute has no normalized value (smartctl's
// ATTRSTATE_NO_NORMVAL and ATTRFLAG_NO_WORSTVAL), recorded as 0, which is
// not a valid normalized value and never fails a threshold.
func parseNormalized(s string) (uint8, bool) {
	if s == "---" || s == "----" {
		return 0, true
	}
	v, ok := parseSmallUint(s, 255)
	return uint8(v), ok
}

func parseSmallUint(s string, max uint64) (uint64, bool) {
	base := 10
	if h, ok := strings.CutPrefix(s, "0x"); ok {
		s, base = h, 16
	}
	v, err := strconv.ParseUint(s, base, 64)
	return v, err == nil && v <= max
}

// Raw value formats smartctl prints (atacmds.cpp ata_format_attr_raw_value).
var (
	reMsec24Hour32 = regexp.MustCompile(`^(\d+)h\+(\d+)m\+(\d+)\.(\d{3})s$`)
	reSec2Hour     = regexp.MustCompile(`^(\d+)h\+(\d+)m\+(\d+)s$`)
	reMin2Hour     = regexp.MustCompile(`^(\d+)h\+(\d+)m(?: \((\d+)\))?$`)
	reTempMinMax   = regexp.MustCompile(`^(-?\d+) \(Min/Max -?\d+/-?\d+(?: #\d+)?\)$`)
	reAverage      = regexp.MustCompile(`^(\d+) \(Average (\d+)\)$`)
	reParenthesis  = regexp.MustCompile(`^(-?\d+) \((\d+(?: \d+)*)\)$`)
	reSlash        = regexp.MustCompile(`^(\d+)/(\d+)$`)
	reTenths       = regexp.MustCompile(`^(-?\d+)\.(\d)$`)
	reLeadingInt   = regexp.MustCompile(`^-?\d+`)
	reASC          = regexp.MustCompile(`\[asc=([0-9a-fA-F]{1,2}),\s*ascq=([0-9a-fA-F]{1,2})\]`)
	rePowerOnTime  = regexp.MustCompile(`^minutes\s+(\d+):(\d+)`)
)

// decodeRawText inverts smartctl's formatting of an attribute's raw field.
// Decoded is the number smartctl leads with (hours for the time formats,
// the current temperature, the count), as its default drive database
// interprets it. Raw is the 48-bit field where the format keeps every bit
// of it (plain, hex, raw8/raw16 lists, "N (a b)", "N (a b c)", the time
// formats); where it does not (the Min/Max temperatures, whose byte layout
// depends on the vendor; an unknown format) Raw is the decoded number,
// which is what a consumer of the raw counter should see. ok is false when
// there is no number at all.
func decodeRawText(id uint8, s, model string) (raw uint64, dec int64, ok bool) {
	s = strings.Join(strings.Fields(s), " ")
	u := func(x string) uint64 { v, _ := strconv.ParseUint(x, 10, 64); return v }
	if allDigits(s) {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			v = math.MaxUint64
		}
		// A plain number is the whole field: raw48, or a packed format
		// whose upper words are zero.
		return v, int64(min(v, math.MaxInt64)), true
	}
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		// tempminmax prints a temperature below zero as the signed low byte.
		return uint64(uint8(v)), v, true
	}
	if h, found := strings.CutPrefix(s, "0x"); found {
		if v, err := strconv.ParseUint(h, 16, 64); err == nil {
			return v, DecodeAttributeRaw(id, v, model), true // hex48/56/64
		}
	}
	if m := reMsec24Hour32.FindStringSubmatch(s); m != nil {
		// msec24hour32: hours in the low 32 bits, milliseconds above.
		h, ms := u(m[1]), (u(m[2])*60+u(m[3]))*1000+u(m[4])
		return ms<<32 | h&0xffffffff, int64(h), true
	}
	if m := reSec2Hour.FindStringSubmatch(s); m != nil {
		h := u(m[1])
		return h*3600 + u(m[2])*60 + u(m[3]), int64(h), true
	}
	if m := reMin2Hour.FindStringSubmatch(s); m != nil {
		// min2hour ("-v 9,minutes"), the usual one; halfmin2hour prints the
		// same shape and would have twice the raw value.
		h := u(m[1])
		r := h*60 + u(m[2])
		if m[3] != "" {
			r |= u(m[3]) << 32
		}
		return r, int64(h), true
	}
	if m := reTempMinMax.FindStringSubmatch(s); m != nil {
		t, _ := strconv.ParseInt(m[1], 10, 64)
		return uint64(uint8(t)), t, true
	}
	if m := reAverage.FindStringSubmatch(s); m != nil {
		// raw16(avg16); the third word is not printed (and is 0 in practice).
		w0 := u(m[1])
		return u(m[2])<<16 | w0, int64(w0), true
	}
	if m := reParenthesis.FindStringSubmatch(s); m != nil {
		lead, _ := strconv.ParseInt(m[1], 10, 64)
		in := strings.Fields(m[2])
		switch {
		case len(in) == 2 && lead >= 0: // raw16(raw16): "w0 (w2 w1)"
			return u(in[0])<<32 | u(in[1])<<16 | uint64(lead)&0xffff, lead, true
		case len(in) == 3 && lead >= 0: // raw24(raw8): "n (b5 b4 b3)"
			return u(in[0])<<40 | u(in[1])<<32 | u(in[2])<<24 | uint64(lead)&0xffffff, lead, true
		case len(in) == 5: // tempminmax fallback: "b0 (b5 b4 b3 b2 b1)"
			var r uint64
			for _, b := range in {
				r = r<<8 | u(b)&0xff
			}
			return r<<8 | uint64(uint8(lead)), lead, true
		}
		return uint64(max(lead, 0)), lead, true
	}
	if f := strings.Fields(s); len(f) > 1 && allDigitFields(f) {
		var r uint64
		switch len(f) {
		case 3: // raw16: "w2 w1 w0"
			for _, w := range f {
				r = r<<16 | u(w)&0xffff
			}
			// Decoded is word 0, the count (Seagate's 188 Command_Timeout
			// keeps the total in it; smartctl's JSON has no other reading).
			return r, int64(u(f[2]) & 0xffff), true
		case 6: // raw8: "b5 b4 b3 b2 b1 b0"
			for _, b := range f {
				r = r<<8 | u(b)&0xff
			}
			return r, DecodeAttributeRaw(id, r, model), true
		}
	}
	if m := reSlash.FindStringSubmatch(s); m != nil {
		// raw24/raw32 (the usual one) or raw24/raw24: "errors/operations";
		// the two agree when the first number is 0.
		a := u(m[1])
		return a<<32 | u(m[2])&0xffffffff, int64(a), true
	}
	if m := reTenths.FindStringSubmatch(s); m != nil {
		// temp10x: tenths of a degree in word 0.
		t, _ := strconv.ParseInt(m[1], 10, 64)
		if t >= 0 {
			return uint64(t)*10 + u(m[2]), t, true
		}
		return 0, t, true
	}
	if m := reLeadingInt.FindString(s); m != "" {
		d, err := strconv.ParseInt(m, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		return uint64(max(d, 0)), d, true
	}
	return 0, 0, false
}

// parseATASelfTestRow reads an entry of the ATA self-test logs
// (ataprint.cpp ataPrintSmartSelfTestEntry):
//
//	"# 1  Short offline       Completed: read failure       90%      1234         123456789"
func parseATASelfTestRow(t string) (SelfTest, bool) {
	f := strings.Fields(strings.TrimPrefix(t, "#"))
	pct := -1
	for i := 1; i < len(f); i++ {
		if v, ok := strings.CutSuffix(f[i], "%"); ok && allDigits(v) {
			pct = i
			break
		}
	}
	if pct < 3 || pct+1 >= len(f) || !allDigits(f[0]) { // a lifetime must follow
		return SelfTest{}, false
	}
	// The status begins with one of smartctl's words; the description
	// ("Short offline", "Vendor (0xff)") never does.
	st := -1
	for i := 2; i < pct; i++ {
		if ataStatusStart(f[i]) {
			st = i
			break
		}
	}
	if st < 0 {
		return SelfTest{}, false
	}
	desc, status := strings.Join(f[1:st], " "), strings.Join(f[st:pct], " ")
	test := SelfTest{Type: ataTestType(desc), Status: status}
	test.Failed, test.InProgress = selfTestOutcome(status)
	if pct+1 < len(f) {
		if h, err := strconv.ParseUint(f[pct+1], 10, 64); err == nil {
			test.LifetimeHours = &h
		}
	}
	if pct+2 < len(f) {
		test.FailingLBA = parseLBA(f[pct+2])
	}
	return test, true
}

func ataStatusStart(w string) bool {
	for _, s := range []string{"Completed", "Aborted", "Interrupted", "Fatal", "Self-test", "Unknown"} {
		if strings.HasPrefix(w, s) {
			return true
		}
	}
	return false
}

// ataTestType names a test as ataSelfTestType does for the live reader.
func ataTestType(desc string) string {
	l := strings.ToLower(desc)
	switch {
	case l == "offline":
		return "offline"
	case strings.HasPrefix(l, "short"):
		return "short"
	case strings.HasPrefix(l, "extended"):
		return "extended"
	case strings.HasPrefix(l, "conveyance"):
		return "conveyance"
	case strings.HasPrefix(l, "selective"):
		return "selective"
	}
	return "vendor" // "Vendor (0xff)", "Reserved (0x..)", "Abort offline test"
}

// parseSCSISelfTestRow reads an entry of the SCSI self-test log
// (scsiprint.cpp scsiPrintSelfTest):
//
//	"# 1  Background short  Completed                   -     349                 - [-   -    -]"
//	"# 2  Background long   Failed in segment -->       3    1234          123456 [0x3 0x11 0x0]"
func parseSCSISelfTestRow(t string) (SelfTest, bool) {
	if i := strings.IndexByte(t, '['); i >= 0 {
		t = t[:i]
	}
	f := strings.Fields(strings.TrimPrefix(t, "#"))
	// num, description (1-2 words), status (1+ words), segment, hours, LBA
	if len(f) < 5 || !allDigits(f[0]) {
		return SelfTest{}, false
	}
	n := len(f)
	lba, hours := f[n-1], f[n-2]
	mid := f[1 : n-3]
	d := 1
	switch mid[0] {
	case "Background", "Foreground", "Abort":
		d = 2
	}
	if len(mid) <= d {
		return SelfTest{}, false
	}
	desc := strings.ToLower(strings.Join(mid[:d], " "))
	status := strings.Join(mid[d:], " ")
	// The live reader's words: no trailing "-->" or "...".
	status = strings.TrimSpace(strings.TrimSuffix(strings.TrimSuffix(status, "-->"), "..."))
	test := SelfTest{Type: scsiTestType(desc), Status: status}
	test.Failed, test.InProgress = selfTestOutcome(status)
	if h, err := strconv.ParseUint(hours, 10, 64); err == nil {
		test.LifetimeHours = &h
	}
	if test.Failed {
		test.FailingLBA = parseLBA(lba)
	}
	return test, true
}

// scsiTestType names a test as scsiSelfTestType does for the live reader.
func scsiTestType(desc string) string {
	switch desc {
	case "background short", "foreground short":
		return desc
	case "background long":
		return "background extended"
	case "foreground long":
		return "foreground extended"
	}
	return "default"
}

// parseNVMeSelfTestRow reads an entry of the NVMe self-test log
// (nvmeprint.cpp, smartctl 7.3+):
//
//	" 0   Short             Completed without error                  17            -     -   -   -    -"
func parseNVMeSelfTestRow(t string) (SelfTest, bool) {
	f := strings.Fields(t)
	if len(f) < 4 || !allDigits(f[0]) {
		return SelfTest{}, false
	}
	d := 1
	if f[1] == "Vendor" && len(f) > 2 && f[2] == "specific" {
		d = 2
	}
	desc := strings.Join(f[1:1+d], " ")
	// The status runs up to the power-on hours, the first plain number.
	poh := -1
	for i := 1 + d; i < len(f); i++ {
		if allDigits(f[i]) {
			poh = i
			break
		}
	}
	if poh <= 1+d {
		return SelfTest{}, false
	}
	status := strings.Join(f[1+d:poh], " ")
	test := SelfTest{Status: status}
	switch desc {
	case "Short":
		test.Type = "short"
	case "Extended":
		test.Type = "extended"
	case "Vendor specific":
		test.Type = "vendor"
	default:
		test.Type = strings.ToLower(desc)
	}
	test.Failed, test.InProgress = selfTestOutcome(status)
	if h, err := strconv.ParseUint(f[poh], 10, 64); err == nil {
		test.LifetimeHours = &h
	}
	if poh+1 < len(f) {
		test.FailingLBA = parseLBA(f[poh+1])
	}
	return test, true
}

// selfTestOutcome classifies smartctl's status words for ATA, SCSI and
// NVMe: a read, electrical, servo/seek, unknown or handling-damage failure,
// a fatal error or a failed segment is a failure of the drive; a test
// aborted or interrupted by the host is not.
func selfTestOutcome(status string) (failed, inProgress bool) {
	l := strings.ToLower(status)
	switch {
	case strings.Contains(l, "in progress"):
		return false, true
	case strings.HasPrefix(l, "aborted"), strings.HasPrefix(l, "interrupted"), strings.Contains(l, "without error"):
		return false, false
	case strings.Contains(l, "fail"), strings.Contains(l, "fatal"), strings.Contains(l, "error"), strings.Contains(l, "damage"):
		return true, false
	}
	return false, false
}

func parseLBA(s string) *uint64 {
	base := 10
	if h, ok := strings.CutPrefix(s, "0x"); ok {
		s, base = h, 16
	}
	if v, err := strconv.ParseUint(s, base, 64); err == nil {
		return &v
	}
	return nil
}

// message records what smartctl said that the parser has no field for,
// when it explains missing data.
func (p *textParser) message(t string) {
	l := strings.ToLower(t)
	switch {
	case strings.HasPrefix(t, "Read ") && strings.Contains(l, " failed") &&
		(strings.Contains(l, "self-test") || strings.Contains(l, "error") || strings.Contains(l, "smart data") ||
			strings.Contains(l, "threshold") || strings.Contains(l, "health")):
		// "Read Self-test Log failed: Invalid Field in Command (0x2002)"
		p.warn("smartctl: %s", t)
	case strings.HasPrefix(t, "Warning! "):
		// "Warning! SMART Attribute Data Structure error: invalid SMART checksum."
		p.warn("smartctl: %s", t)
	case strings.Contains(l, "unknown usb bridge"), strings.Contains(l, "please specify device type"),
		strings.Contains(l, "failed:"), strings.Contains(l, "not supported"), strings.Contains(l, "smart disabled"),
		strings.Contains(l, "device of type"), strings.Contains(l, "mandatory smart command failed"),
		strings.Contains(l, "open device"), strings.Contains(l, "terminate command early"):
		p.messages = append(p.messages, t)
	}
}

func (p *textParser) warn(format string, args ...any) {
	p.r.Warnings = append(p.r.Warnings, fmt.Sprintf(format, args...))
}

// finish assembles the report: protocol, the chosen self-test log, error
// counts, and the verdict's provenance.
func (p *textParser) finish() {
	r := p.r
	if r.Transport == "" && p.isNVMe {
		r.Transport = "NVMe"
	}
	switch {
	case p.nsSize != nil && *p.nsSize <= math.MaxInt64:
		r.CapacityBytes = int64(*p.nsSize) // smartctl's user_capacity for NVMe
	case p.totalNVM != nil && *p.totalNVM <= math.MaxInt64 && r.CapacityBytes == 0:
		r.CapacityBytes = int64(*p.totalNVM)
	}

	if p.ata != nil && len(p.ata.Attributes) > 0 {
		r.ATA = p.ata
	}
	r.NVMe = p.nvme
	if s := p.scsi; s != nil {
		if s.Temperature == nil {
			s.Temperature = p.scsiEnvTemp
		}
		r.SCSI = s
	}
	switch {
	case p.scsiPOH != nil:
		r.PowerOnHours = p.scsiPOH
	case p.seagatePOH != nil:
		r.PowerOnHours = p.seagatePOH
	}
	if p.scsi == nil && p.scsiEnvTemp != nil {
		p.scsiHealth().Temperature = p.scsiEnvTemp
		r.SCSI = p.scsi
	}

	// -x prints the extended logs; -a the summary ones. When both are
	// there they count the same events; the extended ones hold more.
	r.ErrorLogCount = p.ataErrors
	if p.ataExtErrors != nil {
		r.ErrorLogCount = p.ataExtErrors
	}
	switch {
	case p.sawATAXTests && len(p.ataXTests) >= len(p.ataTests):
		r.SelfTests = p.ataXTests
	case p.sawATATests:
		r.SelfTests = p.ataTests
	case len(p.scsiTests) > 0:
		r.SelfTests = p.scsiTests
	case len(p.nvmeTests) > 0:
		r.SelfTests = p.nvmeTests
	}

	if p.attrCheck && r.OverallPassed != nil {
		why := "SMART RETURN STATUS was not read"
		if p.statusReason != "" {
			why = "smartctl: " + p.statusReason
		}
		p.warn("%s; the overall-health result is smartctl's attribute check, not the drive's own assessment", why)
	}

	switch {
	case r.NVMe != nil:
		r.Protocol = ProtocolNVMe
	case r.ATA != nil:
		r.Protocol = ProtocolATA
	case r.SCSI != nil:
		r.Protocol = ProtocolSCSI
	case r.OverallPassed != nil || len(r.SelfTests) > 0 || r.ErrorLogCount != nil:
		switch {
		case p.isNVMe:
			r.Protocol = ProtocolNVMe
		case p.isSCSI && !p.isATA:
			r.Protocol = ProtocolSCSI
		default:
			r.Protocol = ProtocolATA // the self-assessment and logs are ATA's words
		}
	}

	if r.Protocol == ProtocolATA && p.sctTemp != nil && attr190or194(r.ATA) == nil {
		r.Temperature = p.sctTemp
	}

	if p.unavailable != "" {
		// smartctl still prints log pages for a device without SMART (a
		// RAID virtual disk answers "Current Drive Temperature: 0 C"): they
		// are not the drive's health.
		r.Protocol, r.OverallPassed, r.ATA, r.NVMe, r.SCSI = "", nil, nil, nil, nil
		r.SelfTests, r.ErrorLogCount = nil, nil
		r.Temperature, r.PowerOnHours, r.PowerCycles = nil, nil, nil
		p.warn("no SMART health data: smartctl: %s", p.unavailable)
	} else if r.Protocol == "" {
		msg := "no SMART health data in the smartctl output"
		if len(p.messages) > 0 {
			msg += ": smartctl: " + strings.Join(p.messages[:min(len(p.messages), 3)], " / ")
		} else if !p.content {
			msg += ": nothing after the banner"
		}
		p.warn("%s", msg)
	}
	r.Finish()
}

// capacity reads "1,000,204,886,016 bytes [1.00 TB]".
func (p *textParser) capacity(n int, k, v string, dst *int64) {
	if u := p.uintVal(n, k, v); u != nil {
		if *u > math.MaxInt64 {
			p.warn("line %d: %s %q out of range", n, k, v)
			return
		}
		*dst = int64(*u)
	}
}

// uintVal reads the number a value starts with, warning when there is
// none or it overflows.
func (p *textParser) uintVal(n int, k, v string) *uint64 {
	u, ok := leadingUint(v)
	if !ok {
		p.warn("line %d: %s %q not understood", n, k, v)
		return nil
	}
	if u == math.MaxUint64 {
		p.warn("line %d: %s %q saturated at 2^64-1", n, k, v)
	}
	return &u
}

func clampUint8(p *textParser, n int, k string, u uint64) *uint8 {
	if u > math.MaxUint8 {
		p.warn("line %d: %s %d out of range, recorded as 255", n, k, u)
		u = math.MaxUint8
	}
	b := uint8(u)
	return &b
}

// leadingUint reads the number a value starts with, with any thousands
// separator smartctl's locale prints ("1,000,204", "1.000.204",
// "1 000 204", "1’000’204", narrow no-break spaces). A separator counts
// only when three digits follow it, so "42 Celsius" reads 42. A counter
// beyond 2^64 saturates, as the live reader's 128-bit counters do.
func leadingUint(v string) (uint64, bool) {
	v = strings.TrimSpace(v)
	var digits []byte
	i := 0
	for i < len(v) && isDigit(v[i]) {
		digits = append(digits, v[i])
		i++
	}
	if len(digits) == 0 {
		return 0, false
	}
	for i < len(v) {
		sep := groupSeparatorLen(v[i:])
		if sep == 0 {
			break
		}
		j := i + sep
		if j+3 > len(v) || !allDigits(v[j:j+3]) || (j+3 < len(v) && isDigit(v[j+3])) {
			break
		}
		digits = append(digits, v[j:j+3]...)
		i = j + 3
	}
	u, err := strconv.ParseUint(string(digits), 10, 64)
	if err != nil {
		return math.MaxUint64, true
	}
	return u, true
}

// groupSeparatorLen is the byte length of a thousands separator at the
// start of s, 0 if there is none.
func groupSeparatorLen(s string) int {
	for _, sep := range []string{",", ".", " ", "'", "\u2019", "\u00a0", "\u202f"} {
		if strings.HasPrefix(s, sep) {
			return len(sep)
		}
	}
	return 0
}

// leadingFloat reads a temperature ("30 C", "42 Celsius", "-5 Celsius");
// "<not available>" is not one.
func leadingFloat(v string) (float64, bool) {
	f := strings.Fields(v)
	if len(f) == 0 {
		return 0, false
	}
	x, err := strconv.ParseFloat(strings.TrimSuffix(f[0], "%"), 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, false
	}
	return x, true
}

// hexID normalizes a WWN as printed ("5 000c50 0a1b2c3d") to lower-case
// hex digits; a value that is not hex (an anonymized "5 000c50 ...") is
// dropped.
func hexID(v string) string {
	s := strings.ToLower(strings.Join(strings.Fields(v), ""))
	if s == "" {
		return ""
	}
	for i := range len(s) {
		if !isDigit(s[i]) && (s[i] < 'a' || s[i] > 'f') {
			return ""
		}
	}
	return s
}

// powerMode maps smartctl's words ("ACTIVE or IDLE", "IDLE_A", "STANDBY",
// "SLEEP") to the report's; CHECK POWER MODE's FFh "active or idle" is
// active, as the drive is spinning.
func powerMode(w string) string {
	l := strings.ToLower(w)
	for _, m := range []string{"active", "idle", "standby", "sleep"} {
		if strings.HasPrefix(l, m) {
			return m
		}
	}
	return l
}

// localTime reads "Local Time is: Tue Oct 18 08:18:02 2022 UTC". The zone
// is an abbreviation; only unambiguous ones are resolved (CST, IST and BST
// each name several zones), else the time is left unknown rather than
// guessed.
func localTime(v string) time.Time {
	f := strings.Fields(v)
	if len(f) != 6 {
		return time.Time{}
	}
	off, ok := zoneOffsets[f[5]]
	if !ok {
		return time.Time{}
	}
	t, err := time.ParseInLocation("Mon Jan 2 15:04:05 2006", strings.Join(f[:5], " "), time.FixedZone(f[5], off*60))
	if err != nil {
		return time.Time{}
	}
	return t
}

// zoneOffsets are the unambiguous zone abbreviations, in minutes east of UTC.
var zoneOffsets = map[string]int{
	"UTC": 0, "GMT": 0, "WET": 0, "WEST": 60, "CET": 60, "CEST": 120, "MET": 60, "MEST": 120,
	"EET": 120, "EEST": 180, "MSK": 180, "EST": -300, "EDT": -240, "CDT": -300, "MST": -420,
	"MDT": -360, "PST": -480, "PDT": -420, "AKST": -540, "AKDT": -480, "HST": -600,
	"JST": 540, "KST": 540, "HKT": 480, "SGT": 480, "AEST": 600, "AEDT": 660,
	"ACST": 570, "ACDT": 630, "AWST": 480, "NZST": 720, "NZDT": 780,
}

// fieldsWithOffsets is strings.Fields, with each field's byte offset.
func fieldsWithOffsets(s string) ([]string, []int) {
	var f []string
	var o []int
	start := -1
	for i := 0; i <= len(s); i++ {
		blank := i == len(s) || s[i] == ' ' || s[i] == '\t'
		switch {
		case blank && start >= 0:
			f, o = append(f, s[start:i]), append(o, start)
			start = -1
		case !blank && start < 0:
			start = i
		}
	}
	return f, o
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func allDigitFields(f []string) bool {
	for _, s := range f {
		if !allDigits(s) {
			return false
		}
	}
	return true
}

func boolPtr(b bool) *bool { return &b }

// attr190or194 is the temperature attribute Finish would read, if any.
func attr190or194(a *ATAHealth) *Attribute {
	if a == nil {
		return nil
	}
	for i := range a.Attributes {
		if id := a.Attributes[i].ID; id == 190 || id == 194 {
			return &a.Attributes[i]
		}
	}
	return nil
}
