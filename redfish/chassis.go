package redfish

import (
	"math"
	"strings"
	"unicode"

	"github.com/prefail/prefail/model"
)

// Chassis: the physical side. BMCs serve the legacy Thermal and Power
// resources (deprecated in Redfish 2020.4), the newer ThermalSubsystem,
// PowerSubsystem and Sensors, or both (Supermicro H14 dropped legacy
// Power). Fans and PSUs come from the newer resources, else the legacy
// ones; sensors from both, merged by identity (sensorIdentities), so that
// each physical part is reported once and none only one of them lists is
// lost.

// chassisRead is what was read of one chassis: the chassis and its
// sub-resources, before any of it becomes components (buildChassis).
type chassisRead struct {
	ch, env                  node
	ts, tsOther, ps, psOther node
	tsOK, psOK               bool
	sensorsLink              string
	sensors, fans, psus      []node
	metrics                  map[string]node // PowerSupplyMetrics by id
	thermal, power           node            // legacy
	drives                   []node          // the Chassis.Drives collection
	events                   []model.Event
}

// readChassisAll reads every chassis at once.
func (s *scan) readChassisAll(members []node) []chassisRead {
	out := make([]chassisRead, len(members))
	s.forEach(len(members), s.cfg.maxInFlight, func(w *scan, i int) { out[i] = w.readChassis(members[i]) })
	return out
}

// sensor is one Sensor resource with how it is classified.
type sensor struct {
	n       node
	kind    model.Kind
	reading string
	unit    string
}

// readChassis reads a chassis's sub-resources, each with its own walk at
// once: the longest chain is PowerSubsystem, PowerSupplies, each PSU, its
// Metrics, and each chain's reads are the ones the walk always made.
func (s *scan) readChassis(ch node) chassisRead {
	chID := nodeID(ch)
	if !ch.ok() {
		// The chassis resource itself could not be read (a warning says
		// why). Its sub-resources have URIs fixed by the Chassis schema
		// (Redfish.Uris): read those that exist, so that one malformed
		// resource does not lose the fans and PSUs.
		subs := []string{"ThermalSubsystem", "PowerSubsystem", "Sensors", "Thermal", "Power"}
		found := make([]bool, len(subs))
		s.forEach(len(subs), len(subs), func(w *scan, i int) { _, found[i] = w.probe(chID+"/"+subs[i], 1) })
		m := map[string]any{}
		for i, sub := range subs {
			if found[i] {
				m[sub] = map[string]any{"@odata.id": chID + "/" + sub}
			}
		}
		ch = s.node(m, chID)
	}
	r := chassisRead{ch: ch, sensorsLink: ch.link("Sensors")}
	s.together(
		func(w *scan) { r.env, _, _ = w.sub(ch, chID, "EnvironmentMetrics", "EnvironmentMetrics", 0) },
		func(w *scan) {
			r.ts, r.tsOK, r.tsOther = w.sub(ch, chID, "ThermalSubsystem", "ThermalSubsystem", 2)
			if r.tsOK {
				r.fans = w.members(r.ts.link("Fans"), 0)
			}
		},
		func(w *scan) {
			r.ps, r.psOK, r.psOther = w.sub(ch, chID, "PowerSubsystem", "PowerSubsystem", 2)
			if !r.psOK {
				return
			}
			pl := r.ps.link("PowerSupplies")
			r.psus = w.members(pl, 1)
			var metrics []string
			for _, pn := range r.psus {
				if l := pn.link("Metrics"); l != "" {
					metrics = append(metrics, l)
				}
			}
			w.prefetch(pl, metrics, 2)
			r.metrics = map[string]node{}
			for i, m := range w.resources(metrics, 0) {
				if m.ok() {
					r.metrics[metrics[i]] = m
				}
			}
		},
		func(w *scan) {
			if r.sensorsLink != "" {
				r.sensors = w.members(r.sensorsLink, 0)
			}
		},
		func(w *scan) { r.thermal, _ = w.legacy(ch, chID, "Thermal") },
		func(w *scan) { r.power, _ = w.legacy(ch, chID, "Power") },
		// Drives in the chassis: the Chassis.Drives collection (Redfish
		// 2022.1), or Links.Drives (read after the systems walk, see run).
		func(w *scan) {
			if coll := ch.link("Drives"); coll != "" {
				r.drives = w.members(coll, 0)
			}
		},
		func(w *scan) {
			if ls := ch.link("LogServices"); ls != "" {
				r.events = w.readLogServices(ls, chID)
			}
		},
	)
	if r.sensorsLink == "" {
		for _, o := range []node{r.tsOther, r.psOther} {
			if o.ok() && typeIs(o, "SensorCollection") {
				// A misdirected link that leads to the sensors.
				r.sensorsLink = nodeID(o)
				r.sensors = s.members(r.sensorsLink, 0)
				break
			}
		}
	}
	return r
}

