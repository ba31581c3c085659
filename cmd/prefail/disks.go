package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/smart"
)

// Disk targets are not BMCs: they carry no credentials or TLS settings and
// are named by pseudo-endpoints so that they share scan's concurrency,
// timeouts, table and JSON document with the BMC targets.
const (
	localEndpoint      = "local"          // this machine's disks (--local, --disk)
	smartctlFilePrefix = "smartctl:"      // a saved smartctl output (--smartctl FILE)
	smartctlExecPrefix = "smartctl-exec:" // smartctl run now (--smartctl-exec ARGS)
)

// diskFlags are scan's options for disks.
type diskFlags struct {
	local        bool
	disks        []string
	wakeStandby  bool
	smartctl     bool
	smartctlExec []string
	smartctlPath string
}

// isDiskEndpoint reports whether a target is one of the disk kinds.
func isDiskEndpoint(ep string) bool {
	return ep == localEndpoint || strings.HasPrefix(ep, smartctlFilePrefix) || strings.HasPrefix(ep, smartctlExecPrefix)
}

// diskTargets turns the disk flags (and, with --smartctl, the FILE
// arguments) into targets. It returns the arguments left for BMC targets.
func diskTargets(args []string, f *diskFlags) ([]*target, []string, error) {
	var ts []*target
	if f.local || len(f.disks) > 0 {
		ts = append(ts, &target{Endpoint: localEndpoint, Where: "command line"})
	}
	rest := args
	if f.smartctl {
		if len(args) == 0 {
			return nil, nil, fmt.Errorf("--smartctl: name the saved smartctl outputs to import (FILE..., - for standard input)")
		}
		rest = nil
		for _, a := range args {
			if strings.Contains(a, "://") {
				rest = append(rest, a) // a BMC target given with the files
				continue
			}
			if a != "-" {
				if _, err := os.Stat(a); err != nil {
					return nil, nil, fmt.Errorf("--smartctl: %w", err)
				}
			}
			ts = append(ts, &target{Endpoint: smartctlFilePrefix + a, Where: "command line"})
		}
	}
	for _, e := range f.smartctlExec {
		if strings.TrimSpace(e) == "" {
			return nil, nil, fmt.Errorf("--smartctl-exec: empty arguments; give the device, e.g. \"-d megaraid,0 /dev/sda\"")
		}
		ts = append(ts, &target{Endpoint: smartctlExecPrefix + e, Where: "command line"})
	}
	return ts, rest, nil
}

// diskScan reads a disk target.
func (a *app) diskScan(f *diskFlags, stdin func() io.Reader) scanFunc {
	return func(ctx context.Context, req scanRequest) (*model.Snapshot, error) {
		ep := req.Endpoint
		snap := &model.Snapshot{Target: ep, Time: a.clock(), Components: []model.Component{}, Events: []model.Event{}, Warnings: []model.Warning{}}
		var (
			rep *smart.Report
			err error
		)
		switch {
		case ep == localEndpoint:
			opts := []smart.Option{smart.WithWakeStandby(f.wakeStandby), smart.WithLogger(a.log.With().Str("target", ep).Logger())}
			if len(f.disks) > 0 {
				opts = append(opts, smart.WithDevices(f.disks...))
			}
			s, _, err := smart.New(opts...).Scan(ctx)
			if s != nil {
				s.Target = ep
			}
			return s, err
		case ep == smartctlFilePrefix+"-":
			data, rerr := io.ReadAll(stdin())
			if rerr != nil {
				return nil, fmt.Errorf("standard input: %w", rerr)
			}
			rep, err = smart.ParseSmartctl(data, "standard input")
		case strings.HasPrefix(ep, smartctlFilePrefix):
			rep, err = smart.ReadSmartctlFile(ctx, strings.TrimPrefix(ep, smartctlFilePrefix))
		case strings.HasPrefix(ep, smartctlExecPrefix):
			rep, err = smart.RunSmartctl(ctx, f.smartctlPath, strings.Fields(strings.TrimPrefix(ep, smartctlExecPrefix))...)
			snap.Requests = 1
		}
		if err != nil {
			return nil, err
		}
		snap.Time = a.clock()
		if !rep.Time.IsZero() {
			snap.Time = rep.Time
		}
		smart.AddReports(snap, []*smart.Report{rep})
		return snap, nil
	}
}
