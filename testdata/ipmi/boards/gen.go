//go:build ignore

// gen writes the ipmi_sim boards of testdata/ipmi/boards: for each board
// a board.sdrs (sdrcomp input) and a board.emu (ipmi_sim commands, see
// ipmi_sim_cmd(5)). Run from this directory: go run gen.go
//
// Thresholds and readings are given as raw bytes with the sensor's
// conversion (y = M*raw * 10^R), so the SDR, ipmi_sim's own threshold
// checks and the readers all see the same numbers.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

type sensor struct {
	num    int
	name   string
	stype  int    // sensor type (IPMI v2.0 Table 42-3)
	er     int    // event/reading type: 0x01 threshold, 0x6f sensor-specific, 0x0b redundancy
	unit   string // sdrcomp base_unit: degrees_C, RPM, Volts, Amps, Watts
	m, r   int    // conversion
	entity string
	inst   int
	// thresholds, raw: UNR, UC, UNC, LNR, LC, LNC; -1 = not readable
	th  [6]int
	val int
	// events: values set after start with an event generated (threshold),
	// states asserted (discrete), in order.
	events []int
	states []int
}

type board struct {
	name, title string
	sensors     []sensor
	sel         []string // extra sel_add lines (13 data bytes after the record type)
	fru         []byte
}

func thr(unr, uc, unc, lnr, lc, lnc int) [6]int { return [6]int{unr, uc, unc, lnr, lc, lnc} }

var none = thr(-1, -1, -1, -1, -1, -1)

func temp(num int, name string, entity string, inst, val, unc, uc, unr int) sensor {
	return sensor{num: num, name: name, stype: 0x01, er: 0x01, unit: "degrees_C", m: 1, entity: entity, inst: inst, th: thr(unr, uc, unc, -1, -1, -1), val: val}
}

func fan(num int, name string, inst, val, lc, lnc int) sensor {
	return sensor{num: num, name: name, stype: 0x04, er: 0x01, unit: "RPM", m: 100, entity: "fan_cooling_device", inst: inst, th: thr(-1, -1, -1, -1, lc, lnc), val: val}
}

func status(num int, name string, stype int, entity string, inst int, states ...int) sensor {
	return sensor{num: num, name: name, stype: stype, er: 0x6f, entity: entity, inst: inst, th: none, states: states}
}

func sdrText(s sensor) string {
	var b strings.Builder
	typ := 1
	if s.er != 0x01 {
		typ = 2
	}
	fmt.Fprintf(&b, "sdr type %d\n", typ)
	kv := func(k string, v any) { fmt.Fprintf(&b, "\t%s\t\t%v\n", k, v) }
	kv("sensor_owner_id", "0x20")
	kv("sensor_owner_lun", 0)
	kv("channel_number", 0)
	kv("sensor_number", s.num)
	kv("entity_id", s.entity)
	kv("entity_instance", s.inst)
	for _, k := range []string{"init_scanning", "init_events", "init_sensor_type", "default_event_gen_on", "default_sensor_scan_on", "sensor_auto_rearm"} {
		kv(k, "true")
	}
	kv("sensor_type", fmt.Sprintf("0x%02x", s.stype))
	kv("event_reading_type_code", fmt.Sprintf("0x%02x", s.er))
	if typ == 2 {
		for i := 0; i < 8; i++ {
			kv(fmt.Sprintf("assert_event%d", i), "true")
			kv(fmt.Sprintf("deassert_event%d", i), "true")
			kv(fmt.Sprintf("event%d_state_ret", i), "true")
		}
		kv("id_string", fmt.Sprintf("%q", s.name))
		b.WriteString("endsdr\n\n")
		return b.String()
	}
	kv("init_thresholds", "true")
	kv("sensor_threshold_access", "readable")
	kv("sensor_event_msg_ctrl", "per_state")
	names := []string{"unr", "uc", "unc", "lnr", "lc", "lnc"}
	for i, n := range names {
		if s.th[i] < 0 {
			continue
		}
		kv("return_"+n, "true")
		kv(n+"_thrsh_readable", "true")
		dir := "gh"
		if n[0] == 'l' {
			dir = "gl"
		}
		kv("assert_"+n+dir, "true")
		kv("deassert_"+n+dir, "true")
	}
	kv("analog_data_format", "unsigned")
	kv("rate_unit", "none")
	kv("modifier_unit", "none")
	kv("percentage", "false")
	kv("base_unit", s.unit)
	kv("modifier_unit_code", "unspecified")
	kv("linearization", "linear")
	kv("m", s.m)
	kv("tolerance", 0)
	kv("b", 0)
	kv("accuracy", 1)
	kv("accuracy_exp", 0)
	kv("sensor_direction", "input")
	kv("r_exp", s.r)
	kv("b_exp", 0)
	kv("sensor_maximum", 255)
	kv("sensor_minimum", 0)
	for i, n := range names {
		if s.th[i] >= 0 {
			kv(n+"_thresh", s.th[i])
		}
	}
	kv("id_string", fmt.Sprintf("%q", s.name))
	b.WriteString("endsdr\n\n")
	return b.String()
}