// buildChassis turns what was read of a chassis into components.
func (s *scan) buildChassis(r chassisRead) {
	ch := r.ch
	chID := nodeID(ch)
	h, state, conds := status(ch)
	comp := model.Component{
		Kind: model.KindChassis, ID: chID, Name: name(ch, chID), Health: h, State: state, Conditions: conds,
		Inventory: inventory(ch), Location: location(ch), Source: chID,
	}
	if r.env.ok() {
		comp.Readings = envReadings(r.env)
	}
	s.add(comp)

	ts, ps := r.ts, r.ps
	sensors, order := sensorsByID(r.sensors)
	used := map[string]bool{} // sensor ids that became readings of a fan or PSU

	// Fans: ThermalSubsystem, else legacy Thermal.
	nFans := 0
	if r.tsOK {
		for _, fn := range r.fans {
			s.add(newFan(fn, chID, sensors, used))
			nFans++
		}
		for i, g := range ts.list("FanRedundancy") {
			s.addRedundancy(redundancyGroup(g, fmtID(nodeID(ts), "FanRedundancy", i), model.KindFan, s.snapshotHealth))
		}
	}
	// PSUs: PowerSubsystem, else legacy Power.
	var psus []model.Component
	if r.psOK {
		for _, pn := range r.psus {
			var metrics node
			if l := pn.link("Metrics"); l != "" {
				metrics = r.metrics[l]
			}
			psus = append(psus, newPSU(pn, metrics, chID, sensors, used))
		}
		for i, g := range ps.list("PowerSupplyRedundancy") {
			s.addRedundancy(redundancyGroup(g, fmtID(nodeID(ps), "PowerSupplyRedundancy", i), model.KindPSU, healthOf(psus)))
		}
	}

	// Sensors not consumed as a fan's or PSU's reading are components.
	have := map[model.Kind]int{}
	for _, sid := range order {
		sn := sensors[sid]
		if used[sid] {
			continue
		}
		if sn.kind == model.KindFan && nFans > 0 {
			// A fan speed sensor that no Fan resource points at is another
			// view of a fan already reported.
			continue
		}
		s.add(sensorComponent(sn, chID))
		have[sn.kind]++
	}
	// Legacy entries that are one of the Sensors (sensorIdentities) are
	// not reported again; any other is a part the newer resources do not
	// list, and is reported: the legacy resources are deprecated, not
	// superseded entry by entry (a Cray blade lists 22 temperatures in
	// Thermal and 21 Sensors).
	known := map[string]bool{}
	for _, sid := range order {
		for _, k := range sensorIdentities(sensors[sid].n, sensors[sid].kind) {
			known[k] = true
		}
	}
	fresh := func(n node, kind model.Kind) bool {
		for _, k := range sensorIdentities(n, kind) {
			if known[k] {
				return false
			}
		}
		return true
	}
	nFans += have[model.KindFan]

	// Legacy resources, read whenever linked (a part they alone list must
	// not be lost): fans and PSUs where the newer resources gave none, PSU
	// readings only they have, temperatures and voltages that no Sensor is.
	if th := r.thermal; th.ok() {
		if nFans == 0 {
			for i, fn := range th.list("Fans") {
				if fresh(fn, model.KindFan) {
					s.add(legacyFan(fn, s.entryID(fn, nodeID(th), "Fans", i), chID))
				}
			}
			for i, g := range th.list("Redundancy") {
				s.addRedundancy(redundancyGroup(g, fmtID(nodeID(th), "Redundancy", i), model.KindFan, s.snapshotHealth))
			}
		}
		for i, tn := range th.list("Temperatures") {
			if fresh(tn, model.KindTemperature) {
				s.add(legacyReading(tn, s.entryID(tn, nodeID(th), "Temperatures", i), chID, model.KindTemperature, "temperature", "ReadingCelsius", "Cel"))
			}
		}
	}
	if pw := r.power; pw.ok() {
		if len(psus) > 0 {
			enrichPSUs(psus, pw.list("PowerSupplies"))
		} else {
			for i, pn := range pw.list("PowerSupplies") {
				psus = append(psus, legacyPSU(pn, s.entryID(pn, nodeID(pw), "PowerSupplies", i), chID))
			}
			for i, g := range pw.list("Redundancy") {
				s.addRedundancy(redundancyGroup(g, fmtID(nodeID(pw), "Redundancy", i), model.KindPSU, healthOf(psus)))
			}
		}
		for i, vn := range pw.list("Voltages") {
			if fresh(vn, model.KindVoltage) {
				s.add(legacyReading(vn, s.entryID(vn, nodeID(pw), "Voltages", i), chID, model.KindVoltage, "voltage", "ReadingVolts", "V"))
			}
		}
		if have[model.KindPower] == 0 {
			for i, pc := range pw.list("PowerControl") {
				s.add(powerControl(pc, s.entryID(pc, nodeID(pw), "PowerControl", i), chID))
			}
		}
	}
	for _, p := range psus {
		s.add(p)
	}
	if len(psus) > 0 && !s.hasGroup(model.KindPSU, psus) {
		s.addRedundancy(derivedPSURedundancy(chID, psus, s.chassisLoad(chID)))
	}

	for _, dn := range r.drives {
		s.add(drive(dn, chID))
	}
	s.mu.Lock()
	for _, did := range ch.obj("Links").links("Drives") {
		s.chassisDrives = append(s.chassisDrives, struct{ id, chassis string }{did, chID})
	}
	s.mu.Unlock()
	s.addEvents(r.events)
}

