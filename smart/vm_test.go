package smart_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prefail/prefail/smart/smartvm"
)

// These tests boot a QEMU VM (software emulation) with an emulated IDE
// disk (libata: SATA through SAT), an emulated NVMe drive and a scsi_debug
// SCSI disk, run `prefail scan --local --json-document` and smartctl inside it, and
// check that they agree on every value both report. They need the Debian
// packages .ci/run installs; a missing one fails the test with its name.

// buildPrefail builds a static prefail for the guest.
func buildPrefail(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping a QEMU boot (.ci/run runs it)")
	}
	bin := filepath.Join(t.TempDir(), "prefail")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/prefail/prefail/cmd/prefail")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building prefail for the VM: %v\n%s", err, out)
	}
	return bin
}

const vmScript = `
echo "=== prefail"; /bin/prefail scan --local --json-document
echo "=== smartctl-sda"; smartctl -j -x ` + smartvm.GuestIDEDisk + `
echo "=== smartctl-nvme0"; smartctl -j -x ` + smartvm.GuestNVMe + `
echo "=== smartctl-sdb"; smartctl -j -x ` + smartvm.GuestSCSIDebugDisk + `
echo "=== smartctl-text-sdb"; smartctl -x ` + smartvm.GuestSCSIDebugDisk + `
`

// bootVM runs the script and decodes prefail's document and smartctl's
// JSON per device.
func bootVM(t *testing.T, bin string, criticalWarning uint8) (doc scanDoc, ctl map[string]map[string]any) {
	t.Helper()
	if testing.Short() {
		// .ci/run never passes -short: there, these run (and the packages
		// they need are installed).
		t.Skip("-short: skipping a QEMU boot (.ci/run runs it)")
	}
	if err := smartvm.Check(); err != nil {
		t.Fatalf("the live-device tests need: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := smartvm.Run(ctx, smartvm.Config{
		Binaries:            map[string]string{"prefail": bin},
		Script:              vmScript,
		NVMeCriticalWarning: criticalWarning,
		SCSIDebug:           true,
	})
	if err != nil {
		t.Fatalf("VM: %v", err)
	}
	t.Logf("VM boot and run: %s", res.Elapsed.Round(time.Millisecond))
	if err := json.Unmarshal([]byte(res.Sections["prefail"]), &doc); err != nil {
		t.Fatalf("prefail scan --local --json-document in the VM: %v\n%s", err, res.Output)
	}
	ctl = map[string]map[string]any{}
	for _, dev := range []string{"sda", "nvme0", "sdb"} {
		var m map[string]any
		if err := json.Unmarshal([]byte(res.Sections["smartctl-"+dev]), &m); err != nil {
			t.Fatalf("smartctl -j -x %s in the VM: %v\n%s", dev, err, res.Sections["smartctl-"+dev])
		}
		ctl[dev] = m
	}
	// smartctl 7.3's JSON for SCSI disks leaves out what its text prints
	// (the temperature pages): the text goes along for those values.
	ctl["sdb"]["text"] = res.Sections["smartctl-text-sdb"]
	return doc, ctl
}

// scanDoc is the part of the --json-document document these tests read, decoded
// independently of the model package.
type scanDoc struct {
	Targets []struct {
		Target   string  `json:"target"`
		Error    string  `json:"error"`
		Duration float64 `json:"duration_seconds"`
		Snapshot struct {
			Components []vmComponent `json:"components"`
			Warnings   []struct{ Source, Message string }
			Requests   int `json:"requests"`
		} `json:"snapshot"`
	} `json:"targets"`
}

