package smartvm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// needVM fails (not skips) the test when the machine lacks a package: CI
// installs them (.ci/run), so a missing one is a setup bug to see.
// Under -short the VM tests skip, saying so: they boot QEMU under
// software emulation (seconds to a minute each) and need its packages.
// .ci/run runs them (it never passes -short) and installs the packages.
func needVM(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping a QEMU boot (.ci/run runs it)")
	}
	if err := Check(); err != nil {
		t.Fatalf("%v\n(.ci/run installs these; on Debian: apt-get install qemu-system-x86 linux-image-cloud-amd64 busybox-static smartmontools nvme-cli sg3-utils)", err)
	}
}

// smartctlJSON is the part of `smartctl -j` the tests read.
type smartctlJSON struct {
	Smartctl struct {
		ExitStatus int `json:"exit_status"`
	} `json:"smartctl"`
	SerialNumber string `json:"serial_number"`
	SmartStatus  *struct {
		Passed bool `json:"passed"`
	} `json:"smart_status"`
	NVMeLog *struct {
		CriticalWarning *int `json:"critical_warning"`
	} `json:"nvme_smart_health_information_log"`
}

func decodeSmartctl(t *testing.T, res *Result, section string) smartctlJSON {
	t.Helper()
	text, ok := res.Sections[section]
	if !ok {
		t.Fatalf("no section %q in the guest output:\n%s", section, res.Output)
	}
	var j smartctlJSON
	if err := json.Unmarshal([]byte(text), &j); err != nil {
		t.Fatalf("section %s is not smartctl JSON: %v\n%s", section, err, text)
	}
	if j.SmartStatus == nil || j.NVMeLog == nil || j.NVMeLog.CriticalWarning == nil {
		t.Fatalf("section %s lacks smart_status or nvme_smart_health_information_log.critical_warning:\n%s", section, text)
	}
	return j
}

// guestHello is a static Go program for Config.Binaries: it shows that a
// copied binary runs and sees the guest's devices.
const guestHello = `package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	sn, err := os.ReadFile("/sys/class/nvme/nvme0/serial")
	fmt.Printf("hello from the guest: nvme0 serial %q err %v\n", strings.TrimSpace(string(sn)), err)
}
`

func buildStatic(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "hello")
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("building the guest program needs the go command: %v", err)
	}
	cmd := exec.Command(goCmd, "build", "-o", bin, "main.go")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build of the guest program: %v\n%s", err, out)
	}
	return bin
}

// TestBoot boots twice (in parallel): healthy disks with the scsi_debug
// disk, and an NVMe drive whose critical warning has bit 2 (reliability
// degraded) set, and checks smartctl's verdict on each.
func TestBoot(t *testing.T) {
	needVM(t)

	t.Run("healthy", func(t *testing.T) {
		t.Parallel()
		cfg := Config{
			IDESerial:  "TEST-IDE-7",
			NVMeSerial: "TEST-NVME-7",
			SCSIDebug:  true,
			Binaries:   map[string]string{"hello": buildStatic(t, guestHello)},
			Script: `echo "=== ide-x"; smartctl -x "$SMARTVM_IDE_DISK"
echo "=== nvme-json"; smartctl -j -a "$SMARTVM_NVME"
echo "=== scsi-x"; smartctl -x "$SMARTVM_SCSI_DEBUG_DISK"
echo "=== hello"; hello
`,
		}
		res := boot(t, cfg)

		ide := res.Sections["ide-x"]
		for _, want := range []string{
			"Device Model:     " + IDEModel,
			"Serial Number:    " + cfg.IDESerial,
			"SMART overall-health self-assessment test result: PASSED",
		} {
			if !strings.Contains(ide, want) {
				t.Errorf("smartctl -x %s lacks %q:\n%s", GuestIDEDisk, want, ide)
			}
		}

		j := decodeSmartctl(t, res, "nvme-json")
		if !j.SmartStatus.Passed {
			t.Errorf("NVMe smart_status.passed = false, want true")
		}
		if j.SerialNumber != cfg.NVMeSerial {
			t.Errorf("NVMe serial_number = %q, want %q", j.SerialNumber, cfg.NVMeSerial)
		}
		if got := *j.NVMeLog.CriticalWarning; got != 0 {
			t.Errorf("NVMe critical_warning = %d, want 0", got)
		}

		scsi := res.Sections["scsi-x"]
		for _, want := range []string{
			"Vendor:               " + SCSIDebugVendor,
			"Product:              " + SCSIDebugProduct,
			"SMART support is:     Available",
			"SMART Health Status: OK",
		} {
			if !strings.Contains(scsi, want) {
				t.Errorf("smartctl -x %s lacks %q:\n%s", GuestSCSIDebugDisk, want, scsi)
			}
		}

		if want := fmt.Sprintf("nvme0 serial %q err <nil>", cfg.NVMeSerial); !strings.Contains(res.Sections["hello"], want) {
			t.Errorf("Config.Binaries program printed %q, want it to contain %s", res.Sections["hello"], want)
		}
	})

	t.Run("nvme-critical-0x04", func(t *testing.T) {
		t.Parallel()
		res := boot(t, Config{
			NVMeCriticalWarning: 0x04,
			Script:              `echo "=== nvme-json"; smartctl -j -a /dev/nvme0`,
		})
		j := decodeSmartctl(t, res, "nvme-json")
		if j.SmartStatus.Passed {
			t.Errorf("NVMe smart_status.passed = true with critical warning 0x04, want false")
		}
		if got := *j.NVMeLog.CriticalWarning; got != 4 {
			t.Errorf("NVMe critical_warning = %d, want 4", got)
		}
		if j.SerialNumber != DefaultNVMeSerial {
			t.Errorf("NVMe serial_number = %q, want the default %q", j.SerialNumber, DefaultNVMeSerial)
		}
		// smartctl's exit status bit 3: "SMART status check returned DISK FAILING".
		if j.Smartctl.ExitStatus&8 == 0 || res.ExitStatus != j.Smartctl.ExitStatus {
			t.Errorf("smartctl exit status %d (script %d), want bit 3 set and the two equal", j.Smartctl.ExitStatus, res.ExitStatus)
		}
	})
}

