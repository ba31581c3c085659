package smart

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Our own SG_IO path. smart.go v0.0.0-20260723175002-53b369c3973c keeps
// its SG_IO helper unexported, discards the sense data (so an ATA
// PASS-THROUGH with CK_COND cannot return the ATA registers: it never
// issues SMART RETURN STATUS or CHECK POWER MODE), and has no LOG SENSE.
// This file issues those commands itself (SG_IO v3, Linux
// include/scsi/sg.h).

const (
	sgIO            = 0x2285
	sgDxferNone     = -1
	sgDxferFromDev  = -3
	sgInfoOKMask    = 0x1
	scsiCheckStatus = 0x02
)

// sgIoHdr is struct sg_io_hdr (v3 interface).
type sgIoHdr struct {
	interfaceID    int32
	dxferDirection int32
	cmdLen         uint8
	mxSbLen        uint8
	iovecCount     uint16
	dxferLen       uint32
	dxferp         uintptr
	cmdp           uintptr
	sbp            uintptr
	timeout        uint32
	flags          uint32
	packID         int32
	usrPtr         uintptr
	status         uint8
	maskedStatus   uint8
	msgStatus      uint8
	sbLenWr        uint8
	hostStatus     uint16
	driverStatus   uint16
	resid          int32
	duration       uint32
	info           uint32
}

// sgResult is what came back from one command.
type sgResult struct {
	status uint8  // SCSI status
	sense  []byte // sense data, when any
	resid  int    // bytes not transferred
}

// sgCommand sends cdb to fd, reading into buf (nil for no data). A CHECK
// CONDITION is returned as a result with its sense, not as an error: the
// caller decides (CK_COND pass-through always ends in one).
func sgCommand(fd int, cdb, buf []byte, timeout time.Duration) (sgResult, error) {
	sense := make([]byte, 64)
	hdr := sgIoHdr{
		interfaceID:    'S',
		dxferDirection: sgDxferNone,
		cmdLen:         uint8(len(cdb)),
		mxSbLen:        uint8(len(sense)),
		cmdp:           uintptr(unsafe.Pointer(&cdb[0])),
		sbp:            uintptr(unsafe.Pointer(&sense[0])),
		timeout:        uint32(timeout / time.Millisecond),
	}
	if len(buf) > 0 {
		hdr.dxferDirection = sgDxferFromDev
		hdr.dxferLen = uint32(len(buf))
		hdr.dxferp = uintptr(unsafe.Pointer(&buf[0]))
	}
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), sgIO, uintptr(unsafe.Pointer(&hdr))); errno != 0 {
		return sgResult{}, errnoError(errno)
	}
	res := sgResult{status: hdr.status, resid: int(hdr.resid)}
	if hdr.sbLenWr > 0 {
		res.sense = sense[:hdr.sbLenWr]
	}
	if hdr.info&sgInfoOKMask != 0 && hdr.status != scsiCheckStatus {
		return res, fmt.Errorf("%w: SCSI status %#02x, host status %#02x, driver status %#02x",
			ErrDevice, hdr.status, hdr.hostStatus, hdr.driverStatus)
	}
	return res, nil
}

// errnoError maps an errno to our categories, keeping its text.
func errnoError(errno unix.Errno) error {
	switch errno {
	case unix.EACCES, unix.EPERM:
		return fmt.Errorf("%w (%v): run as root, or grant CAP_SYS_RAWIO (SATA/SAS) / CAP_SYS_ADMIN (NVMe)", ErrPermission, errno)
	case unix.ENOENT, unix.ENXIO, unix.ENODEV:
		return fmt.Errorf("%w (%v)", ErrNotFound, errno)
	case unix.ENOTTY, unix.EINVAL, unix.EOPNOTSUPP:
		return fmt.Errorf("%w (%v)", ErrUnsupported, errno)
	}
	return fmt.Errorf("%w (%v)", ErrDevice, errno)
}

// wrapErrno maps a bare errno from smart.go to our categories.
func wrapErrno(err error) error {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errnoError(errno)
	}
	if errors.Is(err, ErrPermission) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnsupported) ||
		errors.Is(err, ErrDevice) || errors.Is(err, ErrMalformed) {
		return err
	}
	return fmt.Errorf("%w: %v", ErrDevice, err)
}

// senseKey returns the sense key and ASC/ASCQ of fixed (70h/71h) or
// descriptor (72h/73h) sense data (SPC-5 4.4).
func senseKey(s []byte) (key, asc, ascq uint8, ok bool) {
	if len(s) < 4 {
		return 0, 0, 0, false
	}
	switch s[0] & 0x7f {
	case 0x70, 0x71:
		if len(s) < 14 {
			return s[2] & 0x0f, 0, 0, true
		}
		return s[2] & 0x0f, s[12], s[13], true
	case 0x72, 0x73:
		return s[1] & 0x0f, s[2], s[3], true
	}
	return 0, 0, 0, false
}
