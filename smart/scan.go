package smart

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/prefail/prefail/model"
)

// Scanner reads this machine's disks. It holds configuration only: every
// Scan lists the disks afresh (hot-plug) and opens each device for the
// duration of its read.
type Scanner struct {
	opts options
	now  func() time.Time
}

// New returns a Scanner.
func New(opts ...Option) *Scanner {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	return &Scanner{opts: o, now: time.Now}
}

// Disks lists the disks a Scan reads: those of WithDevices, else every disk
// in sysfs.
func (s *Scanner) Disks() ([]Disk, error) {
	all, err := ListDisks(s.opts.sysRoot, s.opts.devRoot)
	if err != nil && len(s.opts.devices) == 0 {
		return nil, err
	}
	if len(s.opts.devices) == 0 {
		return all, nil
	}
	var out []Disk
	for _, p := range s.opts.devices {
		i := slices.IndexFunc(all, func(d Disk) bool { return d.Path == p })
		if i >= 0 {
			out = append(out, all[i])
			continue
		}
		d, err := diskForPath(p)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// diskForPath guesses the protocol of a device sysfs did not list (an
// sg node, a path under /dev/disk/by-id).
func diskForPath(p string) (Disk, error) {
	if _, err := os.Stat(p); err != nil {
		return Disk{}, &ProbeError{Device: p, Probe: "open", Err: wrapErrno(err)}
	}
	d := Disk{Name: p, Path: p, Protocol: ProtocolATA}
	if base := filepath.Base(p); nvmeController.MatchString(base) || nvmeNamespace.MatchString(base) {
		d.Protocol, d.Transport = ProtocolNVMe, "NVMe"
	}
	return d, nil
}

// Scan reads every disk and returns one snapshot: a drive component per
// disk (one that could not be read is there with health unknown and the
// reason), and a warning per failed probe. It fails only when the disks
// cannot be listed at all.
func (s *Scanner) Scan(ctx context.Context) (*model.Snapshot, []*Report, error) {
	disks, err := s.Disks()
	if err != nil {
		return nil, nil, err
	}
	host, _ := os.Hostname()
	snap := &model.Snapshot{Target: "local:" + host, Time: s.now(), Components: []model.Component{}, Events: []model.Event{}, Warnings: []model.Warning{}}
	var (
		reports      []*Report
		read, denied int
		deniedErr    error
	)
	for _, d := range disks {
		if d.Skip != "" {
			snap.Warnings = append(snap.Warnings, model.Warning{Source: d.Path, Message: "not read: " + d.Skip})
			continue
		}
		rep, n, err := s.readDisk(ctx, d)
		snap.Requests += n
		read++
		if err != nil {
			rep.Protocol = ""
			rep.Warnings = append(rep.Warnings, err.Error())
			if errors.Is(err, ErrPermission) {
				denied, deniedErr = denied+1, err
			}
		}
		reports = append(reports, rep)
	}
	AddReports(snap, reports)
	if err := ctx.Err(); err != nil {
		return snap, reports, fmt.Errorf("local disks: %w", err)
	}
	if read > 0 && denied == read {
		// Not one disk could be read, all for want of privilege: the scan
		// as a whole failed, and one reason covers them all.
		return snap, reports, fmt.Errorf("local disks: none of %d readable: %w", read, deniedErr)
	}
	return snap, reports, nil
}

// AddReports appends the reports' drive components and warnings to snap.
func AddReports(snap *model.Snapshot, reports []*Report) {
	for _, r := range reports {
		snap.Components = append(snap.Components, r.Component())
		for _, w := range r.Warnings {
			snap.Warnings = append(snap.Warnings, model.Warning{Source: r.Origin, Message: w})
		}
	}
}
