package smart

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ParseSmartctlJSON imports the output of `smartctl --json` (`-j -a`,
// `-j -x`; smartctl 7.0 to 7.5, JSON format version 1). It is lenient:
// real captures break smartmontools' schema (a boolean where an object
// belongs, a number as a string), and such a field becomes a warning and
// is skipped, never a failed import.
//
// It returns an error wrapping ErrMalformed only for input that is not
// JSON, not a JSON object, or not smartctl's (no "smartctl" or
// "json_format_version" key, and no "device" object either: trimmed
// captures that keep only the device's data are accepted with a warning).
// Output in which smartctl could not read the drive's health (an open
// failure, a drive in standby, a --scan listing) is a Report with an
// empty Protocol whose warnings carry smartctl's messages.
//
// Mapping notes:
//   - WWN is "naa oui id" in hex as smartctl prints "LU WWN Device Id"
//     ("5 000c50 0a1b2c3d4"); a SCSI logical_unit_id in NAA 5 form
//     (0x5000c500a1b2c3d4) is split the same way, so a drive has one
//     spelling whichever way it was read.
//   - Device is device.name, followed by " -d <type>" when the type
//     addresses a disk behind a controller ("megaraid,0"): several disks
//     then share one name.
//   - PowerOnHours is power_on_time.hours (its minutes are dropped, as in
//     the Power_On_Hours attribute).
//   - Decoded is DecodeAttributeRaw(id, raw.value, model_name); raw.string
//     is kept as RawString.
func ParseSmartctlJSON(data []byte) (*Report, error) {
	top, err := sjTop(data)
	if err != nil {
		return nil, err
	}
	d := &sjDecoder{}
	root := sjObj{d: d, m: top}
	r := &Report{Source: SourceSmartctlJSON}
	if !root.has("smartctl") && !root.has("json_format_version") {
		if _, ok := top["device"].(map[string]any); !ok {
			return nil, malformed("smartctl JSON: no \"smartctl\" or \"json_format_version\" key: not smartctl --json output")
		}
		d.warnf("no \"smartctl\" or \"json_format_version\" key: a trimmed capture, not verbatim smartctl output")
	}
	if v := root.arr("json_format_version"); len(v) > 0 {
		if major, ok := d.u64("json_format_version[0]", v[0]); ok && major != 1 {
			version := strconv.FormatUint(major, 10)
			if len(v) > 1 {
				if minor, ok := d.u64("json_format_version[1]", v[1]); ok {
					version += "." + strconv.FormatUint(minor, 10)
				}
			}
			// 0.x is smartctl 6.7's experimental output, 2+ a future one.
			d.warnf("json_format_version %s: this importer knows version 1, fields may be missed", version)
		}
	}
	sjSmartctl(root.obj("smartctl"), r)
	if root.has("devices") {
		d.warnf("a smartctl --scan listing (devices[]), not one device's report")
	}

	proto := sjIdentity(root, r)
	_, health := top["smart_status"].(map[string]any)
	health = sjATA(root, r) || health
	health = sjNVMe(root, r) || health
	health = sjSCSI(root, r, proto == ProtocolSCSI) || health
	if proto == "" { // a trimmed capture: the logs say which protocol
		switch {
		case r.ATA != nil:
			proto = ProtocolATA
		case r.NVMe != nil:
			proto = ProtocolNVMe
		case r.SCSI != nil:
			proto = ProtocolSCSI
		}
	}
	sjStatus(root, r, proto)
	sjCommon(root, r, proto)
	if health {
		r.Protocol = proto
	} else if r.Skipped == "" {
		d.warnf("no SMART health data in the smartctl output (no smart_status, attribute table or health log)")
	}
	r.Warnings = append(r.Warnings, d.warnings...)
	r.Finish()
	return r, nil
}

const utf8BOM = "\ufeff"

// sjTop decodes the document in one pass (numbers kept as text, so that
// 64-bit counters stay exact): the only step whose failure fails the
// import.
func sjTop(data []byte) (map[string]any, error) {
	data = bytes.TrimPrefix(data, []byte(utf8BOM)) // Windows editors save captures with one
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, malformed("smartctl JSON: empty input")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, malformed("smartctl JSON: not JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, malformed("smartctl JSON: more than one JSON value, or trailing data")
	}
	top, ok := doc.(map[string]any)
	if !ok {
		return nil, malformed("smartctl JSON: the top level is a JSON %s, not an object", sjKind(doc))
	}
	return top, nil
}

// sjSmartctl reads smartctl's own block: its exit status and messages
// become warnings, and "Device is in STANDBY mode" (smartctl -n standby)
// the report's power mode.
func sjSmartctl(s sjObj, r *Report) {
	if !s.ok() {
		return
	}
	d := s.d
	for i, raw := range s.arr("messages") {
		m := d.object(fmt.Sprintf("smartctl.messages[%d]", i), raw)
		text, _ := m.str("string")
		sev, _ := m.str("severity")
		if mode, ok := sjStandby(text); ok {
			r.PowerMode = mode
			r.Skipped = "smartctl: " + text
			continue
		}
		if text != "" && (sev == "error" || sev == "warning") {
			d.warnf("smartctl: %s", text)
		}
	}
	if st, ok := s.u64("exit_status"); ok && st != 0 {
		d.warnf("smartctl: exit status %d (%s)", st, sjExitBits(st))
	}
}

// sjStandby recognizes smartctl's "Device is in STANDBY mode, exit(2)"
// (ATA names: STANDBY, SLEEP, IDLE_A...; SCSI: "STANDBY BY TIMER", ...).
func sjStandby(msg string) (string, bool) {
	rest, ok := strings.CutPrefix(msg, "Device is in ")
	if !ok {
		return "", false
	}
	name, _, ok := strings.Cut(rest, " mode")
	words := strings.FieldsFunc(name, func(c rune) bool { return c == ' ' || c == '_' })
	if !ok || len(words) == 0 {
		return "", false
	}
	return strings.ToLower(words[0]), true
}

// sjExitBitTexts are smartctl(8)'s RETURN VALUES, bit by bit.
var sjExitBitTexts = [8]string{
	"the command line did not parse",
	"the device open failed, it returned no IDENTIFY data, or it is in a low-power mode",
	"a SMART or other command to the disk failed, or a SMART data structure had a bad checksum",
	"the SMART status check returned DISK FAILING",
	"prefail attributes are at or below their threshold",
	"the SMART status is DISK OK but some attributes were at or below their threshold in the past",
	"the device error log contains records of errors",
	"the device self-test log contains records of errors",
}

func sjExitBits(st uint64) string {
	var parts []string
	for i, t := range sjExitBitTexts {
		if st&(1<<i) != 0 {
			parts = append(parts, fmt.Sprintf("bit %d: %s", i, t))
		}
	}
	if st>>8 != 0 {
		parts = append(parts, "bits above 7: not a smartctl exit status")
	}
	return strings.Join(parts, "; ")
}

// sjIdentity fills the inventory fields and returns the protocol smartctl
// named.
func sjIdentity(root sjObj, r *Report) Protocol {
	d := root.d
	dev := root.obj("device")
	name, _ := dev.str("name")
	typ, _ := dev.str("type")
	r.Device = name
	if name != "" && strings.Contains(typ, ",") {
		r.Device = name + " -d " + typ
	}
	var proto Protocol
	if p, ok := dev.str("protocol"); ok {
		switch Protocol(p) {
		case ProtocolATA, ProtocolNVMe, ProtocolSCSI:
			proto = Protocol(p)
		default:
			d.warnf("device.protocol %q: not ATA, NVMe or SCSI", p)
		}
	}
	r.Transport = sjTransport(typ, proto, root)

	str := func(keys ...string) string {
		for _, k := range keys {
			if s, ok := root.str(k); ok && strings.TrimSpace(s) != "" {
				return strings.TrimSpace(s)
			}
		}
		return ""
	}
	// smartctl 7.3 renamed the SCSI inquiry fields with a scsi_ prefix.
	r.Vendor = str("scsi_vendor", "vendor")
	r.Model = str("model_name", "scsi_model_name")
	if r.Model == "" {
		r.Model = strings.TrimSpace(r.Vendor + " " + str("scsi_product", "product"))
	}
	r.Family = str("model_family")
	r.Serial = str("serial_number")
	r.Firmware = str("firmware_version", "scsi_revision", "revision")

	if w := root.obj("wwn"); w.ok() {
		naa, ok1 := w.u64("naa")
		oui, ok2 := w.u64("oui")
		id, ok3 := w.u64("id")
		if ok1 && ok2 && ok3 {
			r.WWN = fmt.Sprintf("%x %06x %09x", naa, oui, id)
		}
	} else if lu, ok := root.str("logical_unit_id"); ok {
		r.WWN = sjLogicalUnitWWN(lu)
	}

	if c := root.obj("user_capacity"); c.ok() {
		if b, ok := c.u64("bytes"); ok {
			r.CapacityBytes = sjInt64(d, "user_capacity.bytes", b)
		}
	}
	if r.CapacityBytes == 0 {
		if b, ok := root.u64("nvme_total_capacity"); ok {
			r.CapacityBytes = sjInt64(d, "nvme_total_capacity", b)
		}
	}
	if rpm, ok := root.u64("rotation_rate"); ok && rpm <= math.MaxInt32 {
		v := int(rpm)
		r.RotationRPM = &v
	}
	switch v := root.m["smart_support"].(type) {
	case bool:
		// Seen in the wild (a trimmed capture): read as availability.
		r.SMARTAvailable = &v
		d.warnf("smart_support: a boolean, not {available, enabled}: read as available=%t", v)
	default:
		s := root.obj("smart_support") // reports any other wrong type
		if v, ok := s.boolean("available"); ok {
			r.SMARTAvailable = &v
		}
		if v, ok := s.boolean("enabled"); ok {
			r.SMARTEnabled = &v
		}
	}
	if lt := root.obj("local_time"); lt.ok() {
		if t, ok := lt.i64("time_t"); ok && t > 0 {
			r.Time = time.Unix(t, 0).UTC()
		}
	}
	return proto
}

// sjTransport names the bus: a RAID controller or USB bridge the disk is
// reached through, else the protocol's usual bus.
func sjTransport(typ string, proto Protocol, root sjObj) string {
	t := strings.ToLower(typ)
	switch {
	case strings.Contains(t, "megaraid"):
		return "MegaRAID"
	case strings.Contains(t, "cciss"):
		return "CCISS"
	case strings.Contains(t, "aacraid"):
		return "AACRAID"
	case strings.Contains(t, "areca"):
		return "Areca"
	case strings.Contains(t, "3ware"):
		return "3ware"
	case strings.HasPrefix(t, "hpt"):
		return "HighPoint"
	case strings.HasPrefix(t, "usb"), strings.HasPrefix(t, "snt"):
		return "USB" // USB-SATA and USB-NVMe bridges
	}
	switch proto {
	case ProtocolNVMe:
		return "NVMe"
	case ProtocolATA:
		return "SATA"
	case ProtocolSCSI:
		name, _ := root.obj("scsi_transport_protocol").str("name")
		if strings.HasPrefix(name, "SAS") {
			return "SAS"
		}
		if n, _, _ := strings.Cut(name, " ("); n != "" {
			return n // "Parallel SCSI", "Fibre Channel"
		}
		return "SCSI"
	}
	return ""
}

// sjLogicalUnitWWN spells a SCSI NAA 5 logical unit id ("0x5000c500a1b2c3d4")
// as smartctl spells an ATA WWN; other designators are kept as given.
func sjLogicalUnitWWN(lu string) string {
	lu = strings.TrimSpace(lu)
	h := strings.TrimPrefix(strings.ToLower(lu), "0x")
	if len(h) == 16 && h[0] == '5' {
		if v, err := strconv.ParseUint(h, 16, 64); err == nil {
			return fmt.Sprintf("%x %06x %09x", v>>60, (v>>36)&0xffffff, v&0xfffffffff)
		}
	}
	return lu
}

func sjInt64(d *sjDecoder, path string, v uint64) int64 {
	if v > math.MaxInt64 {
		d.warnf("%s: %d does not fit in 63 bits", path, v)
		return 0
	}
	return int64(v)
}

// sjStatus reads smart_status: the overall verdict, and the NVMe and SCSI
// details smartctl gives with it.
func sjStatus(root sjObj, r *Report, proto Protocol) {
	s := root.obj("smart_status")
	if !s.ok() {
		return
	}
	d := s.d
	passed, ok := s.boolean("passed")
	if ok {
		r.OverallPassed = &passed
	}
	if n := s.obj("nvme"); n.ok() {
		if v, ok := n.u8("value"); ok && r.NVMe != nil && r.NVMe.CriticalWarning != v {
			d.warnf("smart_status.nvme.value 0x%02x disagrees with the health log's critical_warning 0x%02x", v, r.NVMe.CriticalWarning)
		}
	}
	if sc := s.obj("scsi"); sc.ok() {
		asc, ok1 := sc.u8("asc")
		ascq, ok2 := sc.u8("ascq")
		if ok1 && ok2 {
			if r.SCSI == nil {
				r.SCSI = &SCSIHealth{}
			}
			r.SCSI.SetInformationalException(asc, ascq)
			if ie, ok := sc.str("ie_string"); ok && ie != "" {
				r.SCSI.HealthStatus = ie // smartctl's own words
			}
		}
	} else if proto == ProtocolSCSI && ok && passed {
		// smartctl printed "SMART Health Status: OK" and gave no ASC: the
		// exception page held no failure prediction.
		if r.SCSI == nil {
			r.SCSI = &SCSIHealth{}
		}
		r.SCSI.HealthStatus = "OK"
	}
}

// sjCommon reads the protocol-independent fields smartctl derives for
// every drive.
func sjCommon(root sjObj, r *Report, proto Protocol) {
	t := root.obj("temperature")
	if v, ok := t.f64("current"); ok {
		r.Temperature = &v
	}
	if proto == ProtocolSCSI {
		st := root.obj("scsi_temperature") // 7.3+: the trip point, from the IE page
		cur, curOK := t.f64("current")
		if !curOK {
			cur, curOK = st.f64("current")
			if curOK {
				r.Temperature = &cur
			}
		}
		trip, tripOK := t.f64("drive_trip")
		if !tripOK {
			trip, tripOK = st.f64("drive_trip")
		}
		if curOK || tripOK {
			if r.SCSI == nil {
				r.SCSI = &SCSIHealth{}
			}
			if curOK {
				r.SCSI.Temperature = &cur
			}
			if tripOK {
				r.SCSI.TripTemperature = &trip
			}
		}
	}
	if h, ok := root.obj("power_on_time").u64("hours"); ok {
		v := float64(h)
		r.PowerOnHours = &v
	}
	if v, ok := root.u64("power_cycle_count"); ok {
		r.PowerCycles = &v
	}
}

// sjATA reads the attribute table, error log and self-test logs.
func sjATA(root sjObj, r *Report) bool {
	d := root.d
	found := false
	if at := root.obj("ata_smart_attributes"); at.ok() {
		found = true
		h := &ATAHealth{Attributes: []Attribute{}}
		if rev, ok := at.u64("revision"); ok && rev <= math.MaxInt32 {
			h.Revision = int(rev)
		}
		for i, raw := range at.arr("table") {
			path := fmt.Sprintf("ata_smart_attributes.table[%d]", i)
			if a, ok := sjAttribute(d, path, d.object(path, raw), r.Model); ok {
				h.Attributes = append(h.Attributes, a)
			}
		}
		r.ATA = h
	}
	if el := root.obj("ata_smart_error_log"); el.ok() {
		found = true
		for _, k := range []string{"summary", "extended"} {
			if n, ok := el.obj(k).u64("count"); ok {
				r.ErrorLogCount = &n
				break
			}
		}
	}
	if sl := root.obj("ata_smart_self_test_log"); sl.ok() {
		found = true
		// -x reads the extended (GP) log, which is the standard log's
		// superset: take one, not both.
		for _, k := range []string{"extended", "standard"} {
			log := sl.obj(k)
			if !log.has("table") {
				continue
			}
			for i, raw := range log.arr("table") {
				if e := d.object(fmt.Sprintf("ata_smart_self_test_log.%s.table[%d]", k, i), raw); e.ok() {
					r.SelfTests = append(r.SelfTests, sjATASelfTest(e))
				}
			}
			break
		}
	}
	// The SMART data's self-test execution status covers a test still
	// running (not yet in the log) or a drive whose log was not read.
	if st := root.obj("ata_smart_data").obj("self_test").obj("status"); st.ok() {
		if v, ok := st.u8("value"); ok {
			text, failed, inProgress := ataSelfTestResult(v)
			if s, ok := st.str("string"); ok && s != "" {
				text = s
			}
			running := slices.ContainsFunc(r.SelfTests, func(t SelfTest) bool { return t.InProgress })
			switch {
			case inProgress && !running:
				r.SelfTests = slices.Insert(r.SelfTests, 0, SelfTest{Type: "unknown", Status: text, InProgress: true})
			case failed && len(r.SelfTests) == 0:
				r.SelfTests = append(r.SelfTests, SelfTest{Type: "unknown", Status: text, Failed: true})
			}
		}
	}
	return found
}

func sjAttribute(d *sjDecoder, path string, e sjObj, model string) (Attribute, bool) {
	id, ok := e.u8("id")
	if !ok || id == 0 {
		if e.ok() {
			d.warnf("%s: no valid id: attribute skipped", path)
		}
		return Attribute{}, false
	}
	a := Attribute{ID: id}
	a.Name, _ = e.str("name")
	if a.Name == "" {
		a.Name = DefaultAttributeName(id)
	}
	a.Value, _ = e.u8("value")
	a.Worst, _ = e.u8("worst")
	if t, ok := e.u8("thresh"); ok {
		a.Threshold = &t
	}
	if f, ok := e.obj("flags").u64("value"); ok {
		if f > math.MaxUint16 {
			d.warnf("%s.flags.value: %d is not a 16-bit flag word", path, f)
		} else {
			a.Flags = uint16(f)
		}
	}
	raw := e.obj("raw")
	if v, ok := raw.u64("value"); ok {
		a.Raw = v
	}
	a.RawString, _ = raw.str("string")
	a.Decoded = DecodeAttributeRaw(id, a.Raw, model)
	if wf, ok := e.str("when_failed"); ok {
		switch wf {
		case "", "now", "past":
			a.WhenFailed = wf
		default:
			d.warnf("%s.when_failed: %q is not \"now\", \"past\" or \"\"", path, wf)
		}
	} else if a.Threshold != nil {
		a.WhenFailed = whenFailed(a.Value, a.Worst, *a.Threshold)
	}
	return a, true
}

func sjATASelfTest(e sjObj) SelfTest {
	var t SelfTest
	typ := e.obj("type")
	if v, ok := typ.u8("value"); ok {
		t.Type = ataSelfTestType(v)
	} else {
		t.Type, _ = typ.str("string")
	}
	st := e.obj("status")
	passed, hasPassed := st.boolean("passed")
	v, hasValue := st.u8("value")
	var text string
	var aborted bool
	if hasValue {
		text, t.Failed, t.InProgress = ataSelfTestResult(v)
		aborted = v>>4 == 1 || v>>4 == 2
	}
	if s, ok := st.str("string"); ok && s != "" {
		text = s
	}
	if !hasValue {
		aborted = strings.HasPrefix(text, "Aborted") || strings.HasPrefix(text, "Interrupted")
		t.InProgress = strings.Contains(text, "in progress")
	}
	t.Status = text
	if hasPassed && !passed && !aborted && !t.InProgress {
		t.Failed = true
	}
	if h, ok := e.u64("lifetime_hours"); ok {
		t.LifetimeHours = &h
	}
	if lba, ok := e.u64("lba"); ok {
		t.FailingLBA = &lba
	}
	return t
}

// sjNVMe reads the SMART / Health Information log, the error information
// log and the self-test log.
func sjNVMe(root sjObj, r *Report) bool {
	d := root.d
	found := false
	if l := root.obj("nvme_smart_health_information_log"); l.ok() {
		found = true
		n := &NVMeHealth{}
		n.CriticalWarning, _ = l.u8("critical_warning")
		n.Temperature, _ = l.f64("temperature")
		n.AvailableSpare, _ = l.u8("available_spare")
		n.SpareThreshold, _ = l.u8("available_spare_threshold")
		n.PercentageUsed, _ = l.u8("percentage_used")
		n.DataUnitsRead, _ = l.u64("data_units_read")
		n.DataUnitsWritten, _ = l.u64("data_units_written")
		n.HostReads, _ = l.u64("host_reads")
		n.HostWrites, _ = l.u64("host_writes")
		n.ControllerBusyMinutes, _ = l.u64("controller_busy_time")
		n.PowerCycles, _ = l.u64("power_cycles")
		n.PowerOnHours, _ = l.u64("power_on_hours")
		n.UnsafeShutdowns, _ = l.u64("unsafe_shutdowns")
		n.MediaErrors, _ = l.u64("media_errors")
		n.ErrorLogEntries, _ = l.u64("num_err_log_entries")
		n.WarningTempMinutes, _ = l.u32("warning_temp_time")
		n.CriticalTempMinutes, _ = l.u32("critical_comp_time")
		// smartctl writes sensor i at index i and only the sensors in
		// use, so the array can hold nulls: they are skipped.
		for i, raw := range l.arr("temperature_sensors") {
			if raw == nil {
				continue
			}
			if v, ok := d.f64(fmt.Sprintf("nvme_smart_health_information_log.temperature_sensors[%d]", i), raw); ok {
				n.TemperatureSensors = append(n.TemperatureSensors, v)
			}
		}
		r.NVMe = n
	}
	if el := root.obj("nvme_error_information_log"); el.ok() {
		found = true
		if r.NVMe == nil { // else the health log's count is the lifetime total
			var most uint64
			seen := false
			for i, raw := range el.arr("table") {
				if c, ok := d.object(fmt.Sprintf("nvme_error_information_log.table[%d]", i), raw).u64("error_count"); ok {
					most, seen = max(most, c), true
				}
			}
			if seen {
				r.ErrorLogCount = &most
			}
		}
	}
	if sl := root.obj("nvme_self_test_log"); sl.ok() {
		found = true
		if op := sl.obj("current_self_test_operation"); op.ok() {
			if v, ok := op.u8("value"); ok && v&0xf != 0 {
				text, _ := op.str("string")
				r.SelfTests = append(r.SelfTests, SelfTest{Type: sjNVMeTestType(v & 0xf), Status: text, InProgress: true})
			}
		}
		for i, raw := range sl.arr("table") {
			path := fmt.Sprintf("nvme_self_test_log.table[%d]", i)
			if e := d.object(path, raw); e.ok() {
				r.SelfTests = append(r.SelfTests, sjNVMeSelfTest(d, path, e))
			}
		}
	}
	return found
}

// sjNVMeTestType names a Device Self-test Code (NVMe Base 2.0, Figure 300).
func sjNVMeTestType(code uint8) string {
	switch code {
	case 0x1:
		return "short"
	case 0x2:
		return "extended"
	case 0xe:
		return "vendor specific"
	}
	return fmt.Sprintf("code 0x%x", code)
}

// sjNVMeTestFailed reports whether a Device Self-test Status result
// (NVMe Base 2.0, Figure 302) is a failure of the drive: a fatal error or
// failed segments; 1-4, 8 and 9 are aborts.
func sjNVMeTestFailed(result uint8) bool { return result >= 5 && result <= 7 }

func sjNVMeSelfTest(d *sjDecoder, path string, e sjObj) SelfTest {
	var t SelfTest
	code := e.obj("self_test_code")
	if v, ok := code.u8("value"); ok {
		t.Type = sjNVMeTestType(v)
	} else {
		t.Type, _ = code.str("string")
		t.Type = strings.ToLower(t.Type)
	}
	res := e.obj("self_test_result")
	if v, ok := res.u8("value"); ok {
		t.Failed = sjNVMeTestFailed(v)
	}
	t.Status, _ = res.str("string")
	if h, ok := e.u64("power_on_hours"); ok {
		t.LifetimeHours = &h
	}
	if lba, ok := sjValueOrObject(d, path+".lba", e.m["lba"]); ok {
		t.FailingLBA = &lba
	}
	return t
}

// sjValueOrObject reads a counter smartctl writes either bare or as
// {"value": n} (NVMe and SCSI log entries differ between versions).
func sjValueOrObject(d *sjDecoder, path string, v any) (uint64, bool) {
	if _, ok := v.(map[string]any); ok {
		return d.object(path, v).u64("value")
	}
	return d.u64(path, v)
}

// sjSCSI reads the SCSI log pages smartctl reports.
func sjSCSI(root sjObj, r *Report, isSCSI bool) bool {
	d := root.d
	s := &SCSIHealth{}
	found := false
	if v, ok := root.u64("scsi_grown_defect_list"); ok {
		s.GrownDefects, found = &v, true
	}
	if el := root.obj("scsi_error_counter_log"); el.ok() {
		found = true
		s.Read = sjErrorCounters(el.obj("read"))
		s.Write = sjErrorCounters(el.obj("write"))
		s.Verify = sjErrorCounters(el.obj("verify"))
	}
	if ss := root.obj("scsi_start_stop_cycle_counter"); ss.ok() {
		found = true
		opt := func(k string) *uint64 {
			if v, ok := ss.u64(k); ok {
				return &v
			}
			return nil
		}
		s.SpecifiedStartStopCycles = opt("specified_cycle_count_over_device_lifetime")
		s.StartStopCycles = opt("accumulated_start_stop_cycles")
		s.SpecifiedLoadUnloadCycles = opt("specified_load_unload_count_over_device_lifetime")
		s.LoadUnloadCycles = opt("accumulated_load_unload_cycles")
	}
	if v, ok := root.u8("scsi_percentage_used_endurance_indicator"); ok {
		s.PercentageUsed, found = &v, true
	}
	// scsi_self_test_0 ... scsi_self_test_19, newest first.
	var keys []int
	for k := range root.m {
		if n, ok := strings.CutPrefix(k, "scsi_self_test_"); ok {
			if i, err := strconv.Atoi(n); err == nil && i >= 0 {
				keys = append(keys, i)
			}
		}
	}
	slices.Sort(keys)
	for _, i := range keys {
		key := "scsi_self_test_" + strconv.Itoa(i)
		if e := root.obj(key); e.ok() {
			found = true
			r.SelfTests = append(r.SelfTests, sjSCSISelfTest(d, key, e))
		}
	}
	if found || (isSCSI && root.has("smart_status")) {
		r.SCSI = s
	}
	return found
}

func sjErrorCounters(o sjObj) *ErrorCounters {
	if !o.ok() {
		return nil
	}
	c := &ErrorCounters{}
	c.CorrectedFast, _ = o.u64("errors_corrected_by_eccfast")
	c.CorrectedDelayed, _ = o.u64("errors_corrected_by_eccdelayed")
	c.Rereads, _ = o.u64("errors_corrected_by_rereads_rewrites")
	c.TotalCorrected, _ = o.u64("total_errors_corrected")
	c.AlgorithmInvocations, _ = o.u64("correction_algorithm_invocations")
	c.Uncorrected, _ = o.u64("total_uncorrected_errors")
	// smartctl writes gigabytes (10^9 bytes) as a "%.3f" string; accept a
	// number too.
	if v := o.m["gigabytes_processed"]; v != nil {
		var text string
		switch x := v.(type) {
		case string:
			text = x
		case json.Number:
			text = x.String()
		}
		if b, ok := sjGigabytes(text); ok {
			c.BytesProcessed = b
		} else {
			o.d.warnf("%s.gigabytes_processed: %s is not a number of gigabytes", o.path, sjSnippet(v))
		}
	}
	return c
}

// sjGigabytes converts a decimal count of 10^9 bytes to bytes exactly
// ("11523.849" -> 11523849000000), falling back to floating point for
// exponents.
func sjGigabytes(s string) (uint64, bool) {
	s = strings.TrimSpace(s)
	whole, frac, _ := strings.Cut(s, ".")
	if w, err := strconv.ParseUint(whole, 10, 64); err == nil && len(frac) <= 9 && sjDigits(frac) {
		f, _ := strconv.ParseUint((frac + "000000000")[:9], 10, 64)
		if w <= (math.MaxUint64-f)/1e9 {
			return w*1e9 + f, true
		}
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || v*1e9 >= math.MaxUint64 || math.IsNaN(v) {
		return 0, false
	}
	return uint64(math.Round(v * 1e9)), true
}

func sjDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func sjSCSISelfTest(d *sjDecoder, path string, e sjObj) SelfTest {
	var t SelfTest
	code := e.obj("code")
	if v, ok := code.u8("value"); ok {
		t.Type = scsiSelfTestType(v)
	} else {
		t.Type, _ = code.str("string")
	}
	res := e.obj("result")
	if v, ok := res.u8("value"); ok {
		t.Status, t.Failed, t.InProgress = scsiSelfTestResult(v)
	}
	if s, ok := res.str("string"); ok && s != "" {
		t.Status = s
	}
	if ip, ok := e.boolean("self_test_in_progress"); ok && ip {
		t.InProgress = true
	}
	if h, ok := e.obj("power_on_time").u64("hours"); ok {
		t.LifetimeHours = &h
	}
	if lba, ok := sjValueOrObject(d, path+".lba_first_failure", e.m["lba_first_failure"]); ok {
		t.FailingLBA = &lba
	}
	return t
}

// sjDecoder collects one import's warnings.
type sjDecoder struct{ warnings []string }

func (d *sjDecoder) warnf(format string, args ...any) {
	d.warnings = append(d.warnings, fmt.Sprintf(format, args...))
}

// sjObj is a JSON object at a path; m is nil when the object is absent or
// was not an object (which was then reported).
type sjObj struct {
	d    *sjDecoder
	path string
	m    map[string]any
}

func (o sjObj) ok() bool { return o.m != nil }

// has reports a present, non-null key.
func (o sjObj) has(k string) bool { return o.m[k] != nil }

func (o sjObj) key(k string) string {
	if o.path == "" {
		return k
	}
	return o.path + "." + k
}

func (o sjObj) obj(k string) sjObj { return o.d.object(o.key(k), o.m[k]) }

func (o sjObj) arr(k string) []any { return o.d.array(o.key(k), o.m[k]) }

func (o sjObj) str(k string) (string, bool) { return o.d.str(o.key(k), o.m[k]) }

func (o sjObj) boolean(k string) (bool, bool) { return o.d.boolean(o.key(k), o.m[k]) }

func (o sjObj) u64(k string) (uint64, bool) { return o.d.u64(o.key(k), o.m[k]) }

func (o sjObj) i64(k string) (int64, bool) { return o.d.i64(o.key(k), o.m[k]) }

func (o sjObj) f64(k string) (float64, bool) { return o.d.f64(o.key(k), o.m[k]) }

func (o sjObj) u8(k string) (uint8, bool) {
	v, ok := o.u64(k)
	if ok && v > math.MaxUint8 {
		o.d.warnf("%s: %d does not fit in a byte", o.key(k), v)
		return 0, false
	}
	return uint8(v), ok
}

func (o sjObj) u32(k string) (uint32, bool) {
	v, ok := o.u64(k)
	if ok && v > math.MaxUint32 {
		o.d.warnf("%s: %d does not fit in 32 bits", o.key(k), v)
		return 0, false
	}
	return uint32(v), ok
}

// sjKind names the JSON type of a decoded value.
func sjKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	}
	return "number"
}

