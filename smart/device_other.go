//go:build !linux

package smart

import (
	"context"
	"fmt"
)

// readDisk: reading local disks is implemented for Linux only; smartctl
// captures import everywhere.
func (s *Scanner) readDisk(ctx context.Context, d Disk) (*Report, int, error) {
	return &Report{Device: d.Path, Origin: d.Path, Source: SourceDevice},
		0, &ProbeError{Device: d.Path, Probe: "open", Err: fmt.Errorf("%w: local disks are read on Linux only", ErrUnsupported)}
}
