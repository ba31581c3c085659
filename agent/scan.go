package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/prefail/prefail/ipmi"
	"github.com/prefail/prefail/model"
	"github.com/prefail/prefail/redfish"
)

// Result is the outcome of scanning one target.
type Result struct {
	Target   string
	Kind     string // the reader: redfish, ipmi, smart
	Err      error
	Duration time.Duration
	Snapshot *model.Snapshot
}

// ReaderGrace is how long past a target's deadline its scan is waited
// for: the reader's logout (redfish: 3 s on a detached context) and the
// hand-over of what it read.
const ReaderGrace = 4 * time.Second

// scanWith runs one scan under its own timeout and turns the reader's
// error into one a person can act on. A reader that ignores its deadline
// is abandoned ReaderGrace later (its goroutine ends when it returns).
//
// after, when set, runs in the scan's own goroutine once the reader's
// Scan returned, also when the caller stopped waiting for it: a one-shot
// scan closes its reader there (a scan abandoned at its deadline may
// still be logging in: closed from outside, it would find no session yet
// and leave the one it then opens on the BMC); the agent marks its kept
// reader free again.
func scanWith(ctx context.Context, r Reader, t *Target, timeout time.Duration, log zerolog.Logger, after func()) Result {
	start := time.Now()
	res := Result{Target: t.Endpoint, Kind: t.Kind()}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type outcome struct {
		snap *model.Snapshot
		err  error
	}
	done := make(chan outcome, 1)
	log.Info().Str("target", t.Endpoint).Msg("scanning")
	go func() {
		snap, err := r.Scan(tctx)
		if after != nil {
			after()
		}
		done <- outcome{snap, err}
	}()
	var o outcome
	select {
	case o = <-done:
	case <-tctx.Done():
		grace := time.NewTimer(ReaderGrace)
		select {
		case o = <-done:
		case <-grace.C:
			o.err = tctx.Err()
		}
		grace.Stop()
	}
	res.Duration = time.Since(start)
	res.Snapshot = o.snap
	if o.err != nil {
		res.Err = ExplainScanError(withoutTarget(o.err, t.Endpoint), tctx, ctx, timeout)
		log.Info().Str("target", t.Endpoint).Err(res.Err).Dur("took", res.Duration).Msg("scan failed")
		return res
	}
	if res.Snapshot == nil {
		res.Err = errors.New("reader returned no snapshot")
		return res
	}
	if len(res.Snapshot.Components) == 0 {
		// Whatever the reader: an answer with no part in it says nothing
		// about the server, and must not pass for a healthy one.
		res.Err = errors.New("the target answered but reported no component: its hardware health is unknown")
		log.Info().Str("target", t.Endpoint).Err(res.Err).Msg("scan failed")
		return res
	}
	log.Info().Str("target", t.Endpoint).Int("requests", res.Snapshot.Requests).Dur("took", res.Duration).Msg("scanned")
	return res
}

// ScanOptions bound a one-shot scan of many targets.
type ScanOptions struct {
	Concurrency int           // targets scanned at once (default DefaultScanConcurrency)
	Timeout     time.Duration // each target's deadline (default 60 s)
	Readers     ReaderFactory // NewReader when nil
	Env         ReaderEnv
	// Prepare, when set, completes a target just before its scan
	// (credentials read from a file); its error is the target's result.
	Prepare func(context.Context, *Target) error
}

// Scan reads the targets once, at most Concurrency at a time, each under
// its own deadline, each reader closed (sessions deleted) after its scan.
// Results come back in the targets' order; a target that fails or hangs
// has its error in its result and costs the others nothing.
func Scan(ctx context.Context, targets []*Target, o ScanOptions) []Result {
	results := make([]Result, len(targets))
	ScanEach(ctx, targets, o, func(i int, r Result) { results[i] = r })
	return results
}

