package ipmi

import (
	"context"
	"encoding/binary"
	"fmt"
)

// deviceID is the Get Device ID response (IPMI v2.0 §20.1, Table 20-2).
type deviceID struct {
	DeviceID        uint8
	DeviceRevision  uint8
	FirmwareMajor   uint8 // byte 4 bits 6:0
	FirmwareMinor   uint8 // byte 5, BCD
	IPMIVersion     uint8 // BCD, 0x20 = 2.0
	ManufacturerID  uint32
	ProductID       uint16
	AuxFirmwareInfo []byte
}

// FirmwareVersion prints the firmware revision as ipmitool does ("1.23").
func (d deviceID) FirmwareVersion() string {
	return fmt.Sprintf("%d.%02x", d.FirmwareMajor, d.FirmwareMinor)
}

func parseDeviceID(b []byte) (deviceID, error) {
	// Bytes 1-11 are mandatory; the auxiliary firmware revision (12-15) is optional.
	if len(b) < 11 {
		return deviceID{}, errShort("Get Device ID", len(b), 11)
	}
	d := deviceID{
		DeviceID:       b[0],
		DeviceRevision: b[1] & 0x0f,
		FirmwareMajor:  b[2] & 0x7f,
		FirmwareMinor:  b[3],
		IPMIVersion:    b[4],
		ManufacturerID: uint32(b[6]) | uint32(b[7])<<8 | uint32(b[8]&0x0f)<<16,
		ProductID:      binary.LittleEndian.Uint16(b[9:11]),
	}
	if len(b) >= 15 {
		d.AuxFirmwareInfo = append([]byte(nil), b[11:15]...)
	}
	return d, nil
}

func getDeviceID(ctx context.Context, ex exchanger) (deviceID, error) {
	b, err := ex.exchange(ctx, netFnApp, 0x01, "Get Device ID", nil)
	if err != nil {
		return deviceID{}, err
	}
	return parseDeviceID(b)
}