func sjSnippet(v any) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return s
}

// wrongType reports a value of an unexpected type. Absent and null values
// are merely absent: smartctl writes null for unused array slots.
func (d *sjDecoder) wrongType(path, want string, v any) {
	d.warnf("%s: want %s, got %s %s", path, want, sjKind(v), sjSnippet(v))
}

func (d *sjDecoder) object(path string, v any) sjObj {
	o := sjObj{d: d, path: path}
	switch x := v.(type) {
	case nil:
	case map[string]any:
		o.m = x
	default:
		d.wrongType(path, "an object", v)
	}
	return o
}

func (d *sjDecoder) array(path string, v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	}
	d.wrongType(path, "an array", v)
	return nil
}

func (d *sjDecoder) str(path string, v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	}
	d.wrongType(path, "a string", v)
	return "", false
}

func (d *sjDecoder) boolean(path string, v any) (bool, bool) {
	switch x := v.(type) {
	case nil:
		return false, false
	case bool:
		return x, true
	}
	d.wrongType(path, "a boolean", v)
	return false, false
}

// number returns a number's text; a string holding a number is accepted
// with a warning (some exporters quote counters).
func (d *sjDecoder) number(path string, v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case json.Number:
		return x.String(), true
	case string:
		s := strings.TrimSpace(x)
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			d.warnf("%s: a string, not a number: read as %s", path, s)
			return s, true
		}
	}
	d.wrongType(path, "a number", v)
	return "", false
}

