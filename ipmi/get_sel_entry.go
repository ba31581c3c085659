package ipmi

import (
	"context"
	"encoding/binary"
	"fmt"
)

// SEL record ids with a meaning of their own (IPMI v2.0 §31.5).
const (
	selFirstEntry uint16 = 0x0000
	selLastEntry  uint16 = 0xffff
)

// getSELEntry reads one whole SEL record (IPMI v2.0 §31.5, Table 31-5):
// reservation 0000h (only partial reads need one), offset 0, FFh bytes.
// It returns the next record id (FFFFh after the last) and the 16-byte record.
func getSELEntry(ctx context.Context, ex exchanger, id uint16) (next uint16, record []byte, err error) {
	req := []byte{0, 0, byte(id), byte(id >> 8), 0, 0xff}
	b, err := ex.exchange(ctx, netFnStorage, 0x43, fmt.Sprintf("Get SEL Entry 0x%04x", id), req)
	if err != nil {
		return 0, nil, err
	}
	if len(b) < 2+16 {
		return 0, nil, errShort(fmt.Sprintf("Get SEL Entry 0x%04x", id), len(b), 2+16)
	}
	return binary.LittleEndian.Uint16(b), b[2:18], nil
}
