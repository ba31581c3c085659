package ipmi

import (
	"context"
	"encoding/binary"
	"fmt"
)

// sdrReadEntire asks Get SDR for the whole record (IPMI v2.0 §33.12:
// "FFh means read entire record").
const sdrReadEntire = 0xff

// getSDR reads count bytes of record id at offset (IPMI v2.0 §33.12,
// Table 33-5) and returns the next record id and the data.
func getSDR(ctx context.Context, ex exchanger, reservation, id uint16, offset, count uint8) (next uint16, data []byte, err error) {
	req := make([]byte, 6)
	binary.LittleEndian.PutUint16(req[0:], reservation)
	binary.LittleEndian.PutUint16(req[2:], id)
	req[4], req[5] = offset, count
	b, err := ex.exchange(ctx, netFnStorage, 0x23, fmt.Sprintf("Get SDR 0x%04x", id), req)
	if err != nil {
		return 0, nil, err
	}
	if len(b) < 2 {
		return 0, nil, errShort(fmt.Sprintf("Get SDR 0x%04x", id), len(b), 2)
	}
	return binary.LittleEndian.Uint16(b), b[2:], nil
}
