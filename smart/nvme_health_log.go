package smart

import (
	"encoding/binary"
	"math"
)

// nvmeHealthLogSize is the SMART / Health Information log page (NVM
// Express Base Specification 2.0, 5.16.1.3, log identifier 02h): 512 bytes.
const nvmeHealthLogSize = 512

// ParseNVMeHealthLog decodes a SMART / Health Information log page (NVMe
// Base 2.0, Figure 207). Offsets are the specification's; temperatures are
// Kelvin on the wire and Celsius here (smartctl subtracts 273 likewise).
func ParseNVMeHealthLog(b []byte) (*NVMeHealth, error) {
	if len(b) < nvmeHealthLogSize {
		return nil, malformed("NVMe SMART/Health log is %d bytes, want %d", len(b), nvmeHealthLogSize)
	}
	h := &NVMeHealth{
		CriticalWarning:       b[0],
		Temperature:           kelvinToCelsius(binary.LittleEndian.Uint16(b[1:3])),
		AvailableSpare:        b[3],
		SpareThreshold:        b[4],
		PercentageUsed:        b[5],
		DataUnitsRead:         uint128(b[32:48]),
		DataUnitsWritten:      uint128(b[48:64]),
		HostReads:             uint128(b[64:80]),
		HostWrites:            uint128(b[80:96]),
		ControllerBusyMinutes: uint128(b[96:112]),
		PowerCycles:           uint128(b[112:128]),
		PowerOnHours:          uint128(b[128:144]),
		UnsafeShutdowns:       uint128(b[144:160]),
		MediaErrors:           uint128(b[160:176]),
		ErrorLogEntries:       uint128(b[176:192]),
		WarningTempMinutes:    binary.LittleEndian.Uint32(b[192:196]),
		CriticalTempMinutes:   binary.LittleEndian.Uint32(b[196:200]),
	}
	// Temperature sensors 1-8 (bytes 200-215); 0 means not implemented.
	for i := 0; i < 8; i++ {
		if k := binary.LittleEndian.Uint16(b[200+2*i:]); k != 0 {
			h.TemperatureSensors = append(h.TemperatureSensors, kelvinToCelsius(k))
		}
	}
	return h, nil
}

func kelvinToCelsius(k uint16) float64 { return float64(int(k) - 273) }

// uint128 reads a 16-byte little-endian counter, saturating at the uint64
// maximum: no real counter reaches 2^64, and smartctl prints such values
// only approximately too.
func uint128(b []byte) uint64 {
	if binary.LittleEndian.Uint64(b[8:16]) != 0 {
		return math.MaxUint64
	}
	return binary.LittleEndian.Uint64(b[0:8])
}