// sensorIdentities are the keys by which a Sensor and a legacy Thermal or
// Power entry are known to be one sensor: the Sensor's URI as the entry's
// own @odata.id (iDRAC gives its legacy entries its Sensors' URIs); the
// same name (iLO serves each temperature in both); the same
// PhysicalContext and number in the name ("CPU1 Temp" and "CPU #1
// Temperature", the DMTF mockups); the same PhysicalContext and
// RelatedItem (both schemas have them: the part measured). Keys are per
// kind: a PSU's voltage is not its temperature.
func sensorIdentities(n node, kind model.Kind) []string {
	k := string(kind) + "\x00"
	var out []string
	if id := n.id(); id != "" && !strings.Contains(id, "#") {
		out = append(out, k+"id:"+id)
	}
	nm := name(n, "")
	if v := normName(nm); v != "" {
		out = append(out, k+"name:"+v)
	}
	if ctx := n.str("PhysicalContext"); ctx != "" {
		out = append(out, k+"ctx:"+ctx+"#"+digits(nm))
		if rel := n.links("RelatedItem"); len(rel) == 1 {
			out = append(out, k+"rel:"+ctx+"#"+rel[0])
		}
	}
	return out
}

// digits returns the numbers in s, in order ("CPU #1 Temp 2" -> "1.2").
func digits(s string) string {
	var b strings.Builder
	prev := false
	for _, r := range s {
		d := unicode.IsDigit(r)
		if d && !prev && b.Len() > 0 {
			b.WriteByte('.')
		}
		if d {
			b.WriteRune(r)
		}
		prev = d
	}
	return b.String()
}

// legacy fetches a legacy resource (Thermal, Power) of a chassis.
func (s *scan) legacy(ch node, chID, prop string) (node, bool) {
	if ch.link(prop) == "" {
		return node{}, false
	}
	n, ok, _ := s.sub(ch, chID, prop, prop, 0)
	return n, ok
}

// sensorsByID classifies a chassis's Sensors members, by id, in their
// order.
func sensorsByID(members []node) (map[string]sensor, []string) {
	out := map[string]sensor{}
	var order []string
	for _, sn := range members {
		kind, reading, unit := classifySensor(sn)
		id := sn.id()
		if _, dup := out[id]; dup || id == "" {
			continue
		}
		out[id] = sensor{n: sn, kind: kind, reading: reading, unit: unit}
		order = append(order, id)
	}
	return out, order
}

