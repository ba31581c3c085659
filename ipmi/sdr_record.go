package ipmi

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/prefail/prefail/model"
)

// SDRType is a Sensor Data Record type (IPMI v2.0 §43, Table 43-1...43-8).
type SDRType uint8

// SDR record types the reader decodes; others are kept raw.
const (
	SDRFullSensor    SDRType = 0x01
	SDRCompactSensor SDRType = 0x02
	SDREventOnly     SDRType = 0x03
	SDRFRULocator    SDRType = 0x11
	SDRMCLocator     SDRType = 0x12
)

// Analog data formats (Table 43-1, byte 21 bits 7:6).
const (
	analogUnsigned     = 0
	analogOnesComp     = 1
	analogTwosComp     = 2
	analogNotAvailable = 3
)

// SDR is one decoded Sensor Data Record.
type SDR struct {
	RecordID uint16
	Version  uint8
	Type     SDRType

	// Sensor records (full, compact, event-only): the owner byte as in
	// the record (slave address << 1, or software id | 1), LUN, number.
	OwnerID, OwnerLUN, Number uint8
	EntityID, EntityInstance  uint8
	SensorType                uint8
	EventReadingType          uint8
	// Name is the id string (§43.15), as ipmitool prints it.
	Name string

	// Masks (bytes 15-20): for threshold sensors, ReadableThresholds
	// bits 0-5 are LNC, LC, LNR, UNC, UC, UNR; for discrete sensors
	// ReadingMask says which states the sensor reports.
	AssertionMask, DeassertionMask, ReadingMask uint16
	ReadableThresholds                          uint8

	// Full sensor records only.
	Units1, BaseUnit, ModifierUnit uint8
	Linearization                  uint8
	M, B                           int16
	RExp, BExp                     int8
	NominalRaw                     uint8
	ThresholdRaw                   [6]uint8 // UNR, UC, UNC, LNR, LC, LNC as in the record (bytes 37-42)
	HasAnalog                      bool

	// FRU device locator (Table 43-7) and MC locator (Table 43-8).
	DeviceAddress uint8
	FRUDeviceID   uint8
	LogicalFRU    bool
	Channel       uint8

	Raw []byte
}

// SensorID is the stable component id of a sensor: owner, LUN, number.
func SensorID(owner, lun, number uint8) string {
	return fmt.Sprintf("sensor:%02x.%d.%02x", owner, lun, number)
}

// ID returns the sensor's component id.
func (s *SDR) ID() string { return SensorID(s.OwnerID, s.OwnerLUN, s.Number) }

// IsThreshold reports a threshold sensor with an analog reading.
func (s *SDR) IsThreshold() bool {
	return s.EventReadingType == eventTypeThreshold && s.HasAnalog
}

