package main

import (
	"time"

	"github.com/spf13/cobra"
)

// watch is the agent printing its events on standard output, without
// the metrics listener: the quick way to watch a few servers from a
// terminal. --state is the agent's store.
func (a *app) newWatchCmd() *cobra.Command {
	var f agentFlags
	cmd := &cobra.Command{
		Use:   "watch [TARGET...]",
		Short: "Scan targets every --interval and print degradation events as JSON Lines",
		Long: `Watch is the agent (see 'prefail agent') printing its events on standard
output, one JSON object per line (docs/event.schema.json), without a
metrics listener. It scans the targets (the same targets and options as
scan: BMCs, --local disks, smartctl captures) every --interval, scores
every component with the detector and prints an event when a component
starts degrading, escalates to failing, or recovers, and when a target
stops answering or answers again. Nothing is printed while nothing changes.

--state keeps the agent's store (a directory, or a FILE.db): every
component's history and verdict, read back at start, so a restart neither
forgets a degrading fan nor raises its alarm again. Scan failures are
logged on stderr; the other targets are scored as usual.`,
		Example: `  PREFAIL_USERNAME=admin PREFAIL_PASSWORD=... prefail watch --targets bmcs.txt --state /var/lib/prefail
  sudo prefail watch --local --interval 1h --state /var/lib/prefail/disks.db`,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.stdout = true
			return a.runAgent(cmd.Context(), args, &f, cmd)
		},
	}
	addScanFlags(cmd.Flags(), &f.scan)
	agentMemoryDefault(cmd)
	fl := cmd.Flags()
	fl.DurationVar(&f.interval, "interval", 5*time.Minute, "time between the starts of two scans")
	fl.StringVar(&f.store, "state", "", "keep the agent's store in `PATH` (a directory, or a FILE.db; read at start, committed after every target's scan)")
	fl.StringVar(&f.detectorConfig, "config", "", "detector configuration `FILE` (JSON over the defaults; see docs/detector.md)")
	fl.IntVar(&f.rounds, "rounds", 0, "stop after N rounds (0: run until interrupted)")
	return cmd
}