func emuText(s sensor) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %d %s\n", s.num, s.name)
	fmt.Fprintf(&b, "sensor_add 0x20 0 %d 0x%02x 0x%02x\n", s.num, s.stype, s.er)
	if s.er == 0x01 {
		mask := ""
		vals := ""
		var ev [15]byte
		for i := range ev {
			ev[i] = '0'
		}
		for i, t := range s.th {
			if t < 0 {
				mask += "0"
				vals += " 0"
				continue
			}
			mask += "1"
			vals += fmt.Sprintf(" %d", t)
			// event bits (rightmost = bit 0): LNC gl=0, LC gl=2, LNR gl=4, UNC gh=7, UC gh=9, UNR gh=11
			bit := []int{11, 9, 7, 4, 2, 0}[i]
			ev[14-bit] = '1'
		}
		fmt.Fprintf(&b, "sensor_set_threshold 0x20 0 %d readable %s%s\n", s.num, mask, vals)
		e := string(ev[:])
		fmt.Fprintf(&b, "sensor_set_event_support 0x20 0 %d enable scanning per-state \\\n\t%s %s \\\n\t%s %s\n", s.num, e, e, e, e)
		fmt.Fprintf(&b, "sensor_set_value 0x20 0 %d %d 0\n", s.num, s.val)
		for _, v := range s.events {
			fmt.Fprintf(&b, "sensor_set_value 0x20 0 %d %d 1\n", s.num, v)
		}
		return b.String()
	}
	e := "000000011111111"
	fmt.Fprintf(&b, "sensor_set_event_support 0x20 0 %d enable scanning per-state \\\n\t%s %s \\\n\t%s %s\n", s.num, e, e, e, e)
	for i, st := range s.states {
		gen := 0
		if i > 0 || s.stype != 0x08 || st != 0 {
			gen = 1
		}
		fmt.Fprintf(&b, "sensor_set_bit 0x20 0 %d %d 1 %d\n", s.num, st, gen)
	}
	return b.String()
}

// fruBytes builds a FRU image (FRU spec v1.0): common header, chassis,
// board and product areas of 8-bit ASCII fields.
func fruBytes(chassisPart, chassisSerial, boardMfr, boardProduct, boardSerial, boardPart string, mfgMinutes int, prodMfr, prodName, prodPart, prodVer, prodSerial string) []byte {
	field := func(s string) []byte { return append([]byte{0xc0 | byte(len(s))}, s...) }
	area := func(hdr []byte, fields ...string) []byte {
		a := append([]byte{}, hdr...)
		for _, f := range fields {
			a = append(a, field(f)...)
		}
		a = append(a, 0xc1)
		for (len(a)+1)%8 != 0 {
			a = append(a, 0)
		}
		a = append(a, 0)
		a[1] = byte(len(a) / 8)
		var sum byte
		for _, c := range a[:len(a)-1] {
			sum += c
		}
		a[len(a)-1] = -sum
		return a
	}
	ch := area([]byte{1, 0, 0x17}, chassisPart, chassisSerial)
	bd := area([]byte{1, 0, 0, byte(mfgMinutes), byte(mfgMinutes >> 8), byte(mfgMinutes >> 16)}, boardMfr, boardProduct, boardSerial, boardPart, "")
	pr := area([]byte{1, 0, 0}, prodMfr, prodName, prodPart, prodVer, prodSerial, "", "")
	hdr := []byte{1, 0, 1, byte(1 + len(ch)/8), byte(1 + (len(ch)+len(bd))/8), 0, 0, 0}
	var sum byte
	for _, c := range hdr[:7] {
		sum += c
	}
	hdr[7] = -sum
	out := append(append(append(hdr, ch...), bd...), pr...)
	return out
}

