package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/prefail/prefail/ipmi"
	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/redfish"
	"github.com/prefail/prefail/smart"
)

// Reader reads one target. The agent keeps one per target for the whole
// run: a Redfish reader keeps its session (logging in again when the BMC
// drops it), an IPMI reader its SDR repository and SEL cursor. A Reader
// is used by one goroutine at a time.
type Reader interface {
	Scan(ctx context.Context) (*model.Snapshot, error)
	// Close releases the reader: a Redfish session is deleted.
	Close(ctx context.Context) error
}

// CursorReader is a reader with a position to persist across restarts
// (IPMI: the SEL cursor, so that a restart reads only what was logged
// since).
type CursorReader interface {
	Reader
	Cursor() json.RawMessage
	SetCursor(json.RawMessage) error
}

// ReaderFactory builds a target's reader; NewReader is the default, and
// tests hand the agent their own.
type ReaderFactory func(t *Target, env ReaderEnv) (Reader, error)

// ReaderEnv is what the agent lends every reader.
type ReaderEnv struct {
	Log zerolog.Logger
	// Memory bounds the Redfish responses all scans hold at once (nil:
	// each scan's own budget only).
	Memory *redfish.MemoryPool
	// Now is the clock disk snapshots are stamped with (time.Now when nil).
	Now func() time.Time
}

// NewReader returns the reader for the target's scheme: the one place
// that knows which reader reads what.
func NewReader(t *Target, env ReaderEnv) (Reader, error) {
	log := env.Log.With().Str("target", t.Endpoint).Logger()
	switch t.Kind() {
	case "smart":
		return &diskReader{t: *t, log: log, now: env.Now}, nil
	case "ipmi":
		return newIPMIReader(t, log)
	default:
		return newRedfishReader(t, env.Memory, log)
	}
}

// redfishReader is a long-lived Redfish client: one session for every
// scan of the run.
type redfishReader struct{ c *redfish.Client }

func newRedfishReader(t *Target, pool *redfish.MemoryPool, log zerolog.Logger) (*redfishReader, error) {
	opts := []redfish.Option{redfish.WithMaxLogEntries(t.MaxLogEntries), redfish.WithLogger(log), redfish.WithMaxInFlight(t.MaxInFlight)}
	if pool != nil {
		opts = append(opts, redfish.WithMemoryPool(pool))
	}
	if t.Username != "" {
		opts = append(opts, redfish.WithCredentials(t.Username, t.Password.Reveal()))
	}
	if t.BasicAuth {
		opts = append(opts, redfish.WithBasicAuth())
	}
	if strings.HasPrefix(t.Endpoint, "https://") {
		switch {
		case t.Insecure:
			opts = append(opts, redfish.WithInsecure())
		case t.CAFile != "":
			opts = append(opts, redfish.WithCAFile(t.CAFile))
		}
	}
	c, err := redfish.New(t.Endpoint, opts...)
	if err != nil {
		return nil, err
	}
	return &redfishReader{c: c}, nil
}

func (r *redfishReader) Scan(ctx context.Context) (*model.Snapshot, error) {
	// The session is kept for the next scan, the connections are not
	// (redfish.Client.CloseIdleConnections says why).
	defer r.c.CloseIdleConnections()
	return r.c.Scan(ctx)
}

func (r *redfishReader) Close(ctx context.Context) error {
	_, err := r.c.Close(ctx)
	return err
}

// ipmiReader keeps an IPMI client: its SDR repository (checked against
// the BMC's timestamps at every scan), SEL cursor and unpaired SEL
// assertions. IPMI sessions are opened and closed by each scan: BMCs
// allow few, and drop idle ones within a minute (IPMI v2.0 §6.12.15).
type ipmiReader struct {
	endpoint string
	c        *ipmi.Client
}