// ParseSDR decodes one record, header included (IPMI v2.0 §43).
func ParseSDR(b []byte) (SDR, error) {
	if len(b) < sdrHeaderLen {
		return SDR{}, fmt.Errorf("sdr: %w: %d bytes, shorter than the 5-byte header", ErrMalformed, len(b))
	}
	s := SDR{RecordID: uint16(b[0]) | uint16(b[1])<<8, Version: b[2], Type: SDRType(b[3])}
	n := sdrHeaderLen + int(b[4])
	if len(b) < n {
		return s, fmt.Errorf("sdr 0x%04x: %w: header says %d bytes, have %d", s.RecordID, ErrMalformed, n, len(b))
	}
	b = b[:n]
	s.Raw = append([]byte(nil), b...)
	need := func(min int, what string) error {
		if len(b) < min {
			return fmt.Errorf("sdr 0x%04x (type 0x%02x): %w: %d bytes, %s needs %d", s.RecordID, b[3], ErrMalformed, len(b), what, min)
		}
		return nil
	}
	var err error
	switch s.Type {
	case SDRFullSensor, SDRCompactSensor:
		// Tables 43-1 and 43-2 share bytes 6-23.
		if err := need(24, "a sensor record"); err != nil {
			return s, err
		}
		s.OwnerID, s.OwnerLUN, s.Number = b[5], b[6]&0x03, b[7]
		s.EntityID, s.EntityInstance = b[8], b[9]&0x7f
		s.SensorType, s.EventReadingType = b[12], b[13]
		s.AssertionMask = uint16(b[14]) | uint16(b[15])<<8
		s.DeassertionMask = uint16(b[16]) | uint16(b[17])<<8
		s.ReadingMask = uint16(b[18]) | uint16(b[19])<<8
		s.ReadableThresholds = b[18] & 0x3f
		s.Units1, s.BaseUnit, s.ModifierUnit = b[20], b[21], b[22]
		if s.Type == SDRCompactSensor {
			if err := need(32, "a compact sensor record"); err != nil {
				return s, err
			}
			s.Name, err = decodeIDString(b[31:])
			break
		}
		if err := need(48, "a full sensor record"); err != nil {
			return s, err
		}
		s.Linearization = b[23] & 0x7f
		s.M = tenBitSigned(b[24], b[25])
		s.B = tenBitSigned(b[26], b[27])
		s.RExp = fourBitSigned(b[29] >> 4)
		s.BExp = fourBitSigned(b[29] & 0x0f)
		s.NominalRaw = b[31]
		copy(s.ThresholdRaw[:], b[36:42])
		s.HasAnalog = s.Units1>>6 != analogNotAvailable
		s.Name, err = decodeIDString(b[47:])
	case SDREventOnly: // Table 43-3
		if err := need(17, "an event-only record"); err != nil {
			return s, err
		}
		s.OwnerID, s.OwnerLUN, s.Number = b[5], b[6]&0x03, b[7]
		s.EntityID, s.EntityInstance = b[8], b[9]&0x7f
		s.SensorType, s.EventReadingType = b[10], b[11]
		s.Name, err = decodeIDString(b[16:])
	case SDRFRULocator: // Table 43-7
		if err := need(16, "a FRU locator"); err != nil {
			return s, err
		}
		s.DeviceAddress, s.FRUDeviceID = b[5], b[6]
		s.LogicalFRU = b[7]&0x80 != 0
		s.Channel = b[8] >> 4
		s.EntityID, s.EntityInstance = b[12], b[13]&0x7f
		s.Name, err = decodeIDString(b[15:])
	case SDRMCLocator: // Table 43-8
		if err := need(16, "an MC locator"); err != nil {
			return s, err
		}
		s.DeviceAddress, s.Channel = b[5], b[6]&0x0f
		s.EntityID, s.EntityInstance = b[12], b[13]&0x7f
		s.Name, err = decodeIDString(b[15:])
	}
	if err != nil {
		return s, fmt.Errorf("sdr 0x%04x id string: %w", s.RecordID, err)
	}
	return s, nil
}

// ParseSDRRepository decodes concatenated records, as `ipmitool sdr dump`
// writes them. Records that do not decode are reported in the joined
// error; the others are returned.
func ParseSDRRepository(b []byte) ([]SDR, error) {
	var (
		out  []SDR
		errs []error
	)
	for off := 0; off < len(b); {
		if len(b)-off < sdrHeaderLen {
			errs = append(errs, fmt.Errorf("sdr at byte %d: %w: %d trailing bytes", off, ErrMalformed, len(b)-off))
			break
		}
		n := sdrHeaderLen + int(b[off+4])
		s, err := ParseSDR(b[off:])
		if err != nil {
			errs = append(errs, err)
		} else {
			out = append(out, s)
		}
		off += n
	}
	return out, errors.Join(errs...)
}

