package smart

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// ParseSmartctl imports smartctl output, JSON (`smartctl --json`) or
// classic text (`smartctl -a`, `-x`), telling them apart by the first
// non-blank byte. origin names the file or command for reports and errors.
func ParseSmartctl(data []byte, origin string) (*Report, error) {
	var (
		r   *Report
		err error
	)
	if t := bytes.TrimLeft(data, " \t\r\n\ufeff"); len(t) > 0 && t[0] == '{' {
		r, err = ParseSmartctlJSON(data)
	} else {
		r, err = ParseSmartctlText(data)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", origin, err)
	}
	r.Origin = origin
	return r, nil
}

// ReadSmartctlFile imports one saved smartctl output ("-" is standard
// input, read by the caller: use ParseSmartctl).
func ReadSmartctlFile(ctx context.Context, path string) (*Report, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseSmartctl(data, path)
}

// RunSmartctl runs `smartctl --json -x ARGS...` (ARGS name the device and
// any -d type: "-d megaraid,0 /dev/sda", "-d sat /dev/sdb") and imports
// its output. This is how disks behind RAID controllers and USB bridges,
// which prefail's own reader cannot address, reach the same model.
//
// smartctl's exit status is a bit mask (smartctl(8) EXIT STATUS): bits 0-2
// mean the command failed, bits 3-7 describe the disk. Only a failed
// command without usable output is an error; disk bits are in the report.
func RunSmartctl(ctx context.Context, smartctl string, args ...string) (*Report, error) {
	if smartctl == "" {
		smartctl = "smartctl"
	}
	full := append([]string{"--json=c", "-x"}, args...)
	origin := "smartctl " + strings.Join(args, " ")
	cmd := exec.CommandContext(ctx, smartctl, full...)
	cmd.WaitDelay = 2 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s: %w", origin, ctx.Err())
	}
	var exitErr *exec.ExitError
	status := 0
	switch {
	case errors.As(err, &exitErr):
		status = exitErr.ExitCode()
	case err != nil:
		return nil, fmt.Errorf("%s: %w", origin, err)
	}
	r, perr := ParseSmartctl(out, origin)
	if perr != nil {
		if status != 0 {
			return nil, fmt.Errorf("%s: exit status %d (%s): %s", origin, status, smartctlExitText(status), firstLine(stderr.String()))
		}
		return nil, perr
	}
	if status&0x07 != 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("smartctl exit status %d: %s", status, smartctlExitText(status)))
	}
	return r, nil
}

// smartctlExitText names the bits of smartctl's exit status.
func smartctlExitText(status int) string {
	names := []string{
		"command line did not parse",
		"device open failed or device did not return an IDENTIFY",
		"a SMART or other command failed, or a checksum error",
		"SMART status: disk failing",
		"prefail attributes at or below threshold",
		"an attribute was at or below threshold in the past",
		"the error log has errors",
		"the self-test log has errors",
	}
	var out []string
	for i, n := range names {
		if status&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return strings.Join(out, "; ")
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
