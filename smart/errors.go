package smart

import (
	"errors"
	"fmt"
)

// Error categories, checked with errors.Is. Every error a reader returns
// wraps one of them and names the device (or file) and the probe that
// failed: smart.go joins bare errno texts ("no such device\nnot a direct
// access block device"), which say neither.
var (
	// ErrPermission: the device could not be opened or the command was
	// refused for lack of privilege (SG_IO and NVMe admin commands need
	// root, or CAP_SYS_RAWIO / CAP_SYS_ADMIN).
	ErrPermission = errors.New("permission denied")
	// ErrNotFound: no such device.
	ErrNotFound = errors.New("no such device")
	// ErrUnsupported: the device does not speak the protocol, or does
	// not support SMART (or the page asked for).
	ErrUnsupported = errors.New("not supported by the device")
	// ErrMalformed: bytes that do not decode (a short or corrupt page, a
	// capture that is not smartctl output).
	ErrMalformed = errors.New("malformed data")
	// ErrDevice: the device failed the command (SCSI check condition, ATA
	// error, NVMe status).
	ErrDevice = errors.New("device error")
)

// ProbeError says which device and which probe failed, and why.
type ProbeError struct {
	Device string // "/dev/sda", or a file name
	Probe  string // "SMART READ DATA", "NVMe SMART/Health log", "LOG SENSE 0Dh", ...
	Err    error  // wraps one of the categories above
}

func (e *ProbeError) Error() string {
	return fmt.Sprintf("%s: %s: %v", e.Device, e.Probe, e.Err)
}

func (e *ProbeError) Unwrap() error { return e.Err }

// malformed builds an ErrMalformed error.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}
