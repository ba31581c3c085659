package smart

// ATA self-test log (ACS-3 A.16 SMART self-test log, log address 06h):
// each entry's status byte holds the execution status in its high nibble
// (ACS-3 Table 48, the same values as the SMART data "self-test execution
// status") and the percentage remaining in its low nibble.

// ataSelfTestResult returns smartctl's words for an execution status
// nibble, and whether it is a failure of the drive.
func ataSelfTestResult(status uint8) (text string, failed, inProgress bool) {
	switch status >> 4 {
	case 0x0:
		return "Completed without error", false, false
	case 0x1:
		return "Aborted by host", false, false
	case 0x2:
		return "Interrupted (host reset)", false, false
	case 0x3:
		return "Fatal or unknown error", true, false
	case 0x4:
		return "Completed: unknown failure", true, false
	case 0x5:
		return "Completed: electrical failure", true, false
	case 0x6:
		return "Completed: servo/seek failure", true, false
	case 0x7:
		return "Completed: read failure", true, false
	case 0x8:
		return "Completed: handling damage??", true, false
	case 0xf:
		return "Self-test routine in progress", false, true
	}
	return "Unknown status", false, false
}

// ataSelfTestType names the subcommand of a self-test log entry (the LBA
// low field, ACS-3 Table 130).
func ataSelfTestType(sub uint8) string {
	switch sub {
	case 0x00:
		return "offline"
	case 0x01, 0x81:
		return "short"
	case 0x02, 0x82:
		return "extended"
	case 0x03, 0x83:
		return "conveyance"
	case 0x04, 0x84:
		return "selective"
	}
	return "vendor"
}
