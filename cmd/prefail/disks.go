package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/prefail/prefail/agent"
)

// Disk targets are not BMCs: they carry no credentials or TLS settings and
// are named by pseudo-endpoints so that they share scan's concurrency,
// timeouts, table and JSON document with the BMC targets.
const (
	localEndpoint      = agent.LocalDisks         // this machine's disks (--local, --disk)
	smartctlFilePrefix = agent.SmartctlFilePrefix // a saved smartctl output (--smartctl FILE)
	smartctlExecPrefix = agent.SmartctlExecPrefix // smartctl run now (--smartctl-exec ARGS)
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
func isDiskEndpoint(ep string) bool { return agent.IsDiskEndpoint(ep) }

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