// classifySensor decides what a Sensor measures from ReadingType (Sensor
// v1.0+), or from ReadingUnits where ReadingType is missing (common: the
// DMTF mockups leave it out for temperatures).
func classifySensor(sn node) (model.Kind, string, string) {
	rt, units := sn.str("ReadingType"), sn.str("ReadingUnits")
	fanish := strings.EqualFold(sn.str("PhysicalContext"), "Fan") || containsFold(sn.str("Name"), "fan")
	switch {
	case rt == "Temperature" || (rt == "" && units == "Cel"):
		return model.KindTemperature, "temperature", "Cel"
	case rt == "Voltage" || (rt == "" && units == "V"):
		return model.KindVoltage, "voltage", "V"
	case rt == "Current" || (rt == "" && units == "A"):
		return model.KindCurrent, "current", "A"
	case rt == "Power" || (rt == "" && units == "W"):
		return model.KindPower, "power", "W"
	case rt == "Rotational" || (rt == "" && strings.EqualFold(units, "RPM")) || (fanish && units == "RPM"):
		return model.KindFan, "speed", "RPM"
	case (rt == "Percent" || (rt == "" && units == "%")) && fanish:
		return model.KindFan, "speed_percent", "%"
	}
	if rt == "" && units == "" {
		if k, r, u, ok := oemSensorKind(sn); ok {
			return k, r, u
		}
	}
	switch rt {
	case "":
		return model.KindSensor, "reading", units
	case "EnergykWh", "EnergyJoules", "EnergyWh":
		return model.KindSensor, "energy", units
	}
	return model.KindSensor, snake(rt), units
}

func sensorComponent(sn sensor, chID string) model.Component {
	n := sn.n
	h, state, conds := status(n)
	return model.Component{
		Kind: sn.kind, ID: n.id(), Name: name(n, n.id()), Chassis: chID, Health: h, State: state, Conditions: conds,
		Location: location(n),
		Readings: []model.Reading{{Name: sn.reading, Value: n.num("Reading"), Unit: sn.unit, Thresholds: sensorThresholds(n), Source: n.id()}},
		Source:   n.id(),
	}
}

// excerptReading reads a SensorExcerpt ({Reading, DataSourceUri}) and
// takes thresholds from the Sensor it points at, marking it used.
func excerptReading(ex node, rname, unit string, sensors map[string]sensor, used map[string]bool) (model.Reading, bool) {
	if !ex.ok() {
		return model.Reading{}, false
	}
	r := model.Reading{Name: rname, Value: ex.num("Reading"), Unit: unit, Source: ex.url}
	if src := normID(ex.str("DataSourceUri")); src != "" {
		r.Source = src
		if sn, ok := sensors[src]; ok {
			used[src] = true
			if sn.unit == unit || sn.unit == "" {
				r.Thresholds = sensorThresholds(sn.n)
			}
			if r.Value == nil && sn.unit == unit {
				r.Value = sn.n.num("Reading")
			}
		}
	}
	return r, true
}

// newFan reads a Fan resource (ThermalSubsystem, Fan.v1).
func newFan(fn node, chID string, sensors map[string]sensor, used map[string]bool) model.Component {
	h, state, conds := status(fn)
	c := model.Component{
		Kind: model.KindFan, ID: fn.id(), Name: name(fn, fn.id()), Chassis: chID, Health: h, State: state, Conditions: conds,
		Location: location(fn), Inventory: inventory(fn), Source: fn.id(),
	}
	sp := fn.obj("SpeedPercent")
	if sp.ok() {
		if rpm := sp.num("SpeedRPM"); rpm != nil {
			r := model.Reading{Name: "speed", Value: rpm, Unit: "RPM", Source: fn.id()}
			if sn, ok := sensors[normID(sp.str("DataSourceUri"))]; ok && strings.EqualFold(sn.unit, "RPM") {
				r.Thresholds = sensorThresholds(sn.n)
			}
			c.Readings = append(c.Readings, r)
		}
		if r, ok := excerptReading(sp, "speed_percent", "%", sensors, used); ok && (r.Value != nil || r.Thresholds != nil) {
			c.Readings = append(c.Readings, r)
		}
	}
	if rated := fn.num("RatedSpeedRPM"); rated != nil {
		c.Readings = append(c.Readings, model.Reading{Name: "rated_speed", Value: rated, Unit: "RPM", Source: fn.id()})
	}
	return c
}

