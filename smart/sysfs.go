package smart

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Disk is one local disk as sysfs describes it, before any command is sent.
type Disk struct {
	// Name is the kernel name (sda, nvme0); Path the device node to open
	// (/dev/sda, the NVMe controller /dev/nvme0).
	Name string `json:"name"`
	Path string `json:"path"`
	// Protocol is how its health will be read: ATA for SATA disks (also
	// behind SAS HBAs and USB bridges that translate), SCSI for SAS/SCSI,
	// NVMe for NVMe controllers.
	Protocol  Protocol `json:"protocol"`
	Transport string   `json:"transport,omitempty"` // "SATA", "SAS", "USB", "NVMe", "virtio", ...
	Vendor    string   `json:"vendor,omitempty"`
	Model     string   `json:"model,omitempty"`
	Serial    string   `json:"serial,omitempty"`
	Firmware  string   `json:"firmware,omitempty"`
	// CapacityBytes of the disk (for an NVMe controller, of its namespaces).
	CapacityBytes int64 `json:"capacity_bytes,omitempty"`
	Rotational    *bool `json:"rotational,omitempty"`
	// Namespaces of an NVMe controller (nvme0n1, ...).
	Namespaces []string `json:"namespaces,omitempty"`
	// Skip says why the disk is not read (a virtual device with no SMART).
	Skip string `json:"skip,omitempty"`
}

var (
	nvmeController = regexp.MustCompile(`^nvme[0-9]+$`)
	nvmeNamespace  = regexp.MustCompile(`^nvme([0-9]+)(?:c[0-9]+)?n[0-9]+$`)
)

// skippedPrefixes are block devices that are never disks with SMART data.
var skippedPrefixes = []string{"loop", "ram", "zram", "dm-", "md", "nbd", "sr", "fd", "rbd", "zd", "drbd"}

// ListDisks enumerates this machine's disks from sysfs under sysRoot
// ("/sys" in production; a recorded tree in tests) and names their nodes
// under devRoot ("/dev"). Partitions are not in /sys/block and so never
// listed; virtual devices (loop, dm, md, zram, ...) are left out; disks
// that exist but have no SMART (virtio, Xen, MMC) are listed with Skip set.
// NVMe drives are listed once, by controller: the health log belongs to the
// controller, not to each namespace.
func ListDisks(sysRoot, devRoot string) ([]Disk, error) {
	block := filepath.Join(sysRoot, "block")
	entries, err := os.ReadDir(block)
	if err != nil {
		return nil, fmt.Errorf("listing disks: %w", err)
	}
	var disks []Disk
	nvme := map[string]*Disk{}
	for _, e := range entries {
		name := e.Name()
		if slices.ContainsFunc(skippedPrefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
			continue
		}
		dir := filepath.Join(block, name)
		if m := nvmeNamespace.FindStringSubmatch(name); m != nil {
			ctrl := "nvme" + m[1]
			d := nvme[ctrl]
			if d == nil {
				d = nvmeDisk(sysRoot, devRoot, ctrl)
				nvme[ctrl] = d
			}
			d.Namespaces = append(d.Namespaces, name)
			d.CapacityBytes += blockSize(dir)
			continue
		}
		target, _ := filepath.EvalSymlinks(dir)
		if strings.Contains(target, "/devices/virtual/") {
			continue
		}
		d := Disk{Name: name, Path: filepath.Join(devRoot, name), CapacityBytes: blockSize(dir)}
		if r, err := readTrim(filepath.Join(dir, "queue", "rotational")); err == nil {
			rot := r == "1"
			d.Rotational = &rot
		}
		dev := filepath.Join(dir, "device")
		d.Vendor, _ = readTrim(filepath.Join(dev, "vendor"))
		d.Model, _ = readTrim(filepath.Join(dev, "model"))
		d.Firmware, _ = readTrim(filepath.Join(dev, "rev"))
		d.Serial = vpdSerial(filepath.Join(dev, "vpd_pg80"))
		devPath, _ := filepath.EvalSymlinks(dev)
		d.Transport = transport(devPath)
		switch {
		case strings.HasPrefix(name, "vd"), strings.HasPrefix(name, "xvd"), strings.HasPrefix(name, "mmcblk"),
			d.Transport == "virtio":
			d.Skip = "no SMART: a " + cmp.Or(d.Transport, "virtual or MMC") + " disk"
		case d.Vendor == "ATA" || d.Transport == "SATA" || d.Transport == "USB":
			// SAT: libata reports vendor "ATA"; USB bridges usually translate
			// too (smartctl's -d sat default), and a refusal says so.
			d.Protocol = ProtocolATA
		default:
			d.Protocol = ProtocolSCSI
		}
		if d.Vendor == "ATA" {
			d.Vendor = ""
		}
		disks = append(disks, d)
	}
	for _, d := range nvme {
		disks = append(disks, *d)
	}
	slices.SortFunc(disks, func(a, b Disk) int { return naturalCompare(a.Name, b.Name) })
	return disks, nil
}

func nvmeDisk(sysRoot, devRoot, ctrl string) *Disk {
	dir := filepath.Join(sysRoot, "class", "nvme", ctrl)
	d := &Disk{Name: ctrl, Path: filepath.Join(devRoot, ctrl), Protocol: ProtocolNVMe, Transport: "NVMe"}
	d.Model, _ = readTrim(filepath.Join(dir, "model"))
	d.Serial, _ = readTrim(filepath.Join(dir, "serial"))
	d.Firmware, _ = readTrim(filepath.Join(dir, "firmware_rev"))
	if t, err := readTrim(filepath.Join(dir, "transport")); err == nil && t != "pcie" {
		d.Transport = "NVMe-oF " + t // fabrics: the health log is still the controller's
	}
	rot := false
	d.Rotational = &rot
	return d
}

// transport names the bus from the device's sysfs path.
func transport(devPath string) string {
	switch {
	case strings.Contains(devPath, "/usb"):
		return "USB"
	case strings.Contains(devPath, "/virtio"):
		return "virtio"
	case strings.Contains(devPath, "/ata"):
		return "SATA"
	case strings.Contains(devPath, "/end_device-"), strings.Contains(devPath, "/expander-"):
		return "SAS"
	}
	return ""
}

// blockSize is the size attribute (in 512-byte units whatever the sector
// size, Documentation/ABI/stable/sysfs-block).
func blockSize(dir string) int64 {
	s, err := readTrim(filepath.Join(dir, "size"))
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(s, 10, 64)
	return n * 512
}

// vpdSerial reads the Unit Serial Number VPD page (SPC-5 7.7.18) sysfs
// caches: a 4-byte header, then the serial.
func vpdSerial(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) < 4 || b[1] != 0x80 {
		return ""
	}
	n := min(int(binary.BigEndian.Uint16(b[2:4])), len(b)-4)
	return strings.TrimSpace(strings.Trim(string(b[4:4+n]), "\x00"))
}

func readTrim(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// naturalCompare orders sda < sdb < sdz < sdaa (the kernel's order) and
// nvme2 < nvme10.
func naturalCompare(a, b string) int {
	split := func(s string) (string, int) {
		i := len(s)
		for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
			i--
		}
		n, _ := strconv.Atoi(s[i:])
		return s[:i], n
	}
	pa, na := split(a)
	pb, nb := split(b)
	if len(pa) > 2 && len(pb) > 2 && pa[:2] == pb[:2] && (pa[:2] == "sd" || pa[:2] == "hd") {
		if c := cmp.Compare(len(pa), len(pb)); c != 0 {
			return c
		}
	}
	return cmp.Or(strings.Compare(pa, pb), cmp.Compare(na, nb))
}
