package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/prefail/prefail/detector"
)

// watchFlags are the watch command's options, on top of scan's.
type watchFlags struct {
	scan       scanFlags
	interval   time.Duration
	stateFile  string
	configFile string
	rounds     int
}

func (a *app) newWatchCmd() *cobra.Command {
	var f watchFlags
	cmd := &cobra.Command{
		Use:   "watch [TARGET...]",
		Short: "Scan targets every --interval and print degradation events as JSON Lines",
		Long: `Watch is the agent: it scans the targets (the same targets and options as
scan: BMCs, --local disks, smartctl captures) every --interval, scores every
component with the detector and prints an event on stdout, one JSON object
per line, when a component starts degrading, escalates to failing, or
recovers. Nothing is printed while nothing changes.

The detector's state (every component's history and verdict) is kept in
--state and read back at start, so a restart neither forgets a degrading fan
nor raises its alarm again. Scan failures are logged on stderr; the other
targets are scored as usual.`,
		Example: `  PREFAIL_USERNAME=admin PREFAIL_PASSWORD=... prefail watch --targets bmcs.txt --state /var/lib/prefail/state.json
  sudo prefail watch --local --interval 1h --state /var/lib/prefail/disks.json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runWatch(cmd.Context(), args, &f)
		},
	}
	addScanFlags(cmd.Flags(), &f.scan)
	fl := cmd.Flags()
	fl.DurationVar(&f.interval, "interval", 5*time.Minute, "time between the starts of two scans")
	fl.StringVar(&f.stateFile, "state", "", "keep the detector's state in `FILE` (read at start, rewritten after every round)")
	fl.StringVar(&f.configFile, "config", "", "detector configuration `FILE` (JSON over the defaults; see docs/detector.md)")
	fl.IntVar(&f.rounds, "rounds", 0, "stop after N rounds (0: run until interrupted)")
	return cmd
}

func (a *app) runWatch(ctx context.Context, args []string, f *watchFlags) error {
	if f.interval <= 0 {
		return usagef("--interval must be positive, got %s", f.interval)
	}
	if f.rounds < 0 {
		return usagef("--rounds must be 0 or more, got %d", f.rounds)
	}
	cfg := detector.DefaultConfig()
	if f.configFile != "" {
		var err error
		if cfg, err = loadDetectorConfig(f.configFile); err != nil {
			return &usageError{err: err}
		}
	}
	if err := checkStateDir(f.stateFile); err != nil {
		return err
	}
	d, err := loadDetectorState(f.stateFile, cfg)
	if err != nil {
		return err
	}
	status, err := loadTargetStatus(f.stateFile)
	if err != nil {
		return err
	}
	targets, prepare, err := a.scanPlan(ctx, args, &f.scan)
	if err != nil {
		return err
	}
	// One Redfish client (and session) per target for the whole run,
	// logged out on the way out, also when interrupted.
	a.clients = newRedfishClients()
	defer a.clients.closeAll(context.WithoutCancel(ctx))
	enc := json.NewEncoder(a.stdout)
	tick := time.NewTicker(f.interval)
	defer tick.Stop()
	for round := 1; ; round++ {
		for _, r := range a.scanAll(ctx, targets, f.scan.concurrency, f.scan.timeout, prepare) {
			if r.Err != nil {
				a.log.Warn().Str("target", r.Target).Err(r.Err).Msg("scan failed")
			}
			if ctx.Err() != nil {
				break // interrupted: a target cut short is not unreachable
			}
			if ev := status.observe(r, a.clock()); ev != nil {
				if err := enc.Encode(ev); err != nil {
					return err
				}
			}
			if r.Snapshot == nil || len(r.Snapshot.Components) == 0 {
				continue
			}
			for _, ev := range d.Observe(r.Snapshot) {
				if err := enc.Encode(watchEventOf(&ev)); err != nil {
					return err
				}
			}
		}
		if err := saveDetectorState(f.stateFile, d); err != nil {
			return err
		}
		if err := saveTargetStatus(f.stateFile, status); err != nil {
			return err
		}
		if f.rounds > 0 && round >= f.rounds {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil // interrupted: the state of the last round is saved
		case <-tick.C:
		}
	}
}

// watchEvent is replay's JSON Lines event with the target it concerns.
type watchEvent struct {
	Target string `json:"target"`
	replayEvent
}

func watchEventOf(ev *detector.Event) watchEvent {
	return watchEvent{Target: ev.Component.Target, replayEvent: replayEventOf(ev)}
}

// checkStateDir makes sure --state can be written before the first round:
// its directory is created if missing (0700: the state names every
// server), and a directory that cannot be written to is an error now,
// not after a round whose events would then be printed but never saved.
func checkStateDir(path string) error {
	if path == "" {
		return nil
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("--state %s: cannot create its directory: %w", path, err)
	}
	probe, err := os.CreateTemp(dir, ".prefail-state-probe-*")
	if err != nil {
		return fmt.Errorf("--state %s: the directory is not writable: %w", path, err)
	}
	probe.Close()
	return os.Remove(probe.Name())
}

// loadDetectorState restores the detector saved in path; a missing file
// starts afresh.
func loadDetectorState(path string, cfg detector.Config) (*detector.Detector, error) {
	if path != "" {
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			d, err := detector.Restore(cfg, b)
			if err != nil {
				return nil, fmt.Errorf("--state %s: %w", path, err)
			}
			return d, nil
		case !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("--state: %w", err)
		}
	}
	return detector.New(cfg)
}

// saveDetectorState writes the state atomically (a temporary file renamed
// over the old one), so a crash mid-write never leaves half a state.
func saveDetectorState(path string, d *detector.Detector) error {
	if path == "" {
		return nil
	}
	b, err := d.State()
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b)
}

// writeFileAtomic writes b to path through a temporary file, synced and
// renamed over the old one, so a crash mid-write never leaves half a file.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".prefail-state-*")
	if err != nil {
		return fmt.Errorf("--state: %w", err)
	}
	_, werr := tmp.Write(b)
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("--state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("--state: %w", err)
	}
	return nil
}
