package ipmi

import (
	"context"
	"encoding/binary"
	"fmt"
)

// fruAreaInfo is the Get FRU Inventory Area Info response (IPMI v2.0
// §34.1, Table 34-2).
type fruAreaInfo struct {
	Size    uint16
	ByWords bool // device is accessed by words, not bytes
}

func getFRUInventoryAreaInfo(ctx context.Context, ex exchanger, fruID uint8) (fruAreaInfo, error) {
	b, err := ex.exchange(ctx, netFnStorage, 0x10, fmt.Sprintf("Get FRU Inventory Area Info %d", fruID), []byte{fruID})
	if err != nil {
		return fruAreaInfo{}, err
	}
	if len(b) < 3 {
		return fruAreaInfo{}, errShort(fmt.Sprintf("Get FRU Inventory Area Info %d", fruID), len(b), 3)
	}
	return fruAreaInfo{Size: binary.LittleEndian.Uint16(b), ByWords: b[2]&1 != 0}, nil
}
