package ipmi

import "context"

// getSensorReading reads one sensor (IPMI v2.0 §35.14, Table 35-15) and
// returns the response data for ParseSensorReading.
func getSensorReading(ctx context.Context, ex exchanger, number uint8) ([]byte, error) {
	return ex.exchange(ctx, netFnSensor, 0x2d, "Get Sensor Reading", []byte{number})
}
