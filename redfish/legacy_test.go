package redfish_test

import (
	"encoding/json"
	"testing"

	"github.com/prefail/prefail/model"
)

// Legacy Thermal fans read in percent (HPE DL325: ReadingUnits "Percent")
// keep their unit and their thresholds, which are in the same unit
// (Thermal.v1 Fan: the thresholds are in ReadingUnits), through to the
// model: a speed_percent reading, never an RPM one.
func TestPercentFansKeepUnitAndThresholds(t *testing.T) {
	tree := embeddedCapture(t, "cray-csm/DL325")
	const thermal = "/redfish/v1/Chassis/1/Thermal"
	b, _ := tree.Get(thermal)
	var th map[string]any
	if err := json.Unmarshal(b, &th); err != nil {
		t.Fatal(err)
	}
	// The capture gives no thresholds: add percent ones to the first fan.
	fans := th["Fans"].([]any)
	fans[0].(map[string]any)["LowerThresholdCritical"] = 10
	fans[0].(map[string]any)["LowerThresholdNonCritical"] = 15
	nb, _ := json.Marshal(th)
	snap, _ := scanTree(t, tree.With(thermal, nb))
	n := 0
	for _, c := range snap.Components {
		if c.Kind != model.KindFan {
			continue
		}
		n++
		if _, ok := c.Reading("speed"); ok {
			t.Errorf("fan %s has an RPM speed reading; the BMC reads it in percent", c.ID)
		}
		r, ok := c.Reading("speed_percent")
		if !ok || r.Unit != "%" || r.Value == nil {
			t.Errorf("fan %s: speed_percent %+v, want a value in %%", c.ID, r)
			continue
		}
		if c.ID == thermal+"#/Fans/0" {
			if *r.Value != 35 {
				t.Errorf("fan 1 reads %v%%, the capture says 35", *r.Value)
			}
			if r.Thresholds == nil || r.Thresholds.LowerCritical == nil || *r.Thresholds.LowerCritical != 10 ||
				r.Thresholds.LowerNonCritical == nil || *r.Thresholds.LowerNonCritical != 15 {
				t.Errorf("fan 1 thresholds %+v, want the entry's percent thresholds 10/15", r.Thresholds)
			}
		}
	}
	if n != 8 {
		t.Errorf("%d fans, the DL325 Thermal lists 8", n)
	}
}
