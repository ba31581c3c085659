package agent

import (
	"context"
	"fmt"
	"time"
)

// Output is where events go: a JSON Lines file or stream, a webhook, a
// NATS JetStream subject. The dispatcher hands it the events of the
// outbox in order; an event leaves the outbox once every output has
// confirmed it (Deliver returned nil for it).
type Output interface {
	// Name identifies the output in the store (its delivery cursor) and
	// in logs and metrics: "file", "stdout", "webhook", "nats".
	Name() string
	// Deliver sends events, in order. It returns how many of them were
	// delivered (a prefix) and, if not all, why; the rest are handed over
	// again later. A *RetryAfterError says when to try again.
	Deliver(ctx context.Context, events []Event) (int, error)
	// Close flushes and releases the output.
	Close() error
}

// RetryAfterError is an output's "not now, try again after Delay" (an
// HTTP 429 or 503 with Retry-After, a JetStream that is not ready).
type RetryAfterError struct {
	Delay time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.Delay)
}

func (e *RetryAfterError) Unwrap() error { return e.Err }

// OutboxEntry is one event waiting in the store's outbox.
type OutboxEntry struct {
	Seq   uint64
	Event Event
}

// Outbox is the store's side of delivery (Store implements it).
type Outbox interface {
	// Pending returns up to max events after the output's cursor, oldest
	// first.
	Pending(output string, max int) ([]OutboxEntry, error)
	// Confirm moves the output's cursor to seq: the events up to seq are
	// delivered; once every output confirmed an event it is deleted.
	Confirm(output string, seq uint64) error
}
