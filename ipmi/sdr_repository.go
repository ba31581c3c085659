package ipmi

import (
	"context"
	"fmt"
)

// sdrHeaderLen is the record header: id (2), version, type, length (IPMI
// v2.0 §43, "SDR Record Header").
const sdrHeaderLen = 5

// Partial-read sizes: the first try after a BMC refused "read entire
// record", and the floor when refusals shrink it. ipmitool reads 16-byte
// chunks with a Reserve before each; a full sensor record is at most 64
// bytes, so two reads usually suffice.
const (
	sdrFirstChunk = 32
	sdrMinChunk   = 8
)

// sdrReader reads the repository in as few requests as the BMC allows.
//
// Each record is first asked for whole (offset 0, FFh bytes: IPMI v2.0
// §33.12), which needs no reservation. A BMC that returns only a prefix
// is asked for the rest in one partial read. One that refuses with 0xCA,
// 0xC7 or 0xFF (ipmi_sim refuses FFh and any count above 33) is read from
// then on in chunks from offset 0, the first of which carries the header:
// two requests for a full sensor record. Chunks halve on each refusal and
// the size that worked is kept. Partial reads are first sent without a reservation (many
// BMCs do not enforce it); a 0xC5 answer gets one Reserve SDR Repository,
// kept for the rest of the walk and renewed only when cancelled.
type sdrReader struct {
	ex          exchanger
	whole       bool // "read entire record" still works
	chunk       int  // partial-read size that works (0: not learned yet)
	reservation uint16
	maxRecords  int // WithMaxSDRRecords (0: DefaultMaxSDRRecords)
}

// sdrSlack is how many records a walk may read beyond the count Get SDR
// Repository Info gave (records added while it runs).
const sdrSlack = 16

// readAll walks the repository from the first record (IPMI v2.0 §33.12:
// each record names the next; FFFFh ends the list). It stops with an
// error, returning the records read so far, at a record id met twice (the
// chain loops), past count (Get SDR Repository Info's record count) plus
// sdrSlack, or past maxRecords.
func (r *sdrReader) readAll(ctx context.Context, count uint16) ([][]byte, error) {
	var records [][]byte
	seen := map[uint16]bool{}
	maxRecords := r.maxRecords
	if maxRecords <= 0 {
		maxRecords = DefaultMaxSDRRecords
	}
	for id := uint16(0x0000); id != 0xffff; {
		switch {
		case seen[id]:
			return records, fmt.Errorf("sdr repository: %w: SDR repository does not end: record 0x%04x comes back after %d records (the next-record chain loops)", ErrMalformed, id, len(records))
		case len(records) >= maxRecords:
			return records, fmt.Errorf("sdr repository: %w: SDR repository flood: more than the limit of %d records (Get SDR Repository Info counted %d)", ErrMalformed, maxRecords, count)
		case len(records) >= int(count)+sdrSlack:
			return records, fmt.Errorf("sdr repository: %w: SDR repository does not end: more than %d records, Get SDR Repository Info counted %d", ErrMalformed, len(records), count)
		}
		seen[id] = true
		next, rec, err := r.readRecord(ctx, id)
		if err != nil {
			return records, fmt.Errorf("sdr record 0x%04x: %w", id, err)
		}
		records = append(records, rec)
		id = next
	}
	return records, nil
}

