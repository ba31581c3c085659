package smart

import (
	"fmt"
	"time"
)

// ATA commands issued through ATA PASS-THROUGH (16) (SAT-4 12.2.2) that
// smart.go cannot issue: they return their result in the ATA registers,
// which only come back with CK_COND=1.
const (
	sat16                    = 0x85
	ataCheckPowerMode        = 0xe5
	ataSMART                 = 0xb0
	smartReturnStatusFeature = 0xda
	ataCommandTimeout        = 10 * time.Second
)

// ataNonData issues a non-data ATA command and returns its registers.
func ataNonData(fd int, command, feature, lbaLow, lbaMid, lbaHigh uint8) (ataRegisters, error) {
	cdb := make([]byte, 16)
	cdb[0] = sat16
	cdb[1] = 3 << 1 // PROTOCOL 3: non-data
	cdb[2] = 0x20   // CK_COND=1: return the registers; no data transfer
	cdb[4] = feature
	cdb[8] = lbaLow
	cdb[10] = lbaMid
	cdb[12] = lbaHigh
	cdb[14] = command
	res, err := sgCommand(fd, cdb, nil, ataCommandTimeout)
	if err != nil {
		return ataRegisters{}, err
	}
	regs, ok := ataRegistersFromSense(res.sense)
	if !ok {
		return ataRegisters{}, fmt.Errorf("%w: the SCSI-ATA translation returned no ATA registers (CK_COND ignored)", ErrUnsupported)
	}
	if regs.Status&0x01 != 0 { // ERR bit: the drive aborted the command
		return regs, fmt.Errorf("%w: ATA command %02Xh aborted (status %#02x, error %#02x)", ErrDevice, command, regs.Status, regs.Error)
	}
	return regs, nil
}

// checkPowerMode issues CHECK POWER MODE (E5h), which never spins a drive up.
func checkPowerMode(fd int) (string, error) {
	r, err := ataNonData(fd, ataCheckPowerMode, 0, 0, 0, 0)
	if err != nil {
		return "", err
	}
	return ataPowerMode(r.Count), nil
}

// smartStatus issues SMART RETURN STATUS (B0h/DAh).
func smartStatus(fd int) (bool, error) {
	r, err := ataNonData(fd, ataSMART, smartReturnStatusFeature, 0, 0x4f, 0xc2)
	if err != nil {
		return false, err
	}
	passed, known := smartReturnStatus(r)
	if !known {
		return false, fmt.Errorf("%w: SMART RETURN STATUS: unexpected LBA mid/high %02X%02Xh", ErrDevice, r.LBAHigh, r.LBAMid)
	}
	return passed, nil
}