func boot(t *testing.T, cfg Config) *Result {
	t.Helper()
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("boot took %s (wall time of qemu, software emulation)", res.Elapsed.Round(time.Millisecond))
	if res.Elapsed > 30*time.Second {
		t.Logf("slow boot: over 30 s; guest setup said:\n%s", res.Sections["smartvm-init"])
	}
	return res
}

// TestTimeout: a boot that cannot finish in time is killed, and the error
// says so with the console's last lines.
func TestTimeout(t *testing.T) {
	needVM(t)
	start := time.Now()
	res, err := Run(context.Background(), Config{Timeout: 2 * time.Second, Script: "sleep 600"})
	if err == nil {
		t.Fatalf("Run returned no error, output:\n%s", res.Output)
	}
	if !strings.Contains(err.Error(), "2s timeout") || !strings.Contains(err.Error(), "last console lines") {
		t.Errorf("error %q does not name the timeout and show the console", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("Run took %s to give up after a 2 s timeout", d)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, Config{}); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("Run with a cancelled context: error %v, want context canceled", err)
	}
}

func TestParseSections(t *testing.T) {
	out := "before\n=== a\nline 1\n=== START OF INFORMATION SECTION ===\n===== [IDENTIFY DEVICE] DATA START =====\n=== b\n=== a\nagain\nlast"
	got := ParseSections(out)
	want := map[string]string{
		"":  "before\n",
		"a": "line 1\n=== START OF INFORMATION SECTION ===\n===== [IDENTIFY DEVICE] DATA START =====\nagain\nlast\n",
		"b": "",
	}
	if len(got) != len(want) {
		t.Errorf("sections %q, want %q", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("section %q = %q, want %q", k, got[k], v)
		}
	}
}

