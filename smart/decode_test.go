package smart

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// logPage builds a log page from parameters (code, value), as a device
// sends it.
func logPage(page uint8, params ...LogParameter) []byte {
	var body []byte
	for _, p := range params {
		body = binary.BigEndian.AppendUint16(body, p.Code)
		body = append(body, 0x03, byte(len(p.Value)))
		body = append(body, p.Value...)
	}
	h := []byte{page, 0, 0, 0}
	binary.BigEndian.PutUint16(h[2:], uint16(len(body)))
	return append(h, body...)
}

func be(n int, v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b[8-n:]
}

func TestSCSIErrorCounterPage(t *testing.T) {
	// A read error counter page as SBC-4 6.5.x lays it out; counters of
	// different widths, as drives send them.
	b := logPage(LogPageReadErrors,
		LogParameter{0, be(4, 11)}, LogParameter{1, be(4, 22)}, LogParameter{2, be(4, 33)},
		LogParameter{3, be(4, 66)}, LogParameter{4, be(4, 77)}, LogParameter{5, be(8, 123456789012)},
		LogParameter{6, be(2, 5)}, LogParameter{0x8000, be(4, 1)})
	got, err := ParseErrorCounterPage(b, LogPageReadErrors)
	if err != nil {
		t.Fatal(err)
	}
	want := &ErrorCounters{CorrectedFast: 11, CorrectedDelayed: 22, Rereads: 33, TotalCorrected: 66,
		AlgorithmInvocations: 77, BytesProcessed: 123456789012, Uncorrected: 5}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
	if _, err := ParseErrorCounterPage(b, LogPageWriteErrors); !errors.Is(err, ErrMalformed) {
		t.Errorf("page 03h read as 02h: %v, want ErrMalformed", err)
	}
}

func TestSCSITemperatureAndIEPages(t *testing.T) {
	cur, trip, err := ParseTemperaturePage(logPage(LogPageTemperature, LogParameter{0, []byte{0, 34}}, LogParameter{1, []byte{0, 68}}))
	if err != nil || cur == nil || *cur != 34 || trip == nil || *trip != 68 {
		t.Errorf("temperature page: %v %v %v", cur, trip, err)
	}
	cur, _, err = ParseTemperaturePage(logPage(LogPageTemperature, LogParameter{0, []byte{0, 0xff}}))
	if err != nil || cur != nil {
		t.Errorf("FFh is 'not available', got %v %v", cur, err)
	}
	ie, err := ParseInfoExceptionsPage(logPage(LogPageInfoExceptions, LogParameter{0, []byte{0x5d, 0x10, 41}}))
	if err != nil || ie.ASC != 0x5d || ie.ASCQ != 0x10 || ie.Temperature == nil || *ie.Temperature != 41 {
		t.Fatalf("IE page: %+v %v", ie, err)
	}
	var s SCSIHealth
	s.SetInformationalException(ie.ASC, ie.ASCQ)
	if s.HealthStatus != "HARDWARE IMPENDING FAILURE" {
		t.Errorf("health status %q", s.HealthStatus)
	}
	r := &Report{Protocol: ProtocolSCSI, SCSI: &s}
	r.Finish()
	if r.OverallPassed == nil || *r.OverallPassed {
		t.Errorf("an informational exception must fail the overall status")
	}
}

func TestSCSIStartStopAndSelfTestPages(t *testing.T) {
	ss, err := ParseStartStopPage(logPage(LogPageStartStop,
		LogParameter{1, []byte("201837")}, LogParameter{3, be(4, 50000)}, LogParameter{4, be(4, 321)},
		LogParameter{5, be(4, 600000)}, LogParameter{6, be(4, 4321)}))
	if err != nil || ss.ManufactureDate != "201837" || *ss.StartStop != 321 || *ss.SpecifiedStartStop != 50000 ||
		*ss.LoadUnload != 4321 || *ss.SpecifiedLoadUnload != 600000 {
		t.Errorf("start-stop page: %+v %v", ss, err)
	}
	entry := func(code, result uint8, hours uint16, lba uint64) []byte {
		v := make([]byte, 16)
		v[0] = code<<5 | result
		binary.BigEndian.PutUint16(v[2:], hours)
		binary.BigEndian.PutUint64(v[4:], lba)
		return v
	}
	tests, err := ParseSelfTestPage(logPage(LogPageSelfTest,
		LogParameter{1, entry(2, 7, 1200, 0x1234)}, LogParameter{2, entry(1, 0, 1000, ^uint64(0))}, LogParameter{3, make([]byte, 16)}))
	if err != nil {
		t.Fatal(err)
	}
	if len(tests) != 2 || !tests[0].Failed || *tests[0].FailingLBA != 0x1234 || *tests[0].LifetimeHours != 1200 ||
		tests[0].Type != "background extended" || tests[1].Failed || tests[1].FailingLBA != nil {
		t.Errorf("self-test page: %+v", tests)
	}
}

