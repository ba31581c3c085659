package smart

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"

	smartgo "github.com/anatol/smart.go"
)

// ATA SMART data pages (ATA/ATAPI-8 ACS, SMART READ DATA B0h/D0h and the
// obsolete SMART READ ATTRIBUTE THRESHOLDS B0h/D1h, whose layout every
// drive still follows): 512 bytes, a 2-byte revision, then 30 entries of 12
// bytes, a checksum in byte 511.
const (
	ataPageSize    = 512
	ataAttrEntries = 30
	ataEntrySize   = 12
)

// ParseATASmartPages decodes a SMART READ DATA page and, if not nil, its
// SMART READ THRESHOLDS page into the attribute table. model and vendor
// choose the vendor conventions for packed raw fields (Seagate's error
// rates). Names are smartctl's defaults.
func ParseATASmartPages(data, thresholds []byte, model string) (*ATAHealth, error) {
	if len(data) < ataPageSize {
		return nil, malformed("SMART data page is %d bytes, want %d", len(data), ataPageSize)
	}
	var page smartgo.AtaSmartPageRaw
	if err := binary.Read(bytes.NewReader(data[:2+ataAttrEntries*ataEntrySize]), binary.LittleEndian, &page); err != nil {
		return nil, malformed("SMART data page: %v", err)
	}
	var th *smartgo.AtaSmartThresholdsPageRaw
	if thresholds != nil {
		if len(thresholds) < ataPageSize {
			return nil, malformed("SMART thresholds page is %d bytes, want %d", len(thresholds), ataPageSize)
		}
		th = new(smartgo.AtaSmartThresholdsPageRaw)
		if err := binary.Read(bytes.NewReader(thresholds[:ataPageSize]), binary.LittleEndian, th); err != nil {
			return nil, malformed("SMART thresholds page: %v", err)
		}
	}
	return ataHealth(&page, th, model, nil), nil
}

// ataChecksumOK reports whether a 512-byte SMART page's two's complement
// checksum (byte 511) is right. Many drives get it wrong: a bad checksum
// is a warning, as in smartctl, not a failure.
func ataChecksumOK(page []byte) bool {
	var sum byte
	for _, b := range page[:ataPageSize] {
		sum += b
	}
	return sum == 0
}

// ataHealth builds the attribute table. names, when not nil, gives the
// device database's name for an id (smart.go's drivedb for a live drive).
func ataHealth(page *smartgo.AtaSmartPageRaw, th *smartgo.AtaSmartThresholdsPageRaw, model string, names map[uint8]string) *ATAHealth {
	h := &ATAHealth{Revision: int(page.Version), Attributes: []Attribute{}}
	thr := map[uint8]uint8{}
	if th != nil {
		for _, e := range th.ThresholdEntries {
			if e.Id != 0 {
				thr[e.Id] = e.Threshold
			}
		}
	}
	for _, e := range page.Attrs {
		if e.Id == 0 {
			continue // unused slot; some drives leave holes
		}
		var raw uint64
		for i := 5; i >= 0; i-- {
			raw = raw<<8 | uint64(e.VendorBytes[i])
		}
		a := Attribute{ID: e.Id, Name: names[e.Id], Flags: e.Flags, Value: e.Current, Worst: e.Worst, Raw: raw}
		if a.Name == "" {
			a.Name = DefaultAttributeName(e.Id)
		}
		a.Decoded = DecodeAttributeRaw(e.Id, raw, model)
		if t, ok := thr[e.Id]; ok {
			t := t
			a.Threshold = &t
			a.WhenFailed = whenFailed(a.Value, a.Worst, t)
		}
		h.Attributes = append(h.Attributes, a)
	}
	return h
}

// whenFailed is smartctl's WHEN_FAILED column: a threshold of 0 never
// fails; value 0 is not a valid normalized value and never fails either
// (smartctl's ATTRSTATE_NO_NORMVAL); 254/255 are reserved likewise.
func whenFailed(value, worst, threshold uint8) string {
	if threshold == 0 || threshold >= 0xfe {
		return ""
	}
	switch {
	case value >= 1 && value <= 0xfd && value <= threshold:
		return "now"
	case worst >= 1 && worst <= 0xfd && worst <= threshold:
		return "past"
	}
	return ""
}

