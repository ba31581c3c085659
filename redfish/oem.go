package redfish

import (
	"fmt"
	"slices"
	"strings"

	"github.com/prefail/prefail/model"
)

// Vendor OEM data is kept raw by the model and interpreted here, per
// vendor, only where the standard properties leave a gap.

// oemVendor returns the name of the vendor object under Oem ("Hpe",
// "Dell", "Supermicro", ...) and that object. Where there are several
// (iLO 5 serves both "Hp" and "Hpe"), the first by name, never the first
// a map iteration happens to give: the same resource reads the same.
func oemVendor(n node) (string, node) {
	oem := n.obj("Oem")
	if !oem.ok() {
		return "", node{}
	}
	keys := make([]string, 0, len(oem.m))
	for k, v := range oem.m {
		if _, ok := v.(map[string]any); ok {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return "", node{}
	}
	slices.Sort(keys)
	if slices.Contains(keys, "Hpe") {
		// HpeSeaOfSensors and BayNumber live under "Hpe".
		return "Hpe", oem.obj("Hpe")
	}
	return keys[0], oem.obj(keys[0])
}

// oemSensorKind classifies a Sensor that names neither ReadingType nor
// ReadingUnits. HPE iLO 6/7 serve their temperature sensors so
// (HpeSeaOfSensors: an OEM extension of temperature sensors).
func oemSensorKind(sn node) (model.Kind, string, string, bool) {
	vendor, v := oemVendor(sn)
	if vendor == "Hpe" && strings.Contains(v.str("@odata.type"), "HpeSeaOfSensors") {
		return model.KindTemperature, "temperature", "Cel", true
	}
	return "", "", "", false
}

// oemPSU fills gaps in a PSU from its vendor's OEM data: iLO names every
// PSU "HpeServerPowerSupply" and gives the bay in Oem.Hpe.BayNumber.
func oemPSU(pn node, c *model.Component) {
	vendor, v := oemVendor(pn)
	if vendor != "Hpe" {
		return
	}
	if bay := v.num("BayNumber"); bay != nil {
		if c.Location == "" {
			c.Location = fmt.Sprintf("Bay %d", int(*bay))
		}
		if c.Name == "HpeServerPowerSupply" || c.Name == "" {
			c.Name = fmt.Sprintf("Power Supply %d", int(*bay))
		}
	}
	if _, ok := c.Reading("output_power"); !ok {
		if w := v.num("AveragePowerOutputWatts"); w != nil {
			c.Readings = append(c.Readings, model.Reading{Name: "output_power", Value: w, Unit: "W", Source: c.ID})
		}
	}
}
