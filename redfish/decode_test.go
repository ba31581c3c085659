package redfish

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/prefail/prefail/model"
)

func decode(t *testing.T, body string) (node, *[]string) {
	t.Helper()
	m, err := parseResource([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var warnings []string
	return node{m: m, url: "/redfish/v1/X", warn: func(src, msg string) { warnings = append(warnings, src+": "+msg) }}, &warnings
}

func TestLenientFields(t *testing.T) {
	n, warns := decode(t, `{"A":"12.5","B":" 42 ","C":"N/A","D":null,"E":{"x":1},"F":"hot","G":12,"H":"true",
		"PowerControl":{"PowerConsumedWatts":300},"Arr":[{"a":1},7,null]}`)
	if v := n.num("A"); v == nil || *v != 12.5 {
		t.Errorf("numeric string: %v", v)
	}
	if v := n.num("B"); v == nil || *v != 42 {
		t.Errorf("padded numeric string: %v", v)
	}
	if n.num("C") != nil || n.num("D") != nil || n.num("missing") != nil {
		t.Error("N/A, null and absent must read as unavailable")
	}
	if n.num("E") != nil || n.num("F") != nil {
		t.Error("object and text must not read as numbers")
	}
	if got := n.str("G"); got != "12" {
		t.Errorf("number as string: %q", got)
	}
	if b := n.boolean("H"); b == nil || !*b {
		t.Errorf(`"true" as boolean: %v`, b)
	}
	// Cisco sends PowerControl as an object: one element.
	if pc := n.list("PowerControl"); len(pc) != 1 || *pc[0].num("PowerConsumedWatts") != 300 {
		t.Errorf("object for array: %+v", pc)
	}
	if arr := n.list("Arr"); len(arr) != 1 {
		t.Errorf("non-object elements must be skipped: %d", len(arr))
	}
	// Exactly the wrong-typed fields are warned about, each naming the URL
	// and JSON path; null and "N/A" are not problems.
	want := []string{"/E: want a number", `/F: want a number, got string "hot"`, "/Arr/1: want an object"}
	if len(*warns) != len(want) {
		t.Fatalf("warnings %q, want %d", *warns, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix((*warns)[i], "/redfish/v1/X: ") || !strings.Contains((*warns)[i], w) {
			t.Errorf("warning %q, want one containing %q", (*warns)[i], w)
		}
	}
}

func TestParseResourceRejects(t *testing.T) {
	for _, body := range []string{``, `[]`, `"x"`, `{"a":1}{"b":2}`, `{"a":`} {
		if _, err := parseResource([]byte(body)); err == nil {
			t.Errorf("%q: no error", body)
		}
	}
}

func TestNormID(t *testing.T) {
	for in, want := range map[string]string{
		"/redfish/v1/Chassis/1/":                  "/redfish/v1/Chassis/1",
		"/redfish/v1/Chassis?$expand=.":           "/redfish/v1/Chassis",
		"/redfish/v1/Chassis/1/Thermal#Fans/0":    "/redfish/v1/Chassis/1/Thermal#/Fans/0",
		"/redfish/v1/Chassis/1/Power#/Voltages/2": "/redfish/v1/Chassis/1/Power#/Voltages/2",
		"/": "/",
	} {
		if got := normID(in); got != want {
			t.Errorf("normID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStatusNeverOKWhenAbsentOrUnknown(t *testing.T) {
	for body, want := range map[string]model.Health{
		`{"Status":{"State":"Absent","Health":"OK"}}`:  model.HealthAbsent,
		`{"Status":{"State":"Enabled","Health":null}}`: model.HealthUnknown,
		`{"Status":{"State":"Enabled"}}`:               model.HealthUnknown,
		`{}`:                                           model.HealthUnknown,
		`{"Status":{"State":"UnavailableOffline","Health":"OK"}}`:  model.HealthUnknown,
		`{"Status":{"State":"Enabled","Health":"Critical"}}`:       model.HealthCritical,
		`{"Status":{"State":"StandbyOffline","Health":"Warning"}}`: model.HealthWarning,
		`{"Status":{"State":"Enabled","Health":"OK"}}`:             model.HealthOK,
	} {
		n, _ := decode(t, body)
		if got, _, _ := status(n); got != want {
			t.Errorf("%s: %s, want %s", body, got, want)
		}
	}
}

// Real quirks: a Power resource without PowerControl (which fails gofish
// v0.26.0 with "unexpected end of JSON input"), sensors whose range min
// equals max, a Drive whose NVMe Identifier is a number (dropped by gofish).
func TestQuirksDecode(t *testing.T) {
	n, _ := decode(t, `{"@odata.id":"/redfish/v1/Chassis/1/Power","PowerSupplies":[{"Name":"PSU1","Status":{"State":"Enabled","Health":"OK"},"LineInputVoltage":230,"PowerOutputWatts":180}]}`)
	if pcs := n.list("PowerControl"); pcs != nil {
		t.Errorf("absent PowerControl: %v", pcs)
	}
	p := legacyPSU(n.list("PowerSupplies")[0], "/redfish/v1/Chassis/1/Power#/PowerSupplies/0", "/redfish/v1/Chassis/1")
	if r, ok := p.Reading("input_voltage"); !ok || *r.Value != 230 {
		t.Errorf("PSU without PowerControl beside it: %+v", p)
	}
	s, _ := decode(t, `{"@odata.id":"/redfish/v1/Chassis/1/Sensors/T","ReadingType":"Temperature","Reading":30,"ReadingRangeMin":0,"ReadingRangeMax":0,"Status":{"State":"Enabled","Health":"OK"}}`)
	k, r, u := classifySensor(s)
	c := sensorComponent(sensor{n: s, kind: k, reading: r, unit: u}, "")
	if c.Kind != model.KindTemperature || c.Readings[0].Thresholds != nil || *c.Readings[0].Value != 30 {
		t.Errorf("equal min and max: %+v", c)
	}
	d, warns := decode(t, `{"@odata.id":"/redfish/v1/Chassis/Tower/Drives/M.2-2","Name":"M.2-2","Identifiers":[{"DurableName":123,"DurableNameFormat":"NVMe"}],"Status":{"State":"Enabled","Health":"OK"},"FailurePredicted":false,"CapacityBytes":512110190592}`)
	dc := drive(d, "")
	if dc.Health != model.HealthOK || dc.Inventory.CapacityBytes != 512110190592 || dc.FailurePredicted == nil || *dc.FailurePredicted {
		t.Errorf("drive with numeric identifier: %+v", dc)
	}
	if len(*warns) != 0 {
		t.Errorf("warnings on fields we do not read: %q", *warns)
	}
}

// FuzzDecodeResource feeds arbitrary bytes through the decoder and every
// mapper that reads a resource: none may panic, whatever the BMC sends.
func FuzzDecodeResource(f *testing.F) {
	n := 0
	_ = filepath.WalkDir(filepath.Join("..", "testdata", "redfish"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") || n >= 300 {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
			f.Add(b)
			n++
		}
		return nil
	})
	f.Add([]byte(`{"Status":{"State":["x"]},"Fans":{"Reading":"9"},"Thresholds":{"LowerCritical":5},"Members":[1,{"@odata.id":7}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := parseResource(body)
		if err != nil {
			return
		}
		n := node{m: m, url: "/fuzz", warn: func(string, string) {}}
		status(n)
		inventory(n)
		location(n)
		sensorThresholds(n)
		legacyThresholds(n)
		classifySensor(n)
		newFan(n, "c", map[string]sensor{}, map[string]bool{})
		legacyFan(n, "id", "c")
		legacyPSU(n, "id", "c")
		powerControl(n, "id", "c")
		drive(n, "c")
		memory(n, "c")
		processor(n, "c")
		simpleDevice(n, "id", "c")
		logEvent(n, "svc")
		envReadings(n)
		redundancyGroup(n, "g", model.KindPSU, func(string) (model.Health, bool) { return model.HealthOK, true })
		for _, e := range n.list("Members") {
			_ = e.id()
		}
		_ = n.links("Members")
		_ = n.obj("Links").links("Drives")
	})
}

// FuzzParseCollectionPrefix: the streaming decoder of oversized
// collections agrees with the whole decoder on every body both accept,
// keeps at most max members, and never panics.
func FuzzParseCollectionPrefix(f *testing.F) {
	n := 0
	_ = filepath.WalkDir(filepath.Join("..", "testdata", "redfish"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") || n >= 100 {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 && bytes.Contains(b, []byte(`"Members"`)) {
			f.Add(b, uint8(2))
			n++
		}
		return nil
	})
	f.Add([]byte(`{"Members":[{"@odata.id":"/a"},{"@odata.id":"/b"},"x",[1]],"Members@odata.count":4}`), uint8(1))
	f.Fuzz(func(t *testing.T, body []byte, max uint8) {
		m, listed, kept, err := parseCollectionPrefix(body, int(max))
		if err != nil {
			return
		}
		if kept > int64(max) || kept > listed {
			t.Fatalf("kept %d of %d with max %d", kept, listed, max)
		}
		whole, err := parseResource(body)
		if err != nil {
			return
		}
		all, ok := whole["Members"].([]any)
		if !ok {
			return
		}
		got, _ := m["Members"].([]any)
		if int64(len(all)) != listed || !reflect.DeepEqual(got, all[:kept]) {
			t.Fatalf("prefix of %d members (listed %d) differs from the whole decode's %d", kept, listed, len(all))
		}
	})
}
