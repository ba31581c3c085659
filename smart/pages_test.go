package smart

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// Raw pages recorded from live emulated disks (testdata/smart/pages, see
// its README) decode to exactly what smartctl printed for the same device
// in the same boot. smartctl's JSON is read with a plain map walk, not with
// our importer, so the two sides share no code.

func pagesDir(parts ...string) string {
	return filepath.Join(append([]string{"..", "testdata", "smart", "pages"}, parts...)...)
}

func readPage(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(pagesDir(parts...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func smartctlJSON(t *testing.T, dir string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(readPage(t, dir, "smartctl-x.json"), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// get walks m along path ("a.b.0.c"); numbers come back as float64.
func get(v any, path string) any {
	if path == "" {
		return v
	}
	for _, k := range regexp.MustCompile(`\.`).Split(path, -1) {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func num(t *testing.T, v any, path string) float64 {
	t.Helper()
	f, ok := get(v, path).(float64)
	if !ok {
		t.Fatalf("smartctl JSON has no number at %s", path)
	}
	return f
}

var leadingNumber = regexp.MustCompile(`^\s*([0-9]+)`)

func TestATAPagesMatchSmartctl(t *testing.T) {
	m := smartctlJSON(t, "ide-sata")
	model, _ := get(m, "model_name").(string)
	h, err := ParseATASmartPages(readPage(t, "ide-sata", "smart-read-attribute-values.bin"),
		readPage(t, "ide-sata", "smart-read-attribute-thresholds.bin"), model)
	if err != nil {
		t.Fatal(err)
	}
	table, _ := get(m, "ata_smart_attributes.table").([]any)
	if len(table) == 0 || len(table) != len(h.Attributes) {
		t.Fatalf("%d attributes decoded, smartctl printed %d", len(h.Attributes), len(table))
	}
	for i, row := range table {
		a := h.Attributes[i]
		want := struct {
			id, value, worst, thresh, raw float64
			name                          string
		}{num(t, row, "id"), num(t, row, "value"), num(t, row, "worst"), num(t, row, "thresh"), num(t, row, "raw.value"), get(row, "name").(string)}
		if float64(a.ID) != want.id || float64(a.Value) != want.value || float64(a.Worst) != want.worst ||
			a.Threshold == nil || float64(*a.Threshold) != want.thresh || float64(a.Raw) != want.raw || a.Name != want.name {
			t.Errorf("attribute %d: got %+v, smartctl %+v", a.ID, a, want)
		}
		printed := leadingNumber.FindStringSubmatch(get(row, "raw.string").(string))
		if printed == nil || strconv.FormatInt(a.Decoded, 10) != printed[1] {
			t.Errorf("attribute %d: decoded %d, smartctl printed %q", a.ID, a.Decoded, get(row, "raw.string"))
		}
		if (get(row, "when_failed") != "") != (a.WhenFailed != "") {
			t.Errorf("attribute %d: when_failed %q, smartctl %q", a.ID, a.WhenFailed, get(row, "when_failed"))
		}
	}
	n, err := ParseATAErrorLogCount(readPage(t, "ide-sata", "smart-read-log-0x01.bin"))
	if err != nil || float64(n) != num(t, m, "ata_smart_error_log.summary.count") {
		t.Errorf("error log count %d (%v), smartctl %v", n, err, get(m, "ata_smart_error_log.summary.count"))
	}
	tests, err := ParseATASelfTestLog(readPage(t, "ide-sata", "smart-read-log-0x06.bin"))
	wantTests, _ := get(m, "ata_smart_self_test_log.standard.count").(float64)
	if err != nil || len(tests) != int(wantTests) {
		t.Errorf("%d self-tests (%v), smartctl %v", len(tests), err, wantTests)
	}
	// The whole report, as the live reader builds it, gets smartctl's verdict.
	r := &Report{Protocol: ProtocolATA, ATA: h, Model: model}
	r.Finish()
	if got, want := float64(*r.PowerOnHours), num(t, m, "power_on_time.hours"); got != want {
		t.Errorf("power-on hours %g, smartctl %g", got, want)
	}
	if got, want := *r.Temperature, num(t, m, "temperature.current"); got != want {
		t.Errorf("temperature %g, smartctl %g", got, want)
	}
}

// The shared reference recording (another boot, another kernel) decodes
// to the attribute table smartctl printed in that boot.
func TestSharedSamplePages(t *testing.T) {
	h, err := ParseATASmartPages(readPage(t, "shared-sample", "ata-smart-data.bin"), readPage(t, "shared-sample", "ata-smart-thresholds.bin"), "LibcheckDisk")
	if err != nil {
		t.Fatal(err)
	}
	// From vm-output-sample.txt, smartctl -x /dev/sda:
	//   1 Raw_Read_Error_Rate PO---- 100 100 006 - 0 ... 190 Airflow_Temperature_Cel PO---- 069 069 050 - 31 (Min/Max 31/31)
	want := map[uint8][4]int64{1: {100, 100, 6, 0}, 3: {100, 100, 0, 16}, 4: {100, 100, 20, 100}, 5: {100, 100, 36, 0},
		9: {100, 100, 0, 1}, 12: {100, 100, 0, 0}, 190: {69, 69, 50, 31}}
	if len(h.Attributes) != len(want) {
		t.Fatalf("%d attributes, want %d", len(h.Attributes), len(want))
	}
	for _, a := range h.Attributes {
		w, ok := want[a.ID]
		if !ok || int64(a.Value) != w[0] || int64(a.Worst) != w[1] || int64(*a.Threshold) != w[2] || a.Decoded != w[3] {
			t.Errorf("attribute %d: %d %d %d %d, smartctl %v", a.ID, a.Value, a.Worst, *a.Threshold, a.Decoded, w)
		}
	}
	n, err := ParseNVMeHealthLog(readPage(t, "shared-sample", "nvme-smart-log.bin"))
	// smartctl -x /dev/nvme0 in the sample: Temperature 50 Celsius, Available Spare 0%, critical warning 0x00.
	if err != nil || n.Temperature != 50 || n.CriticalWarning != 0 || n.AvailableSpare != 0 {
		t.Errorf("NVMe log: %+v %v", n, err)
	}
}

func TestNVMeLogMatchesSmartctl(t *testing.T) {
	for _, dir := range []string{"nvme-ok", "nvme-critical-0x04"} {
		t.Run(dir, func(t *testing.T) {
			m := smartctlJSON(t, dir)
			h, err := ParseNVMeHealthLog(readPage(t, dir, "smart-log.bin"))
			if err != nil {
				t.Fatal(err)
			}
			const log = "nvme_smart_health_information_log."
			for field, got := range map[string]float64{
				"critical_warning": float64(h.CriticalWarning), "temperature": h.Temperature,
				"available_spare": float64(h.AvailableSpare), "available_spare_threshold": float64(h.SpareThreshold),
				"percentage_used": float64(h.PercentageUsed), "data_units_read": float64(h.DataUnitsRead),
				"data_units_written": float64(h.DataUnitsWritten), "host_reads": float64(h.HostReads),
				"host_writes": float64(h.HostWrites), "controller_busy_time": float64(h.ControllerBusyMinutes),
				"power_cycles": float64(h.PowerCycles), "power_on_hours": float64(h.PowerOnHours),
				"unsafe_shutdowns": float64(h.UnsafeShutdowns), "media_errors": float64(h.MediaErrors),
				"num_err_log_entries": float64(h.ErrorLogEntries), "warning_temp_time": float64(h.WarningTempMinutes),
				"critical_comp_time": float64(h.CriticalTempMinutes),
			} {
				if want := num(t, m, log+field); got != want {
					t.Errorf("%s: %g, smartctl %g", field, got, want)
				}
			}
			r := &Report{Protocol: ProtocolNVMe, NVMe: h}
			r.Finish()
			passed := get(m, "smart_status.passed").(bool)
			if *r.OverallPassed != passed {
				t.Errorf("overall passed %v, smartctl %v", *r.OverallPassed, passed)
			}
			if c := r.Component(); (c.Health == "critical") == passed {
				t.Errorf("health %s, smartctl passed=%v", c.Health, passed)
			}
		})
	}
}

func TestSCSIPagesMatchSmartctl(t *testing.T) {
	sup, err := ParseSupportedLogPages(readPage(t, "scsi-debug", "log-sense-0x00.bin"))
	if err != nil || len(sup) == 0 {
		t.Fatalf("supported pages %v %v", sup, err)
	}
	r := &Report{Protocol: ProtocolSCSI, SCSI: &SCSIHealth{}}
	for _, p := range []string{"log-sense-0x0d.bin", "log-sense-0x2f.bin"} {
		b := readPage(t, "scsi-debug", p)
		if err := decodeSCSIPage(r, b[0]&0x3f, b); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	// smartctl -x prints page 0Dh's trip temperature and, from the
	// environmental reporting subpage, "Current temperature = 40".
	env, err := ParseEnvironmentalReportingPage(readPage(t, "scsi-debug", "log-sense-0x0d-0x01.bin"))
	if err != nil || env == nil {
		t.Fatalf("environmental page: %v %v", env, err)
	}
	text := string(readPage(t, "scsi-debug", "smartctl-x.txt"))
	if sm := regexp.MustCompile(`Current temperature = (-?[0-9]+)`).FindStringSubmatch(text); sm == nil || strconv.Itoa(int(*env)) != sm[1] {
		t.Errorf("environmental temperature %g, smartctl printed %v", *env, sm)
	}
	if r.SCSI.TripTemperature == nil || *r.SCSI.TripTemperature != 65 || *r.SCSI.Temperature != 38 {
		t.Errorf("page 0Dh: %v / %v, want 38 / 65 (scsi_debug's fixed values)", r.SCSI.Temperature, r.SCSI.TripTemperature)
	}
	r.Finish()
	m := smartctlJSON(t, "scsi-debug")
	if passed := get(m, "smart_status.passed").(bool); *r.OverallPassed != passed || r.SCSI.HealthStatus != "OK" {
		t.Errorf("overall %v %q, smartctl passed=%v", *r.OverallPassed, r.SCSI.HealthStatus, passed)
	}

	// The same disk with the informational exceptions TEST bit set.
	r = &Report{Protocol: ProtocolSCSI, SCSI: &SCSIHealth{}}
	if err := decodeSCSIPage(r, LogPageInfoExceptions, readPage(t, "scsi-debug-ie-test", "log-sense-0x2f.bin")); err != nil {
		t.Fatal(err)
	}
	r.Finish()
	m = smartctlJSON(t, "scsi-debug-ie-test")
	if float64(*r.SCSI.IEASC) != num(t, m, "smart_status.scsi.asc") || float64(*r.SCSI.IEASCQ) != num(t, m, "smart_status.scsi.ascq") ||
		r.SCSI.HealthStatus != get(m, "smart_status.scsi.ie_string") || *r.OverallPassed {
		t.Errorf("IE: %v/%v %q passed=%v; smartctl %v", *r.SCSI.IEASC, *r.SCSI.IEASCQ, r.SCSI.HealthStatus, *r.OverallPassed, get(m, "smart_status"))
	}
	if c := r.Component(); c.Health != "critical" {
		t.Errorf("health %s, want critical", c.Health)
	}
}
