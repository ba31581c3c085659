// Command prefail reads a server's raw hardware signals (Redfish, IPMI,
// SMART) and reports the health of its PSUs, fans, disks and sensors.
//
//	prefail demo                      # embedded mock BMC, no hardware needed
//	prefail scan https://bmc1.example # one BMC, credentials from the environment
//	prefail scan --targets bmcs.txt --json
//	sudo prefail scan --local          # this machine's disks (SMART)
//	prefail scan --smartctl saved.json # saved smartctl output
//	prefail watch --targets bmcs.txt --state state.json   # the agent: JSON Lines events
//	prefail replay --format backblaze FILE...             # history through the detector
//	prefail eval --format backblaze FILE...               # recall and false alarms
//	prefail mock --tls                # serve a mock BMC for trying scan out
//	prefail version
//
// See README.md and docs/ for the details.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "prefail: %v\n", err)
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(os.Stderr, "Run '%s --help' for usage.\n", ue.command())
		}
	}
	os.Exit(exitCode(err))
}

// run is the whole CLI: main only wires the process to it. It reads the
// environment with os.LookupEnv and standard input (for --smartctl -) from
// os.Stdin; everything else comes in through its arguments.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a := &app{
		stdout:    stdout,
		stderr:    stderr,
		lookupEnv: os.LookupEnv,
		stdin:     os.Stdin,
	}
	return a.run(ctx, args)
}

// usageError is an error in the command line itself (exit status 2).
type usageError struct {
	err error
	cmd string // the command path it concerns ("prefail scan"), when known
}

func (e *usageError) command() string {
	if e.cmd == "" {
		return "prefail"
	}
	return e.cmd
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// exitCode maps run's error to the process exit status: 0 on success, 2 on
// usage errors, 1 on anything else (including a scan where a target failed).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}
