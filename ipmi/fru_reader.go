package ipmi

import (
	"context"
	"fmt"
)

// fruChunkSize is the Read FRU Data size tried at a step, largest first.
// The count is one byte; BMCs cap it at what fits their message buffer
// and answer 0xCA/0xC7/0xFF (or return fewer bytes) when asked for more.
func fruChunkSize(step int) int {
	switch step {
	case 0:
		return 128
	case 1:
		return 64
	case 2:
		return 32
	}
	return 16
}

const fruChunkSteps = 4

// readFRU reads the part of FRU device fruID that holds the common header
// and the chassis, board and product areas (FRU spec v1.0 §8): the
// multirecord area, when present, is not read. The areas' lengths are
// known once the header and each area's length byte are in, so the read
// stops there instead of reading the whole (often mostly empty) device.
func readFRU(ctx context.Context, ex exchanger, fruID uint8) ([]byte, error) {
	info, err := getFRUInventoryAreaInfo(ctx, ex, fruID)
	if err != nil {
		return nil, err
	}
	if info.ByWords {
		return nil, fmt.Errorf("fru %d: %w: word-addressed FRU devices", fruID, ErrUnsupported)
	}
	if info.Size < 8 {
		return nil, fmt.Errorf("fru %d: %w: inventory area of %d bytes", fruID, ErrMalformed, info.Size)
	}
	var data []byte
	step := 0
	need := min(int(info.Size), fruChunkSize(0))
	for len(data) < need {
		n := min(fruChunkSize(step), need-len(data))
		b, err := readFRUData(ctx, ex, fruID, uint16(len(data)), uint8(n))
		switch {
		case err == nil && len(b) > 0:
			data = append(data, b...)
		case err == nil:
			return data, fmt.Errorf("fru %d: %w: read at offset %d returned no data", fruID, ErrMalformed, len(data))
		case isReadSizeRefusal(err) && step < fruChunkSteps-1:
			step++
			continue
		default:
			return data, err
		}
		need = min(int(info.Size), fruExtent(data))
	}
	return data, nil
}

// fruExtent returns how many bytes of the FRU device hold the header and
// the chassis, board and product areas, as far as the bytes read so far
// tell (FRU spec v1.0 §8: offsets in multiples of 8 bytes; §10-12: each
// area's second byte is its length in multiples of 8 bytes). It is at
// least len(b)+1 while an area's length byte is still unread.
func fruExtent(b []byte) int {
	if len(b) < 8 {
		return 8
	}
	end := 8
	for _, off := range []byte{b[2], b[3], b[4]} { // chassis, board, product
		if off == 0 {
			continue
		}
		start := int(off) * 8
		if start+1 >= len(b) {
			end = max(end, start+2)
			continue
		}
		end = max(end, start+int(b[start+1])*8)
	}
	return end
}
