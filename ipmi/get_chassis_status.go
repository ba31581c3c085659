package ipmi

import "context"

// getChassisStatus reads the chassis status (IPMI v2.0 §28.2, Table 28-3)
// and returns the response data for ParseChassisStatus.
func getChassisStatus(ctx context.Context, ex exchanger) ([]byte, error) {
	return ex.exchange(ctx, netFnChassis, 0x01, "Get Chassis Status", nil)
}
