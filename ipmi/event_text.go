package ipmi

import (
	"fmt"

	"github.com/prefail/prefail/model"
)

// Event/reading type codes (IPMI v2.0 §42.1, Table 42-1).
const (
	eventTypeThreshold      = 0x01
	eventTypeRedundancy     = 0x0b
	eventTypeSensorSpecific = 0x6f
)

// sensorTypeName names a sensor type (IPMI v2.0 §42.2, Table 42-3) as
// ipmitool prints it.
func sensorTypeName(t uint8) string {
	switch t {
	case 0x01:
		return "Temperature"
	case 0x02:
		return "Voltage"
	case 0x03:
		return "Current"
	case 0x04:
		return "Fan"
	case 0x05:
		return "Physical Security"
	case 0x06:
		return "Platform Security"
	case 0x07:
		return "Processor"
	case 0x08:
		return "Power Supply"
	case 0x09:
		return "Power Unit"
	case 0x0a:
		return "Cooling Device"
	case 0x0b:
		return "Other"
	case 0x0c:
		return "Memory"
	case 0x0d:
		return "Drive Slot / Bay"
	case 0x0e:
		return "POST Memory Resize"
	case 0x0f:
		return "System Firmwares"
	case 0x10:
		return "Event Logging Disabled"
	case 0x11:
		return "Watchdog1"
	case 0x12:
		return "System Event"
	case 0x13:
		return "Critical Interrupt"
	case 0x14:
		return "Button"
	case 0x15:
		return "Module / Board"
	case 0x16:
		return "Microcontroller"
	case 0x17:
		return "Add-in Card"
	case 0x18:
		return "Chassis"
	case 0x19:
		return "Chip Set"
	case 0x1a:
		return "Other FRU"
	case 0x1b:
		return "Cable / Interconnect"
	case 0x1c:
		return "Terminator"
	case 0x1d:
		return "System Boot Initiated"
	case 0x1e:
		return "Boot Error"
	case 0x1f:
		return "OS Boot"
	case 0x20:
		return "OS Critical Stop"
	case 0x21:
		return "Slot / Connector"
	case 0x22:
		return "System ACPI Power State"
	case 0x23:
		return "Watchdog2"
	case 0x24:
		return "Platform Alert"
	case 0x25:
		return "Entity Presence"
	case 0x26:
		return "Monitor ASIC"
	case 0x27:
		return "LAN"
	case 0x28:
		return "Management Subsys Health"
	case 0x29:
		return "Battery"
	case 0x2a:
		return "Session Audit"
	case 0x2b:
		return "Version Change"
	case 0x2c:
		return "FRU State"
	}
	if t >= 0xc0 {
		return "OEM"
	}
	return fmt.Sprintf("Sensor type 0x%02x", t)
}

// thresholdEventText names a threshold event offset (event/reading type
// 01h, IPMI v2.0 Table 42-2) as ipmitool does.
func thresholdEventText(offset uint8) string {
	switch offset {
	case 0x00:
		return "Lower Non-critical going low"
	case 0x01:
		return "Lower Non-critical going high"
	case 0x02:
		return "Lower Critical going low"
	case 0x03:
		return "Lower Critical going high"
	case 0x04:
		return "Lower Non-recoverable going low"
	case 0x05:
		return "Lower Non-recoverable going high"
	case 0x06:
		return "Upper Non-critical going low"
	case 0x07:
		return "Upper Non-critical going high"
	case 0x08:
		return "Upper Critical going low"
	case 0x09:
		return "Upper Critical going high"
	case 0x0a:
		return "Upper Non-recoverable going low"
	case 0x0b:
		return "Upper Non-recoverable going high"
	}
	return fmt.Sprintf("Threshold offset 0x%02x", offset)
}

// thresholdEventSeverity: non-critical is a warning, critical and
// non-recoverable are critical (offsets pair up: 0-1 LNC, 2-3 LC, ...).
func thresholdEventSeverity(offset uint8) model.Severity {
	switch offset / 2 {
	case 0, 3:
		return model.SeverityWarning
	case 1, 2, 4, 5:
		return model.SeverityCritical
	}
	return model.SeverityInfo
}

// Shorthands for the tables below.
const (
	sevInfo = model.SeverityInfo
	sevWarn = model.SeverityWarning
	sevCrit = model.SeverityCritical
)

type stateText struct {
	text string
	sev  model.Severity
}

