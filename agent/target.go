package agent

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Disk targets are not BMCs: they carry no credentials or TLS settings
// and are named by pseudo-endpoints, so that they share the scan's
// concurrency, deadlines and outputs with the BMC targets.
const (
	LocalDisks         = "local"          // this machine's disks
	SmartctlFilePrefix = "smartctl:"      // a saved smartctl output
	SmartctlExecPrefix = "smartctl-exec:" // smartctl --json -x ARGS, run at each scan
)

// Target is one thing to scan and everything its reader needs.
type Target struct {
	// Endpoint names the target: https://HOST[:PORT], http://HOST:PORT,
	// ipmi://HOST[:PORT], "local", "smartctl:FILE", "smartctl-exec:ARGS".
	// It is the target's name in events, metrics and the store.
	Endpoint string

	Username string
	Password Secret
	// CAFile verifies the BMC's certificate (Redfish over https);
	// Insecure skips verification (an explicit opt-out).
	CAFile    string
	Insecure  bool
	BasicAuth bool
	// MaxLogEntries is how many of the newest log entries each scan reads.
	MaxLogEntries int
	// MaxInFlight bounds the requests in flight to this BMC (Redfish;
	// 0: the reader's default, 4): gentle on a small BMC's web server.
	MaxInFlight int

	// IPMI (ipmi:// targets).
	IPMIInterface string // lanplus (default), lan, open
	CipherSuite   int    // 3 by default
	SDRCacheDir   string

	// Disks (local, smartctl-exec:).
	Devices      []string // local: only these devices (empty: all)
	WakeStandby  bool
	SmartctlPath string // smartctl-exec: the program (default "smartctl")
	// Stdin is read by "smartctl:-".
	Stdin func() io.Reader `json:"-"`

	// Interval overrides the agent's round interval for this target
	// (a disk read hourly among BMCs read every minute).
	Interval time.Duration
}

// Kind is the reader a target needs: "redfish", "ipmi" or "smart".
func (t *Target) Kind() string {
	switch {
	case IsDiskEndpoint(t.Endpoint):
		return "smart"
	case strings.HasPrefix(t.Endpoint, "ipmi://"):
		return "ipmi"
	default:
		return "redfish"
	}
}

// IsDiskEndpoint reports whether an endpoint names disks.
func IsDiskEndpoint(ep string) bool {
	return ep == LocalDisks || strings.HasPrefix(ep, SmartctlFilePrefix) || strings.HasPrefix(ep, SmartctlExecPrefix)
}

// settings is what a kept reader was built with: a target whose settings
// change (a targets file edited, a SIGHUP) gets a new reader. It holds the
// password and is only compared, never printed.
func (t *Target) settings() string {
	return fmt.Sprintf("%s|%s|%s|%s|%t|%t|%d|%s|%d|%s|%q|%t|%s", t.Endpoint, t.Username, t.Password.Reveal(), t.CAFile, t.Insecure,
		t.BasicAuth, t.MaxLogEntries, t.IPMIInterface, t.CipherSuite, t.SDRCacheDir, t.Devices, t.WakeStandby, t.SmartctlPath)
}

// Secret is a password. It prints and marshals as "[redacted]" so that a
// struct holding one can be logged without leaking it.
type Secret string

func (Secret) String() string                 { return "[redacted]" }
func (Secret) GoString() string               { return "[redacted]" }
func (Secret) MarshalText() ([]byte, error)   { return []byte("[redacted]"), nil }
func (s Secret) Format(f fmt.State, _ rune)   { _, _ = io.WriteString(f, "[redacted]") }
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }

// Reveal returns the password itself, for the reader.
func (s Secret) Reveal() string { return string(s) }