func newIPMIReader(t *Target, log zerolog.Logger) (*ipmiReader, error) {
	iface := t.IPMIInterface
	if iface == "" {
		iface = string(ipmi.InterfaceLANPlus)
	}
	suite := t.CipherSuite
	if suite == 0 {
		suite = 3
	}
	opts := []ipmi.Option{
		ipmi.WithInterface(ipmi.Interface(iface)),
		ipmi.WithCipherSuite(suite),
		ipmi.WithMaxSELEntries(t.MaxLogEntries),
		ipmi.WithSDRCacheDir(t.SDRCacheDir),
		ipmi.WithLogger(log),
	}
	if t.Username != "" || t.Password != "" {
		opts = append(opts, ipmi.WithCredentials(t.Username, t.Password.Reveal()))
	}
	c, err := ipmi.New(strings.TrimPrefix(t.Endpoint, "ipmi://"), opts...)
	if err != nil {
		return nil, err
	}
	return &ipmiReader{endpoint: t.Endpoint, c: c}, nil
}

func (r *ipmiReader) Scan(ctx context.Context) (*model.Snapshot, error) {
	snap, err := r.c.Scan(ctx)
	if snap != nil {
		snap.Target = r.endpoint
	}
	return snap, err
}

func (r *ipmiReader) Close(context.Context) error { return nil }

func (r *ipmiReader) Cursor() json.RawMessage {
	cur := r.c.SELCursor()
	if cur == nil {
		return nil
	}
	b, _ := json.Marshal(cur) // plain numbers: cannot fail
	return b
}

func (r *ipmiReader) SetCursor(b json.RawMessage) error {
	if len(b) == 0 {
		return nil
	}
	var cur ipmi.SELCursor
	if err := json.Unmarshal(b, &cur); err != nil {
		return fmt.Errorf("%s: saved SEL cursor: %w", r.endpoint, err)
	}
	r.c.SetSELCursor(&cur)
	return nil
}

// diskReader reads disks: this machine's, a saved smartctl output, or
// smartctl run at each scan.
type diskReader struct {
	t   Target
	log zerolog.Logger
	now func() time.Time
}

func (r *diskReader) clock() time.Time {
	if r.now != nil {
		return r.now()
	}
	return time.Now()
}

func (r *diskReader) Close(context.Context) error { return nil }

func (r *diskReader) Scan(ctx context.Context) (*model.Snapshot, error) {
	ep := r.t.Endpoint
	snap := &model.Snapshot{Target: ep, Time: r.clock(), Components: []model.Component{}, Events: []model.Event{}, Warnings: []model.Warning{}}
	var (
		rep *smart.Report
		err error
	)
	switch {
	case ep == LocalDisks:
		opts := []smart.Option{smart.WithWakeStandby(r.t.WakeStandby), smart.WithLogger(r.log)}
		if len(r.t.Devices) > 0 {
			opts = append(opts, smart.WithDevices(r.t.Devices...))
		}
		s, _, err := smart.New(opts...).Scan(ctx)
		if s != nil {
			s.Target = ep
		}
		return s, err
	case ep == SmartctlFilePrefix+"-":
		var in io.Reader = strings.NewReader("")
		if r.t.Stdin != nil {
			in = r.t.Stdin()
		}
		data, rerr := io.ReadAll(in)
		if rerr != nil {
			return nil, fmt.Errorf("standard input: %w", rerr)
		}
		rep, err = smart.ParseSmartctl(data, "standard input")
	case strings.HasPrefix(ep, SmartctlFilePrefix):
		rep, err = smart.ReadSmartctlFile(ctx, strings.TrimPrefix(ep, SmartctlFilePrefix))
	case strings.HasPrefix(ep, SmartctlExecPrefix):
		prog := r.t.SmartctlPath
		if prog == "" {
			prog = "smartctl"
		}
		rep, err = smart.RunSmartctl(ctx, prog, strings.Fields(strings.TrimPrefix(ep, SmartctlExecPrefix))...)
		snap.Requests = 1
	default:
		return nil, fmt.Errorf("%s: not a disk target", ep)
	}
	if err != nil {
		return nil, err
	}
	snap.Time = r.clock()
	if !rep.Time.IsZero() {
		snap.Time = rep.Time
	}
	smart.AddReports(snap, []*smart.Report{rep})
	return snap, nil
}