func write(bd board) {
	dir := bd.name
	if err := os.MkdirAll(dir, 0o755); err != nil {
		panic(err)
	}
	var sdrs, emu strings.Builder
	fmt.Fprintf(&sdrs, "# %s: generated by gen.go (go run gen.go); compile with sdrcomp -8\n\n", bd.title)
	sdrs.WriteString("sdr type 18\n\tdevice_slave_address\t0x20\n\tdevice_channel_number\t0\n\tchassis\t\t\ttrue\n\tipmb_event_gen\t\tfalse\n\tipmb_event_recv\t\tfalse\n\tfru_inventory\t\ttrue\n\tsel\t\t\ttrue\n\tsdr\t\t\ttrue\n\tsensor\t\t\ttrue\n\tentity_id\t\tsystem_board\n\tentity_instance\t\t1\n")
	fmt.Fprintf(&sdrs, "\tid_string\t\t%q\nendsdr\n\n", bd.name+" BMC")
	fmt.Fprintf(&emu, "# %s: generated by gen.go (go run gen.go); see ipmi_sim_cmd(5)\n\n", bd.title)
	emu.WriteString("mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\nsel_enable 0x20 1000 0x0a\n\n")
	emu.WriteString("# Watchdog sensor (must be sensor 0)\nsensor_add 0x20 0 0 35 0x6f event-only\nsensor_set_event_support 0x20 0 0 enable scanning per-state \\\n\t000000000001111 000000000000000 \\\n\t000000000001111 000000000000000\n\n")
	for _, s := range bd.sensors {
		sdrs.WriteString(sdrText(s))
		emu.WriteString(emuText(s))
		emu.WriteString("\n")
	}
	if bd.fru != nil {
		var hexs []string
		for _, c := range bd.fru {
			hexs = append(hexs, fmt.Sprintf("0x%02x", c))
		}
		fmt.Fprintf(&emu, "mc_add_fru_data 0x20 0 %d data %s\n\n", len(bd.fru), strings.Join(hexs, " "))
	}
	for _, l := range bd.sel {
		fmt.Fprintf(&emu, "sel_add 0x20 %s\n", l)
	}
	emu.WriteString("\nmc_enable 0x20\n")
	must(os.WriteFile(filepath.Join(dir, "board.sdrs"), []byte(sdrs.String()), 0o644))
	must(os.WriteFile(filepath.Join(dir, "board.emu"), []byte(emu.String()), 0o644))
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// selEvent formats a system event record's 13 bytes after the type:
// timestamp (0: the BMC stamps it), generator 0x20, EvM rev 4.
func selEvent(stype, num, dirType, d1, d2, d3 int) string {
	return fmt.Sprintf("0x02 0x00 0x00 0x00 0x00 0x20 0x00 0x04 0x%02x 0x%02x 0x%02x 0x%02x 0x%02x 0x%02x", stype, num, dirType, d1, d2, d3)
}

func main() {
	// realserver mirrors the Intel server board in rubyipmi's fixture
	// spec/fixtures/ipmitool/ipmitool_sensor_intel.txt (`ipmitool sensor`):
	// same names, units, readings and thresholds.
	volt := func(num int, name string, m, r, val int, th [6]int) sensor {
		return sensor{num: num, name: name, stype: 0x02, er: 0x01, unit: "Volts", m: m, r: r, entity: "system_board", inst: 1, th: th, val: val}
	}
	intelFan := func(num int, name string, inst int) sensor {
		return sensor{num: num, name: name, stype: 0x04, er: 0x01, unit: "RPM", m: 100, entity: "fan_cooling_device", inst: inst, th: thr(255, 255, 255, -1, 15, -1), val: 56}
	}
	realserver := board{name: "realserver", title: "Intel server board as in rubyipmi's ipmitool_sensor_intel.txt", sensors: []sensor{
		intelFan(0x30, "FCB FAN1", 1), intelFan(0x31, "FCB FAN2", 2), intelFan(0x32, "FCB FAN3", 3), intelFan(0x33, "FCB FAN4", 4),
		{num: 0x40, name: "FCB Ambient1", stype: 0x01, er: 0x01, unit: "degrees_C", m: 1, entity: "front_panel_board", inst: 1, th: thr(255, 50, -1, -1, -1, -1), val: 21},
		{num: 0x41, name: "FCB Ambient2", stype: 0x01, er: 0x01, unit: "degrees_C", m: 1, entity: "front_panel_board", inst: 2, th: thr(255, 50, -1, -1, -1, -1), val: 0},
		volt(0x50, "PS 12V", 62, -3, 196, thr(216, 212, 207, 171, 175, 180)),
		volt(0x51, "PS 5V", 26, -3, 193, thr(215, 211, 205, 169, 174, 179)),
		temp(0x60, "MLB TEMP 2", "system_board", 2, 47, 85, 87, 90),
		temp(0x61, "MLB TEMP 3", "system_board", 3, 43, 85, 87, 90),
		temp(0x62, "Processor 1 Temp", "processor", 1, 23, 81, 85, 90),
		temp(0x63, "MLB TEMP 1", "system_board", 1, 45, 85, 87, 90),
		temp(0x64, "Processor 2 Temp", "processor", 2, 24, 81, 85, 90),
		volt(0x52, "STBY 3.3V", 172, -4, 195, thr(214, 211, 205, 169, 173, 179)),
		{num: 0x70, name: "PS Current", stype: 0x03, er: 0x01, unit: "Amps", m: 1, entity: "power_supply", inst: 1, th: thr(255, 255, 255, -1, -1, -1), val: 14},
		volt(0x53, "VCORE 1", 83, -4, 124, thr(255, 255, 255, -1, -1, -1)),
		volt(0x54, "VCORE 2", 116, -4, 77, thr(255, 255, 255, -1, -1, -1)),
		status(0x80, "CPU1Status", 0x07, "processor", 1, 7),
		status(0x81, "CPU2Status", 0x07, "processor", 2, 7),
		status(0x82, "PSU 1 AC Status", 0x08, "power_supply", 1, 0),
		status(0x83, "PSU 2 AC Status", 0x08, "power_supply", 2, 0),
	},
		fru: fruBytes("G23456-789", "QSCN12345678", "Intel Corporation", "S2600CP", "QSCP98765432", "G11111-222", 8_500_000, "Intel Corporation", "S2600CP4", "S2600CP4", "G98765-432", "BQCP12345678"),
		sel: []string{selEvent(0x10, 0x90, 0x6f, 0x02, 0xff, 0xff)},
	}

	// failing: the parts prefail exists to catch, one of each.
	failing := board{name: "failing", title: "a failing server: PSU failure and predictive failure, lost redundancy, fans and temperatures past their limits, drive faults", sensors: []sensor{
		status(0x01, "PSU1 Status", 0x08, "power_supply", 1, 0),
		status(0x02, "PSU2 Status", 0x08, "power_supply", 2, 0, 1),
		status(0x03, "PSU3 Status", 0x08, "power_supply", 3, 0, 2),
		status(0x04, "PSU4 Status", 0x08, "power_supply", 4),
		{num: 0x05, name: "PS Redundancy", stype: 0x09, er: 0x0b, entity: "power_supply", inst: 0, th: none, states: []int{1}},
		fan(0x10, "Fan1", 1, 48, 5, 10),
		fan(0x11, "Fan2", 2, 48, 5, 10),
		fan(0x12, "Fan3", 3, 48, 5, 10),
		fan(0x13, "Fan4", 4, 48, 5, 10),
		temp(0x20, "CPU Temp", "processor", 1, 60, 85, 90, 100),
		temp(0x21, "Inlet Temp", "system_board", 1, 25, 40, 45, 50),
		{num: 0x30, name: "P12V", stype: 0x02, er: 0x01, unit: "Volts", m: 62, r: -3, entity: "system_board", inst: 1, th: thr(216, 212, 207, 171, 175, 180), val: 196},
		status(0x40, "Drive 0", 0x0d, "disk_or_disk_bay", 0, 0, 2),
		status(0x41, "Drive 1", 0x0d, "disk_or_disk_bay", 1, 0, 1),
		status(0x42, "Drive 2", 0x0d, "disk_or_disk_bay", 2, 0),
	},
		fru: fruBytes("CH-0042", "CHS0001", "Acme Servers", "AS-2200 Mainboard", "MB0000123", "MB-2200-01", 14_000_000, "Acme Servers", "AS-2200", "AS-2200-R", "1.0", "SRV0000456"),
		sel: []string{
			selEvent(0x10, 0x90, 0x6f, 0x02, 0xff, 0xff),                            // log area reset/cleared
			selEvent(0x08, 0x01, 0x6f, 0x03, 0xff, 0xff),                            // PSU1 AC lost, asserted
			selEvent(0x08, 0x01, 0xef, 0x03, 0xff, 0xff),                            // ... and deasserted
			selEvent(0x0c, 0x50, 0x6f, 0x00, 0xff, 0x01),                            // correctable ECC
			"0xc1 0x00 0x00 0x00 0x00 0x57 0x01 0x00 0x01 0x02 0x03 0x04 0x05 0x06", // timestamped OEM
			"0xe0 0x01 0x02 0x03 0x04 0x05 0x06 0x07 0x08 0x09 0x0a 0x0b 0x0c 0x0d", // non-timestamped OEM
		},
	}
	// Fan1 dips below lower critical and recovers (assert + deassert);
	// Fan2 stays below lower critical; Fan3 sits in the non-critical band;
	// CPU Temp goes over upper critical; Inlet Temp over upper non-critical.
	failing.sensors[5].events = []int{4, 48}
	failing.sensors[6].events = []int{4}
	failing.sensors[7].events = []int{8}
	failing.sensors[9].events = []int{95}
	failing.sensors[10].events = []int{42}

	// large: 120 sensors and 600 SEL entries.
	large := board{name: "large", title: "a large board: 120 sensors, 600 SEL entries",
		fru: fruBytes("LG-1", "LGCH0001", "Big Iron", "BI-9000 Board", "LGMB0001", "BI-9000-MB", 15_000_000, "Big Iron", "BI-9000", "BI-9000-4U", "2.1", "LGSRV0001")}
	n := 1
	for i := 0; i < 40; i++ {
		large.sensors = append(large.sensors, temp(n, fmt.Sprintf("Temp %02d", i+1), "system_board", i+1, 30+i%20, 80, 90, 100))
		n++
	}
	for i := 0; i < 30; i++ {
		large.sensors = append(large.sensors, fan(n, fmt.Sprintf("Fan %02d", i+1), i+1, 40+i%10, 5, 10))
		n++
	}
	for i := 0; i < 30; i++ {
		large.sensors = append(large.sensors, sensor{num: n, name: fmt.Sprintf("Volt %02d", i+1), stype: 0x02, er: 0x01, unit: "Volts", m: 62, r: -3, entity: "system_board", inst: 1, th: thr(216, 212, 207, 171, 175, 180), val: 190 + i%10})
		n++
	}
	for i := 0; i < 10; i++ {
		large.sensors = append(large.sensors, sensor{num: n, name: fmt.Sprintf("PSU%d Power", i+1), stype: 0x08, er: 0x01, unit: "Watts", m: 10, entity: "power_supply", inst: i + 1, th: thr(255, 250, 240, -1, -1, -1), val: 40 + i})
		n++
	}
	for i := 0; i < 10; i++ {
		large.sensors = append(large.sensors, status(n, fmt.Sprintf("PSU%d Status", i+1), 0x08, "power_supply", i+1, 0))
		n++
	}
	for i := 0; i < 600; i++ {
		s := 1 + i%40
		if i%2 == 0 {
			large.sel = append(large.sel, selEvent(0x01, s, 0x01, 0x57, 85, 80))
		} else {
			large.sel = append(large.sel, selEvent(0x01, s, 0x81, 0x57, 70, 80))
		}
	}
	for _, b := range []board{realserver, failing, large} {
		write(b)
	}
}
