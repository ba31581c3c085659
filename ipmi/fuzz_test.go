package ipmi_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/prefail/prefail/ipmi"
)

// seeds returns the captured files of every board.
func seeds(t testing.TB, name string) [][]byte {
	var out [][]byte
	for _, b := range boards {
		data, err := os.ReadFile(filepath.Join(capturesDir, b, name))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

func FuzzParseSDRRepository(f *testing.F) {
	for _, s := range seeds(f, "sdr.bin") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sdrs, _ := ipmi.ParseSDRRepository(b)
		for i := range sdrs {
			s := &sdrs[i]
			_ = s.Thresholds()
			_, _ = s.Convert(0x80)
			_ = s.EntityName()
			for _, rd := range [][]byte{{0x10, 0xc0, 0xff, 0x7f}, {0, 0x20}} {
				r, err := ipmi.ParseSensorReading(rd)
				if err == nil {
					_ = ipmi.SensorComponent(s, &r, nil)
				}
			}
		}
	})
}

func FuzzParseSensorReading(f *testing.F) {
	f.Add([]byte{0x5c, 0xc0, 0x18, 0x00}, []byte{})
	f.Add([]byte{0x00, 0xe0}, []byte{})
	for _, s := range seeds(f, "sdr.bin") {
		f.Add([]byte{0x30, 0xc0, 0x03, 0x80}, s[:min(len(s), 64)])
	}
	f.Fuzz(func(t *testing.T, data, sdr []byte) {
		r, err := ipmi.ParseSensorReading(data)
		if err != nil {
			return
		}
		s, _ := ipmi.ParseSDR(sdr)
		c := ipmi.SensorComponent(&s, &r, nil)
		if c.Health == "" {
			t.Fatalf("no health for %x / %x", data, sdr)
		}
	})
}

func FuzzParseSELRecord(f *testing.F) {
	for _, s := range seeds(f, "sel.bin") {
		for off := 0; off+16 <= len(s) && off < 16*40; off += 16 {
			f.Add(s[off : off+16])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ipmi.ParseSELRecord(b)
		if err != nil {
			return
		}
		e := r.Event(nil)
		if e.Message == "" || e.Severity == "" {
			t.Fatalf("record %x: empty event %+v", b, e)
		}
	})
}

func FuzzParseFRU(f *testing.F) {
	for _, s := range seeds(f, "fru.bin") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fru, _ := ipmi.ParseFRU(b)
		_ = fru.Inventory()
	})
}

func FuzzParseChassisStatus(f *testing.F) {
	f.Add([]byte{0x01, 0x00, 0x00, 0x00})
	f.Add([]byte{0x6b, 0x1f, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ipmi.ParseChassisStatus(b)
		if err != nil {
			return
		}
		if comp := c.Component("chassis"); comp.Health == "" {
			t.Fatal("no health")
		}
	})
}
