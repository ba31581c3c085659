package model

import "slices"

// KindRank orders kinds for people (tables, reports, summaries): the
// parts prefail watches first, then sensors, then the rest.
func KindRank(k Kind) int {
	order := []Kind{
		KindPSU, KindFan, KindDrive, KindBattery,
		KindTemperature, KindVoltage, KindCurrent, KindPower,
		KindSensor, KindMemory, KindProcessor, KindStorage,
		KindChassis, KindSystem, KindBMC,
	}
	if i := slices.Index(order, k); i >= 0 {
		return i
	}
	return len(order)
}

// MainReadingNames are the readings that say most about a kind of part,
// in order of preference.
func MainReadingNames(k Kind) []string {
	switch k {
	case KindFan:
		return []string{"speed", "speed_percent"}
	case KindTemperature:
		return []string{"temperature"}
	case KindPSU:
		return []string{"output_power", "input_power", "input_voltage", "output_voltage"}
	case KindVoltage:
		return []string{"voltage", "input_voltage", "output_voltage"}
	case KindCurrent:
		return []string{"current"}
	case KindPower:
		return []string{"power", "consumed_power", "input_power"}
	case KindDrive:
		return []string{"media_life_left", "temperature"}
	case KindBattery:
		return []string{"state_of_health", "charge", "capacity"}
	}
	return nil
}

// MainReading is the reading to show for c when only one fits: its
// kind's main reading, else the first with a value, else the first.
func (c *Component) MainReading() (Reading, bool) {
	for _, name := range MainReadingNames(c.Kind) {
		if r, ok := c.Reading(name); ok {
			return r, true
		}
	}
	for _, r := range c.Readings {
		if r.Value != nil {
			return r, true
		}
	}
	if len(c.Readings) > 0 {
		return c.Readings[0], true
	}
	return Reading{}, false
}
