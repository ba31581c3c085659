package smart

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/prefail/prefail/model"
)

// A path that is not a disk yields a drive component whose health is
// unknown (never ok) and a warning naming the device and the probe.
func TestScanNotADisk(t *testing.T) {
	p := filepath.Join(t.TempDir(), "not-a-disk")
	if err := os.WriteFile(p, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	snap, reps, err := New(WithDevices(p), WithSysRoot(t.TempDir())).Scan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 1 || len(snap.Components) != 1 {
		t.Fatalf("%d reports, %d components", len(reps), len(snap.Components))
	}
	c := snap.Components[0]
	if c.Kind != model.KindDrive || c.Health != model.HealthUnknown {
		t.Errorf("component %s health %s, want drive unknown", c.Kind, c.Health)
	}
	found := false
	for _, w := range snap.Warnings {
		if strings.Contains(w.Message, p) && strings.Contains(w.Message, "IDENTIFY DEVICE") {
			found = true
		}
	}
	if !found {
		t.Errorf("no warning naming %s and the probe: %+v", p, snap.Warnings)
	}
}

func TestScanMissingDevice(t *testing.T) {
	_, _, err := New(WithDevices("/dev/prefail-no-such-disk"), WithSysRoot(t.TempDir())).Scan(context.Background())
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "/dev/prefail-no-such-disk") {
		t.Errorf("err = %v, want ErrNotFound naming the device", err)
	}
}

func TestErrnoCategories(t *testing.T) {
	for errno, want := range map[unix.Errno]error{
		unix.EACCES: ErrPermission, unix.EPERM: ErrPermission, unix.ENOENT: ErrNotFound,
		unix.ENOTTY: ErrUnsupported, unix.EIO: ErrDevice,
	} {
		err := wrapErrno(errno)
		if !errors.Is(err, want) {
			t.Errorf("%v -> %v, want %v", errno, err, want)
		}
	}
	if err := wrapErrno(unix.EACCES); !strings.Contains(err.Error(), "root") {
		t.Errorf("permission error does not say what to do: %v", err)
	}
}
