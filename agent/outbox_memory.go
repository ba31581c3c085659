package agent

import (
	"sync"
)

// memOutbox is the outbox of an agent without a store: the events wait in
// memory until every output took them (bounded: the oldest are dropped
// past maxMemOutbox, which only a long outage of every output reaches).
type memOutbox struct {
	mu      sync.Mutex
	entries []OutboxEntry
	next    uint64
	cursors map[string]uint64
	dropped uint64
}

const maxMemOutbox = 100_000

func newMemOutbox(outputs []Output) *memOutbox {
	m := &memOutbox{next: 1, cursors: map[string]uint64{}}
	for _, o := range outputs {
		m.cursors[o.Name()] = 0
	}
	return m
}

func (m *memOutbox) append(events []Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.cursors) == 0 {
		return // nobody to deliver to
	}
	for _, ev := range events {
		m.entries = append(m.entries, OutboxEntry{Seq: m.next, Event: ev})
		m.next++
	}
	if over := len(m.entries) - maxMemOutbox; over > 0 {
		m.entries = append(m.entries[:0], m.entries[over:]...)
		m.dropped += uint64(over)
	}
}

func (m *memOutbox) Pending(output string, max int) ([]OutboxEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.cursors[output]
	var out []OutboxEntry
	for _, e := range m.entries {
		if e.Seq > cur {
			out = append(out, e)
			if len(out) == max {
				break
			}
		}
	}
	return out, nil
}

func (m *memOutbox) Confirm(output string, seq uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if seq > m.cursors[output] {
		m.cursors[output] = seq
	}
	low := seq
	for _, c := range m.cursors {
		low = min(low, c)
	}
	i := 0
	for i < len(m.entries) && m.entries[i].Seq <= low {
		i++
	}
	m.entries = append(m.entries[:0], m.entries[i:]...)
	return nil
}

// stats are the events waiting and those dropped past the bound.
func (m *memOutbox) stats() (int, uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries), m.dropped
}
