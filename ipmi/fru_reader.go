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
//
// A hostile or broken device costs at most maxBytes bytes and a bounded
// number of requests: a common header that is not one (format version,
// checksum) ends the read after the first chunk; areas claimed past
// maxBytes are read up to it (with an error saying so); reads that return
// too little end it.
func readFRU(ctx context.Context, ex exchanger, fruID uint8, maxBytes int) ([]byte, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxFRUBytes
	}
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
	size := min(int(info.Size), maxBytes)
	var (
		data   []byte
		capped error
	)
	step := 0
	need := min(size, fruChunkSize(0))
	maxReads := fruMaxReads(maxBytes)
	for reads := 0; len(data) < need; reads++ {
		if reads >= maxReads {
			return data, fmt.Errorf("fru %d: %w: %d reads returned only %d of %d bytes; stopped", fruID, ErrMalformed, reads, len(data), need)
		}
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
		if len(data) >= 8 && len(data)-len(b) < 8 {
			if err := checkFRUHeader(data[:8]); err != nil {
				return nil, fmt.Errorf("fru %d: %w; stopped reading", fruID, err)
			}
		}
		extent := fruExtent(data)
		if extent > size && capped == nil && int(info.Size) > size {
			capped = fmt.Errorf("fru %d: %w: its areas reach byte %d or beyond, past the limit of %d bytes read per FRU device; read the first %d", fruID, ErrMalformed, extent, maxBytes, size)
		}
		need = min(size, extent)
	}
	return data, capped
}

// fruMaxReads bounds the Read FRU Data requests for one device: enough
// for maxBytes in the smallest chunks, plus refusals.
func fruMaxReads(maxBytes int) int {
	return maxBytes/fruChunkSize(fruChunkSteps-1) + 2*fruChunkSteps
}

// checkFRUHeader checks the common header (FRU spec v1.0 §8): format
// version 01h and a zero checksum over its 8 bytes.
func checkFRUHeader(h []byte) error {
	switch {
	case h[0]&0x0f != 0x01:
		return fmt.Errorf("%w: not a FRU common header (format version 0x%02x, want 0x01)", ErrMalformed, h[0])
	case sum(h[:8]) != 0:
		return fmt.Errorf("%w: not a FRU common header (checksum wrong)", ErrMalformed)
	}
	return nil
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