// readRecord returns the next record id and the whole record (header
// included) of record id.
func (r *sdrReader) readRecord(ctx context.Context, id uint16) (uint16, []byte, error) {
	if r.whole {
		next, data, err := getSDR(ctx, r.ex, 0, id, 0, sdrReadEntire)
		switch {
		case err == nil && len(data) >= sdrHeaderLen:
			if r.chunk == 0 && len(data) < sdrHeaderLen+int(data[4]) {
				r.chunk = min(len(data), sdrFirstChunk)
			}
			return r.readRest(ctx, id, next, data)
		case err == nil:
			return 0, nil, fmt.Errorf("%w: %d bytes, shorter than the record header", ErrMalformed, len(data))
		case isReadSizeRefusal(err):
			r.whole = false
		default:
			return 0, nil, err
		}
	}
	if r.chunk == 0 {
		r.chunk = sdrFirstChunk
	}
	// The first chunk from offset 0 carries the header: most records
	// then need one more read at most.
	n := r.chunk
	next, data, err := getSDR(ctx, r.ex, 0, id, 0, uint8(n))
	switch {
	case err == nil && len(data) >= sdrHeaderLen:
		return r.readRest(ctx, id, next, data)
	case err == nil:
		return 0, nil, fmt.Errorf("%w: %d bytes, shorter than the record header", ErrMalformed, len(data))
	case !isReadSizeRefusal(err):
		return 0, nil, err
	}
	// Refused: either the record is shorter than n (some BMCs refuse
	// reads past its end) or n is above the BMC's limit. The header tells.
	next, hdr, err := getSDR(ctx, r.ex, 0, id, 0, sdrHeaderLen)
	if err != nil {
		return 0, nil, err
	}
	if len(hdr) < sdrHeaderLen {
		return 0, nil, fmt.Errorf("%w: header of %d bytes", ErrMalformed, len(hdr))
	}
	if sdrHeaderLen+int(hdr[4]) >= n {
		r.chunk = max(sdrMinChunk, n/2)
	}
	return r.readRest(ctx, id, next, hdr[:sdrHeaderLen])
}

// isReadSizeRefusal reports the completion codes BMCs answer a read size
// they cannot return with (IPMI v2.0 Table 5-2; 0xFF and 0xC9 seen in the
// field instead of 0xCA).
func isReadSizeRefusal(err error) bool {
	return completionCodeIs(err, ccCannotReturnBytes, ccRequestDataLength, ccRequestTooLong, ccUnspecified, ccParameterOutOfRange)
}

// sdrMaxReads bounds the partial reads of one record: enough for the
// longest record (5 + 255 bytes) in the smallest chunks, with refusals.
const sdrMaxReads = (sdrHeaderLen+255)/sdrMinChunk + 16

// readRest reads the record body after the part already read.
func (r *sdrReader) readRest(ctx context.Context, id, next uint16, have []byte) (uint16, []byte, error) {
	total := sdrHeaderLen + int(have[4])
	rec := append(make([]byte, 0, total), have[:min(len(have), total)]...)
	for refusals, reads := 0, 0; len(rec) < total; reads++ {
		if reads >= sdrMaxReads {
			return 0, nil, fmt.Errorf("%w: %d partial reads returned %d of the record's %d bytes", ErrMalformed, reads, len(rec), total)
		}
		n := min(r.chunk, total-len(rec))
		_, data, err := getSDR(ctx, r.ex, r.reservation, id, uint8(len(rec)), uint8(n))
		switch {
		case err == nil && len(data) > 0:
			rec = append(rec, data[:min(len(data), total-len(rec))]...)
			continue
		case err == nil:
			return 0, nil, fmt.Errorf("%w: empty partial read at offset %d", ErrMalformed, len(rec))
		case completionCodeIs(err, ccReservationCancelled):
			// No reservation yet, or someone else reserved (another
			// client, a record added): reserve, a bounded number of times.
			res, rerr := reserveSDRRepository(ctx, r.ex)
			if rerr != nil {
				return 0, nil, rerr
			}
			r.reservation = res
		case isReadSizeRefusal(err) && n > sdrMinChunk:
			r.chunk = max(sdrMinChunk, n/2)
		default:
			return 0, nil, fmt.Errorf("partial read at offset %d: %w", len(rec), err)
		}
		if refusals++; refusals > 8 {
			return 0, nil, fmt.Errorf("partial read at offset %d: %w", len(rec), err)
		}
	}
	return next, rec, nil
}
