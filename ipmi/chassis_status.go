package ipmi

import (
	"github.com/prefail/prefail/model"
)

// ChassisStatus is the Get Chassis Status response (IPMI v2.0 §28.2,
// Table 28-3).
type ChassisStatus struct {
	// Byte 1: current power state.
	PowerOn, PowerOverload, Interlock, PowerFault, PowerControlFault bool
	PowerRestorePolicy                                               string
	// Byte 2: last power event.
	LastACFailed, LastOverload, LastInterlock, LastPowerFault, LastOnByCommand bool
	// Byte 3: misc chassis state.
	Intrusion, FrontPanelLockout, DriveFault, CoolingFault bool
}

// ParseChassisStatus decodes the response data after the completion code
// (3 bytes, or 4 with the front panel button capabilities).
func ParseChassisStatus(data []byte) (ChassisStatus, error) {
	if len(data) < 3 {
		return ChassisStatus{}, errShort("Get Chassis Status", len(data), 3)
	}
	p, l, m := data[0], data[1], data[2]
	c := ChassisStatus{
		PowerOn: p&0x01 != 0, PowerOverload: p&0x02 != 0, Interlock: p&0x04 != 0,
		PowerFault: p&0x08 != 0, PowerControlFault: p&0x10 != 0,
		LastACFailed: l&0x01 != 0, LastOverload: l&0x02 != 0, LastInterlock: l&0x04 != 0,
		LastPowerFault: l&0x08 != 0, LastOnByCommand: l&0x10 != 0,
		Intrusion: m&0x01 != 0, FrontPanelLockout: m&0x02 != 0, DriveFault: m&0x04 != 0, CoolingFault: m&0x08 != 0,
	}
	switch p >> 5 & 0x03 {
	case 0:
		c.PowerRestorePolicy = "always-off"
	case 1:
		c.PowerRestorePolicy = "previous"
	case 2:
		c.PowerRestorePolicy = "always-on"
	default:
		c.PowerRestorePolicy = "unknown"
	}
	return c, nil
}

// Component is the chassis as a component: faults the BMC flags in the
// chassis status are conditions, critical for power and cooling faults,
// warnings for intrusion and interlock.
func (c *ChassisStatus) Component(id string) model.Component {
	comp := model.Component{Kind: model.KindChassis, ID: id, Name: "Chassis", Health: model.HealthOK, Source: "Get Chassis Status"}
	add := func(on bool, msg string, sev model.Severity) {
		if on {
			comp.Conditions = append(comp.Conditions, model.Condition{Message: msg, Severity: sev})
		}
	}
	add(c.PowerFault, "Main Power Fault", model.SeverityCritical)
	add(c.PowerOverload, "Power Overload", model.SeverityCritical)
	add(c.PowerControlFault, "Power Control Fault", model.SeverityCritical)
	add(c.CoolingFault, "Cooling/Fan Fault", model.SeverityCritical)
	add(c.DriveFault, "Drive Fault", model.SeverityCritical)
	add(c.Interlock, "Power Interlock", model.SeverityWarning)
	add(c.Intrusion, "Chassis Intrusion", model.SeverityWarning)
	add(c.LastACFailed, "Last power event: AC failed", model.SeverityInfo)
	add(c.LastPowerFault, "Last power event: power fault", model.SeverityInfo)
	for _, cond := range comp.Conditions {
		switch cond.Severity {
		case model.SeverityCritical:
			comp.Health = model.HealthCritical
		case model.SeverityWarning:
			if comp.Health == model.HealthOK {
				comp.Health = model.HealthWarning
			}
		}
	}
	comp.State = "power off"
	if c.PowerOn {
		comp.State = "power on"
	}
	return comp
}
