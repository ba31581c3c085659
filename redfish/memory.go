package redfish

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"golang.org/x/sync/semaphore"
)

// Memory bounds. One hostile BMC must not get the process killed, and
// with it the monitoring of every other server: a scan holds at most
// WithMemoryBudget bytes of response data (raw bodies while they are read,
// then their decoded estimate, until the scan ends), and all the scans of
// a process that share a MemoryPool hold at most the pool's size between
// them. A read that does not fit the scan's budget fails (ErrTooLarge); one
// that does not fit the pool waits for other scans to give memory back,
// until its context ends.

// MemoryPool is memory shared by the scans of many clients
// (WithMemoryPool): a fleet scan or an agent gives every client the same
// pool, so that thirty hostile BMCs at once cannot hold more than it.
type MemoryPool struct {
	sem  *semaphore.Weighted
	size int64
	// bodies are response buffers whose bodies were decoded, for the
	// next responses: 12% of what a fleet scan allocated.
	bodies sync.Pool
	// interned are the decoder's tables of shared values (internTable),
	// for the next bodies: the same keys and values, server after server.
	interned sync.Pool
}

// maxPooledBody bounds the buffers kept for reuse: a rare 8 MiB body is
// not kept for the many small ones.
const maxPooledBody = 256 << 10

// NewMemoryPool returns a pool of size bytes.
func NewMemoryPool(size int64) *MemoryPool {
	return &MemoryPool{sem: semaphore.NewWeighted(size), size: size}
}

// WithMemoryPool makes the client's scans draw their memory from p as
// well as from their own budget (WithMemoryBudget). A budget larger than
// the pool is cut to the pool's size.
func WithMemoryPool(p *MemoryPool) Option { return func(c *config) { c.pool = p } }

// readChunk is how much of a body is reserved at a time when its length
// is not known in advance (chunked transfer).
const readChunk = 64 << 10

// budget is one scan's share of memory: its bound, what it holds, and the
// pool it draws from (nil: none).
type budget struct {
	mu    sync.Mutex
	total int64
	held  int64
	pool  *MemoryPool
}

func newBudget(total int64, pool *MemoryPool) *budget {
	if pool != nil && total > pool.size {
		total = pool.size
	}
	return &budget{total: total, pool: pool}
}

// reserve takes n bytes: refused with ErrTooLarge when the scan's budget
// cannot hold them, waiting for the pool (until ctx ends) when it is
// spent by other scans.
func (b *budget) reserve(ctx context.Context, n int64, what string) error {
	if n <= 0 {
		return nil
	}
	b.mu.Lock()
	if b.held+n > b.total {
		left := b.total - b.held
		b.mu.Unlock()
		return fmt.Errorf("%w: %s would hold about %s, over the %s left of the scan's %s memory budget (WithMemoryBudget)",
			ErrTooLarge, what, sizeText(n), sizeText(left), sizeText(b.total))
	}
	b.held += n
	b.mu.Unlock()
	if b.pool != nil {
		if err := b.pool.sem.Acquire(ctx, n); err != nil {
			b.mu.Lock()
			b.held -= n
			b.mu.Unlock()
			return fmt.Errorf("waiting for memory held by other scans: %w", err)
		}
	}
	return nil
}

// buffer returns an empty buffer for a response body: one a decoded body
// left, when the scan draws from a pool.
func (b *budget) buffer() []byte {
	if b == nil || b.pool == nil {
		return nil
	}
	if v, ok := b.pool.bodies.Get().(*[]byte); ok {
		return (*v)[:0]
	}
	return nil
}

// parse decodes a body (parseResource), sharing strings and numbers with
// the bodies decoded before it when the scan draws from a pool.
func (b *budget) parse(body []byte) (map[string]any, error) {
	if b.pool == nil {
		return parseResource(body)
	}
	t, _ := b.pool.interned.Get().(*internTable)
	if t == nil {
		t = &internTable{}
	}
	v, ok := parseJSONShared(body, t)
	if !t.full() {
		b.pool.interned.Put(t)
	}
	if m, isObject := v.(map[string]any); ok && isObject {
		return m, nil
	}
	return parseResourceSlowly(body)
}

// decoded is told that body (read by readBody, reserved by its capacity)
// was decoded: what stays reserved is its length, which the decoded
// strings hold; the buffer itself is reused.
func (b *budget) decoded(body []byte) {
	b.give(int64(cap(body) - len(body)))
	b.recycle(body)
}

// dropped is told that body was not decoded: nothing of it is held.
func (b *budget) dropped(body []byte) {
	b.give(int64(cap(body)))
	b.recycle(body)
}

func (b *budget) recycle(body []byte) {
	if b.pool != nil && cap(body) > 0 && cap(body) <= maxPooledBody {
		b.pool.bodies.Put(&body)
	}
}

// give returns n bytes reserved earlier.
func (b *budget) give(n int64) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	b.held -= n
	b.mu.Unlock()
	if b.pool != nil {
		b.pool.sem.Release(n)
	}
}

// release gives everything back: the scan is over, and what it decoded
// is garbage but for the snapshot.
func (b *budget) release() {
	b.mu.Lock()
	n := b.held
	b.held = 0
	b.mu.Unlock()
	if b.pool != nil && n > 0 {
		b.pool.sem.Release(n)
	}
}

// Estimated cost of decoded JSON in a map[string]any tree (UseNumber),
// measured with runtime.MemStats on Redfish captures and on member lists:
// about 64 bytes a value (interface, string or json.Number header, slot)
// and 250 more an object (the map itself).
const (
	bytesPerValue  = 64
	bytesPerObject = 256
)

// decodeOverhead estimates what decoding body holds beyond the body's
// own bytes, counting values by their separators outside strings in one
// pass, before anything is decoded: fifteen megabytes of "[0,0,...]"
// would hold half a gigabyte decoded, and is refused up front.
func decodeOverhead(body []byte) int64 {
	values, objects := int64(1), int64(0)
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '"':
			// Past the string, to the next quote no backslash escapes
			// (IndexByte is vectorized: strings are most of the bytes).
			for {
				j := bytes.IndexByte(body[i+1:], '"')
				if j < 0 {
					i = len(body)
					break
				}
				i += 1 + j
				k := i - 1
				for body[k] == '\\' {
					k--
				}
				if (i-1-k)%2 == 0 {
					break
				}
			}
		case ',', '[':
			values++
		case '{':
			values++
			objects++
		}
	}
	return values*bytesPerValue + objects*bytesPerObject
}
