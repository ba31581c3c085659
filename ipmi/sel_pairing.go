package ipmi

import "github.com/prefail/prefail/model"

// PairEvents pairs assertions with the deassertions that end them, in
// log order (slice order: record ids and timestamps may wrap or restart).
//
// The rule: a deassertion ends the latest earlier assertion of the same
// sensor (component id, else sensor type and name) and the same state
// (event type and offset, the Code) that is still open. Both get
// PairedWith set to the other's id and Active false. Assertions left open
// get Active true: as far as the log tells, their condition still holds
// (the reader checks that against the live sensor). A deassertion with no
// assertion before it (the log was cleared in between) stays unpaired.
// Events without Asserted (OEM records) are left alone.
func PairEvents(evs []model.Event) {
	type key struct{ sensor, code string }
	open := map[key][]int{}
	f := false
	for i := range evs {
		e := &evs[i]
		if e.Asserted == nil {
			continue
		}
		sensor := e.Component
		if sensor == "" {
			sensor = e.SensorType + "/" + e.SensorName
		}
		k := key{sensor, e.Code}
		if *e.Asserted {
			t := true
			e.Active = &t
			open[k] = append(open[k], i)
			continue
		}
		stack := open[k]
		if len(stack) == 0 {
			continue
		}
		j := stack[len(stack)-1]
		open[k] = stack[:len(stack)-1]
		a := &evs[j]
		a.Active = &f
		a.PairedWith = e.ID
		e.PairedWith = a.ID
		fv := false
		e.Active = &fv
	}
}
