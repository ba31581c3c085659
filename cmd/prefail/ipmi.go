package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/prefail/prefail/ipmi"
	"github.com/prefail/prefail/model"
)

// defaultSDRCacheDir is where IPMI SDR caches live unless --sdr-cache
// says otherwise: the user's cache directory, or none if there is none.
func defaultSDRCacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "prefail", "sdr")
}

// ipmiScan reads one ipmi:// target with the IPMI reader.
func (a *app) ipmiScan(ctx context.Context, req scanRequest) (*model.Snapshot, error) {
	hostport := strings.TrimPrefix(req.Endpoint, "ipmi://")
	opts := []ipmi.Option{
		ipmi.WithInterface(ipmi.Interface(req.IPMIInterface)),
		ipmi.WithCipherSuite(req.CipherSuite),
		ipmi.WithMaxSELEntries(req.MaxLogEntries),
		ipmi.WithSDRCacheDir(req.SDRCacheDir),
		ipmi.WithLogger(a.log.With().Str("target", req.Endpoint).Logger()),
	}
	if req.Username != "" || req.Password != "" {
		opts = append(opts, ipmi.WithCredentials(req.Username, req.Password.reveal()))
	}
	snap, err := ipmi.Scan(ctx, hostport, opts...)
	if snap != nil {
		snap.Target = req.Endpoint
	}
	return snap, err
}
