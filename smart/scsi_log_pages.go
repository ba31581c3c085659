package smart

import (
	"encoding/binary"
	"fmt"
)

// SCSI log pages (SPC-5 7.3 log parameters; SBC-4 6.5 for the
// direct-access pages). A page is a 4-byte header (page code in byte 0
// bits 5-0, subpage in byte 1, page length in bytes 2-3, big-endian)
// followed by parameters: a 2-byte parameter code, a control byte, a
// length byte and that many value bytes, big-endian.

// SCSI log page codes read for health (SPC-5 Table 444, SBC-4 Table 213).
const (
	LogPageSupported       = 0x00
	LogPageWriteErrors     = 0x02
	LogPageReadErrors      = 0x03
	LogPageVerifyErrors    = 0x05
	LogPageNonMediumErrors = 0x06
	LogPageTemperature     = 0x0d
	LogPageStartStop       = 0x0e
	LogPageSelfTest        = 0x10
	LogPageSolidStateMedia = 0x11
	LogPageInfoExceptions  = 0x2f
)

// LogParameter is one parameter of a log page.
type LogParameter struct {
	Code  uint16
	Value []byte
}

// ParseLogPage splits a log page into its parameters, checking that it is
// the page asked for.
func ParseLogPage(b []byte, page uint8) ([]LogParameter, error) {
	if len(b) < 4 {
		return nil, malformed("log page %02Xh: %d bytes, shorter than its header", page, len(b))
	}
	if got := b[0] & 0x3f; got != page {
		return nil, malformed("log page %02Xh: the device returned page %02Xh", page, got)
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	body := b[4:]
	if n > len(body) {
		// A truncated transfer: decode what arrived (smartctl does too).
		n = len(body)
	}
	body = body[:n]
	var out []LogParameter
	for len(body) > 0 {
		if len(body) < 4 {
			return out, malformed("log page %02Xh: %d stray bytes after the last parameter", page, len(body))
		}
		code := binary.BigEndian.Uint16(body[0:2])
		l := int(body[3])
		if 4+l > len(body) {
			return out, malformed("log page %02Xh: parameter %04Xh says %d bytes, %d remain", page, code, l, len(body)-4)
		}
		out = append(out, LogParameter{Code: code, Value: body[4 : 4+l]})
		body = body[4+l:]
	}
	return out, nil
}

// beUint reads a big-endian counter of any length up to 8 bytes (longer
// values keep their low 8 bytes).
func beUint(b []byte) uint64 {
	if len(b) > 8 {
		b = b[len(b)-8:]
	}
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return v
}

// ParseSupportedLogPages decodes page 00h: the list of supported pages.
func ParseSupportedLogPages(b []byte) ([]uint8, error) {
	if len(b) < 4 || b[0]&0x3f != LogPageSupported {
		return nil, malformed("supported log pages: not page 00h")
	}
	n := min(int(binary.BigEndian.Uint16(b[2:4])), len(b)-4)
	out := make([]uint8, 0, n)
	for _, p := range b[4 : 4+n] {
		out = append(out, p&0x3f)
	}
	return out, nil
}

// ParseErrorCounterPage decodes a write (02h), read (03h) or verify (05h)
// error counter page (SBC-4 6.5.x; parameter codes 0000h-0006h).
func ParseErrorCounterPage(b []byte, page uint8) (*ErrorCounters, error) {
	params, err := ParseLogPage(b, page)
	if err != nil {
		return nil, err
	}
	c := &ErrorCounters{}
	for _, p := range params {
		v := beUint(p.Value)
		switch p.Code {
		case 0x0000:
			c.CorrectedFast = v
		case 0x0001:
			c.CorrectedDelayed = v
		case 0x0002:
			c.Rereads = v
		case 0x0003:
			c.TotalCorrected = v
		case 0x0004:
			c.AlgorithmInvocations = v
		case 0x0005:
			c.BytesProcessed = v
		case 0x0006:
			c.Uncorrected = v
		}
	}
	return c, nil
}

// ParseNonMediumErrorPage decodes page 06h (parameter 0000h, the count).
func ParseNonMediumErrorPage(b []byte) (uint64, error) {
	params, err := ParseLogPage(b, LogPageNonMediumErrors)
	if err != nil {
		return 0, err
	}
	for _, p := range params {
		if p.Code == 0 {
			return beUint(p.Value), nil
		}
	}
	return 0, malformed("non-medium error page: no count parameter")
}

// ParseTemperaturePage decodes page 0Dh (SPC-5 7.3.29): parameter 0000h is
// the temperature, 0001h the reference (trip) temperature, in degrees
// Celsius; FFh means not available.
func ParseTemperaturePage(b []byte) (current, trip *float64, err error) {
	params, err := ParseLogPage(b, LogPageTemperature)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range params {
		if len(p.Value) < 2 || p.Value[1] == 0xff {
			continue
		}
		v := float64(p.Value[1])
		switch p.Code {
		case 0x0000:
			current = &v
		case 0x0001:
			trip = &v
		}
	}
	return current, trip, nil
}

// ParseEnvironmentalReportingPage decodes page 0Dh subpage 01h (SPC-5
// 7.3.8): parameters 0000h-00FFh are temperatures, byte 1 of each value the
// current one in degrees Celsius (signed; 80h means not available). smartctl
// prefers it to subpage 00h where a device has it, and so does prefail, so
// that both report the same temperature.
func ParseEnvironmentalReportingPage(b []byte) (*float64, error) {
	if len(b) >= 2 && b[1] != 0x01 {
		return nil, malformed("environmental reporting page: subpage %02Xh, want 01h", b[1])
	}
	params, err := ParseLogPage(b, LogPageTemperature)
	if err != nil {
		return nil, err
	}
	for _, p := range params {
		if p.Code <= 0x00ff && len(p.Value) >= 2 && p.Value[1] != 0x80 {
			v := float64(int8(p.Value[1]))
			return &v, nil
		}
	}
	return nil, nil
}

// StartStopCounters is page 0Eh (SPC-5 7.3.25).
type StartStopCounters struct {
	ManufactureDate                                                string // YYYYWW as the device wrote it
	SpecifiedStartStop, StartStop, SpecifiedLoadUnload, LoadUnload *uint64
}

// ParseStartStopPage decodes page 0Eh.
func ParseStartStopPage(b []byte) (*StartStopCounters, error) {
	params, err := ParseLogPage(b, LogPageStartStop)
	if err != nil {
		return nil, err
	}
	s := &StartStopCounters{}
	for _, p := range params {
		v := beUint(p.Value)
		switch p.Code {
		case 0x0001:
			if len(p.Value) == 6 {
				s.ManufactureDate = string(p.Value)
			}
		case 0x0003:
			s.SpecifiedStartStop = &v
		case 0x0004:
			s.StartStop = &v
		case 0x0005:
			s.SpecifiedLoadUnload = &v
		case 0x0006:
			s.LoadUnload = &v
		}
	}
	return s, nil
}

// ParseSolidStateMediaPage decodes page 11h (SBC-4 6.5.14): parameter
// 0001h, the percentage used endurance indicator, in the value's last byte.
func ParseSolidStateMediaPage(b []byte) (*uint8, error) {
	params, err := ParseLogPage(b, LogPageSolidStateMedia)
	if err != nil {
		return nil, err
	}
	for _, p := range params {
		if p.Code == 0x0001 && len(p.Value) >= 4 {
			v := p.Value[3]
			return &v, nil
		}
	}
	return nil, nil
}

// InformationalException is page 2Fh parameter 0000h (SPC-5 7.3.13).
type InformationalException struct {
	ASC, ASCQ uint8
	// Temperature is the most recent temperature reading, nil if FFh.
	Temperature *float64
}

// ParseInfoExceptionsPage decodes page 2Fh.
func ParseInfoExceptionsPage(b []byte) (*InformationalException, error) {
	params, err := ParseLogPage(b, LogPageInfoExceptions)
	if err != nil {
		return nil, err
	}
	for _, p := range params {
		if p.Code != 0 || len(p.Value) < 2 {
			continue
		}
		ie := &InformationalException{ASC: p.Value[0], ASCQ: p.Value[1]}
		if len(p.Value) >= 3 && p.Value[2] != 0xff {
			t := float64(p.Value[2])
			ie.Temperature = &t
		}
		return ie, nil
	}
	return nil, malformed("informational exceptions page: no parameter 0000h")
}

// ParseSelfTestPage decodes page 10h (SPC-5 7.3.24): up to 20 results,
// parameter 0001h the newest. An all-zero entry is an unused slot.
func ParseSelfTestPage(b []byte) ([]SelfTest, error) {
	params, err := ParseLogPage(b, LogPageSelfTest)
	if err != nil {
		return nil, err
	}
	var out []SelfTest
	for _, p := range params {
		v := p.Value
		if p.Code < 1 || p.Code > 20 || len(v) < 16 {
			continue
		}
		code, result := v[0]>>5, v[0]&0x0f
		hours := uint64(binary.BigEndian.Uint16(v[2:4]))
		if code == 0 && result == 0 && hours == 0 && v[1] == 0 {
			continue
		}
		t := SelfTest{Type: scsiSelfTestType(code), LifetimeHours: &hours}
		t.Status, t.Failed, t.InProgress = scsiSelfTestResult(result)
		if t.Failed {
			if lba := binary.BigEndian.Uint64(v[4:12]); lba != ^uint64(0) {
				t.FailingLBA = &lba
			}
		}
		out = append(out, t)
	}
	return out, nil
}

// scsiSelfTestType names the SELF-TEST CODE field (SPC-5 Table 288).
func scsiSelfTestType(code uint8) string {
	switch code {
	case 1:
		return "background short"
	case 2:
		return "background extended"
	case 5:
		return "foreground short"
	case 6:
		return "foreground extended"
	}
	return "default"
}

// scsiSelfTestResult names the SELF-TEST RESULTS field (SPC-5 Table 503),
// in smartctl's words.
func scsiSelfTestResult(r uint8) (text string, failed, inProgress bool) {
	switch r {
	case 0:
		return "Completed", false, false
	case 1:
		return "Aborted (by user command)", false, false
	case 2:
		return "Aborted (device reset ?)", false, false
	case 3:
		return "Unknown error, incomplete", true, false
	case 4:
		return "Completed, segment failed", true, false
	case 5:
		return "Failed in first segment", true, false
	case 6:
		return "Failed in second segment", true, false
	case 7:
		return "Failed in segment", true, false
	case 15:
		return "Self test in progress", false, true
	}
	return fmt.Sprintf("Reserved result %d", r), false, false
}

// ieText is the health status smartctl prints for an informational
// exception's additional sense code (SPC-5 Annex F).
func ieText(asc, ascq uint8) string {
	switch {
	case asc == 0 && ascq == 0:
		return "OK"
	case asc == 0x5d && ascq == 0xff:
		return "FAILURE PREDICTION THRESHOLD EXCEEDED (FALSE)"
	case asc == 0x5d && ascq == 0x00:
		return "FAILURE PREDICTION THRESHOLD EXCEEDED"
	case asc == 0x5d && ascq >= 0x10 && ascq <= 0x1c:
		return "HARDWARE IMPENDING FAILURE"
	case asc == 0x5d && ascq >= 0x20 && ascq <= 0x2c:
		return "CONTROLLER IMPENDING FAILURE"
	case asc == 0x5d && ascq >= 0x30 && ascq <= 0x3c:
		return "DATA CHANNEL IMPENDING FAILURE"
	case asc == 0x5d && ascq >= 0x40 && ascq <= 0x4c:
		return "SERVO IMPENDING FAILURE"
	case asc == 0x5d && ascq >= 0x50 && ascq <= 0x5c:
		return "SPINDLE IMPENDING FAILURE"
	case asc == 0x5d && ascq >= 0x60 && ascq <= 0x6c:
		return "FIRMWARE IMPENDING FAILURE"
	case asc == 0x5d && ascq >= 0x73 && ascq <= 0x7c:
		return "MEDIA IMPENDING FAILURE"
	case asc == 0x5d:
		return "FAILURE PREDICTION THRESHOLD EXCEEDED"
	case asc == 0x0b && ascq == 0x01:
		return "WARNING - SPECIFIED TEMPERATURE EXCEEDED"
	case asc == 0x0b:
		return "WARNING"
	}
	return fmt.Sprintf("asc=%02x, ascq=%02x", asc, ascq)
}

// SetInformationalException records page 2Fh's verdict in the report's
// SCSI health (importers of smartctl output call it too).
func (s *SCSIHealth) SetInformationalException(asc, ascq uint8) {
	s.IEASC, s.IEASCQ = &asc, &ascq
	s.HealthStatus = ieText(asc, ascq)
}

// ParseGrownDefectHeader decodes the 4-byte header of READ DEFECT DATA (10)
// (SBC-4 5.8.2): whether the grown list is valid and how many entries it
// holds, from the list length and the entry size of the returned format.
func ParseGrownDefectHeader(b []byte) (uint64, error) {
	if len(b) < 4 {
		return 0, malformed("READ DEFECT DATA: %d bytes, want a 4-byte header", len(b))
	}
	if b[1]&0x08 == 0 {
		return 0, fmt.Errorf("%w: READ DEFECT DATA: the device returned no grown defect list", ErrUnsupported)
	}
	size := 8
	switch b[1] & 0x07 {
	case 0: // short block format
		size = 4
	case 3: // long block format
		size = 8
	case 4, 5: // bytes from index, physical sector
		size = 8
	case 6: // vendor specific: smartctl counts 8-byte entries too
		size = 8
	}
	return uint64(binary.BigEndian.Uint16(b[2:4])) / uint64(size), nil
}
