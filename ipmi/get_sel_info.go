package ipmi

import (
	"context"
	"encoding/binary"
)

// selInfo is the Get SEL Info response (IPMI v2.0 §31.2, Table 31-2).
type selInfo struct {
	Version      uint8
	Entries      uint16
	FreeSpace    uint16
	LastAddition uint32
	LastErase    uint32
	Operations   uint8 // bit 7: overflow, bit 1: reserve supported, ...
}

// Overflow reports the "events have been dropped" flag.
func (s selInfo) Overflow() bool { return s.Operations&0x80 != 0 }

func parseSELInfo(b []byte) (selInfo, error) {
	if len(b) < 14 {
		return selInfo{}, errShort("Get SEL Info", len(b), 14)
	}
	return selInfo{
		Version:      b[0],
		Entries:      binary.LittleEndian.Uint16(b[1:3]),
		FreeSpace:    binary.LittleEndian.Uint16(b[3:5]),
		LastAddition: binary.LittleEndian.Uint32(b[5:9]),
		LastErase:    binary.LittleEndian.Uint32(b[9:13]),
		Operations:   b[13],
	}, nil
}

func getSELInfo(ctx context.Context, ex exchanger) (selInfo, error) {
	b, err := ex.exchange(ctx, netFnStorage, 0x40, "Get SEL Info", nil)
	if err != nil {
		return selInfo{}, err
	}
	return parseSELInfo(b)
}
