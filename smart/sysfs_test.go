package smart

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeSysfs lays out the parts of /sys ListDisks reads, the way a real
// kernel links them: /sys/block/X is a symlink into /sys/devices.
type fakeSysfs struct {
	t    *testing.T
	root string
}

func (f fakeSysfs) file(rel, content string) {
	p := filepath.Join(f.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// block creates devices/<devPath>/block/<name> and links block/<name> to it.
func (f fakeSysfs) block(name, devPath string, sectors string) string {
	dir := filepath.Join("devices", devPath, "block", name)
	f.file(filepath.Join(dir, "size"), sectors+"\n")
	if err := os.MkdirAll(filepath.Join(f.root, "block"), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..", dir), filepath.Join(f.root, "block", name)); err != nil {
		f.t.Fatal(err)
	}
	return dir
}

// scsiDisk adds a SCSI-attached disk whose "device" link points at the
// SCSI device directory, as sd does.
func (f fakeSysfs) scsiDisk(name, scsiDev, vendor, model, rev string, rotational string) {
	dir := f.block(name, scsiDev, "7814037168")
	f.file(filepath.Join("devices", scsiDev, "vendor"), vendor+"\n")
	f.file(filepath.Join("devices", scsiDev, "model"), model+"\n")
	f.file(filepath.Join("devices", scsiDev, "rev"), rev+"\n")
	f.file(filepath.Join(dir, "queue", "rotational"), rotational+"\n")
	if err := os.Symlink("../..", filepath.Join(f.root, dir, "device")); err != nil {
		f.t.Fatal(err)
	}
}

func TestListDisks(t *testing.T) {
	f := fakeSysfs{t: t, root: t.TempDir()}
	f.scsiDisk("sda", "pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0", "ATA     ", "ST4000DM000-1F21", "CC54", "1")
	f.scsiDisk("sdb", "pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0", "WD", "Elements 25A2", "1021", "1")
	f.scsiDisk("sdc", "pci0000:00/0000:03:00.0/host2/port-2:0/end_device-2:0/target2:0:0/2:0:0:0", "SEAGATE", "ST8000NM0075", "E002", "1")
	f.file("devices/pci0000:00/0000:03:00.0/host2/port-2:0/end_device-2:0/target2:0:0/2:0:0:0/vpd_pg80", "\x00\x80\x00\x08ZA1B2C3D")
	// NVMe: namespaces under the controller; the controller's attributes in /sys/class/nvme.
	ctrl := "pci0000:00/0000:01:00.0/nvme/nvme0"
	f.block("nvme0n1", ctrl, "1000000")
	f.block("nvme0n2", ctrl, "24")
	f.file("class/nvme/nvme0/model", "Samsung SSD 980 PRO 1TB                 \n")
	f.file("class/nvme/nvme0/serial", "S5GXNX0T123456    \n")
	f.file("class/nvme/nvme0/firmware_rev", "5B2QGXA7\n")
	f.file("class/nvme/nvme0/transport", "pcie\n")
	// Never disks with SMART: virtual devices, and a virtio disk listed as skipped.
	f.block("loop0", "virtual", "0")
	f.block("dm-0", "virtual", "100")
	f.block("md127", "virtual", "100")
	vda := f.block("vda", "pci0000:00/0000:00:04.0/virtio1", "100")
	if err := os.Symlink("../..", filepath.Join(f.root, vda, "device")); err != nil {
		t.Fatal(err)
	}

	got, err := ListDisks(f.root, "/dev")
	if err != nil {
		t.Fatal(err)
	}
	yes, no := true, false
	want := []Disk{
		{Name: "nvme0", Path: "/dev/nvme0", Protocol: ProtocolNVMe, Transport: "NVMe", Model: "Samsung SSD 980 PRO 1TB",
			Serial: "S5GXNX0T123456", Firmware: "5B2QGXA7", CapacityBytes: (1000000 + 24) * 512, Rotational: &no,
			Namespaces: []string{"nvme0n1", "nvme0n2"}},
		{Name: "sda", Path: "/dev/sda", Protocol: ProtocolATA, Transport: "SATA", Model: "ST4000DM000-1F21", Firmware: "CC54",
			CapacityBytes: 7814037168 * 512, Rotational: &yes},
		{Name: "sdb", Path: "/dev/sdb", Protocol: ProtocolATA, Transport: "USB", Vendor: "WD", Model: "Elements 25A2", Firmware: "1021",
			CapacityBytes: 7814037168 * 512, Rotational: &yes},
		{Name: "sdc", Path: "/dev/sdc", Protocol: ProtocolSCSI, Transport: "SAS", Vendor: "SEAGATE", Model: "ST8000NM0075", Firmware: "E002",
			Serial: "ZA1B2C3D", CapacityBytes: 7814037168 * 512, Rotational: &yes},
		{Name: "vda", Path: "/dev/vda", Transport: "virtio", CapacityBytes: 100 * 512, Skip: "no SMART: a virtio disk"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ListDisks (-want +got):\n%s", d)
	}
}

func TestListDisksNoSysfs(t *testing.T) {
	_, err := ListDisks(filepath.Join(t.TempDir(), "nope"), "/dev")
	if err == nil {
		t.Fatal("no error for a missing sysfs")
	}
}

func TestNaturalCompare(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{{"sda", "sdb", -1}, {"sdz", "sdaa", -1}, {"nvme2", "nvme10", -1}, {"sdb", "sda", 1}, {"sda", "sda", 0}} {
		if got := naturalCompare(c.a, c.b); got != c.want {
			t.Errorf("naturalCompare(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
