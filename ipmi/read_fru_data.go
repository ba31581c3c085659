package ipmi

import (
	"context"
	"fmt"
)

// readFRUData reads count bytes at offset of FRU device fruID (IPMI v2.0
// §34.2, Table 34-3). The BMC may return fewer bytes than asked, never
// more: the count byte must not exceed the request nor the data sent.
func readFRUData(ctx context.Context, ex exchanger, fruID uint8, offset uint16, count uint8) ([]byte, error) {
	req := []byte{fruID, byte(offset), byte(offset >> 8), count}
	name := fmt.Sprintf("Read FRU Data %d @%d", fruID, offset)
	b, err := ex.exchange(ctx, netFnStorage, 0x11, name, req)
	if err != nil {
		return nil, err
	}
	return parseReadFRUData(name, b, count)
}

// parseReadFRUData checks and returns the data of a Read FRU Data response
// (Table 34-3: count returned, then the data) to a request for count bytes.
func parseReadFRUData(name string, b []byte, count uint8) ([]byte, error) {
	switch {
	case len(b) < 1:
		return nil, errShort(name, len(b), 1)
	case int(b[0]) > len(b)-1:
		return nil, fmt.Errorf("%s: %w: count byte says %d bytes, the reply holds %d", name, ErrMalformed, b[0], len(b)-1)
	case b[0] > count:
		return nil, fmt.Errorf("%s: %w: %d bytes returned, %d asked for", name, ErrMalformed, b[0], count)
	}
	return b[1 : 1+int(b[0])], nil
}
