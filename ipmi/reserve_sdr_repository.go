package ipmi

import (
	"context"
	"encoding/binary"
)

// reserveSDRRepository asks for a reservation id (IPMI v2.0 §33.11). A
// reservation is only needed for partial reads (a non-zero offset, §33.12);
// whole-record reads pass 0000h.
func reserveSDRRepository(ctx context.Context, ex exchanger) (uint16, error) {
	b, err := ex.exchange(ctx, netFnStorage, 0x22, "Reserve SDR Repository", nil)
	if err != nil {
		return 0, err
	}
	if len(b) < 2 {
		return 0, errShort("Reserve SDR Repository", len(b), 2)
	}
	return binary.LittleEndian.Uint16(b), nil
}