func (d *sjDecoder) u64(path string, v any) (uint64, bool) {
	s, ok := d.number(path, v)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err == nil {
		return n, true
	}
	if errors.Is(err, strconv.ErrRange) {
		// NVMe counters are 128-bit: smartctl prints what does not fit.
		d.warnf("%s: %s does not fit in 64 bits: read as %d", path, s, uint64(math.MaxUint64))
		return math.MaxUint64, true
	}
	f, ferr := strconv.ParseFloat(s, 64)
	switch {
	case ferr != nil || math.IsNaN(f):
		d.warnf("%s: %s is not a number", path, s)
	case f < 0:
		d.warnf("%s: %s is negative, want a count", path, s)
	case f != math.Trunc(f):
		d.warnf("%s: %s is not an integer", path, s)
	case f >= math.MaxUint64:
		d.warnf("%s: %s does not fit in 64 bits: read as %d", path, s, uint64(math.MaxUint64))
		return math.MaxUint64, true
	default:
		return uint64(f), true // "12.0", "1e3"
	}
	return 0, false
}

func (d *sjDecoder) i64(path string, v any) (int64, bool) {
	s, ok := d.number(path, v)
	if !ok {
		return 0, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || f >= math.MaxInt64 || f < math.MinInt64 {
		d.warnf("%s: %s is not a 64-bit integer", path, s)
		return 0, false
	}
	return int64(f), true
}

func (d *sjDecoder) f64(path string, v any) (float64, bool) {
	s, ok := d.number(path, v)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		d.warnf("%s: %s is not a finite number", path, s)
		return 0, false
	}
	return f, true
}
