package smart

import (
	"encoding/binary"
	"fmt"
	"time"
)

const (
	scsiLogSense       = 0x4d
	scsiReadDefect10   = 0x37
	scsiCommandTimeout = 10 * time.Second
)

// logSense reads one log page (and subpage) with PC=01b (cumulative values, as smartctl
// reads them), SPC-5 6.6. It asks for 1 KiB first and again for the whole
// page if it is longer (the self-test page is 404 bytes; vendor pages can
// be larger).
func logSense(fd int, page, subpage uint8) ([]byte, error) {
	read := func(n int) ([]byte, error) {
		buf := make([]byte, n)
		cdb := make([]byte, 10)
		cdb[0] = scsiLogSense
		cdb[2] = 0x40 | page&0x3f
		cdb[3] = subpage
		binary.BigEndian.PutUint16(cdb[7:9], uint16(n))
		res, err := sgCommand(fd, cdb, buf, scsiCommandTimeout)
		if err != nil {
			return nil, err
		}
		if res.status == scsiCheckStatus {
			key, asc, ascq, _ := senseKey(res.sense)
			if key == 0x05 { // ILLEGAL REQUEST: page not supported
				return nil, fmt.Errorf("%w: page %02Xh (sense key 5h, asc %02Xh ascq %02Xh)", ErrUnsupported, page, asc, ascq)
			}
			return nil, fmt.Errorf("%w: sense key %Xh, asc %02Xh ascq %02Xh", ErrDevice, key, asc, ascq)
		}
		return buf[:max(len(buf)-res.resid, 0)], nil
	}
	b, err := read(1024)
	if err != nil {
		return nil, err
	}
	if len(b) >= 4 {
		if want := 4 + int(binary.BigEndian.Uint16(b[2:4])); want > len(b) && want <= 0xffff {
			return read(want)
		}
	}
	return b, nil
}

// grownDefects reads the header of READ DEFECT DATA (10) (SBC-4 5.8) with
// REQ_GLIST set and the bytes-from-index format smartctl asks for: the
// list length gives the count without transferring the list.
func grownDefects(fd int) (uint64, error) {
	buf := make([]byte, 4)
	cdb := make([]byte, 10)
	cdb[0] = scsiReadDefect10
	cdb[2] = 0x08 | 0x04 // REQ_GLIST, DEFECT LIST FORMAT 100b
	binary.BigEndian.PutUint16(cdb[7:9], uint16(len(buf)))
	res, err := sgCommand(fd, cdb, buf, scsiCommandTimeout)
	if err != nil {
		return 0, err
	}
	if res.status == scsiCheckStatus {
		key, asc, ascq, _ := senseKey(res.sense)
		// RECOVERED ERROR "defect list not found"/"primary list only" and
		// NO SENSE still carry a header; anything else is a refusal.
		if key != 0x00 && key != 0x01 {
			return 0, fmt.Errorf("%w: sense key %Xh, asc %02Xh ascq %02Xh", ErrUnsupported, key, asc, ascq)
		}
	}
	return ParseGrownDefectHeader(buf)
}