// DecodeAttributeRaw interprets an attribute's 48-bit raw field as the
// leading number smartctl prints for it: the formats of smartmontools'
// drivedb.h "DEFAULT" entry, plus the vendor entries, checked against real
// smartctl --json captures, that pack several counters into the field.
// Seagate's 1 and 7 (error rates) and 188 (command timeouts) stay whole:
// smartctl prints 1 and 7 as raw48 on every Seagate captured, and
// Backblaze Drive Stats publishes all three whole, so a live drive and a
// Backblaze row read alike (drivedb's "-v 188,raw16" for some Seagate
// families is deliberately not followed).
func DecodeAttributeRaw(id uint8, raw uint64, model string) int64 {
	switch id {
	case 3: // raw16(avg16): spin-up time in the low word
		return int64(raw & 0xffff)
	case 5, 196: // raw16(raw16): the count is the low word
		return int64(raw & 0xffff)
	case 9, 240: // raw24(raw8): hours in the low 24 bits
		return int64(raw & 0xffffff)
	case 190, 194: // tempminmax: the current temperature is the low byte
		return int64(raw & 0xff)
	case 175, 201, 235:
		// Intel data-center SSDs (SSDSC... part numbers, also Dell's):
		// "-v 175,raw16(raw16),Power_Loss_Cap_Test", 235 on the S4510/S4610,
		// 201 on the S3520.
		m := strings.ToUpper(strings.TrimSpace(model))
		if strings.HasPrefix(strings.TrimPrefix(m, "INTEL "), "SSDSC") {
			return int64(raw & 0xffff)
		}
	case 173:
		// Phison-driven Kingston SSDs: "-v 173,raw16(avg16),MaxAvgErase_Ct".
		m := strings.ToUpper(strings.TrimSpace(model))
		if strings.HasPrefix(m, "KINGSTON SA400") || strings.HasPrefix(m, "KINGSTON SKC400") {
			return int64(raw & 0xffff)
		}
	}
	return int64(min(raw, math.MaxInt64))
}

// DefaultAttributeName is smartctl's default name for an attribute id
// (drivedb.h DEFAULT entry), "Unknown_Attribute" otherwise.
func DefaultAttributeName(id uint8) string {
	if n, ok := defaultAttributeNames[id]; ok {
		return n
	}
	return "Unknown_Attribute"
}

var defaultAttributeNames = map[uint8]string{
	1: "Raw_Read_Error_Rate", 2: "Throughput_Performance", 3: "Spin_Up_Time", 4: "Start_Stop_Count",
	5: "Reallocated_Sector_Ct", 6: "Read_Channel_Margin", 7: "Seek_Error_Rate", 8: "Seek_Time_Performance",
	9: "Power_On_Hours", 10: "Spin_Retry_Count", 11: "Calibration_Retry_Count", 12: "Power_Cycle_Count",
	13: "Read_Soft_Error_Rate", 22: "Helium_Level", 23: "Helium_Condition_Lower", 24: "Helium_Condition_Upper",
	175: "Program_Fail_Count_Chip", 176: "Erase_Fail_Count_Chip", 177: "Wear_Leveling_Count",
	178: "Used_Rsvd_Blk_Cnt_Chip", 179: "Used_Rsvd_Blk_Cnt_Tot", 180: "Unused_Rsvd_Blk_Cnt_Tot",
	181: "Program_Fail_Cnt_Total", 182: "Erase_Fail_Count_Total", 183: "Runtime_Bad_Block", 184: "End-to-End_Error",
	187: "Reported_Uncorrect", 188: "Command_Timeout", 189: "High_Fly_Writes", 190: "Airflow_Temperature_Cel",
	191: "G-Sense_Error_Rate", 192: "Power-Off_Retract_Count", 193: "Load_Cycle_Count", 194: "Temperature_Celsius",
	195: "Hardware_ECC_Recovered", 196: "Reallocated_Event_Count", 197: "Current_Pending_Sector",
	198: "Offline_Uncorrectable", 199: "UDMA_CRC_Error_Count", 200: "Multi_Zone_Error_Rate",
	201: "Soft_Read_Error_Rate", 202: "Data_Address_Mark_Errs", 203: "Run_Out_Cancel", 204: "Soft_ECC_Correction",
	205: "Thermal_Asperity_Rate", 206: "Flying_Height", 207: "Spin_High_Current", 208: "Spin_Buzz",
	209: "Offline_Seek_Performnce", 220: "Disk_Shift", 221: "G-Sense_Error_Rate", 222: "Loaded_Hours",
	223: "Load_Retry_Count", 224: "Load_Friction", 225: "Load_Cycle_Count", 226: "Load-in_Time",
	227: "Torq-amp_Count", 228: "Power-off_Retract_Count", 230: "Head_Amplitude", 231: "Temperature_Celsius",
	232: "Available_Reservd_Space", 233: "Media_Wearout_Indicator", 240: "Head_Flying_Hours",
	241: "Total_LBAs_Written", 242: "Total_LBAs_Read", 250: "Read_Error_Retry_Rate", 254: "Free_Fall_Sensor",
}
