package ipmi_test

import (
	"context"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prefail/prefail/ipmi"
	"github.com/prefail/prefail/ipmi/ipmisim"
)

var update = flag.Bool("update", false, "re-capture testdata/ipmi/captures from the simulated boards")

const capturesDir = "../testdata/ipmi/captures"

// TestCaptures decodes raw captures of each board, made with ipmitool
// (`sdr dump`, `sel writeraw`, `fru read`), offline, and checks them
// against what ipmitool printed for the same board: SDR names and
// thresholds against `ipmitool sensor`, SEL records against `ipmitool sel
// elist`, FRU fields against `ipmitool fru print`. -update re-captures.
func TestCaptures(t *testing.T) {
	for _, b := range boards {
		t.Run(b, func(t *testing.T) {
			dir := filepath.Join(capturesDir, b)
			if *update {
				recapture(t, b, dir)
			}
			read := func(name string) []byte {
				data, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				return data
			}
			sdrs, err := ipmi.ParseSDRRepository(read("sdr.bin"))
			if err != nil {
				t.Fatalf("sdr.bin: %v", err)
			}
			peer, err := ipmisim.ParseIpmitoolSensor(string(read("ipmitool-sensor.txt")))
			if err != nil {
				t.Fatal(err)
			}
			byName := map[string]ipmi.SDR{}
			for _, s := range sdrs {
				byName[s.Name] = s
			}
			for _, p := range peer {
				s, ok := byName[p.Name]
				if !ok {
					t.Errorf("%q not in the SDR dump", p.Name)
					continue
				}
				if p.Unit == "discrete" {
					continue
				}
				if _, text := s.Unit(); text != p.Unit {
					t.Errorf("%s: unit %q, ipmitool %q", p.Name, text, p.Unit)
				}
				th := s.Thresholds()
				if th == nil {
					t.Errorf("%s: no thresholds", p.Name)
					continue
				}
				got := [6]*float64{th.LowerFatal, th.LowerCritical, th.LowerNonCritical, th.UpperNonCritical, th.UpperCritical, th.UpperFatal}
				for i := range got {
					if (got[i] == nil) != (p.Thresholds[i] == nil) || (got[i] != nil && math.Abs(*got[i]-*p.Thresholds[i]) > 0.0011) {
						t.Errorf("%s threshold %d: ours %v, ipmitool %v", p.Name, i, ptr(got[i]), ptr(p.Thresholds[i]))
					}
				}
			}

			recs, err := ipmi.ParseSELRaw(read("sel.bin"))
			if err != nil {
				t.Fatal(err)
			}
			sel, err := ipmisim.ParseIpmitoolSELElist(string(read("ipmitool-sel-elist.txt")))
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != len(sel) {
				t.Fatalf("%d SEL records, ipmitool printed %d", len(recs), len(sel))
			}
			for i, p := range sel {
				e := recs[i].Event(nil)
				if p.OEM {
					if e.Asserted != nil {
						t.Errorf("record %d: OEM decoded as an event", p.ID)
					}
					continue
				}
				if *e.Asserted != p.Asserted || !strings.HasPrefix(e.Message, p.Event) || !strings.HasPrefix(p.Sensor, e.SensorType) {
					t.Errorf("record %d: %q %q asserted=%v; ipmitool %q %q %v", p.ID, e.SensorType, e.Message, *e.Asserted, p.Sensor, p.Event, p.Asserted)
				}
			}

			fru, err := ipmi.ParseFRU(read("fru.bin"))
			if err != nil {
				t.Fatal(err)
			}
			print := string(read("ipmitool-fru.txt"))
			for _, v := range []string{fru.Board.Manufacturer, fru.Board.Product, fru.Board.SerialNumber, fru.Board.PartNumber,
				fru.Product.Manufacturer, fru.Product.Name, fru.Product.SerialNumber, fru.Chassis.SerialNumber} {
				if v == "" || !strings.Contains(print, ": "+v+"\n") {
					t.Errorf("FRU field %q not in ipmitool's fru print", v)
				}
			}
			if y := fru.Board.MfgDate.Year(); !strings.Contains(print, fru.Board.MfgDate.Format("Mon Jan  2")) && !strings.Contains(print, fru.Board.MfgDate.Format("Mon Jan 2")) || y < 2000 {
				t.Errorf("board mfg date %s not in ipmitool's fru print", fru.Board.MfgDate)
			}
		})
	}
}

func recapture(t *testing.T, board, dir string) {
	s := ipmisim.StartT(t, boardDir(board))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	run := func(args ...string) string {
		out, err := ipmisim.Ipmitool(ctx, s.Host, s.Port, s.Username, s.Password, args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	abs, _ := filepath.Abs(dir)
	for _, f := range []string{"sdr.bin", "sel.bin", "fru.bin"} {
		os.Remove(filepath.Join(abs, f))
	}
	run("sdr", "dump", filepath.Join(abs, "sdr.bin"))
	run("sel", "writeraw", filepath.Join(abs, "sel.bin"))
	run("fru", "read", "0", filepath.Join(abs, "fru.bin"))
	for name, args := range map[string][]string{
		"ipmitool-sensor.txt":    {"sensor"},
		"ipmitool-sel-elist.txt": {"sel", "elist"},
		"ipmitool-fru.txt":       {"fru", "print", "0"},
		"ipmitool-sdr-elist.txt": {"sdr", "elist"},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(run(args...)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
