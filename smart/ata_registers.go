package smart

// ATA return registers as a SCSI-ATA Translation layer reports them after
// an ATA PASS-THROUGH with CK_COND=1 (SAT-4 12.2.2.6): in the ATA Status
// Return sense data descriptor (code 09h) of descriptor-format sense, or in
// the INFORMATION and COMMAND-SPECIFIC INFORMATION fields of fixed-format
// sense.
type ataRegisters struct {
	Error, Status, Device   uint8
	Count                   uint8 // COUNT (7:0)
	LBALow, LBAMid, LBAHigh uint8
}

// ataRegistersFromSense extracts the registers; ok is false when the sense
// carries none (the SAT layer ignored CK_COND).
func ataRegistersFromSense(s []byte) (r ataRegisters, ok bool) {
	if len(s) < 8 {
		return r, false
	}
	switch s[0] & 0x7f {
	case 0x72, 0x73:
		// Descriptors start at byte 8; byte 7 is their total length.
		d := s[8:]
		if n := int(s[7]); n < len(d) {
			d = d[:n]
		}
		for len(d) >= 2 {
			l := int(d[1]) + 2
			if l > len(d) {
				return r, false
			}
			if d[0] == 0x09 && l >= 14 {
				return ataRegisters{
					Error: d[3], Count: d[5], LBALow: d[7], LBAMid: d[9], LBAHigh: d[11],
					Device: d[12], Status: d[13],
				}, true
			}
			d = d[l:]
		}
	case 0x70, 0x71:
		if len(s) < 12 {
			return r, false
		}
		// INFORMATION: ERROR, STATUS, DEVICE, COUNT(7:0); COMMAND-SPECIFIC
		// INFORMATION: flags, LBA(7:0), LBA(15:8), LBA(23:16).
		return ataRegisters{
			Error: s[3], Status: s[4], Device: s[5], Count: s[6],
			LBALow: s[9], LBAMid: s[10], LBAHigh: s[11],
		}, true
	}
	return r, false
}

// ATA power modes (ACS-3 7.3 CHECK POWER MODE, the COUNT field).
func ataPowerMode(count uint8) string {
	switch {
	case count == 0x00 || count == 0x01:
		return "standby"
	case count == 0x40 || count == 0x41:
		return "active" // NV cache power modes: spun down or up, but serviceable
	case count >= 0x80 && count <= 0x83:
		return "idle"
	case count == 0xff:
		return "active"
	}
	return "unknown"
}

// smartReturnStatus decodes SMART RETURN STATUS (ACS-3 7.48.8): LBA mid/high
// C24Fh means no threshold exceeded, 2CF4h that one was.
func smartReturnStatus(r ataRegisters) (passed, known bool) {
	switch {
	case r.LBAMid == 0x4f && r.LBAHigh == 0xc2:
		return true, true
	case r.LBAMid == 0xf4 && r.LBAHigh == 0x2c:
		return false, true
	}
	return false, false
}