// eventOffset describes one discrete state: its text as ipmitool prints
// it and how bad it is when asserted. Generic event/reading types 02h-0Ch
// are IPMI v2.0 Table 42-2; sensor-specific ones (6Fh) Table 42-3.
func eventOffset(eventReadingType, sensorType, offset uint8) (string, model.Severity, bool) {
	var table []stateText
	if eventReadingType == eventTypeSensorSpecific {
		table = sensorSpecificStates(sensorType)
	} else {
		table = genericStates(eventReadingType)
	}
	if int(offset) >= len(table) || table[offset].text == "" {
		return "", sevInfo, false
	}
	return table[offset].text, table[offset].sev, true
}

func genericStates(t uint8) []stateText {
	switch t {
	case 0x02:
		return []stateText{{"Transition to Idle", sevInfo}, {"Transition to Active", sevInfo}, {"Transition to Busy", sevInfo}}
	case 0x03:
		return []stateText{{"State Deasserted", sevInfo}, {"State Asserted", sevInfo}}
	case 0x04:
		return []stateText{{"Predictive Failure deasserted", sevInfo}, {"Predictive Failure asserted", sevWarn}}
	case 0x05:
		return []stateText{{"Limit Not Exceeded", sevInfo}, {"Limit Exceeded", sevWarn}}
	case 0x06:
		return []stateText{{"Performance Met", sevInfo}, {"Performance Lags", sevWarn}}
	case 0x07:
		return []stateText{{"Transition to OK", sevInfo}, {"Transition to Non-critical from OK", sevWarn},
			{"Transition to Critical from less severe", sevCrit}, {"Transition to Non-recoverable from less severe", sevCrit},
			{"Transition to Non-critical from more severe", sevWarn}, {"Transition to Critical from Non-recoverable", sevCrit},
			{"Transition to Non-recoverable", sevCrit}, {"Monitor", sevInfo}, {"Informational", sevInfo}}
	case 0x08:
		return []stateText{{"Device Absent", sevInfo}, {"Device Present", sevInfo}}
	case 0x09:
		return []stateText{{"Device Disabled", sevInfo}, {"Device Enabled", sevInfo}}
	case 0x0a:
		return []stateText{{"Transition to Running", sevInfo}, {"Transition to In Test", sevInfo}, {"Transition to Power Off", sevInfo},
			{"Transition to On Line", sevInfo}, {"Transition to Off Line", sevWarn}, {"Transition to Off Duty", sevInfo},
			{"Transition to Degraded", sevWarn}, {"Transition to Power Save", sevInfo}, {"Install Error", sevWarn}}
	case 0x0b:
		return []stateText{{"Fully Redundant", sevInfo}, {"Redundancy Lost", sevCrit}, {"Redundancy Degraded", sevWarn},
			{"Non-Redundant: Sufficient from Redundant", sevWarn}, {"Non-Redundant: Sufficient from Insufficient", sevWarn},
			{"Non-Redundant: Insufficient Resources", sevCrit}, {"Redundancy Degraded from Fully Redundant", sevWarn},
			{"Redundancy Degraded from Non-redundant", sevWarn}}
	case 0x0c:
		return []stateText{{"D0 Power State", sevInfo}, {"D1 Power State", sevInfo}, {"D2 Power State", sevInfo}, {"D3 Power State", sevInfo}}
	}
	return nil
}