func TestCPIO(t *testing.T) {
	var buf bytes.Buffer
	w := newCPIOWriter(&buf)
	w.File("bin/tool", 0o755, []byte("abcde"))
	w.Symlink("bin/sh", "busybox")
	w.CharDev("dev/console", 0o600, 5, 1)
	w.Dir("bin") // already there: no second entry
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	type entry struct {
		name        string
		mode        uint32
		data        string
		rmaj, rmins uint32
	}
	var got []entry
	b := buf.Bytes()
	for len(b) > 0 {
		if len(b) < 110 || string(b[:6]) != "070701" {
			t.Fatalf("bad header at offset %d: %q", buf.Len()-len(b), b[:min(len(b), 16)])
		}
		field := func(i int) uint32 {
			var v uint32
			fmt.Sscanf(string(b[6+8*i:14+8*i]), "%08X", &v)
			return v
		}
		mode, size, rmaj, rmin, nameSize := field(1), int(field(6)), field(9), field(10), int(field(11))
		name := string(b[110 : 110+nameSize-1])
		off := (110 + nameSize + 3) &^ 3
		data := string(b[off : off+size])
		b = b[(off+size+3)&^3:]
		got = append(got, entry{name, mode, data, rmaj, rmin})
		if name == "TRAILER!!!" {
			break
		}
	}
	if len(b) != 0 {
		t.Errorf("%d bytes after the trailer", len(b))
	}
	want := []entry{
		{"bin", 0o40755, "", 0, 0},
		{"bin/tool", 0o100755, "abcde", 0, 0},
		{"bin/sh", 0o120777, "busybox", 0, 0},
		{"dev", 0o40755, "", 0, 0},
		{"dev/console", 0o20600, "", 5, 1},
		{"TRAILER!!!", 0, "", 0, 0},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("archive entries\n got %v\nwant %v", got, want)
	}
}

func TestResolveModules(t *testing.T) {
	dir := t.TempDir()
	dep := `kernel/drivers/scsi/scsi_common.ko.zst:
kernel/drivers/scsi/scsi_mod.ko.zst: kernel/drivers/scsi/scsi_common.ko.zst
kernel/drivers/ata/libata.ko.xz: kernel/drivers/scsi/scsi_mod.ko.zst kernel/drivers/scsi/scsi_common.ko.zst
kernel/drivers/ata/ata_piix.ko: kernel/drivers/ata/libata.ko.xz kernel/drivers/scsi/scsi_mod.ko.zst kernel/drivers/scsi/scsi_common.ko.zst
kernel/drivers/scsi/sd_mod.ko: kernel/drivers/scsi/scsi_mod.ko.zst kernel/drivers/scsi/scsi_common.ko.zst
kernel/drivers/scsi/sg.ko: kernel/drivers/scsi/scsi_mod.ko.zst kernel/drivers/scsi/scsi_common.ko.zst
kernel/drivers/scsi/scsi_debug.ko: kernel/drivers/scsi/scsi_mod.ko.zst kernel/drivers/scsi/scsi_common.ko.zst kernel/lib/crc-t10dif.ko
kernel/lib/crc-t10dif.ko:
`
	if err := os.WriteFile(filepath.Join(dir, "modules.dep"), []byte(dep), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "modules.builtin"), []byte("kernel/drivers/nvme/host/nvme-core.ko\nkernel/drivers/nvme/host/nvme.ko\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := &host{release: "test", modDir: dir}
	mods, err := resolveModules(h, wantedModules(true))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range mods {
		names = append(names, m.name)
	}
	if got, want := strings.Join(names, " "), "scsi_common scsi_mod libata ata_piix sd_mod sg crc_t10dif scsi_debug"; got != want {
		t.Errorf("load order %q, want %q", got, want)
	}
	if !strings.HasSuffix(mods[2].path, "/kernel/drivers/ata/libata.ko.xz") {
		t.Errorf("libata path %q", mods[2].path)
	}

	if err := os.WriteFile(filepath.Join(dir, "modules.builtin"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := resolveModules(h, wantedModules(false)); err == nil || !strings.Contains(err.Error(), "no module nvme") {
		t.Errorf("a kernel without nvme: error %v, want one naming the module", err)
	}
}

func TestCompareRelease(t *testing.T) {
	for _, c := range []struct {
		a, b string
		less bool
	}{
		{"6.1.0-57-cloud-amd64", "6.1.0-100-cloud-amd64", true},
		{"6.1.0-57-cloud-amd64", "6.12.3-amd64", true},
		{"6.12.3-amd64", "6.1.0-57-cloud-amd64", false},
	} {
		if got := compareRelease(c.a, c.b) < 0; got != c.less {
			t.Errorf("compareRelease(%q, %q) < 0 = %v, want %v", c.a, c.b, got, c.less)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	for _, cfg := range []Config{
		{IDESerial: "has space"},
		{NVMeSerial: "a,b"},
		{NVMeSerial: "012345678901234567890"},
		{Binaries: map[string]string{"a/b": "/bin/sh"}},
		{Binaries: map[string]string{"x": "/nonexistent/x"}},
	} {
		if _, err := Run(context.Background(), cfg); err == nil {
			t.Errorf("Run(%+v) accepted an invalid Config", cfg)
		}
	}
}