// decodeIDString decodes a type/length byte and the string after it
// (IPMI v2.0 §43.15): 8-bit ASCII+Latin-1, 6-bit packed ASCII, BCD plus;
// unicode is kept as hex.
func decodeIDString(b []byte) (string, error) {
	if len(b) == 0 {
		return "", nil
	}
	typ, n := b[0]>>6, int(b[0]&0x1f)
	b = b[1:]
	if n > len(b) {
		// sdrcomp (OpenIPMI 2.0.x) writes a length byte counting
		// characters instead of bytes for 6-bit strings; take what is there.
		n = len(b)
	}
	b = b[:n]
	switch typ {
	case 3: // 8-bit ASCII + Latin 1
		r := make([]rune, 0, n)
		for _, c := range b {
			if c == 0 {
				break
			}
			r = append(r, rune(c))
		}
		return strings.TrimRight(string(r), " "), nil
	case 2: // 6-bit packed ASCII, 4 characters per 3 bytes, LSB first
		var sb strings.Builder
		var acc uint32
		bits := 0
		for _, c := range b {
			acc |= uint32(c) << bits
			bits += 8
			for bits >= 6 {
				sb.WriteByte(byte(0x20 + acc&0x3f))
				acc >>= 6
				bits -= 6
			}
		}
		return strings.TrimRight(sb.String(), " "), nil
	case 1: // BCD plus
		const digits = "0123456789 -.:,_"
		var sb strings.Builder
		for _, c := range b {
			sb.WriteByte(digits[c&0x0f])
			sb.WriteByte(digits[c>>4])
		}
		return strings.TrimRight(sb.String(), " "), nil
	}
	return fmt.Sprintf("%x", b), nil
}

func tenBitSigned(ls, ms byte) int16 {
	v := int16(ls) | int16(ms&0xc0)<<2
	if v&0x200 != 0 {
		v -= 0x400
	}
	return v
}

func fourBitSigned(v byte) int8 {
	v &= 0x0f
	if v&0x08 != 0 {
		return int8(v) - 16
	}
	return int8(v)
}

// Convert turns a raw reading into units (IPMI v2.0 §36.3):
// y = L[(M*x + B*10^Bexp) * 10^Rexp]. It is false for records without an
// analog reading or a result that is not a number.
func (s *SDR) Convert(raw uint8) (float64, bool) {
	if s.Type != SDRFullSensor || !s.HasAnalog {
		return 0, false
	}
	var x float64
	switch s.Units1 >> 6 {
	case analogUnsigned:
		x = float64(raw)
	case analogOnesComp:
		if raw&0x80 != 0 {
			x = -float64(^raw & 0x7f)
		} else {
			x = float64(raw)
		}
	case analogTwosComp:
		x = float64(int8(raw))
	}
	y := (float64(s.M)*x + float64(s.B)*math.Pow10(int(s.BExp))) * math.Pow10(int(s.RExp))
	switch s.Linearization {
	case 0x00, 0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d, 0x7e, 0x7f:
		// linear; 70h-7Fh are non-linear OEM curves read with Get Sensor
		// Reading Factors, which few BMCs use: taken as linear.
	case 0x01:
		y = math.Log(y)
	case 0x02:
		y = math.Log10(y)
	case 0x03:
		y = math.Log2(y)
	case 0x04:
		y = math.Exp(y)
	case 0x05:
		y = math.Pow(10, y)
	case 0x06:
		y = math.Exp2(y)
	case 0x07:
		if y == 0 {
			return 0, false
		}
		y = 1 / y
	case 0x08:
		y = y * y
	case 0x09:
		y = y * y * y
	case 0x0a:
		y = math.Sqrt(y)
	case 0x0b:
		y = math.Cbrt(y)
	default:
		return 0, false
	}
	if math.IsNaN(y) || math.IsInf(y, 0) {
		return 0, false
	}
	return roundTiny(y), true
}

// roundTiny removes floating-point noise (0.1*3 = 0.30000000000000004)
// below the precision any sensor has.
func roundTiny(v float64) float64 { return math.Round(v*1e9) / 1e9 }