// legacyFan reads one Thermal.Fans entry (Thermal.v1).
func legacyFan(fn node, id, chID string) model.Component {
	h, state, conds := status(fn)
	unit := fn.str("ReadingUnits")
	if unit == "" {
		unit = fn.str("Units") // iLO 4
	}
	rname := "speed"
	switch strings.ToLower(unit) {
	case "percent", "%":
		unit, rname = "%", "speed_percent"
	default:
		unit = "RPM"
	}
	c := model.Component{
		Kind: model.KindFan, ID: id, Name: name(fn, id), Chassis: chID, Health: h, State: state, Conditions: conds,
		Location: location(fn), Inventory: inventory(fn), Source: fn.url,
		Readings: []model.Reading{{Name: rname, Value: fn.num("Reading"), Unit: unit, Thresholds: legacyThresholds(fn), Source: id}},
	}
	if c.Readings[0].Value == nil && fn.has("CurrentReading") {
		// Redfish 1.0 (Supermicro X10) and iLO 4 call it CurrentReading.
		c.Readings[0].Value = fn.num("CurrentReading")
	}
	return c
}

// legacyReading reads a Thermal.Temperatures or Power.Voltages entry.
func legacyReading(n node, id, chID string, kind model.Kind, rname, field, unit string) model.Component {
	h, state, conds := status(n)
	return model.Component{
		Kind: kind, ID: id, Name: name(n, id), Chassis: chID, Health: h, State: state, Conditions: conds,
		Location: location(n), Source: n.url,
		Readings: []model.Reading{{Name: rname, Value: n.num(field), Unit: unit, Thresholds: legacyThresholds(n), Source: id}},
	}
}

// powerControl reads a Power.PowerControl entry: the chassis's consumption.
func powerControl(n node, id, chID string) model.Component {
	h, state, conds := status(n)
	c := model.Component{
		Kind: model.KindPower, ID: id, Name: name(n, id), Chassis: chID, Health: h, State: state, Conditions: conds, Source: n.url,
		Readings: []model.Reading{{Name: "power", Value: n.num("PowerConsumedWatts"), Unit: "W", Source: id}},
	}
	if v := n.num("PowerCapacityWatts"); v != nil {
		c.Readings = append(c.Readings, model.Reading{Name: "capacity", Value: v, Unit: "W", Source: id})
	}
	return c
}

// newPSU reads a PowerSupply resource and its PowerSupplyMetrics (m, not
// ok when the PSU has none or it could not be read).
func newPSU(pn, m node, chID string, sensors map[string]sensor, used map[string]bool) model.Component {
	h, state, conds := status(pn)
	c := model.Component{
		Kind: model.KindPSU, ID: pn.id(), Name: name(pn, pn.id()), Chassis: chID, Health: h, State: state, Conditions: conds,
		Location: location(pn), Inventory: inventory(pn), Source: pn.id(),
	}
	if lis := pn.str("LineInputStatus"); lis != "" && lis != "Normal" && lis != "Unknown" {
		c.Conditions = append(c.Conditions, model.Condition{MessageID: "LineInputStatus." + lis, Message: "line input status " + lis, Severity: model.SeverityWarning})
	}
	if m.ok() {
		for _, f := range []struct{ key, name, unit string }{
			{"InputVoltage", "input_voltage", "V"}, {"InputCurrentAmps", "input_current", "A"},
			{"InputPowerWatts", "input_power", "W"}, {"OutputPowerWatts", "output_power", "W"},
			{"TemperatureCelsius", "temperature", "Cel"}, {"FrequencyHz", "frequency", "Hz"},
			// FanSpeedPercent: the PSU's own fan (deprecated in
			// PowerSupplyMetrics v1.1 for the FanSpeedsPercent array).
			{"FanSpeedPercent", "fan_speed_percent", "%"},
		} {
			if r, ok := excerptReading(m.obj(f.key), f.name, f.unit, sensors, used); ok {
				c.Readings = append(c.Readings, r)
			}
		}
		if _, ok := c.Reading("fan_speed_percent"); !ok {
			if fans := m.list("FanSpeedsPercent"); len(fans) > 0 {
				if r, ok := excerptReading(fans[0], "fan_speed_percent", "%", sensors, used); ok {
					c.Readings = append(c.Readings, r)
				}
			}
		}
		for _, key := range []string{"RailVoltage", "RailCurrentAmps", "FanSpeedsPercent"} {
			for _, ex := range m.list(key) {
				if src := normID(ex.str("DataSourceUri")); src != "" {
					used[src] = true
				}
			}
		}
	}
	if v := pn.num("PowerCapacityWatts"); v != nil {
		c.Readings = append(c.Readings, model.Reading{Name: "capacity", Value: v, Unit: "W", Source: pn.id()})
	}
	oemPSU(pn, &c)
	return c
}

