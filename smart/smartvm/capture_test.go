package smartvm

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var capture = flag.Bool("capture", false, "boot the VM and rewrite testdata/smart/pages/{ide-sata,nvme-ok,nvme-critical-0x04,scsi-debug,scsi-debug-ie-test}")

// pagesDir holds the recorded pages, relative to this package.
const pagesDir = "../../testdata/smart/pages"

// capturedDevices are the folders TestCaptureFixtures owns (and rewrites).
func capturedDevices() []string {
	return []string{"ide-sata", "nvme-ok", "nvme-critical-0x04", "scsi-debug", "scsi-debug-ie-test"}
}

// scsiLogPages are the LOG SENSE pages (page, subpage) asked of the
// scsi_debug disk: what smartctl -x reads from a SAS disk, and the
// subpage lists. scsi_debug answers 0x00, 0x00/0xff, 0x0d, 0x0d/0x01 and
// 0x2f; the others fail with ILLEGAL REQUEST and are listed in
// log-sense-unsupported.txt.
func scsiLogPages() [][2]int {
	return [][2]int{
		{0x00, 0}, {0x00, 0xff}, {0x02, 0}, {0x03, 0}, {0x05, 0}, {0x06, 0}, {0x0d, 0}, {0x0d, 0x01},
		{0x0e, 0}, {0x10, 0}, {0x15, 0}, {0x18, 0}, {0x19, 0}, {0x2f, 0},
	}
}

func logPageName(p [2]int) string {
	if p[1] == 0 {
		return fmt.Sprintf("log-sense-0x%02x", p[0])
	}
	return fmt.Sprintf("log-sense-0x%02x-0x%02x", p[0], p[1])
}

// captureShell is shared by both capture boots. Sections named
// DEVICE/FILE become files: FILE.hex (od output) is written as FILE.bin,
// smartctl-r-ataioctl.txt is also split into one .bin per page, the rest
// is written as it is. A raw read that fails prints DEVICE/FILE.failed.
const captureShell = `raw() { # SECTION COMMAND...: the command's stdout in hex
	name=$1
	shift
	"$@" >/tmp/raw.bin 2>/tmp/raw.err
	rc=$?
	if [ "$rc" = 0 ]; then
		echo "=== $name.hex"
		od -An -tx1 -v /tmp/raw.bin
	else
		echo "=== $name.failed"
		echo "exit status $rc of: $*"
		cat /tmp/raw.err
	fi
}
text() { # SECTION COMMAND...: the command's output as it is
	echo "=== $1"
	shift
	"$@" 2>&1
}
`

func captureScripts() (okBoot, criticalBoot string) {
	var a strings.Builder
	a.WriteString(captureShell)
	a.WriteString(`echo "=== versions.txt"
smartctl --version | head -n 1
nvme version
sg_logs --version 2>&1
echo "guest kernel $(uname -r)"
text ide-sata/smartctl-r-ataioctl.txt smartctl -r ataioctl,2 -a "$SMARTVM_IDE_DISK"
text ide-sata/smartctl-x.txt smartctl -x "$SMARTVM_IDE_DISK"
text ide-sata/smartctl-x.json smartctl -j -x "$SMARTVM_IDE_DISK"
raw nvme-ok/smart-log nvme smart-log "$SMARTVM_NVME" -b
raw nvme-ok/id-ctrl nvme id-ctrl "$SMARTVM_NVME" -b
text nvme-ok/smartctl-x.txt smartctl -x "$SMARTVM_NVME"
text nvme-ok/smartctl-x.json smartctl -j -x "$SMARTVM_NVME"
`)
	for _, p := range scsiLogPages() {
		fmt.Fprintf(&a, "raw scsi-debug/%s sg_logs -r -p 0x%02x,0x%02x \"$SMARTVM_SCSI_DEBUG_SG\"\n", logPageName(p), p[0], p[1])
	}
	a.WriteString(`raw scsi-debug/mode-sense-0x1c sg_modes -r -p 0x1c "$SMARTVM_SCSI_DEBUG_SG"
text scsi-debug/smartctl-x.txt smartctl -x "$SMARTVM_SCSI_DEBUG_DISK"
text scsi-debug/smartctl-x.json smartctl -j -x "$SMARTVM_SCSI_DEBUG_DISK"
text scsi-debug/smartctl-r-scsiioctl.txt smartctl -r scsiioctl,2 -x "$SMARTVM_SCSI_DEBUG_DISK"
`)

	var b strings.Builder
	b.WriteString(captureShell)
	b.WriteString(`raw nvme-critical-0x04/smart-log nvme smart-log "$SMARTVM_NVME" -b
text nvme-critical-0x04/smartctl-x.txt smartctl -x "$SMARTVM_NVME"
text nvme-critical-0x04/smartctl-x.json smartctl -j -x "$SMARTVM_NVME"
# Informational exceptions control page: TEST=1 (a simulated failure
# prediction), DEXCPT=0, MRIE=6. The MODE SELECT leaves a unit attention
# ("mode parameters changed"), which the next command collects.
echo "=== setup"
sg_wr_mode -p 0x1c -c 1c,0a,04,06,00,00,00,00,00,00,00,00 "$SMARTVM_SCSI_DEBUG_SG" || echo "sg_wr_mode failed"
sg_modes -p 0x1c "$SMARTVM_SCSI_DEBUG_SG" >/dev/null 2>&1 || true
raw scsi-debug-ie-test/mode-sense-0x1c sg_modes -r -p 0x1c "$SMARTVM_SCSI_DEBUG_SG"
raw scsi-debug-ie-test/log-sense-0x2f sg_logs -r -p 0x2f "$SMARTVM_SCSI_DEBUG_SG"
text scsi-debug-ie-test/smartctl-x.txt smartctl -x "$SMARTVM_SCSI_DEBUG_DISK"
text scsi-debug-ie-test/smartctl-x.json smartctl -j -x "$SMARTVM_SCSI_DEBUG_DISK"
`)
	return a.String(), b.String()
}

