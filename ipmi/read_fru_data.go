package ipmi

import (
	"context"
	"fmt"
)

// readFRUData reads count bytes at offset of FRU device fruID (IPMI v2.0
// §34.2, Table 34-3). The BMC may return fewer bytes than asked.
func readFRUData(ctx context.Context, ex exchanger, fruID uint8, offset uint16, count uint8) ([]byte, error) {
	req := []byte{fruID, byte(offset), byte(offset >> 8), count}
	b, err := ex.exchange(ctx, netFnStorage, 0x11, fmt.Sprintf("Read FRU Data %d @%d", fruID, offset), req)
	if err != nil {
		return nil, err
	}
	if len(b) < 1 || int(b[0]) > len(b)-1 {
		return nil, fmt.Errorf("read fru data %d @%d: %w: count byte %v for %d data bytes", fruID, offset, ErrMalformed, b[:min(1, len(b))], len(b)-1)
	}
	return b[1 : 1+int(b[0])], nil
}
