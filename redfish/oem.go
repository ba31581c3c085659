package redfish

import (
	"fmt"
	"strings"

	"github.com/prefail/prefail/model"
)

// Vendor OEM data is kept raw by the model and interpreted here, per
// vendor, only where the standard properties leave a gap.

// oemVendor returns the name of the single vendor object under Oem
// ("Hpe", "Dell", "Supermicro", ...) and that object.
func oemVendor(n node) (string, node) {
	oem := n.obj("Oem")
	if !oem.ok() {
		return "", node{}
	}
	for k := range oem.m {
		return k, oem.obj(k)
	}
	return "", node{}
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