// TestCaptureFixtures boots twice and records the raw pages and smartctl's
// output for the decoders' tests (only with -capture: it rewrites
// testdata). Run: go test ./smart/smartvm -run TestCaptureFixtures -capture
func TestCaptureFixtures(t *testing.T) {
	if !*capture {
		t.Skip("rewrites testdata/smart/pages: run with -capture")
	}
	needVM(t)
	okScript, criticalScript := captureScripts()
	sgTools := map[string]string{}
	for _, name := range []string{"sg_modes", "sg_wr_mode"} {
		p, err := lookTool(name)
		if err != nil {
			t.Fatalf("%v (apt-get install sg3-utils)", err)
		}
		sgTools[name] = p
	}
	okRes := boot(t, Config{SCSIDebug: true, Binaries: sgTools, Script: okScript})
	critRes := boot(t, Config{SCSIDebug: true, Binaries: sgTools, NVMeCriticalWarning: 0x04, Script: criticalScript})

	for _, d := range capturedDevices() {
		if err := os.RemoveAll(filepath.Join(pagesDir, d)); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string][]byte{}
	var unsupported []string
	for _, res := range []*Result{okRes, critRes} {
		for _, name := range slices.Sorted(maps.Keys(res.Sections)) {
			body := res.Sections[name]
			dev, file, ok := strings.Cut(name, "/")
			switch {
			case name == "versions.txt":
				qemu, _ := exec.Command("qemu-system-x86_64", "--version").Output()
				files[name] = []byte(body + "host " + strings.SplitN(string(qemu), "\n", 2)[0] + "\n")
			case !ok:
				continue // smartvm-init, setup, ...
			case strings.HasSuffix(file, ".failed"):
				if dev != "scsi-debug" {
					t.Fatalf("%s:\n%s", name, body)
				}
				unsupported = append(unsupported, strings.TrimSuffix(file, ".failed")+": "+strings.Join(strings.Fields(body), " "))
			case strings.HasSuffix(file, ".hex"):
				b, err := parseOD(body)
				if err != nil || len(b) == 0 {
					t.Fatalf("%s: %v (%d bytes)\n%s", name, err, len(b), body)
				}
				files[dev+"/"+strings.TrimSuffix(file, ".hex")+".bin"] = b
			case file == "smartctl-r-ataioctl.txt":
				pages, err := parseATAIoctl(body)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				for p, b := range pages {
					files[dev+"/"+p+".bin"] = b
				}
				files[name] = []byte(body)
			default:
				if strings.HasSuffix(file, ".json") && !json.Valid([]byte(body)) {
					t.Fatalf("%s is not valid JSON:\n%s", name, body)
				}
				files[name] = []byte(body)
			}
		}
	}
	if len(unsupported) > 0 {
		files["scsi-debug/log-sense-unsupported.txt"] = []byte("LOG SENSE pages scsi_debug does not simulate (sg_logs -r -p PAGE,SUBPAGE):\n" + strings.Join(unsupported, "\n") + "\n")
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		p := filepath.Join(pagesDir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", p, len(files[name]))
	}
}

// parseOD reads `od -An -tx1 -v` output: lines of two-digit hex bytes.
func parseOD(s string) ([]byte, error) {
	var out []byte
	for _, f := range strings.Fields(s) {
		b, err := hex.DecodeString(f)
		if err != nil || len(b) != 1 {
			return nil, fmt.Errorf("not an od byte: %q", f)
		}
		out = append(out, b[0])
	}
	return out, nil
}

// parseATAIoctl extracts the data blocks of `smartctl -r ataioctl,2`:
// each command that returned 0 and printed a "DATA START" block becomes a
// page named after the command ("SMART READ LOG InputParameter=6" ->
// smart-read-log-0x06).
func parseATAIoctl(s string) (map[string][]byte, error) {
	cmdRe := regexp.MustCompile(`^REPORT-IOCTL: Device=\S+ Command=(.*)$`)
	lineRe := regexp.MustCompile(`^\d{3}-\d{3}: ((?:[0-9a-f]{2} ){15}[0-9a-f]{2}) \|`)
	pages := map[string][]byte{}
	var cmd string
	var ok, in bool
	var data []byte
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := sc.Text()
		if m := cmdRe.FindStringSubmatch(line); m != nil {
			if c, status, found := strings.Cut(m[1], " returned "); found {
				ok = c != "" && status == "0"
				continue
			}
			cmd, ok = m[1], false
			continue
		}
		switch {
		case strings.HasPrefix(line, "===== [") && strings.Contains(line, "] DATA START"):
			in, data = true, nil
		case strings.HasPrefix(line, "===== [") && strings.Contains(line, "] DATA END"):
			in = false
			if !ok {
				continue
			}
			name := strings.ToLower(cmd)
			if base, param, found := strings.Cut(name, " inputparameter="); found {
				var n int
				if _, err := fmt.Sscanf(param, "%d", &n); err != nil {
					return nil, fmt.Errorf("command %q: %v", cmd, err)
				}
				name = fmt.Sprintf("%s-0x%02x", base, n)
			}
			name = strings.ReplaceAll(name, " ", "-")
			if prev, dup := pages[name]; dup && string(prev) != string(data) {
				return nil, fmt.Errorf("%s read twice with different data", name)
			}
			pages[name] = data
		case in:
			m := lineRe.FindStringSubmatch(line)
			if m == nil {
				return nil, fmt.Errorf("unexpected line in a data block: %q", line)
			}
			b, err := hex.DecodeString(strings.ReplaceAll(m[1], " ", ""))
			if err != nil {
				return nil, err
			}
			data = append(data, b...)
		}
	}
	if len(pages) == 0 {
		return nil, fmt.Errorf("no data blocks")
	}
	return pages, sc.Err()
}

