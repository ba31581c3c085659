package redfishtest

import (
	"fmt"
	"testing"
	"time"
)

func TestZZDebug(t *testing.T) {
	for _, name := range EmbeddedScenarioNames() {
		sc, err := EmbeddedScenario(name)
		if err != nil {
			t.Fatal(err)
		}
		tree, err := sc.BaseTree()
		if err != nil {
			t.Fatal(err)
		}
		if err := sc.Check(tree); err != nil {
			t.Fatal(err)
		}
		s := New(tree, WithScenario(sc))
		for _, d := range []string{"0s", "5d", "8d", "8d10m", "11d", "12d", "12d18h", "13d", "13d13h"} {
			dd, _ := parseDuration(d)
			var out []string
			for _, p := range []string{"/redfish/v1/Chassis/1U/Sensors/FanBay1", "/redfish/v1/Chassis/1U/PowerSubsystem/PowerSupplies/Bay1/Metrics", "/redfish/v1/Chassis/1U/Sensors/CPU1Temp", "/redfish/v1/Chassis/1U/Sensors/IntakeTemp"} {
				m, _ := s.load(p, dd)
				switch p[len(p)-4:] {
				case "Bay1":
					out = append(out, fmt.Sprint(m["Reading"], m["Status"]))
				case "rics":
					out = append(out, fmt.Sprint(m["InputPowerWatts"].(map[string]any)["Reading"], m["InputVoltage"].(map[string]any)["Reading"], m["TemperatureCelsius"].(map[string]any)["Reading"], m["Status"]))
				default:
					out = append(out, fmt.Sprint(m["Reading"]))
				}
			}
			m, _ := s.load("/redfish/v1/Managers/BMC/LogServices/Log/Entries", dd)
			out = append(out, fmt.Sprint(m["Members@odata.count"]))
			t.Log(name, d, out)
		}
		_ = time.Second
	}
}
