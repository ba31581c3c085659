package ipmi

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/prefail/prefail/model"
)

// FRUInfo is the decoded FRU inventory of one device (Platform Management
// FRU Information Storage Definition v1.0).
type FRUInfo struct {
	Chassis struct {
		Type                     uint8
		PartNumber, SerialNumber string
		Extra                    []string
	}
	Board struct {
		MfgDate                                         time.Time
		Manufacturer, Product, SerialNumber, PartNumber string
		FileID                                          string
		Extra                                           []string
	}
	Product struct {
		Manufacturer, Name, PartModel, Version, SerialNumber, AssetTag, FileID string
		Extra                                                                  []string
	}
}

// fruEpoch is the board manufacturing date's origin (FRU spec §11).
func fruEpoch() time.Time { return time.Date(1996, 1, 1, 0, 0, 0, 0, time.UTC) }

// ParseFRU decodes the common header and the chassis, board and product
// areas (FRU spec §8, §10-12). An area that does not decode (or whose
// checksum is wrong) is reported in the error; the others are returned.
func ParseFRU(b []byte) (FRUInfo, error) {
	var f FRUInfo
	if len(b) < 8 {
		return f, fmt.Errorf("fru: %w: %d bytes, shorter than the common header", ErrMalformed, len(b))
	}
	if b[0]&0x0f != 0x01 {
		return f, fmt.Errorf("fru: %w: common header format version 0x%02x, want 0x01", ErrMalformed, b[0])
	}
	if sum(b[:8]) != 0 {
		return f, fmt.Errorf("fru: %w: common header checksum", ErrMalformed)
	}
	var errs []error
	area := func(name string, off byte, minLen int) ([]string, []byte, bool) {
		if off == 0 {
			return nil, nil, false
		}
		start := int(off) * 8
		if start+2 > len(b) {
			errs = append(errs, fmt.Errorf("fru %s area: %w: starts at %d, past the %d bytes read", name, ErrMalformed, start, len(b)))
			return nil, nil, false
		}
		n := int(b[start+1]) * 8
		if n < minLen || start+n > len(b) {
			errs = append(errs, fmt.Errorf("fru %s area: %w: length %d at offset %d (have %d bytes)", name, ErrMalformed, n, start, len(b)))
			return nil, nil, false
		}
		a := b[start : start+n]
		if sum(a) != 0 {
			errs = append(errs, fmt.Errorf("fru %s area: %w: checksum", name, ErrMalformed))
		}
		hdr := 3
		if name == "board" {
			hdr = 6
		}
		fields, err := fruFields(a[hdr:])
		if err != nil {
			errs = append(errs, fmt.Errorf("fru %s area: %w", name, err))
		}
		return fields, a, true
	}
	get := func(fields []string, i int) string {
		if i < len(fields) {
			return fields[i]
		}
		return ""
	}
	if fields, a, ok := area("chassis", b[2], 3); ok {
		f.Chassis.Type = a[2]
		f.Chassis.PartNumber, f.Chassis.SerialNumber = get(fields, 0), get(fields, 1)
		if len(fields) > 2 {
			f.Chassis.Extra = fields[2:]
		}
	}
	if fields, a, ok := area("board", b[3], 6); ok {
		mins := int(a[3]) | int(a[4])<<8 | int(a[5])<<16
		if mins != 0 {
			f.Board.MfgDate = fruEpoch().Add(time.Duration(mins) * time.Minute)
		}
		f.Board.Manufacturer, f.Board.Product, f.Board.SerialNumber = get(fields, 0), get(fields, 1), get(fields, 2)
		f.Board.PartNumber, f.Board.FileID = get(fields, 3), get(fields, 4)
		if len(fields) > 5 {
			f.Board.Extra = fields[5:]
		}
	}
	if fields, _, ok := area("product", b[4], 3); ok {
		p := &f.Product
		p.Manufacturer, p.Name, p.PartModel, p.Version = get(fields, 0), get(fields, 1), get(fields, 2), get(fields, 3)
		p.SerialNumber, p.AssetTag, p.FileID = get(fields, 4), get(fields, 5), get(fields, 6)
		if len(fields) > 7 {
			p.Extra = fields[7:]
		}
	}
	return f, errors.Join(errs...)
}

// fruFields decodes type/length-prefixed fields up to the C1h end marker
// (FRU spec §13).
func fruFields(b []byte) ([]string, error) {
	var out []string
	for i := 0; i < len(b); {
		tl := b[i]
		if tl == 0xc1 {
			return out, nil
		}
		n := int(tl & 0x3f)
		i++
		if i+n > len(b) {
			return out, fmt.Errorf("%w: field %d of %d bytes runs past the area", ErrMalformed, len(out), n)
		}
		out = append(out, decodeFRUField(tl>>6, b[i:i+n]))
		i += n
	}
	return out, fmt.Errorf("%w: no end-of-fields marker (C1h)", ErrMalformed)
}

func decodeFRUField(typ byte, b []byte) string {
	switch typ {
	case 3: // 8-bit ASCII (English), or 16-bit Unicode for other languages
		return strings.TrimRight(strings.Map(func(r rune) rune {
			if r < 0x20 {
				return -1
			}
			return r
		}, latin1(b)), " ")
	case 2: // 6-bit packed ASCII
		s, _ := decodeIDString(append([]byte{0x80 | byte(len(b))}, b...))
		return s
	case 1: // BCD plus
		const digits = "0123456789 -.???"
		var sb strings.Builder
		for _, c := range b {
			sb.WriteByte(digits[c>>4])
			sb.WriteByte(digits[c&0x0f])
		}
		return strings.TrimRight(sb.String(), " ")
	}
	return fmt.Sprintf("%x", b) // binary
}

func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

func sum(b []byte) byte {
	var s byte
	for _, c := range b {
		s += c
	}
	return s
}

// Inventory maps the FRU fields onto the model: product first, board
// fields where the product area is silent; the board's manufacturing
// date is the part's age.
func (f *FRUInfo) Inventory() model.Inventory {
	inv := model.Inventory{
		Manufacturer: first(f.Product.Manufacturer, f.Board.Manufacturer),
		Model:        first(f.Product.Name, f.Board.Product),
		SerialNumber: first(f.Product.SerialNumber, f.Board.SerialNumber, f.Chassis.SerialNumber),
		PartNumber:   first(f.Product.PartModel, f.Board.PartNumber, f.Chassis.PartNumber),
	}
	if !f.Board.MfgDate.IsZero() {
		inv.ManufactureDate = f.Board.MfgDate.Format(time.RFC3339)
	}
	return inv
}

func first(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