// ScanEach is Scan handing each result to fn as soon as its target is
// done, so that a caller streaming thousands of targets keeps none of
// them: i is the target's index. Calls to fn never overlap, and a slow fn
// holds back the scans that finish after it (back-pressure, not a
// growing queue). Every target gets exactly one call, a target not
// reached before ctx ended with a "not scanned" error.
//
// Concurrency workers take the targets in order, so the goroutines and
// the memory in use follow the concurrency, not the number of targets.
func ScanEach(ctx context.Context, targets []*Target, o ScanOptions, fn func(i int, r Result)) {
	if o.Concurrency < 1 {
		o.Concurrency = DefaultScanConcurrency
	}
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	if o.Readers == nil {
		o.Readers = NewReader
	}
	var (
		next atomic.Int64
		mu   sync.Mutex
		wg   sync.WaitGroup
	)
	for range min(o.Concurrency, len(targets)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(targets) {
					return
				}
				r := scanOne(ctx, targets[i], &o)
				mu.Lock()
				fn(i, r)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// DefaultScanConcurrency is how many targets a one-shot scan reads at
// once unless told: BMCs are slow (tens of ms to seconds a response), not
// the CPU, so many wait at once; each scan's memory is bounded by the
// MemoryPool. Measured with bench/fleet on 2 cores (1,000 BMCs at 50 ms a
// response): 32 takes 9-11 s, 1.1-1.4x the ideal, in 50 MB; 64 is faster
// on a quiet machine (5.5 s) but CPU-bound (up to 2x the ideal) when
// another core is busy.
const DefaultScanConcurrency = 32

// scanOne prepares, reads and closes one target.
func scanOne(ctx context.Context, t *Target, o *ScanOptions) Result {
	if err := context.Cause(ctx); err != nil {
		return Result{Target: t.Endpoint, Kind: t.Kind(), Err: fmt.Errorf("not scanned: %w", err)}
	}
	if o.Prepare != nil {
		if err := o.Prepare(ctx, t); err != nil {
			return Result{Target: t.Endpoint, Kind: t.Kind(), Err: err}
		}
	}
	r, err := o.Readers(t, o.Env)
	if err != nil {
		return Result{Target: t.Endpoint, Kind: t.Kind(), Err: err}
	}
	// The logout is detached: it runs even when the scan ran out of time
	// (the reader bounds it; redfish: 3 s).
	return scanWith(ctx, r, t, o.Timeout, o.Env.Log, func() { _ = r.Close(context.WithoutCancel(ctx)) })
}

// withoutTarget drops the "TARGET: " a library error starts with: the
// result is reported under its target already, and saying it twice makes
// a long line longer. errors.Is still sees the whole chain.
func withoutTarget(err error, target string) error {
	msg, ok := strings.CutPrefix(err.Error(), target+": ")
	if !ok {
		return err
	}
	return &reworded{err: err, msg: msg}
}

// reworded is an error with the same chain and other words.
type reworded struct {
	err error
	msg string
}

func (e *reworded) Error() string { return e.msg }
func (e *reworded) Unwrap() error { return e.err }

// ExplainScanError turns a reader's error into one a person can act on:
// tctx is the scan's own context (with its timeout), parent the caller's.
func ExplainScanError(err error, tctx, parent context.Context, timeout time.Duration) error {
	switch {
	case errors.Is(err, redfish.ErrUnauthorized) || errors.Is(err, ipmi.ErrUnauthorized):
		return fmt.Errorf("%w (hint: check the username and password: $PREFAIL_USERNAME / $PREFAIL_PASSWORD, --username / --password-file, username= / password-file= in the targets file, or credentials in the config file)", err)
	case parent.Err() != nil:
		return fmt.Errorf("interrupted: %w", err)
	case errors.Is(tctx.Err(), context.DeadlineExceeded) && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || isTimeout(err)):
		return fmt.Errorf("timed out after %s (see --timeout): %w", timeout, err)
	case isTLSVerifyError(err):
		return fmt.Errorf("%w (hint: the BMC's certificate could not be verified: pass --ca-file PEM, ca-file= in the targets file or tls.ca_file in the config, with the CA that signed it; or, accepting the risk, --insecure / insecure=true for this target)", err)
	}
	return err
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

func isTLSVerifyError(err error) bool {
	var (
		verr *tls.CertificateVerificationError
		uerr x509.UnknownAuthorityError
		herr x509.HostnameError
		cerr x509.CertificateInvalidError
	)
	if errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &cerr) {
		return true
	}
	// The reader may not wrap the transport's error.
	s := err.Error()
	return strings.Contains(s, "x509: ") || strings.Contains(s, "tls: failed to verify certificate")
}