// legacyPSU reads one Power.PowerSupplies entry (Power.v1).
func legacyPSU(pn node, id, chID string) model.Component {
	h, state, conds := status(pn)
	c := model.Component{
		Kind: model.KindPSU, ID: id, Name: name(pn, id), Chassis: chID, Health: h, State: state, Conditions: conds,
		Location: location(pn), Inventory: inventory(pn), Source: pn.url,
	}
	add := func(rname, field, unit string) {
		if v := pn.num(field); v != nil {
			c.Readings = append(c.Readings, model.Reading{Name: rname, Value: v, Unit: unit, Source: id})
		}
	}
	add("input_voltage", "LineInputVoltage", "V")
	add("input_power", "PowerInputWatts", "W")
	add("output_power", "PowerOutputWatts", "W")
	if _, ok := c.Reading("output_power"); !ok {
		add("output_power", "LastPowerOutputWatts", "W")
	}
	add("capacity", "PowerCapacityWatts", "W")
	oemPSU(pn, &c)
	return c
}

// enrichPSUs copies into PowerSubsystem PSUs the readings that only the
// legacy Power entry of the same PSU has (iLO 6 serves input voltage and
// output watts only there), matching as one part (samePart: serial
// number and model), else by Id.
func enrichPSUs(psus []model.Component, legacy []node) {
	for _, ln := range legacy {
		serial, member := ln.str("SerialNumber"), ln.str("MemberId")
		for i := range psus {
			p := &psus[i]
			lp := legacyPSU(ln, p.ID, p.Chassis)
			match := samePart(*p, lp)
			if !match && serial == "" && member != "" {
				match = strings.HasSuffix(p.ID, "/"+member)
			}
			if !match {
				continue
			}
			for _, r := range lp.Readings {
				if _, ok := p.Reading(r.Name); !ok {
					p.Readings = append(p.Readings, r)
				}
			}
			break
		}
	}
}

func envReadings(env node) []model.Reading {
	var out []model.Reading
	for _, f := range []struct{ key, name, unit string }{
		{"TemperatureCelsius", "temperature", "Cel"}, {"PowerWatts", "power", "W"},
		{"HumidityPercent", "humidity", "%"}, {"EnergykWh", "energy", "kW.h"},
	} {
		if ex := env.obj(f.key); ex.ok() {
			out = append(out, model.Reading{Name: f.name, Value: ex.num("Reading"), Unit: f.unit, Source: env.id()})
		}
	}
	return out
}

// healthOf returns a lookup of the given components' health by id.
func healthOf(cs []model.Component) func(string) (model.Health, bool) {
	return func(id string) (model.Health, bool) {
		for _, c := range cs {
			if c.ID == id {
				return c.Health, true
			}
		}
		return "", false
	}
}

// snapshotHealth looks a component up among those reported so far.
func (s *scan) snapshotHealth(id string) (model.Health, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return healthOf(s.comps)(id)
}

// redundancyGroup reads a Redundancy object: the new RedundantGroup
// (PowerSupplyRedundancy, FanRedundancy) or the legacy Redundancy entry.
func redundancyGroup(g node, fallbackID string, kind model.Kind, lookup func(string) (model.Health, bool)) model.RedundancyGroup {
	id := g.id()
	if id == "" {
		id = fallbackID
	}
	rg := model.RedundancyGroup{ID: id, Name: g.str("Name"), Kind: kind, Mode: g.str("RedundancyType")}
	if rg.Mode == "" {
		rg.Mode = g.str("Mode")
	}
	members := g.links("RedundancyGroup")
	if len(members) == 0 {
		members = g.links("RedundancySet")
	}
	rg.Members = members
	min := g.num("MinNeededInGroup")
	if min == nil {
		min = g.num("MinNumNeeded")
	}
	resolved := len(members) > 0
	for _, m := range members {
		if h, ok := lookup(m); ok {
			countMember(&rg, h)
		} else {
			resolved = false
		}
	}
	h, _, _ := status(g)
	need := 0
	if min != nil {
		rg.MinNeeded = int(*min)
		need = max(1, rg.MinNeeded-1)
	}
	if ft := g.num("MinNeededForFaultTolerance"); ft != nil && *ft > 0 {
		// RedundantGroup v1.1+: MinNeededInGroup carries the load,
		// MinNeededForFaultTolerance makes the group redundant.
		if min != nil {
			need = int(*min)
		}
		rg.MinNeeded = int(*ft)
	}
	if resolved && rg.MinNeeded > 0 {
		judgeGroup(&rg, max(1, need))
		if g.obj("Status").ok() {
			rg.Health = model.Worst(h, rg.Health) // the BMC may know worse
		}
	} else {
		// Members we cannot count: the BMC's verdict is all there is.
		rg.Health = h
		rg.Redundant = h == model.HealthOK && !strings.EqualFold(rg.Mode, "NotRedundant")
	}
	return rg
}

