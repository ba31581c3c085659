package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/redfish"
)

// app is one invocation of the CLI: its streams, its environment and the
// seams the tests use. Nothing in this package is global.
type app struct {
	stdout, stderr io.Writer
	lookupEnv      func(string) (string, bool)

	// now is the wall clock (time.Now when nil).
	now func() time.Time
	// scanTarget reads one target (redfish when nil).
	scanTarget scanFunc
	// stdin is standard input (empty when nil).
	stdin io.Reader
	// onListen, when set, is told the URL a `mock` server listens on.
	onListen func(url string)
	// wait, when set, is the agent's wait between rounds (a simulated
	// clock's, with now).
	wait func(ctx context.Context, until time.Time) bool
	// hangups, when set, replaces SIGHUP for the agent's reloads (tests).
	hangups <-chan struct{}
	// memory is shared by the Redfish scans of the run (--memory-limit).
	memory *redfish.MemoryPool

	log zerolog.Logger
}

// scanFunc reads one target into a snapshot. It must honour ctx; the caller
// also stops waiting for it when ctx is done.
type scanFunc func(ctx context.Context, req scanRequest) (*model.Snapshot, error)

func (a *app) clock() time.Time {
	if a.now != nil {
		return a.now()
	}
	return time.Now()
}

func (a *app) stdinReader() io.Reader {
	if a.stdin == nil {
		return strings.NewReader("")
	}
	return a.stdin
}

func (a *app) getenv(key string) string {
	if a.lookupEnv == nil {
		return ""
	}
	v, _ := a.lookupEnv(key)
	return v
}

// run parses args and runs the command they name.
func (a *app) run(ctx context.Context, args []string) error {
	a.stdout = &lockedWriter{w: a.stdout}
	a.stderr = &lockedWriter{w: a.stderr}
	a.log = zerolog.Nop()
	root := a.newRoot()
	root.SetArgs(args)
	root.SetIn(strings.NewReader(""))
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	cmd, err := root.ExecuteContextC(ctx)
	var ue *usageError
	if errors.As(err, &ue) && ue.cmd == "" && cmd != nil {
		ue.cmd = cmd.CommandPath()
	}
	return err
}

func (a *app) newRoot() *cobra.Command {
	var logLevel string
	root := &cobra.Command{
		Use:   "prefail",
		Short: "Catch failing PSUs, fans and disks before they take the server down",
		Long: `prefail reads the raw hardware signals of bare-metal servers (their BMCs
over Redfish or IPMI, their disks' SMART data, saved smartctl output) and
reports the health of their PSUs, fans, disks and sensors, worst first, with
the thresholds each reading is measured against.

Start with 'prefail demo': it scans an embedded mock BMC, no hardware needed.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			_ = cmd.Usage()
			return usagef("no command given")
		},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			lvl, err := zerolog.ParseLevel(strings.ToLower(logLevel))
			if err != nil || logLevel == "" {
				return usagef("--log-level %q: want one of trace, debug, info, warn, error, disabled", logLevel)
			}
			a.log = zerolog.New(zerolog.ConsoleWriter{Out: a.stderr, NoColor: true, TimeFormat: time.RFC3339}).
				Level(lvl).With().Timestamp().Logger()
			return nil
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err: err} })
	root.PersistentFlags().StringVar(&logLevel, "log-level", "warn", "log level on stderr: debug, info, warn, error, disabled")
	root.AddCommand(a.newScanCmd(), a.newWatchCmd(), a.newAgentCmd(), a.newMockCmd(), a.newDemoCmd(), a.newVersionCmd())
	root.AddCommand(a.newReplayCmd(), a.newEvalCmd(), a.newHistoryCmd(), a.newInventoryCmd())
	return root
}

// args validators that report usage errors (exit status 2).
func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return usagef("%s: at most %d argument(s), got %d: %q", cmd.CommandPath(), n, len(args), args)
		}
		return nil
	}
}

func (a *app) newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print prefail's version",
		Args:  maxArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintln(a.stdout, versionString())
			return err
		},
	}
}

func versionString() string {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " " + s.Value[:12]
			}
		}
	}
	return fmt.Sprintf("prefail %s (%s, %s/%s)", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// lockedWriter serializes writes: scans run concurrently and all log to
// one stderr.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