type vmComponent struct {
	Kind             string `json:"kind"`
	ID               string `json:"id"`
	Health           string `json:"health"`
	FailurePredicted *bool  `json:"failure_predicted"`
	Readings         []struct {
		Name       string   `json:"name"`
		Value      *float64 `json:"value"`
		Thresholds *struct {
			LowerCritical *float64 `json:"lower_critical"`
			UpperCritical *float64 `json:"upper_critical"`
		} `json:"thresholds"`
	} `json:"readings"`
	Inventory struct {
		Model         string   `json:"model"`
		Serial        string   `json:"serial_number"`
		Firmware      string   `json:"firmware_version"`
		PowerOnHours  *float64 `json:"power_on_hours"`
		CapacityBytes int64    `json:"capacity_bytes"`
		Protocol      string   `json:"protocol"`
	} `json:"inventory"`
}

func (c vmComponent) reading(name string) (float64, bool) {
	for _, r := range c.Readings {
		if r.Name == name && r.Value != nil {
			return *r.Value, true
		}
	}
	return 0, false
}

// jpath walks a decoded JSON value: jpath(m, "a", "b", 0, "c").
func jpath(v any, path ...any) (any, bool) {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			if v, ok = m[k]; !ok {
				return nil, false
			}
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				return nil, false
			}
			v = a[k]
		}
	}
	return v, true
}

func jnum(v any, path ...any) (float64, bool) {
	x, ok := jpath(v, path...)
	f, isNum := x.(float64)
	return f, ok && isNum
}

func jstr(v any, path ...any) string {
	x, _ := jpath(v, path...)
	s, _ := x.(string)
	return s
}

var leadingInt = regexp.MustCompile(`^\s*(-?[0-9]+)`)

// drive finds the prefail component for the serial smartctl reported.
func drive(t *testing.T, doc scanDoc, serial string) vmComponent {
	t.Helper()
	if len(doc.Targets) != 1 || doc.Targets[0].Error != "" {
		t.Fatalf("prefail scan --local: %+v", doc.Targets)
	}
	for _, c := range doc.Targets[0].Snapshot.Components {
		if c.Kind == "drive" && c.Inventory.Serial == serial {
			return c
		}
	}
	t.Fatalf("no drive with serial %q in prefail's scan: %+v (warnings %+v)", serial, doc.Targets[0].Snapshot.Components, doc.Targets[0].Snapshot.Warnings)
	return vmComponent{}
}

type agreement struct {
	t        *testing.T
	dev      string
	compared int
}

func (a *agreement) eq(what string, ours float64, ok bool, theirs float64, theirsOK bool) {
	a.t.Helper()
	if !theirsOK {
		return
	}
	a.compared++
	if !ok {
		a.t.Errorf("%s: %s: smartctl says %g, prefail has none", a.dev, what, theirs)
	} else if ours != theirs {
		a.t.Errorf("%s: %s: prefail %g, smartctl %g", a.dev, what, ours, theirs)
	}
}

func (a *agreement) str(what, ours, theirs string) {
	a.t.Helper()
	if theirs == "" {
		return
	}
	a.compared++
	if ours != theirs {
		a.t.Errorf("%s: %s: prefail %q, smartctl %q", a.dev, what, ours, theirs)
	}
}

