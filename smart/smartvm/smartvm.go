// Package smartvm runs programs against live emulated disks, for tests: it
// boots the installed Debian kernel with a throwaway initramfs under
// QEMU (software emulation, no KVM needed), with
//
//   - an IDE disk (QEMU ide-hd on the PIIX controller, driven by libata as
//     /dev/sda): a SATA-like ATA device that answers IDENTIFY, SMART READ
//     DATA/THRESHOLDS, RETURN STATUS and the SMART error and self-test logs;
//   - an NVMe controller (QEMU nvme, /dev/nvme0, namespace /dev/nvme0n1)
//     whose SMART / health log reports Config.NVMeCriticalWarning;
//   - optionally the kernel's scsi_debug disk (/dev/sdb), a simulated SCSI
//     disk that answers INQUIRY, MODE SENSE (including the informational
//     exceptions control page) and LOG SENSE (see Config.SCSIDebug),
//
// runs Config.Script inside with smartctl, nvme (nvme-cli), sg_logs
// (sg3-utils), busybox and Config.Binaries at hand, and powers off. A boot
// takes about 7 s on an idle machine (software emulation is CPU-bound:
// several times that when the host is busy).
//
// Debian packages: qemu-system-x86, linux-image-cloud-amd64 (any kernel
// with its /boot/vmlinuz-<release> and /lib/modules/<release> works),
// busybox-static, smartmontools, nvme-cli, sg3-utils. Check names the
// missing ones. The initramfs is written in Go (no cpio(1) needed).
//
// # Output sections
//
// The script's stdout and stderr, and /init's own messages, arrive on a
// serial port of their own, untouched by kernel messages (those go to the
// console, Result.Console). Result.Sections splits that output on marker
// lines: a line "=== NAME", where NAME is one word without spaces, starts
// section NAME, which runs to the next marker. The script prints a marker
// before each command whose output a test wants by name:
//
//	echo "=== sda-x"; smartctl -x /dev/sda
//
// smartctl's own banners ("=== START OF INFORMATION SECTION ===") contain
// spaces and are not markers. Names starting with "smartvm-" belong to
// /init: smartvm-init (setup log), smartvm-error (a setup step failed; Run
// returns an error) and smartvm-exit ("status N", always last).
//
// # Guest environment
//
// The script runs as root with /tmp as working directory (a RAM file
// system) and these variables: SMARTVM_IDE_DISK=/dev/sda,
// SMARTVM_NVME=/dev/nvme0, SMARTVM_NVME_NAMESPACE=/dev/nvme0n1, and with
// SCSIDebug SMARTVM_SCSI_DEBUG_DISK=/dev/sdb and SMARTVM_SCSI_DEBUG_SG
// (its /dev/sgN). /init checks each device is the expected one before the
// script starts.
package smartvm

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Guest device paths; /init waits for each and checks its identity.
const (
	GuestIDEDisk       = "/dev/sda"
	GuestNVMe          = "/dev/nvme0"
	GuestNVMeNamespace = "/dev/nvme0n1"
	GuestSCSIDebugDisk = "/dev/sdb"
)

// Defaults of Config.
const (
	DefaultIDESerial  = "SMARTVM-IDE0"
	DefaultNVMeSerial = "SMARTVM-NVME0"
	DefaultTimeout    = 120 * time.Second
	DefaultMemory     = 512 // MiB
)

// Fixed identities of the emulated disks.
const (
	// IDEModel is the IDE disk's model string (IDENTIFY words 27-46).
	IDEModel = "SmartvmDisk"
	// SCSIDebugVendor and SCSIDebugProduct are the scsi_debug disk's
	// INQUIRY vendor and product.
	SCSIDebugVendor  = "Linux"
	SCSIDebugProduct = "scsi_debug"
	// DiskSize is the size of the IDE and NVMe disks' (sparse) images.
	DiskSize = 64 << 20
)