func (s *scan) hasGroup(kind model.Kind, cs []model.Component) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.redundancy {
		if g.Kind != kind {
			continue
		}
		for _, m := range g.Members {
			for _, c := range cs {
				if c.ID == m {
					return true
				}
			}
		}
	}
	return false
}

// chassisLoad returns the chassis's power consumption in watts, if a power
// component of the chassis reports it.
func (s *scan) chassisLoad(chID string) *float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var best *float64
	for _, c := range s.comps {
		if c.Kind != model.KindPower || c.Chassis != chID {
			continue
		}
		if r, ok := c.Reading("power"); ok && r.Value != nil && (best == nil || *r.Value > *best) {
			best = r.Value
		}
	}
	return best
}

// derivedPSURedundancy is used when the BMC reports no redundancy group:
// the PSUs needed are those that carry the present load (total output or
// chassis consumption over the smallest healthy PSU's capacity), at least
// one; without a load, half of the bays (the common 1+1 / 2+2 layouts).
func derivedPSURedundancy(chID string, psus []model.Component, load *float64) model.RedundancyGroup {
	g := model.RedundancyGroup{ID: chID + "#/derived/psu-redundancy", Name: "PSU redundancy (derived)", Kind: model.KindPSU, Derived: true}
	var out float64
	minCap := math.Inf(1)
	present := 0
	for _, p := range psus {
		g.Members = append(g.Members, p.ID)
		if p.Health != model.HealthAbsent {
			present++
		}
		countMember(&g, p.Health)
		if p.Health == model.HealthOK || p.Health == model.HealthWarning {
			if r, ok := p.Reading("capacity"); ok && r.Value != nil && *r.Value > 0 {
				minCap = math.Min(minCap, *r.Value)
			}
		}
		if r, ok := p.Reading("output_power"); ok && r.Value != nil {
			out += *r.Value
		}
	}
	if out == 0 && load != nil {
		out = *load
	}
	// need: PSUs that carry the load; one more is needed for redundancy.
	need := 1
	switch {
	case out > 0 && !math.IsInf(minCap, 1):
		need = int(math.Max(1, math.Ceil(out/minCap)))
		g.Mode = "derived from load"
	case present > 0:
		need = int(math.Max(1, math.Ceil(float64(present)/2)))
		g.Mode = "derived from bays"
	}
	g.MinNeeded = need + 1
	judgeGroup(&g, need)
	return g
}

func countMember(g *model.RedundancyGroup, h model.Health) {
	switch h {
	case model.HealthOK:
		g.Healthy++
		g.Working++
	case model.HealthWarning:
		g.Working++
	}
}

// judgeGroup sets Redundant and Health from the counts: fewer healthy
// members than MinNeeded is a warning (redundancy lost, one failure from
// an outage); fewer working than carry the load (need) is critical.
func judgeGroup(g *model.RedundancyGroup, need int) {
	g.Redundant = g.Healthy >= g.MinNeeded
	switch {
	case g.Working < need:
		g.Health = model.HealthCritical
	case !g.Redundant:
		g.Health = model.HealthWarning
	default:
		g.Health = model.HealthOK
	}
}

// normName folds case, spaces and punctuation for matching names.
func normName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// snake turns a ReadingType ("AbsoluteHumidity") into a reading name
// ("absolute_humidity").
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) && i > 0 && !unicode.IsUpper(rune(s[i-1])) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}
