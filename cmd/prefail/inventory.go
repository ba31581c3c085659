package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/prefail/prefail/agent"
	"github.com/prefail/prefail/lifecycle"
)

// inventoryFlags are the inventory command's options.
type inventoryFlags struct {
	scan         scanFlags
	store        string
	policy       string
	format       string
	output       string
	printDefault bool
}

// maxPolicyFileBytes bounds the --policy file (the parser refuses more).
const maxPolicyFileBytes = 1 << 20

func (a *app) newInventoryCmd() *cobra.Command {
	var f inventoryFlags
	cmd := &cobra.Command{
		Use:   "inventory [TARGET...]",
		Short: "List every part with its age and wear, and what to replace this quarter",
		Long: `Inventory scans the targets (as scan does: the same targets, targets file,
credentials and TLS settings) and lists every part they hold (PSUs, fans,
drives, memory, processors, controllers, the system and its BMC) with its
model, serial and part number, firmware, location, age and wear, and
whether it is due for refresh by the lifecycle policy: now, within the
policy's horizon (90 days by default: "this quarter"), or not, with the
rule that fired and why in words ("powered on 5.3 years (46,400 h), rule
hdd-age: over 5 years"). Then what to order by kind and model, and each
model's firmware versions across the fleet with the outliers.

Ages come from a drive's power-on hours, else the manufacture date the
BMC or FRU gives, else (with --store) the date the agent first recorded
the part. Wear: an SSD's percentage used; with --store, the growth of a
drive's reallocated and pending sectors, a fan's speed and a PSU's
efficiency against their own earliest week in the agent's history, and
the rates that project wear and power-on hours over the horizon. --store
opens the agent's store directly: stop the agent, or point at a copy.

The policy is YAML: --print-default-policy prints the default one, with
its documentation; edit it and pass it with --policy FILE. See
docs/lifecycle.md.

--format table (default) prints for a terminal; csv prints one row per
part with a header, safe to open in a spreadsheet (cells a spreadsheet
would run as formulas are prefixed with '); json prints one document with
the rows, the summary and the firmware outliers. --output FILE writes to
FILE instead of standard output (replaced whole, only once complete).

Exit status: 0 when every target was scanned, 1 when any target failed
(the inventory of the others is still written), 2 on a usage error.`,
		Example: `  prefail inventory --targets bmcs.txt
  prefail inventory --targets bmcs.txt --store /var/lib/prefail --format csv --output inventory.csv
  prefail inventory --print-default-policy > policy.yaml
  prefail inventory --targets bmcs.txt --policy policy.yaml --format json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runInventory(cmd.Context(), args, &f)
		},
	}
	addScanFlags(cmd.Flags(), &f.scan)
	fl := cmd.Flags()
	fl.StringVar(&f.store, "store", "", "read history and first-seen dates from the agent's store `PATH`")
	fl.StringVar(&f.policy, "policy", "", "the refresh policy `FILE` (YAML; default: the embedded one)")
	fl.StringVar(&f.format, "format", "table", "output format: table, csv or json")
	fl.StringVar(&f.output, "output", "", "write to `FILE` instead of standard output")
	fl.BoolVar(&f.printDefault, "print-default-policy", false, "print the default policy (commented YAML) and exit")
	return cmd
}

func (a *app) runInventory(ctx context.Context, args []string, f *inventoryFlags) error {
	if f.printDefault {
		if len(args) > 0 || f.scan.targetsFile != "" {
			return usagef("--print-default-policy takes no targets")
		}
		return a.writeOutput(ctx, "--output", f.output, func(_ context.Context, w io.Writer) error {
			_, err := w.Write(lifecycle.DefaultPolicyYAML())
			return err
		})
	}
	var write func(*lifecycle.Inventory) func(context.Context, io.Writer) error
	switch f.format {
	case "table":
		write = func(inv *lifecycle.Inventory) func(context.Context, io.Writer) error { return inv.WriteTable }
	case "csv":
		write = func(inv *lifecycle.Inventory) func(context.Context, io.Writer) error { return inv.WriteCSV }
	case "json":
		write = func(inv *lifecycle.Inventory) func(context.Context, io.Writer) error { return inv.WriteJSON }
	default:
		return usagef("--format %q: want table, csv or json", f.format)
	}
	policy, err := loadPolicy(ctx, f.policy)
	if err != nil {
		return err
	}
	opts := []lifecycle.Option{lifecycle.WithPolicy(policy), lifecycle.WithNow(a.clock().UTC())}
	var hist *storeHistory
	if f.store != "" {
		store, err := openStoreForReading(f.store)
		if err != nil {
			return err
		}
		defer store.Close()
		hist = &storeHistory{ctx: ctx, store: store, to: a.clock()}
		opts = append(opts, lifecycle.WithHistory(hist.history), lifecycle.WithFirstSeen(hist.firstSeen))
	}
	b, err := lifecycle.NewBuilder(opts...)
	if err != nil {
		return err
	}
	targets, prepare, err := a.scanPlan(ctx, args, &f.scan)
	if err != nil {
		return err
	}
	results := a.scanAll(ctx, targets, f.scan.concurrency, f.scan.timeout, prepare)
	for _, r := range results {
		if r.Err != nil {
			a.log.Warn().Str("target", r.Target).Err(r.Err).Bool("partial", r.Snapshot != nil).
				Msg("scan failed: the inventory lacks this target's parts (or has only those read)")
		}
		if r.Snapshot == nil || (r.Err != nil && len(r.Snapshot.Components) == 0) {
			continue
		}
		if err := b.Add(r.Target, r.Snapshot); err != nil {
			a.log.Warn().Str("target", r.Target).Err(err).Msg("left out of the inventory")
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if hist != nil && hist.err != nil {
		a.log.Warn().Err(hist.err).Int("failed_reads", hist.failed).
			Msg("store: some history could not be read; the wear and first-seen dates of those parts are unknown")
	}
	inv := b.Inventory()
	if err := a.writeOutput(ctx, "--output", f.output, write(inv)); err != nil {
		return err
	}
	return failures(results)
}

// loadPolicy reads the --policy file, or returns the default policy.
func loadPolicy(ctx context.Context, path string) (*lifecycle.Policy, error) {
	if path == "" {
		return lifecycle.DefaultPolicy()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, usagef("--policy: %v", err)
	}
	if !st.Mode().IsRegular() {
		return nil, usagef("--policy %s: not a regular file", path)
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, usagef("--policy: %v", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxPolicyFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("--policy %s: %w", path, err)
	}
	p, err := lifecycle.ParsePolicy(path, data)
	if err != nil {
		return nil, &usageError{err: err}
	}
	return p, nil
}

// openStoreForReading opens the agent's store at path, which must exist
// (OpenStore would create one, and an inventory from an empty store
// would silently lack every history).
func openStoreForReading(path string) (*agent.Store, error) {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, usagef("--store %s: no such store (the agent's --store directory)", path)
		}
		return nil, usagef("--store: %v", err)
	}
	s, err := agent.OpenStore(path)
	if err != nil {
		if strings.Contains(err.Error(), "in use") {
			return nil, fmt.Errorf("%w (an agent holds it: stop it, or copy the store and point --store at the copy)", err)
		}
		return nil, err
	}
	return s, nil
}

// writeOutput runs write on standard output, or on a temporary file in
// the directory of path renamed over path once complete (a failed or
// interrupted run leaves no half-written file); flag names the option in
// errors.
func (a *app) writeOutput(ctx context.Context, flag, path string, write func(context.Context, io.Writer) error) error {
	if path == "" {
		return write(ctx, a.stdout)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("%s: %w", flag, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(ctx, tmp); err != nil {
		return fmt.Errorf("%s %s: %w", flag, path, err)
	}
	// An inventory or a report is no secret, and is meant to be shared.
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("%s %s: %w", flag, path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%s %s: %w", flag, path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("%s %s: %w", flag, path, err)
	}
	done = true
	return nil
}

// storeHistory answers the lifecycle builder from the agent's store: a
// part's readings over everything the store kept (raw, then 5-minute and
// hourly means), and the time of its earliest reading as the date the
// agent first saw it. The builder asks for the readings of one part in a
// row, so each part's series are read once and kept until the next.
//
// The builder's functions have no error: the first failure is kept
// (with a count) for one warning, and the part's history is unknown.
type storeHistory struct {
	ctx   context.Context
	store *agent.Store
	to    time.Time

	target, component string
	series            []agent.Series

	err    error
	failed int
}

func (h *storeHistory) load(target, component string) []agent.Series {
	if target == h.target && component == h.component {
		return h.series
	}
	h.target, h.component, h.series = target, component, nil
	if h.ctx.Err() != nil {
		return nil
	}
	s, err := h.store.History(target, component, time.Time{}, h.to)
	if err != nil {
		if h.err == nil {
			h.err = err
		}
		h.failed++
		return nil
	}
	h.series = s
	return s
}

func (h *storeHistory) history(target, component, reading string) []lifecycle.HistoryPoint {
	var out []lifecycle.HistoryPoint
	for _, s := range h.load(target, component) {
		if s.Component != component || s.Reading != reading {
			continue
		}
		for _, p := range s.Points {
			out = append(out, lifecycle.HistoryPoint{Time: p.Time, Value: p.Value})
		}
	}
	return out
}

func (h *storeHistory) firstSeen(target, component string) (time.Time, bool) {
	var first time.Time
	for _, s := range h.load(target, component) {
		if s.Component != component || len(s.Points) == 0 {
			continue
		}
		if t := s.Points[0].Time; first.IsZero() || t.Before(first) {
			first = t
		}
	}
	return first, !first.IsZero()
}