// scsiDebugParams: one host, one target, one 16 MiB LUN with 512-byte
// sectors, INQUIRY strings pinned (their defaults could change with the
// kernel). scsi_debug's LOG SENSE pages need no parameter: it always
// serves them (Config.SCSIDebug lists them).
const scsiDebugParams = "add_host=1 num_tgts=1 max_luns=1 dev_size_mb=16 sector_size=512 ptype=0 inq_vendor=" + SCSIDebugVendor + " inq_product=" + SCSIDebugProduct

// Config describes one boot. The zero value boots the IDE and NVMe disks,
// healthy, and runs an empty script.
type Config struct {
	// Script is run by /init with sh (busybox ash) once every device is
	// there; its stdout and stderr are Result.Output. See the package
	// documentation for the "=== NAME" section convention.
	Script string
	// Binaries are extra programs for the guest: name under /bin in the
	// guest -> host path. Static binaries (CGO_ENABLED=0 go build) are
	// copied as they are; for a dynamic one its shared libraries (per ldd)
	// are copied too.
	Binaries map[string]string
	// NVMeCriticalWarning is the NVMe SMART / health log's critical
	// warning byte (QEMU's smart_critical_warning): 0x01 spare below
	// threshold, 0x02 temperature, 0x04 reliability degraded, 0x08 read
	// only, 0x10 volatile memory backup failed. Any set bit makes smartctl
	// report the drive FAILED.
	NVMeCriticalWarning uint8
	// SCSIDebug also loads the kernel's scsi_debug module, whose simulated
	// disk appears as /dev/sdb (vendor "Linux", product "scsi_debug", 16
	// MiB, transport SAS, serial "6000"), after the IDE disk. smartctl sees
	// a SCSI disk with SMART (informational exceptions) capability, off by
	// default (the IE control mode page 0x1c has DEXCPT=1), and reads its
	// LOG SENSE pages: supported pages 0x00 and 0x00/0xff, Temperature
	// 0x0d (38 C, reference 65 C), Environmental reporting 0x0d/0x01 (40 C,
	// 55 % humidity, lifetime extremes) and Informational Exceptions 0x2f
	// (ASC 0, 38 C): "SMART Health Status: OK". The error counter (0x02,
	// 0x03, 0x05, 0x06), start-stop (0x0e), self-test (0x10), background
	// scan (0x15), protocol (0x18) and statistics (0x19) pages are not
	// simulated and answer ILLEGAL REQUEST, so `smartctl -x` exits with
	// bit 2 set. A MODE SELECT of page 0x1c with TEST=1 (sg_wr_mode, see
	// capture_test.go) makes page 0x2f report ASC/ASCQ 5D/FF, which
	// smartctl shows as FAILURE PREDICTION THRESHOLD EXCEEDED.
	SCSIDebug bool
	// IDESerial and NVMeSerial are the disks' serial numbers (printable
	// ASCII without commas, at most 20 characters; default
	// DefaultIDESerial, DefaultNVMeSerial).
	IDESerial, NVMeSerial string
	// Timeout bounds the whole boot (default DefaultTimeout); on expiry
	// qemu is killed and Run returns an error with the console's last lines.
	Timeout time.Duration
	// Memory is the guest's RAM in MiB (default DefaultMemory).
	Memory int
}

// Result is what one boot produced.
type Result struct {
	// Output is everything written to the output port: /init's sections
	// and the script's stdout and stderr, byte for byte (CR LF folded to
	// LF).
	Output string
	// Sections splits Output on "=== NAME" marker lines: NAME -> the lines
	// after the marker up to the next one, each ending in "\n". Text
	// before the first marker is under "". A repeated NAME appends.
	Sections map[string]string
	// ExitStatus is the script's exit status.
	ExitStatus int
	// Console is the kernel console (firmware and kernel messages), with
	// terminal escape sequences and CRs removed; for diagnosing a boot.
	Console string
	// Elapsed is the wall time from starting qemu to its exit.
	Elapsed time.Duration
}