func TestLogPageMalformed(t *testing.T) {
	for name, b := range map[string][]byte{
		"short header":      {0x0d, 0},
		"parameter overrun": {0x0d, 0, 0, 6, 0, 0, 3, 9, 1},
		"stray bytes":       {0x0d, 0, 0, 2, 0, 0},
	} {
		if _, err := ParseLogPage(b, 0x0d); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

func TestGrownDefectHeader(t *testing.T) {
	n, err := ParseGrownDefectHeader([]byte{0, 0x08 | 0x04, 1, 8*37 - 256})
	if err != nil || n != 37 {
		t.Errorf("bytes-from-index list: %d %v, want 37", n, err)
	}
	if _, err := ParseGrownDefectHeader([]byte{0, 0x10 | 0x04, 0, 0}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("no GLISTV: %v", err)
	}
}

func TestATARegistersFromSense(t *testing.T) {
	// Descriptor sense with an ATA Status Return descriptor (SAT-4 12.2.2.6),
	// as libata returns for CK_COND: SMART RETURN STATUS, threshold exceeded.
	desc := []byte{0x72, 0x01, 0x00, 0x1d, 0, 0, 0, 14,
		0x09, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf4, 0x00, 0x2c, 0x00, 0x50}
	r, ok := ataRegistersFromSense(desc)
	if !ok {
		t.Fatal("no registers")
	}
	if passed, known := smartReturnStatus(r); !known || passed {
		t.Errorf("threshold exceeded read as passed=%v known=%v (%+v)", passed, known, r)
	}
	// Fixed sense: CHECK POWER MODE answering standby (COUNT 00h).
	fixed := make([]byte, 18)
	fixed[0], fixed[2], fixed[4], fixed[6] = 0x70, 0x01, 0x50, 0x00
	r, ok = ataRegistersFromSense(fixed)
	if !ok || ataPowerMode(r.Count) != "standby" {
		t.Errorf("fixed sense: %+v %v", r, ok)
	}
	if _, ok := ataRegistersFromSense([]byte{0x72, 0x05, 0x20, 0x00, 0, 0, 0, 0}); ok {
		t.Error("registers from a sense without a descriptor")
	}
}

func TestATASelfTestLog(t *testing.T) {
	b := make([]byte, 512)
	put := func(slot int, sub, status uint8, hours uint16, lba uint32) {
		e := b[2+24*slot:]
		e[0], e[1] = sub, status
		binary.LittleEndian.PutUint16(e[2:], hours)
		binary.LittleEndian.PutUint32(e[5:], lba)
	}
	put(0, 0x01, 0x00, 100, 0)         // short, ok
	put(1, 0x02, 0x79, 150, 123456789) // extended, read failure, 90% left
	put(2, 0x01, 0x10, 151, 0)         // short, aborted by host (newest)
	b[508] = 3
	got, err := ParseATASelfTestLog(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Type != "short" || got[0].Failed || got[0].Status != "Aborted by host" ||
		!got[1].Failed || got[1].Status != "Completed: read failure" || *got[1].FailingLBA != 123456789 ||
		*got[2].LifetimeHours != 100 {
		t.Errorf("self-test log, newest first: %+v", got)
	}
	b[508] = 30
	if _, err := ParseATASelfTestLog(b); !errors.Is(err, ErrMalformed) {
		t.Errorf("index 30: %v", err)
	}
}

func TestDecodeAttributeRaw(t *testing.T) {
	for _, c := range []struct {
		id    uint8
		raw   uint64
		model string
		want  int64
	}{
		{9, 0x0500_0000_3039, "WDC WD40EFRX", 12345},                  // raw24(raw8)
		{194, 0x0028_0012_0023, "any", 35},                            // tempminmax: low byte
		{5, 0x0001_0000_0030, "any", 48},                              // raw16(raw16)
		{1, 0x0003_0A1B_2C3D, "ST4000DM000-1F2168", 0x0003_0A1B_2C3D}, // smartctl prints Seagate's raw48 whole
		{175, 0x0005_0000_0011, "INTEL SSDSC2KB480G7", 0x11},          // Intel DC: raw16(raw16)
		{197, 8, "any", 8},
	} {
		if got := DecodeAttributeRaw(c.id, c.raw, c.model); got != c.want {
			t.Errorf("DecodeAttributeRaw(%d, %#x, %q) = %d, want %d", c.id, c.raw, c.model, got, c.want)
		}
	}
}

// pageSeeds returns the recorded pages under testdata/smart/pages whose
// name matches glob, for fuzz seeds.
func pageSeeds(f *testing.F, glob string) [][]byte {
	paths, _ := filepath.Glob(filepath.Join("..", "testdata", "smart", "pages", "*", glob))
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func FuzzATASmartPages(f *testing.F) {
	data := append(pageSeeds(f, "ata-smart-data.bin"), pageSeeds(f, "smart-read-attribute-values.bin")...)
	th := append(pageSeeds(f, "ata-smart-thresholds.bin"), pageSeeds(f, "smart-read-attribute-thresholds.bin")...)
	for i := range min(len(data), len(th)) {
		f.Add(data[i], th[i], "ST4000DM000")
	}
	f.Add(make([]byte, 512), make([]byte, 512), "")
	f.Fuzz(func(t *testing.T, data, th []byte, model string) {
		h, err := ParseATASmartPages(data, th, model)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		r := &Report{Protocol: ProtocolATA, ATA: h}
		r.Finish()
		c := r.Component()
		for _, a := range h.Attributes {
			if a.ID == 0 || a.Raw >= 1<<48 {
				t.Fatalf("attribute %+v", a)
			}
		}
		if len(c.Readings) < 2*len(h.Attributes) {
			t.Fatalf("%d readings for %d attributes", len(c.Readings), len(h.Attributes))
		}
	})
}

func FuzzNVMeHealthLog(f *testing.F) {
	for _, b := range append(pageSeeds(f, "nvme-smart-log.bin"), pageSeeds(f, "smart-log.bin")...) {
		f.Add(b)
	}
	f.Add(make([]byte, 512))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseNVMeHealthLog(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || len(b) >= 512 {
				t.Fatalf("%d bytes: %v", len(b), err)
			}
			return
		}
		r := &Report{Protocol: ProtocolNVMe, NVMe: h}
		r.Finish()
		if c := r.Component(); (h.CriticalWarning != 0) != (c.Health == "critical") {
			t.Fatalf("critical warning %#x but health %s", h.CriticalWarning, c.Health)
		}
	})
}

func FuzzSCSILogPage(f *testing.F) {
	for _, b := range pageSeeds(f, "log-*.bin") {
		f.Add(b)
	}
	f.Add(logPage(LogPageTemperature, LogParameter{0, []byte{0, 34}}))
	f.Add(logPage(LogPageInfoExceptions, LogParameter{0, []byte{0x5d, 0, 30}}))
	f.Add(logPage(LogPageSelfTest, LogParameter{1, make([]byte, 16)}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := &Report{Protocol: ProtocolSCSI, SCSI: &SCSIHealth{}}
		if len(b) == 0 {
			return
		}
		page := b[0] & 0x3f
		if err := decodeSCSIPage(r, page, b); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("page %02Xh: %v", page, err)
		}
		_, _ = ParseSupportedLogPages(b)
		_, _ = ParseGrownDefectHeader(b)
		_, _ = ataRegistersFromSense(b)
		r.Finish()
		_ = r.Component()
	})
}

func FuzzATALogs(f *testing.F) {
	for _, b := range pageSeeds(f, "smart-read-log-*.bin") {
		f.Add(b)
	}
	f.Add(make([]byte, 512))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := ParseATASelfTestLog(b); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatal(err)
		}
		if _, err := ParseATAErrorLogCount(b); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatal(err)
		}
	})
}
