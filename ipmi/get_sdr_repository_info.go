package ipmi

import (
	"context"
	"encoding/binary"
)

// sdrRepositoryInfo is the Get SDR Repository Info response (IPMI v2.0
// §33.9, Table 33-3). The two timestamps change whenever a record is added
// or the repository is erased: they are what the SDR cache is keyed on.
type sdrRepositoryInfo struct {
	Version      uint8
	RecordCount  uint16
	FreeSpace    uint16
	LastAddition uint32
	LastErase    uint32
	Operations   uint8
}

func parseSDRRepositoryInfo(b []byte) (sdrRepositoryInfo, error) {
	if len(b) < 14 {
		return sdrRepositoryInfo{}, errShort("Get SDR Repository Info", len(b), 14)
	}
	return sdrRepositoryInfo{
		Version:      b[0],
		RecordCount:  binary.LittleEndian.Uint16(b[1:3]),
		FreeSpace:    binary.LittleEndian.Uint16(b[3:5]),
		LastAddition: binary.LittleEndian.Uint32(b[5:9]),
		LastErase:    binary.LittleEndian.Uint32(b[9:13]),
		Operations:   b[13],
	}, nil
}

func getSDRRepositoryInfo(ctx context.Context, ex exchanger) (sdrRepositoryInfo, error) {
	b, err := ex.exchange(ctx, netFnStorage, 0x20, "Get SDR Repository Info", nil)
	if err != nil {
		return sdrRepositoryInfo{}, err
	}
	return parseSDRRepositoryInfo(b)
}