func (c Config) withDefaults() (Config, error) {
	if c.IDESerial == "" {
		c.IDESerial = DefaultIDESerial
	}
	if c.NVMeSerial == "" {
		c.NVMeSerial = DefaultNVMeSerial
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Memory <= 0 {
		c.Memory = DefaultMemory
	}
	for _, s := range []struct{ what, v string }{{"IDESerial", c.IDESerial}, {"NVMeSerial", c.NVMeSerial}} {
		if len(s.v) > 20 || strings.ContainsFunc(s.v, func(r rune) bool { return r <= ' ' || r > '~' || r == ',' || r == '\'' }) {
			return c, fmt.Errorf("smartvm: Config.%s %q: want at most 20 printable ASCII characters without spaces, commas or quotes", s.what, s.v)
		}
	}
	for name, p := range c.Binaries {
		if name == "" || strings.ContainsAny(name, "/ \t\n") || name == "." || name == ".." {
			return c, fmt.Errorf("smartvm: Config.Binaries: %q is not a plain file name for /bin", name)
		}
		if !fileExists(p) {
			return c, fmt.Errorf("smartvm: Config.Binaries[%q]: %s is not a regular file", name, p)
		}
	}
	return c, nil
}

// Run boots the VM described by cfg, runs cfg.Script and returns its
// output once the guest has powered off. Everything (initramfs, disk
// images, output file) lives in a temporary directory removed on return.
//
// The initramfs is rebuilt on every call rather than cached: building it
// takes a few tens of milliseconds against a boot of ten seconds.
//
// Run returns an error when the machine lacks a package (the same as
// Check's), when the boot exceeds ctx or cfg.Timeout, when qemu fails, or
// when /init could not set up the devices (smartvm-error); in the last two
// cases the partial Result is returned as well. A script exiting non-zero
// is not an error (smartctl's exit status is a bit mask): see ExitStatus.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	h, err := findHost()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "smartvm-")
	if err != nil {
		return nil, fmt.Errorf("smartvm: temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)

	initrd := filepath.Join(dir, "initramfs.cpio")
	if err := buildInitramfs(ctx, h, cfg, initrd); err != nil {
		return nil, err
	}
	ide, nvme := filepath.Join(dir, "ide.img"), filepath.Join(dir, "nvme.img")
	for _, img := range []string{ide, nvme} {
		if err := sparseFile(img, DiskSize); err != nil {
			return nil, err
		}
	}
	outFile := filepath.Join(dir, "output.txt")

	runCtx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	args := []string{
		"-accel", "tcg", // KVM (nested) hangs after SeaBIOS on some hosts; TCG always works
		"-cpu", "max", "-smp", "1", "-m", strconv.Itoa(cfg.Memory),
		"-nodefaults", // no default CD-ROM (it would take an sg node), NIC or VGA
		"-nographic", "-no-reboot", "-net", "none",
		"-kernel", h.kernel, "-initrd", initrd,
		// panic=-1 reboots on a panic, which -no-reboot turns into an exit.
		"-append", "console=ttyS0 panic=-1 loglevel=4",
		"-serial", "stdio", // ttyS0: the console
		"-serial", "file:" + qemuEscape(outFile), // ttyS1: the output port
		"-drive", "if=none,id=ide0,format=raw,file=" + qemuEscape(ide),
		"-device", "ide-hd,drive=ide0,bus=ide.0,model=" + IDEModel + ",serial=" + cfg.IDESerial,
		"-drive", "if=none,id=nvm0,format=raw,file=" + qemuEscape(nvme),
		"-device", fmt.Sprintf("nvme,drive=nvm0,serial=%s,smart_critical_warning=%d", cfg.NVMeSerial, cfg.NVMeCriticalWarning),
	}
	if h.qboot != "" {
		// qboot: a minimal firmware for -kernel boots, a second faster
		// than SeaBIOS; SeaBIOS (the default) when it is not installed.
		args = append(args, "-bios", h.qboot)
	}
	cmd := exec.CommandContext(runCtx, h.qemu, args...)
	var console bytes.Buffer
	cmd.Stdout = &console
	cmd.Stderr = &console
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	runErr := cmd.Run()
	res := &Result{Elapsed: time.Since(start), Console: cleanConsole(console.String())}
	if out, err := os.ReadFile(outFile); err == nil {
		res.Output = strings.ReplaceAll(string(out), "\r\n", "\n")
	}
	res.Sections = ParseSections(res.Output)

	switch {
	case ctx.Err() != nil:
		return res, fmt.Errorf("smartvm: boot abandoned after %s: %w\n%s", res.Elapsed.Round(time.Millisecond), ctx.Err(), res.tails())
	case runCtx.Err() != nil:
		return res, fmt.Errorf("smartvm: the guest did not power off within the %s timeout (Config.Timeout); qemu killed\n%s", cfg.Timeout, res.tails())
	case runErr != nil:
		return res, fmt.Errorf("smartvm: %s: %w\n%s", h.qemu, runErr, res.tails())
	}
	if msg, ok := res.Sections["smartvm-error"]; ok {
		return res, fmt.Errorf("smartvm: guest setup failed: %s\n%s", strings.TrimSpace(msg), res.tails())
	}
	exit, ok := res.Sections["smartvm-exit"]
	if !ok {
		return res, fmt.Errorf("smartvm: the guest stopped before the script finished (no \"=== smartvm-exit\" on the output port)\n%s", res.tails())
	}
	if _, err := fmt.Sscanf(exit, "status %d", &res.ExitStatus); err != nil {
		return res, fmt.Errorf("smartvm: unreadable smartvm-exit section %q: %w", exit, err)
	}
	return res, nil
}

// tails is the end of the console and of the output, for error messages.
func (r *Result) tails() string {
	return "--- last console lines:\n" + lastLines(r.Console, 25) + "--- last output lines:\n" + lastLines(r.Output, 15)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

// cleanConsole drops SeaBIOS's and the kernel's terminal control
// sequences and CRs.
func cleanConsole(s string) string {
	esc := regexp.MustCompile(`\x1b(\[[0-9;?]*[A-Za-z]|[@-_c])`)
	return strings.ReplaceAll(esc.ReplaceAllString(s, ""), "\r", "")
}

// qemuEscape doubles commas, QEMU's option separator.
func qemuEscape(p string) string { return strings.ReplaceAll(p, ",", ",,") }

func sparseFile(p string, size int64) error {
	f, err := os.Create(p)
	if err != nil {
		return fmt.Errorf("smartvm: disk image: %w", err)
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return fmt.Errorf("smartvm: disk image %s: %w", p, err)
	}
	return f.Close()
}

// ParseSections splits guest output on "=== NAME" marker lines (NAME: one
// word, no spaces); see Result.Sections.
func ParseSections(out string) map[string]string {
	sections := map[string]string{}
	name := ""
	for _, line := range strings.SplitAfter(out, "\n") {
		if line == "" {
			continue
		}
		if n, ok := markerName(strings.TrimSuffix(line, "\n")); ok {
			name = n
			if _, seen := sections[name]; !seen {
				sections[name] = ""
			}
			continue
		}
		if !strings.HasSuffix(line, "\n") {
			line += "\n"
		}
		sections[name] += line
	}
	if sections[""] == "" {
		delete(sections, "")
	}
	return sections
}

func markerName(line string) (string, bool) {
	n, ok := strings.CutPrefix(line, "=== ")
	n = strings.TrimSpace(n)
	if !ok || n == "" || strings.ContainsAny(n, " \t") {
		return "", false
	}
	return n, true
}

// buildInitramfs writes the guest's root file system as a cpio archive.
func buildInitramfs(ctx context.Context, h *host, cfg Config, dst string) error {
	base, err := resolveModules(h, wantedModules(false))
	if err != nil {
		return err
	}
	var extra []module
	if cfg.SCSIDebug {
		all, err := resolveModules(h, wantedModules(true))
		if err != nil {
			return err
		}
		for _, m := range all {
			if !slices.ContainsFunc(base, func(b module) bool { return b.name == m.name }) {
				extra = append(extra, m)
			}
		}
		if !slices.ContainsFunc(extra, func(m module) bool { return m.name == "scsi_debug" }) {
			return fmt.Errorf("smartvm: scsi_debug is built into kernel %s; smartvm needs it as a module (its disk must come after the IDE disk)", h.release)
		}
	}
	if err := checkDecompressors(append(slices.Clone(base), extra...)); err != nil {
		return err
	}

	f, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("smartvm: initramfs: %w", err)
	}
	defer f.Close()
	w := newCPIOWriter(f)
	for _, d := range []string{"proc", "sys", "dev", "tmp", "bin", "lib/smartvm", "smartvm"} {
		w.Dir(d)
	}
	// The kernel opens /dev/console for /init before devtmpfs is mounted.
	w.CharDev("dev/console", 0o600, 5, 1)
	w.File("init", 0o755, []byte(initScript))

	busybox, err := os.ReadFile(h.busybox)
	if err != nil {
		return fmt.Errorf("smartvm: %w", err)
	}
	w.File("bin/busybox", 0o755, busybox)

	bins := map[string]string{"smartctl": h.smartctl, "nvme": h.nvme, "sg_logs": h.sgLogs}
	for name, p := range cfg.Binaries {
		bins[name] = p
	}
	libs := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(bins)) {
		p := bins[name]
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("smartvm: guest binary %s: %w", name, err)
		}
		w.File("bin/"+name, 0o755, b)
		l, err := sharedLibs(ctx, h.ldd, p)
		if err != nil {
			return err
		}
		for _, lib := range l {
			libs[lib] = true
		}
	}
	for _, lib := range slices.Sorted(maps.Keys(libs)) {
		b, err := os.ReadFile(lib) // follows the symlink: the guest gets the file under the name ldd printed
		if err != nil {
			return fmt.Errorf("smartvm: shared library: %w", err)
		}
		w.File(lib, 0o755, b)
	}
	if h.drivedb != "" {
		b, err := os.ReadFile(h.drivedb)
		if err != nil {
			return fmt.Errorf("smartvm: %w", err)
		}
		w.File(h.drivedb, 0o644, b)
	}

	for _, set := range []struct {
		file string
		mods []module
	}{{"smartvm/modules-base", base}, {"smartvm/modules-scsi-debug", extra}} {
		var list strings.Builder
		for _, m := range set.mods {
			b, err := moduleBytes(ctx, m)
			if err != nil {
				return err
			}
			w.File("lib/smartvm/"+m.name+".ko", 0o644, b)
			list.WriteString(m.name)
			if m.name == "scsi_debug" {
				list.WriteString(" " + scsiDebugParams)
			}
			list.WriteString("\n")
		}
		w.File(set.file, 0o644, []byte(list.String()))
	}

	scsiDebug := "0"
	if cfg.SCSIDebug {
		scsiDebug = "1"
	}
	// Serials are checked to hold no quote or space, so '...' is safe.
	conf := fmt.Sprintf("SMARTVM_NVME_SERIAL='%s'\nSMARTVM_IDE_SERIAL='%s'\nSMARTVM_SCSI_DEBUG=%s\nSMARTVM_SCSI_DEBUG_PRODUCT='%s'\n"+
		"SMARTVM_WAIT=%d\n", cfg.NVMeSerial, cfg.IDESerial, scsiDebug, SCSIDebugProduct, deviceWait/(100*time.Millisecond))
	w.File("smartvm/config", 0o644, []byte(conf))
	w.File("smartvm/script.sh", 0o755, []byte(cfg.Script))

	if err := w.Close(); err != nil {
		return fmt.Errorf("smartvm: writing %s: %w", dst, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("smartvm: writing %s: %w", dst, err)
	}
	return nil
}

// deviceWait is how long /init waits for each device (TCG is slow, and
// libata probes its ports one after the other).
const deviceWait = 30 * time.Second