// Thresholds returns the readable thresholds, converted.
func (s *SDR) Thresholds() *model.Thresholds {
	if !s.IsThreshold() || s.Type != SDRFullSensor || s.ReadableThresholds == 0 {
		return nil
	}
	t := &model.Thresholds{}
	conv := func(bit uint8, raw uint8) *float64 {
		if s.ReadableThresholds&(1<<bit) == 0 {
			return nil
		}
		v, ok := s.Convert(raw)
		if !ok {
			return nil
		}
		return &v
	}
	// Readable mask bits: 0 LNC, 1 LC, 2 LNR, 3 UNC, 4 UC, 5 UNR;
	// ThresholdRaw: UNR, UC, UNC, LNR, LC, LNC.
	t.UpperFatal = conv(5, s.ThresholdRaw[0])
	t.UpperCritical = conv(4, s.ThresholdRaw[1])
	t.UpperNonCritical = conv(3, s.ThresholdRaw[2])
	t.LowerFatal = conv(2, s.ThresholdRaw[3])
	t.LowerCritical = conv(1, s.ThresholdRaw[4])
	t.LowerNonCritical = conv(0, s.ThresholdRaw[5])
	if t.IsZero() {
		return nil
	}
	return t
}

// Unit returns the reading's unit as UCUM (as Redfish uses) and as
// ipmitool prints it (IPMI v2.0 Table 43-15).
func (s *SDR) Unit() (ucum, text string) {
	if s.Units1&0x01 != 0 {
		return "%", "percent"
	}
	switch s.BaseUnit {
	case 1:
		return "Cel", "degrees C"
	case 2:
		return "[degF]", "degrees F"
	case 3:
		return "K", "degrees K"
	case 4:
		return "V", "Volts"
	case 5:
		return "A", "Amps"
	case 6:
		return "W", "Watts"
	case 7:
		return "J", "Joules"
	case 9:
		return "VA", "VA"
	case 17:
		return "[cft_i]/min", "CFM"
	case 18:
		return "RPM", "RPM"
	case 19:
		return "Hz", "Hz"
	case 22:
		return "s", "second"
	case 24:
		return "h", "hour"
	case 0:
		return "", "unspecified"
	}
	return "", fmt.Sprintf("unit %d", s.BaseUnit)
}

// EntityName names the entity the sensor belongs to (IPMI v2.0 §43.14,
// Table 43-13) with its instance, e.g. "Power Supply 2".
func (s *SDR) EntityName() string {
	var name string
	switch s.EntityID {
	case 0x00:
		return ""
	case 0x03:
		name = "Processor"
	case 0x04:
		name = "Disk or Disk Bay"
	case 0x06:
		name = "System Management Module"
	case 0x07:
		name = "System Board"
	case 0x08:
		name = "Memory Module"
	case 0x0a:
		name = "Power Supply"
	case 0x0b:
		name = "Add-in Card"
	case 0x0c:
		name = "Front Panel Board"
	case 0x0f:
		name = "Drive Backplane"
	case 0x11:
		name = "Power Module"
	case 0x13:
		name = "Power Unit"
	case 0x14:
		name = "Power Module"
	case 0x15:
		name = "Cooling Unit"
	case 0x17:
		name = "System Chassis"
	case 0x1a:
		name = "Disk Drive Bay"
	case 0x1d:
		name = "Fan Device"
	case 0x1e:
		name = "Cooling Unit"
	case 0x20:
		name = "Memory Device"
	case 0x22:
		name = "BIOS"
	case 0x27:
		name = "Air Inlet"
	case 0x28:
		name = "Processor"
	case 0x2e:
		name = "Baseboard Management Controller"
	case 0x37:
		name = "Air Inlet"
	case 0x40:
		name = "Air Inlet"
	case 0x41:
		name = "Processor"
	case 0x42:
		name = "Baseboard"
	default:
		name = fmt.Sprintf("Entity 0x%02x", s.EntityID)
	}
	return fmt.Sprintf("%s %d", name, s.EntityInstance)
}
