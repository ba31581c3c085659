package redfish

import (
	"strings"

	"github.com/prefail/prefail/model"
)

// Systems: the host's memory, processors and storage (drives reached
// through Storage, or SimpleStorage on older services), and its logs.

// systemRead is what was read of one system.
type systemRead struct {
	sys                node
	memory, processors []node
	storage            []storageRead
	simpleStorage      []node // read only when Storage gave no drive
	events             []model.Event
}

// storageRead is one Storage resource with its controllers (the
// Controllers collection, where StorageControllers is not given) and the
// drives that could be read.
type storageRead struct {
	st          node
	controllers []node
	drives      []node
}

// readSystems reads every system at once.
func (s *scan) readSystems(members []node) []systemRead {
	out := make([]systemRead, len(members))
	s.forEach(len(members), s.cfg.maxInFlight, func(w *scan, i int) {
		out[i].sys = members[i]
		if members[i].ok() { // else warned; a system's parts are not worth guessing URIs for
			w.readSystem(&out[i])
		}
	})
	return out
}

// readSystem reads a system's memory, processors, storage and logs at once.
func (s *scan) readSystem(r *systemRead) {
	sys := r.sys
	s.together(
		func(w *scan) { r.memory = w.members(sys.link("Memory"), 0) },
		func(w *scan) { r.processors = w.members(sys.link("Processors"), 0) },
		func(w *scan) {
			storage := w.members(sys.link("Storage"), 1)
			r.storage = make([]storageRead, len(storage))
			w.forEach(len(storage), w.cfg.maxInFlight, func(x *scan, i int) { r.storage[i] = x.readStorage(storage[i]) })
			for _, st := range r.storage {
				if len(st.drives) > 0 {
					return
				}
			}
			r.simpleStorage = w.members(sys.link("SimpleStorage"), 0)
		},
		func(w *scan) {
			if ls := sys.link("LogServices"); ls != "" {
				r.events = w.readLogServices(ls, nodeID(sys))
			}
		},
	)
}

// readStorage reads one Storage resource's controllers and drives.
func (s *scan) readStorage(st node) storageRead {
	r := storageRead{st: st}
	s.together(
		func(w *scan) {
			if cl := st.link("Controllers"); cl != "" && len(st.list("StorageControllers")) == 0 {
				r.controllers = w.members(cl, 0)
			}
		},
		func(w *scan) {
			ids := st.links("Drives")
			w.prefetch(nodeID(st), ids, 1)
			for _, dn := range w.resources(ids, 0) {
				if dn.ok() {
					r.drives = append(r.drives, dn)
				}
			}
		},
	)
	return r
}

func (s *scan) buildSystem(r systemRead) {
	sys := r.sys
	sysID := nodeID(sys)
	if !sys.ok() {
		return
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
	for _, mn := range r.memory {
		s.add(memory(mn, chID))
	}
	for _, pn := range r.processors {
		s.add(processor(pn, chID))
	}
	for _, st := range r.storage {
		for i, c := range st.st.list("StorageControllers") {
			s.add(storageController(c, fmtID(st.st.id(), "StorageControllers", i), chID))
		}
		for _, c := range st.controllers {
			s.add(storageController(c, c.id(), chID))
		}
		for _, dn := range st.drives {
			s.add(drive(dn, chID))
		}
	}
	for _, ss := range r.simpleStorage {
		for i, d := range ss.list("Devices") {
			s.add(simpleDevice(d, fmtID(ss.id(), "Devices", i), chID))
		}
	}
	s.addEvents(r.events)
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