// compareCommon checks identity, overall status and the shared readings.
func compareCommon(a *agreement, c vmComponent, m map[string]any) {
	a.str("model", c.Inventory.Model, cmpOr(jstr(m, "model_name"), jstr(m, "scsi_product")))
	a.str("firmware", c.Inventory.Firmware, cmpOr(jstr(m, "firmware_version"), jstr(m, "scsi_revision")))
	capacity, capOK := jnum(m, "user_capacity", "bytes")
	if !capOK {
		capacity, capOK = jnum(m, "nvme_total_capacity")
	}
	a.eq("capacity", float64(c.Inventory.CapacityBytes), c.Inventory.CapacityBytes > 0, capacity, capOK)
	poh, pohOK := jnum(m, "power_on_time", "hours")
	a.eq("power-on hours", deref(c.Inventory.PowerOnHours), c.Inventory.PowerOnHours != nil, poh, pohOK)
	temp, tempOK := jnum(m, "temperature", "current")
	ours, ok := c.reading("temperature")
	a.eq("temperature", ours, ok, temp, tempOK)
	passed, _ := jpath(m, "smart_status", "passed")
	if p, isBool := passed.(bool); isBool {
		a.compared++
		if c.FailurePredicted == nil || *c.FailurePredicted == p {
			a.t.Errorf("%s: smartctl smart_status.passed=%v, prefail failure_predicted=%v", a.dev, p, c.FailurePredicted)
		}
		if (c.Health == "critical") == p {
			a.t.Errorf("%s: smartctl passed=%v, prefail health %s", a.dev, p, c.Health)
		}
	}
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

func compareATA(a *agreement, c vmComponent, m map[string]any) {
	table, _ := jpath(m, "ata_smart_attributes", "table")
	attrs, _ := table.([]any)
	if len(attrs) == 0 {
		a.t.Fatalf("%s: smartctl reports no ATA attributes", a.dev)
	}
	for i := range attrs {
		id, _ := jnum(attrs[i], "id")
		name := strconv.Itoa(int(id))
		v, vOK := jnum(attrs[i], "value")
		ours, ok := c.reading("smart_" + name + "_normalized")
		a.eq("attribute "+name+" value", ours, ok, v, vOK)
		raw := leadingInt.FindStringSubmatch(jstr(attrs[i], "raw", "string"))
		if raw != nil {
			want, _ := strconv.ParseFloat(raw[1], 64)
			ours, ok := c.reading("smart_" + name + "_raw")
			a.eq("attribute "+name+" raw (as smartctl prints it)", ours, ok, want, true)
		}
		if th, ok := jnum(attrs[i], "thresh"); ok && th > 0 {
			a.compared++
			var got *float64
			for _, r := range c.Readings {
				if r.Name == "smart_"+name+"_normalized" && r.Thresholds != nil {
					got = r.Thresholds.LowerCritical
				}
			}
			if got == nil || *got != th {
				a.t.Errorf("%s: attribute %s threshold: prefail %v, smartctl %g", a.dev, name, got, th)
			}
		}
	}
	n, nOK := jnum(m, "ata_smart_error_log", "summary", "count")
	ours, ok := c.reading("error_log_count")
	a.eq("error log count", ours, ok, n, nOK)
}

func compareNVMe(a *agreement, c vmComponent, m map[string]any) {
	log := "nvme_smart_health_information_log"
	for _, f := range []struct{ ours, theirs string }{
		{"critical_warning", "critical_warning"}, {"available_spare", "available_spare"},
		{"percentage_used", "percentage_used"}, {"media_errors", "media_errors"},
		{"error_log_entries", "num_err_log_entries"}, {"unsafe_shutdowns", "unsafe_shutdowns"},
		{"data_units_read", "data_units_read"}, {"data_units_written", "data_units_written"},
		{"power_cycles", "power_cycles"},
	} {
		want, wantOK := jnum(m, log, f.theirs)
		ours, ok := c.reading(f.ours)
		a.eq(f.ours, ours, ok, want, wantOK)
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

var (
	// smartctl prints the environmental reporting subpage as "Current
	// temperature = N" where the device has it, else page 0Dh.
	scsiTemperature = regexp.MustCompile(`(?m)^(?:Current Drive Temperature:\s+([0-9]+) C|Current temperature = (-?[0-9]+))`)
	scsiTrip        = regexp.MustCompile(`(?m)^Drive Trip Temperature:\s+([0-9]+) C`)
	scsiHealth      = regexp.MustCompile(`(?m)^SMART Health Status:\s+(.+)$`)
)

func compareSCSI(a *agreement, c vmComponent, m map[string]any) {
	text, _ := m["text"].(string)
	if sm := scsiTemperature.FindStringSubmatch(text); sm != nil {
		want, _ := strconv.ParseFloat(sm[1]+sm[2], 64)
		ours, ok := c.reading("temperature")
		a.eq("temperature (smartctl text)", ours, ok, want, true)
	} else {
		a.t.Errorf("%s: smartctl printed no drive temperature:\n%s", a.dev, text)
	}
	if sm := scsiTrip.FindStringSubmatch(text); sm != nil {
		want, _ := strconv.ParseFloat(sm[1], 64)
		var ours *float64
		for _, r := range c.Readings {
			if r.Name == "temperature" && r.Thresholds != nil {
				ours = r.Thresholds.UpperCritical
			}
		}
		a.eq("trip temperature (smartctl text)", deref(ours), ours != nil, want, true)
	}
	if sm := scsiHealth.FindStringSubmatch(text); sm != nil {
		a.compared++
		if ok := strings.TrimSpace(sm[1]) == "OK"; ok != (c.Health == "ok") {
			a.t.Errorf("%s: smartctl SMART Health Status %q, prefail health %s", a.dev, sm[1], c.Health)
		}
	}
	n, nOK := jnum(m, "scsi_grown_defect_list")
	ours, ok := c.reading("grown_defects")
	a.eq("grown defects", ours, ok, n, nOK)
	for _, dir := range []string{"read", "write", "verify"} {
		want, wantOK := jnum(m, "scsi_error_counter_log", dir, "total_uncorrected_errors")
		ours, ok := c.reading(dir + "_uncorrected_errors")
		a.eq(dir+" uncorrected errors", ours, ok, want, wantOK)
	}
}

func TestLiveDisksAgreeWithSmartctl(t *testing.T) {
	bin := buildPrefail(t)
	doc, ctl := bootVM(t, bin, 0)
	if len(doc.Targets) == 1 {
		t.Logf("prefail scan --local: %d drives, %d commands (ioctls), %.3f s in the VM", len(doc.Targets[0].Snapshot.Components),
			doc.Targets[0].Snapshot.Requests, doc.Targets[0].Duration)
	}
	for dev, cmp := range map[string]func(*agreement, vmComponent, map[string]any){
		"sda": compareATA, "nvme0": compareNVMe, "sdb": compareSCSI,
	} {
		m := ctl[dev]
		a := &agreement{t: t, dev: dev}
		c := drive(t, doc, jstr(m, "serial_number"))
		compareCommon(a, c, m)
		cmp(a, c, m)
		if c.Health != "ok" {
			t.Errorf("%s: health %s on a healthy emulated disk", dev, c.Health)
		}
		t.Logf("%s: %d values compared with smartctl", dev, a.compared)
		if a.compared < 5 {
			ours, _ := json.MarshalIndent(c, "", "  ")
			theirs, _ := json.MarshalIndent(m, "", "  ")
			t.Errorf("%s: only %d values compared: the comparison is not testing anything\nprefail: %s\nsmartctl: %s", dev, a.compared, ours, theirs)
		}
	}
}

// QEMU's smart_critical_warning=0x04 (reliability degraded) must show the
// NVMe drive failing in prefail and in smartctl alike; the other disks stay ok.
func TestLiveNVMeCriticalWarning(t *testing.T) {
	bin := buildPrefail(t)
	doc, ctl := bootVM(t, bin, 0x04)
	m := ctl["nvme0"]
	if cw, _ := jnum(m, "nvme_smart_health_information_log", "critical_warning"); cw != 4 {
		t.Fatalf("smartctl critical_warning = %v, want 4: QEMU did not inject the fault", cw)
	}
	if passed, _ := jpath(m, "smart_status", "passed"); passed != false {
		t.Fatalf("smartctl smart_status.passed = %v, want false", passed)
	}
	c := drive(t, doc, jstr(m, "serial_number"))
	a := &agreement{t: t, dev: "nvme0"}
	compareCommon(a, c, m)
	compareNVMe(a, c, m)
	if c.Health != "critical" {
		t.Errorf("prefail health %s, want critical", c.Health)
	}
	ide := drive(t, doc, jstr(ctl["sda"], "serial_number"))
	if ide.Health != "ok" {
		t.Errorf("the IDE disk turned %s with the NVMe fault", ide.Health)
	}
}
