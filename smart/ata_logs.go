package smart

import "encoding/binary"

// ParseATASelfTestLog decodes the SMART self-test log (ACS-3 A.16, SMART
// log address 06h): 21 entries of 24 bytes from byte 2, a circular buffer
// whose newest entry is at the index in byte 508 (1-based; 0 = empty).
// Returned newest first, as smartctl prints them.
func ParseATASelfTestLog(b []byte) ([]SelfTest, error) {
	if len(b) < ataPageSize {
		return nil, malformed("SMART self-test log is %d bytes, want %d", len(b), ataPageSize)
	}
	idx := int(b[508])
	if idx == 0 {
		return nil, nil
	}
	if idx > 21 {
		return nil, malformed("SMART self-test log: newest entry index %d > 21", idx)
	}
	var out []SelfTest
	for n := 0; n < 21; n++ {
		i := (idx - 1 - n + 21) % 21
		e := b[2+24*i : 2+24*(i+1)]
		if e[0] == 0 && e[1] == 0 && e[2] == 0 && e[3] == 0 {
			continue // an empty slot (smartctl skips entries whose first bytes are all zero)
		}
		hours := uint64(binary.LittleEndian.Uint16(e[2:4]))
		t := SelfTest{Type: ataSelfTestType(e[0]), LifetimeHours: &hours}
		t.Status, t.Failed, t.InProgress = ataSelfTestResult(e[1])
		if t.Failed {
			if lba := uint64(binary.LittleEndian.Uint32(e[5:9])); lba != 0xffffffff {
				t.FailingLBA = &lba
			}
		}
		out = append(out, t)
	}
	return out, nil
}

// ParseATAErrorLogCount returns the device error count of the SMART
// summary error log (ACS-3 A.21, SMART log address 01h, bytes 452-453).
func ParseATAErrorLogCount(b []byte) (uint64, error) {
	if len(b) < ataPageSize {
		return 0, malformed("SMART error log is %d bytes, want %d", len(b), ataPageSize)
	}
	return uint64(binary.LittleEndian.Uint16(b[452:454])), nil
}