func sensorSpecificStates(t uint8) []stateText {
	switch t {
	case 0x05: // Physical Security
		return []stateText{{"General Chassis intrusion", sevWarn}, {"Drive Bay intrusion", sevWarn}, {"I/O Card area intrusion", sevWarn},
			{"Processor area intrusion", sevWarn}, {"System unplugged from LAN", sevWarn}, {"Unauthorized dock", sevWarn}, {"FAN area intrusion", sevWarn}}
	case 0x07: // Processor
		return []stateText{{"IERR", sevCrit}, {"Thermal Trip", sevCrit}, {"FRB1/BIST failure", sevCrit}, {"FRB2/Hang in POST failure", sevCrit},
			{"FRB3/Processor startup/init failure", sevCrit}, {"Configuration Error", sevCrit}, {"SM BIOS Uncorrectable CPU-complex Error", sevCrit},
			{"Presence detected", sevInfo}, {"Disabled", sevWarn}, {"Terminator presence detected", sevInfo}, {"Throttled", sevWarn},
			{"Uncorrectable machine check exception", sevCrit}, {"Correctable machine check error", sevWarn}}
	case 0x08: // Power Supply
		return []stateText{{"Presence detected", sevInfo}, {"Failure detected", sevCrit}, {"Predictive failure", sevWarn},
			{"Power Supply AC lost", sevCrit}, {"AC lost or out-of-range", sevCrit}, {"AC out-of-range, but present", sevWarn}, {"Config Error", sevCrit}}
	case 0x09: // Power Unit
		return []stateText{{"Power off/down", sevInfo}, {"Power cycle", sevInfo}, {"240VA power down", sevWarn}, {"Interlock power down", sevWarn},
			{"AC lost", sevCrit}, {"Soft-power control failure", sevCrit}, {"Failure detected", sevCrit}, {"Predictive failure", sevWarn}}
	case 0x0c: // Memory
		return []stateText{{"Correctable ECC", sevWarn}, {"Uncorrectable ECC", sevCrit}, {"Parity", sevCrit}, {"Memory Scrub Failed", sevCrit},
			{"Memory Device Disabled", sevWarn}, {"Correctable ECC logging limit reached", sevWarn}, {"Presence Detected", sevInfo},
			{"Configuration Error", sevWarn}, {"Spare", sevInfo}, {"Throttled", sevWarn}, {"Critical Overtemperature", sevCrit}}
	case 0x0d: // Drive Slot
		return []stateText{{"Drive Present", sevInfo}, {"Drive Fault", sevCrit}, {"Predictive Failure", sevWarn}, {"Hot Spare", sevInfo},
			{"Parity Check In Progress", sevInfo}, {"In Critical Array", sevWarn}, {"In Failed Array", sevCrit}, {"Rebuild in Progress", sevWarn},
			{"Rebuild Aborted", sevCrit}}
	case 0x0f: // System Firmware Progress
		return []stateText{{"System Firmware Error", sevCrit}, {"System Firmware Hang", sevCrit}, {"System Firmware Progress", sevInfo}}
	case 0x10: // Event Logging Disabled
		return []stateText{{"Correctable memory error logging disabled", sevWarn}, {"Event logging disabled", sevWarn},
			{"Log area reset/cleared", sevInfo}, {"All event logging disabled", sevWarn}, {"Log full", sevWarn}, {"Log almost full", sevInfo}}
	case 0x12: // System Event
		return []stateText{{"System Reconfigured", sevInfo}, {"OEM System boot event", sevInfo}, {"Undetermined system hardware failure", sevCrit},
			{"Entry added to auxiliary log", sevInfo}, {"PEF Action", sevInfo}, {"Timestamp Clock Sync", sevInfo}}
	case 0x13: // Critical Interrupt
		return []stateText{{"NMI/Diag Interrupt", sevCrit}, {"Bus Timeout", sevCrit}, {"I/O Channel check NMI", sevCrit}, {"Software NMI", sevWarn},
			{"PCI PERR", sevCrit}, {"PCI SERR", sevCrit}, {"EISA failsafe timeout", sevCrit}, {"Bus Correctable error", sevWarn},
			{"Bus Uncorrectable error", sevCrit}, {"Fatal NMI", sevCrit}, {"Bus Fatal Error", sevCrit}, {"Bus Degraded", sevWarn}}
	case 0x21: // Slot / Connector
		return []stateText{{"Fault Status asserted", sevCrit}, {"Identify Status asserted", sevInfo}, {"Slot/Connector Device installed/attached", sevInfo},
			{"Slot/Connector ready for device installation", sevInfo}, {"Slot/Connector ready for device removal", sevInfo},
			{"Slot Power is Off", sevInfo}, {"Slot/Connector device removal request", sevInfo}, {"Interlock asserted", sevWarn}, {"Slot is Disabled", sevWarn}}
	case 0x25: // Entity Presence
		return []stateText{{"Present", sevInfo}, {"Absent", sevInfo}, {"Disabled", sevWarn}}
	case 0x29: // Battery
		return []stateText{{"Low", sevWarn}, {"Failed", sevCrit}, {"Presence Detected", sevInfo}}
	}
	return nil
}

// presenceOffset is the state that says a part is there, for the sensor
// types whose parts can be missing: with it deasserted (and no fault
// asserted) the part is absent, not ok.
func presenceOffset(eventReadingType, sensorType uint8) (uint8, bool) {
	if eventReadingType != eventTypeSensorSpecific {
		return 0, false
	}
	switch sensorType {
	case 0x08: // Power Supply: Presence detected
		return 0, true
	case 0x0d: // Drive Slot: Drive Present
		return 0, true
	case 0x29: // Battery: Presence Detected
		return 2, true
	}
	return 0, false
}