// TestFixtures checks the recorded pages agree with what smartctl said in
// the same boot, without booting: a stale or hand-edited capture fails.
func TestFixtures(t *testing.T) {
	read := func(name string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(pagesDir, name))
		if err != nil {
			t.Fatalf("%v (recapture: go test ./smart/smartvm -run TestCaptureFixtures -capture)", err)
		}
		return b
	}
	for _, d := range capturedDevices() {
		var j struct {
			SmartStatus struct {
				Passed bool `json:"passed"`
			} `json:"smart_status"`
			NVMe *struct {
				CriticalWarning int `json:"critical_warning"`
				Temperature     int `json:"temperature"`
			} `json:"nvme_smart_health_information_log"`
		}
		if err := json.Unmarshal(read(d+"/smartctl-x.json"), &j); err != nil {
			t.Fatalf("%s/smartctl-x.json: %v", d, err)
		}
		if want := d == "ide-sata" || d == "nvme-ok" || d == "scsi-debug"; j.SmartStatus.Passed != want {
			t.Errorf("%s: smart_status.passed = %v, want %v", d, j.SmartStatus.Passed, want)
		}
		txt := read(d + "/smartctl-x.txt")
		if !strings.HasPrefix(string(txt), "smartctl ") {
			t.Errorf("%s/smartctl-x.txt does not start with smartctl's banner", d)
		}
		if j.NVMe != nil {
			log := read(d + "/smart-log.bin")
			if len(log) != 512 {
				t.Fatalf("%s/smart-log.bin: %d bytes, want 512", d, len(log))
			}
			// Byte 0: critical warning; bytes 1-2: composite temperature in kelvin.
			if int(log[0]) != j.NVMe.CriticalWarning || int(log[1])|int(log[2])<<8 != j.NVMe.Temperature+273 {
				t.Errorf("%s/smart-log.bin: warning 0x%02x, %d K; smartctl said 0x%02x, %d C", d, log[0], int(log[1])|int(log[2])<<8, j.NVMe.CriticalWarning, j.NVMe.Temperature)
			}
		}
	}
	for _, p := range []string{"identify-device", "smart-read-attribute-values", "smart-read-attribute-thresholds", "smart-read-log-0x01", "smart-read-log-0x06"} {
		if b := read("ide-sata/" + p + ".bin"); len(b) != 512 {
			t.Errorf("ide-sata/%s.bin: %d bytes, want 512", p, len(b))
		}
	}
	// Informational exceptions log page: parameter 0000h, byte 8 ASC, byte 9 ASCQ.
	for d, asc := range map[string]byte{"scsi-debug": 0, "scsi-debug-ie-test": 0x5d} {
		ie := read(d + "/log-sense-0x2f.bin")
		if len(ie) < 11 || ie[0] != 0x2f || ie[8] != asc {
			t.Errorf("%s/log-sense-0x2f.bin = % x, want page 0x2f with ASC 0x%02x", d, ie, asc)
		}
	}
}
