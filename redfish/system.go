package redfish

import (
	"strings"

	"github.com/prefail/prefail/model"
)

// Systems: the host's memory, processors and storage (drives reached
// through Storage, or SimpleStorage on older services), and its logs.

func (s *scan) systemsArea() {
	for _, sys := range s.top("/redfish/v1/Systems") {
		s.oneSystem(sys)
	}
}

func (s *scan) oneSystem(sys node) {
	sysID := nodeID(sys)
	if !sys.ok() {
		return // warned; a system's parts are not worth guessing URIs for
	}
	h, state, conds := status(sys)
	inv := inventory(sys)
	inv.FirmwareVersion = sys.str("BiosVersion")
	comp := model.Component{
		Kind: model.KindSystem, ID: sysID, Name: name(sys, sysID), Health: h, State: state, Conditions: conds,
		Inventory: inv, Source: sysID,
	}
	if ps := sys.str("PowerState"); ps != "" {
		comp.State = strings.TrimSpace(comp.State + " PowerState=" + ps)
	}
	s.add(comp)
	chID := ""
	if l := sys.obj("Links").links("Chassis"); len(l) > 0 {
		chID = l[0]
	}

	for _, mn := range s.members(sys.link("Memory"), 0) {
		s.add(memory(mn, chID))
	}
	for _, pn := range s.members(sys.link("Processors"), 0) {
		s.add(processor(pn, chID))
	}
	drives := 0
	for _, st := range s.members(sys.link("Storage"), 1) {
		drives += s.storage(st, chID)
	}
	if drives == 0 {
		for _, ss := range s.members(sys.link("SimpleStorage"), 0) {
			for i, d := range ss.list("Devices") {
				s.add(simpleDevice(d, fmtID(ss.id(), "Devices", i), chID))
			}
		}
	}
	if ls := sys.link("LogServices"); ls != "" {
		s.logServices(ls, sysID)
	}
}

// storage reads one Storage resource: its controllers and drives. It
// returns the number of drives.
func (s *scan) storage(st node, chID string) int {
	for i, c := range st.list("StorageControllers") {
		s.add(storageController(c, fmtID(st.id(), "StorageControllers", i), chID))
	}
	if cl := st.link("Controllers"); cl != "" && len(st.list("StorageControllers")) == 0 {
		for _, c := range s.members(cl, 0) {
			s.add(storageController(c, c.id(), chID))
		}
	}
	n := 0
	s.prefetch(nodeID(st), st.links("Drives"), 1)
	for _, did := range st.links("Drives") {
		if dn, ok := s.resource(did, 0); ok {
			s.add(drive(dn, chID))
			n++
		}
	}
	return n
}

func storageController(c node, id, chID string) model.Component {
	if cid := c.id(); cid != "" {
		id = cid
	}
	h, state, conds := status(c)
	return model.Component{
		Kind: model.KindStorage, ID: id, Name: name(c, id), Chassis: chID, Health: h, State: state, Conditions: conds,
		Location: location(c), Inventory: inventory(c), Source: c.url,
	}
}

// drive reads a Drive resource (Drive.v1): the BMC's health plus the
// drive's own predictive flags.
func drive(dn node, chID string) model.Component {
	h, state, conds := status(dn)
	inv := inventory(dn)
	if inv.FirmwareVersion == "" {
		inv.FirmwareVersion = dn.str("Revision")
	}
	if v := dn.num("CapacityBytes"); v != nil {
		inv.CapacityBytes = int64(*v)
	}
	inv.MediaType = dn.str("MediaType")
	inv.Protocol = dn.str("Protocol")
	c := model.Component{
		Kind: model.KindDrive, ID: dn.id(), Name: name(dn, dn.id()), Chassis: chID, Health: h, State: state, Conditions: conds,
		Location: location(dn), Inventory: inv, Source: dn.id(), FailurePredicted: dn.boolean("FailurePredicted"),
	}
	if v := dn.num("PredictedMediaLifeLeftPercent"); v != nil {
		c.Readings = append(c.Readings, model.Reading{Name: "media_life_left", Value: v, Unit: "%", Source: dn.id()})
	}
	if v := dn.num("PowerOnHours"); v != nil {
		c.Inventory.PowerOnHours = v
	}
	return c
}

// simpleDevice reads a SimpleStorage Devices entry (Redfish 1.0 services).
func simpleDevice(d node, id, chID string) model.Component {
	h, state, conds := status(d)
	inv := model.Inventory{Manufacturer: d.str("Manufacturer"), Model: d.str("Model")}
	if v := d.num("CapacityBytes"); v != nil {
		inv.CapacityBytes = int64(*v)
	}
	return model.Component{
		Kind: model.KindDrive, ID: id, Name: name(d, id), Chassis: chID, Health: h, State: state, Conditions: conds,
		Inventory: inv, Source: d.url,
	}
}

func memory(mn node, chID string) model.Component {
	h, state, conds := status(mn)
	inv := inventory(mn)
	if v := mn.num("CapacityMiB"); v != nil {
		inv.CapacityBytes = int64(*v) << 20
	}
	if inv.Manufacturer == "" {
		inv.Manufacturer = mn.str("VendorID")
	}
	return model.Component{
		Kind: model.KindMemory, ID: mn.id(), Name: name(mn, mn.id()), Chassis: chID, Health: h, State: state, Conditions: conds,
		Location: location(mn), Inventory: inv, Source: mn.id(),
	}
}

func processor(pn node, chID string) model.Component {
	h, state, conds := status(pn)
	inv := inventory(pn)
	if id := pn.obj("ProcessorId"); id.ok() && inv.FirmwareVersion == "" {
		inv.FirmwareVersion = id.str("MicrocodeInfo")
	}
	return model.Component{
		Kind: model.KindProcessor, ID: pn.id(), Name: name(pn, pn.id()), Chassis: chID, Health: h, State: state, Conditions: conds,
		Location: location(pn), Inventory: inv, Source: pn.id(),
	}
}
