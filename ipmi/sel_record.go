package ipmi

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/prefail/prefail/model"
)

// selRecordLen is the size of every SEL record (IPMI v2.0 §32).
const selRecordLen = 16

// selPreInitMax: timestamps up to 0x20000000 count seconds since the BMC
// started, before its clock was set (IPMI v2.0 §37.1): not a date.
const selPreInitMax = 0x20000000

// SELRecord is one System Event Log record (IPMI v2.0 §32.1, Table 32-1;
// OEM records Tables 32-2 and 32-3).
type SELRecord struct {
	ID   uint16
	Type uint8
	// Timestamp as recorded; Time is zero for pre-init timestamps and
	// non-timestamped OEM records.
	Timestamp uint32
	Time      time.Time
	// System event records (type 02h).
	GeneratorID  uint16
	EvMRev       uint8
	SensorType   uint8
	SensorNumber uint8
	Assertion    bool
	EventType    uint8
	EventData    [3]uint8
	// OEM records (C0h-FFh): the manufacturer id (timestamped ones) and data.
	ManufacturerID uint32
	OEM            []byte
	Raw            []byte
}

// IsSystemEvent reports a standard event record.
func (r *SELRecord) IsSystemEvent() bool { return r.Type == 0x02 }

// Offset is the event offset (event data 1, bits 3:0).
func (r *SELRecord) Offset() uint8 { return r.EventData[0] & 0x0f }

// ParseSELRecord decodes one 16-byte record.
func ParseSELRecord(b []byte) (SELRecord, error) {
	if len(b) != selRecordLen {
		return SELRecord{}, fmt.Errorf("sel record: %w: %d bytes, want 16", ErrMalformed, len(b))
	}
	r := SELRecord{ID: binary.LittleEndian.Uint16(b), Type: b[2], Raw: append([]byte(nil), b...)}
	switch {
	case r.Type >= 0xe0: // non-timestamped OEM, Table 32-3
		r.OEM = append([]byte(nil), b[3:]...)
		return r, nil
	case r.Type >= 0xc0: // timestamped OEM, Table 32-2
		r.setTime(binary.LittleEndian.Uint32(b[3:]))
		r.ManufacturerID = uint32(b[7]) | uint32(b[8])<<8 | uint32(b[9])<<16
		r.OEM = append([]byte(nil), b[10:]...)
		return r, nil
	}
	// Type 02h is the system event record; other types below C0h are
	// reserved but laid out the same by every BMC seen.
	r.setTime(binary.LittleEndian.Uint32(b[3:]))
	r.GeneratorID = binary.LittleEndian.Uint16(b[7:])
	r.EvMRev, r.SensorType, r.SensorNumber = b[9], b[10], b[11]
	r.Assertion = b[12]&0x80 == 0
	r.EventType = b[12] & 0x7f
	copy(r.EventData[:], b[13:16])
	return r, nil
}

func (r *SELRecord) setTime(ts uint32) {
	r.Timestamp = ts
	if ts > selPreInitMax && ts != 0xffffffff {
		r.Time = time.Unix(int64(ts), 0).UTC()
	}
}

// ParseSELRaw decodes an `ipmitool sel writeraw` file: 16-byte records
// back to back.
func ParseSELRaw(b []byte) ([]SELRecord, error) {
	if len(b)%selRecordLen != 0 {
		return nil, fmt.Errorf("sel raw: %w: %d bytes is not a multiple of 16", ErrMalformed, len(b))
	}
	out := make([]SELRecord, 0, len(b)/selRecordLen)
	for off := 0; off < len(b); off += selRecordLen {
		r, err := ParseSELRecord(b[off : off+selRecordLen])
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// SensorKey identifies the sensor that logged the event: the generator
// id's first byte as is (slave address << 1 | software bit, as in an
// SDR's owner byte) and LUN (IPMI v2.0 §32.1, bytes 8-9).
func (r *SELRecord) SensorKey() (owner, lun, number uint8) {
	return uint8(r.GeneratorID), uint8(r.GeneratorID>>8) & 0x03, r.SensorNumber
}

// SensorLookup resolves an event's sensor to its component id, its SDR
// name and its reading conversion.
type SensorLookup func(owner, lun, number uint8) (id, name string, convert func(raw uint8) (float64, bool), ok bool)

// Event normalizes the record. lookup may be nil.
func (r *SELRecord) Event(lookup SensorLookup) model.Event {
	raw, _ := json.Marshal(hex.EncodeToString(r.Raw))
	e := model.Event{Time: r.Time, ID: fmt.Sprintf("0x%04x", r.ID), Source: "sel", Raw: raw}
	if !r.IsSystemEvent() && r.Type >= 0xc0 {
		e.Severity = model.SeverityInfo
		e.Message = fmt.Sprintf("OEM record type 0x%02x: %s", r.Type, hex.EncodeToString(r.OEM))
		if r.Type < 0xe0 {
			e.Message = fmt.Sprintf("OEM record type 0x%02x (manufacturer %d): %s", r.Type, r.ManufacturerID, hex.EncodeToString(r.OEM))
		}
		e.Code = fmt.Sprintf("oem.%02x", r.Type)
		return e
	}
	e.SensorType = sensorTypeName(r.SensorType)
	e.SensorName = fmt.Sprintf("%s #0x%02x", e.SensorType, r.SensorNumber)
	var convert func(uint8) (float64, bool)
	if lookup != nil {
		owner, lun, num := r.SensorKey()
		if id, name, conv, ok := lookup(owner, lun, num); ok {
			e.Component = id
			if name != "" {
				e.SensorName = name
			}
			convert = conv
		}
	}
	asserted := r.Assertion
	e.Asserted = &asserted
	off := r.Offset()
	e.Code = fmt.Sprintf("%02x.%02x.%x", r.SensorType, r.EventType, off)
	switch {
	case r.EventType == eventTypeThreshold:
		e.Message = thresholdEventText(off)
		e.Severity = thresholdEventSeverity(off)
		// Event data 2/3 carry the trigger reading and threshold when
		// data 1 bits 7:6 and 5:4 are 01b (IPMI v2.0 Table 29-6).
		if r.EventData[0]>>6 == 1 && r.EventData[0]>>4&0x03 == 1 {
			e.Message += " (reading " + formatTrigger(r.EventData[1], convert) + ", threshold " + formatTrigger(r.EventData[2], convert) + ")"
		}
	default:
		text, sev, ok := eventOffset(r.EventType, r.SensorType, off)
		if !ok {
			text, sev = fmt.Sprintf("Event type 0x%02x offset 0x%02x", r.EventType, off), model.SeverityInfo
		}
		e.Message, e.Severity = text, sev
	}
	if !r.Assertion {
		// A deassertion reports a condition going away.
		e.Severity = model.SeverityInfo
		e.Message += " (deasserted)"
	}
	return e
}

func formatTrigger(raw uint8, convert func(uint8) (float64, bool)) string {
	if convert != nil {
		if v, ok := convert(raw); ok {
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	return fmt.Sprintf("raw 0x%02x", raw)
}
