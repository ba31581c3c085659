package model

import "testing"

func TestMainReading(t *testing.T) {
	v := func(f float64) *float64 { return &f }
	tests := []struct {
		name string
		c    Component
		want string
		ok   bool
	}{
		{"fan speed first", Component{Kind: KindFan, Readings: []Reading{{Name: "speed_percent", Value: v(40)}, {Name: "speed", Value: v(5400)}}}, "speed", true},
		{"psu output before input", Component{Kind: KindPSU, Readings: []Reading{{Name: "input_power", Value: v(300)}, {Name: "output_power", Value: v(270)}}}, "output_power", true},
		{"no main reading: first with a value", Component{Kind: KindMemory, Readings: []Reading{{Name: "ecc"}, {Name: "temperature", Value: v(40)}}}, "temperature", true},
		{"none with a value: the first", Component{Kind: KindMemory, Readings: []Reading{{Name: "ecc"}}}, "ecc", true},
		{"no readings", Component{Kind: KindFan}, "", false},
	}
	for _, tt := range tests {
		r, ok := tt.c.MainReading()
		if r.Name != tt.want || ok != tt.ok {
			t.Errorf("%s: %q %v, want %q %v", tt.name, r.Name, ok, tt.want, tt.ok)
		}
	}
	if !(KindRank(KindPSU) < KindRank(KindFan) && KindRank(KindFan) < KindRank(KindTemperature) && KindRank(KindBMC) < KindRank("gpu")) {
		t.Error("KindRank: the watched parts first, unknown kinds last")
	}
}
