package redfish

import (
	"slices"
	"strings"

	"github.com/prefail/prefail/model"
)

// One physical part, one component. A part can be reached by several
// paths: one resource linked from two places (a drive listed by both
// Storage.Drives and Chassis.Links.Drives), or two resources describing
// one part (an HPE iLO 7 GPU server lists each drive under
// Chassis/N/Drives/X and again under Systems/1/Storage/DA00000N/Drives/
// DA00000N, with no link between the two; a legacy Power entry and a
// PowerSupply resource). What is reported must not depend on which path
// was walked first, so duplicates are merged by a rule that gives the
// same result in any order (mergeParts).

// samePart reports whether two components describe one physical part by
// inventory: the same kind and serial number, and the same model where
// both give one (serial numbers are unique per manufacturer and model,
// not across them). Parts without a serial are never matched so: the
// DMTF mockups give many drives one model and no serial.
func samePart(a, b model.Component) bool {
	if a.Kind != b.Kind || a.Inventory.SerialNumber == "" || !strings.EqualFold(a.Inventory.SerialNumber, b.Inventory.SerialNumber) {
		return false
	}
	ma, mb := a.Inventory.Model, b.Inventory.Model
	return ma == "" || mb == "" || strings.EqualFold(ma, mb)
}

// matchedAcrossPaths reports whether parts of kind k may be listed under
// other URIs and carry a serial number to tell it: drives (fans and PSUs
// are matched within their chassis, where the newer and legacy resources
// meet: see enrichPSUs and oneChassis).
func matchedAcrossPaths(k model.Kind) bool { return k == model.KindDrive }

// mergeParts merges two components of one part. The result does not
// depend on the order of a and b: the lower id is kept (stable from one
// scan to the next as long as both resources are read), the worse health
// wins (a fault either resource reports is not lost), and each field,
// reading and condition one of them lacks is taken from the other.
func mergeParts(a, b model.Component) model.Component {
	if b.ID < a.ID || (b.ID == a.ID && componentLess(b, a)) {
		a, b = b, a
	}
	m := a
	m.Health = model.Worst(a.Health, b.Health)
	if m.Health != a.Health {
		m.State = b.State
	}
	fill := func(dst *string, src string) {
		if *dst == "" {
			*dst = src
		}
	}
	fill(&m.Name, b.Name)
	fill(&m.Location, b.Location)
	fill(&m.Chassis, b.Chassis)
	fill(&m.State, b.State)
	fill(&m.Source, b.Source)
	inv := &m.Inventory
	fill(&inv.Manufacturer, b.Inventory.Manufacturer)
	fill(&inv.Model, b.Inventory.Model)
	fill(&inv.SerialNumber, b.Inventory.SerialNumber)
	fill(&inv.PartNumber, b.Inventory.PartNumber)
	fill(&inv.FirmwareVersion, b.Inventory.FirmwareVersion)
	fill(&inv.ManufactureDate, b.Inventory.ManufactureDate)
	fill(&inv.MediaType, b.Inventory.MediaType)
	fill(&inv.Protocol, b.Inventory.Protocol)
	if inv.PowerOnHours == nil {
		inv.PowerOnHours = b.Inventory.PowerOnHours
	}
	if inv.CapacityBytes == 0 {
		inv.CapacityBytes = b.Inventory.CapacityBytes
	}
	if b.FailurePredicted != nil && (m.FailurePredicted == nil || *b.FailurePredicted) {
		m.FailurePredicted = b.FailurePredicted
	}
	m.Conditions = slices.Clone(a.Conditions)
	for _, c := range b.Conditions {
		if !slices.ContainsFunc(m.Conditions, func(x model.Condition) bool { return x.MessageID == c.MessageID && x.Message == c.Message }) {
			m.Conditions = append(m.Conditions, c)
		}
	}
	m.Readings = slices.Clone(a.Readings)
	for _, r := range b.Readings {
		if _, ok := m.Reading(r.Name); !ok {
			m.Readings = append(m.Readings, r)
		}
	}
	return m
}

// componentLess orders two versions of one resource's component (one id
// read on two paths) so that mergeParts can pick one whatever the order:
// the one that says more first, then by its fields.
func componentLess(a, b model.Component) bool {
	if (a.Chassis != "") != (b.Chassis != "") {
		return a.Chassis != ""
	}
	if len(a.Readings) != len(b.Readings) {
		return len(a.Readings) > len(b.Readings)
	}
	for _, p := range [][2]string{{a.Chassis, b.Chassis}, {a.Name, b.Name}, {a.Location, b.Location}, {a.Source, b.Source}, {a.State, b.State}} {
		if p[0] != p[1] {
			return p[0] < p[1]
		}
	}
	return a.Health.Severity() > b.Health.Severity()
}
