package ipmi

import (
	"context"
	"fmt"

	"github.com/prefail/prefail/model"
)

// SELCursor records where a scan stopped reading the System Event Log, so
// the next scan reads only what was added since. It is plain data: save
// it (JSON) and restore it with WithSELCursor to survive a restart.
type SELCursor struct {
	// LastRecordID is the id of the newest record read.
	LastRecordID uint16 `json:"last_record_id"`
	// LastAddition and LastErase are the SEL's timestamps (Get SEL Info,
	// IPMI v2.0 §31.2) when it was read: an unchanged addition time means
	// nothing new; a changed erase time means the log was cleared.
	LastAddition uint32 `json:"last_addition"`
	LastErase    uint32 `json:"last_erase"`
	// Entries is the SEL's entry count: timestamps have a resolution of a
	// second (and a BMC without a set clock counts from boot), so an
	// addition in the same second as the last one shows only here.
	Entries uint16 `json:"entries"`
	// Empty is true when the SEL had no entries.
	Empty bool `json:"empty,omitempty"`
}

// selRead is what one SEL read produced.
type selRead struct {
	records  []SELRecord
	cursor   SELCursor
	warnings []model.Warning
	// cleared says the log was cleared (or wrapped past the cursor) since
	// the cursor was taken: information, not a fault.
	cleared bool
}

// selSlack is how many entries a walk may read beyond the count Get SEL
// Info gave, for entries logged while the walk runs.
const selSlack = 64

// selLimits bounds one SEL read: keep is how many of the newest records
// the first read keeps (0: all read); reads is how many Get SEL Entry
// requests the whole read may send (WithMaxSELReads).
type selLimits struct {
	keep, reads int
}

// selWalker is one SEL read: the requests it may still send, and Get
// SEL Info's entry count, which a walk that never ends goes past.
type selWalker struct {
	ex      exchanger
	left    int
	limit   int
	entries int
}

// get sends one Get SEL Entry, within the read's budget.
func (w *selWalker) get(ctx context.Context, id uint16) (uint16, []byte, error) {
	w.left--
	return getSELEntry(ctx, w.ex, id)
}

// readSEL reads the entries added since cursor (nil: the newest lim.keep).
// Get SEL Info first: an unchanged addition timestamp costs no further
// request; an empty SEL is not an error (Get SEL Entry would answer 0xCB).
// A SEL that never ends (its next-record chain loops, or goes on past the
// entry count, or past lim.reads) is read that far and reported in a
// warning; the cursor then points at the last record read.
func readSEL(ctx context.Context, ex exchanger, cursor *SELCursor, lim selLimits) (selRead, error) {
	var out selRead
	info, err := getSELInfo(ctx, ex)
	if err != nil {
		return out, err
	}
	w := &selWalker{ex: ex, left: max(lim.reads, 1), limit: max(lim.reads, 1), entries: int(info.Entries)}
	out.cursor = SELCursor{LastAddition: info.LastAddition, LastErase: info.LastErase, Entries: info.Entries}
	if info.Overflow() {
		out.warnings = append(out.warnings, model.Warning{Source: "sel", Message: "the SEL is full and has dropped events (overflow flag set): clear it after saving its entries"})
	}
	if cursor != nil && cursor.LastErase != info.LastErase {
		out.cleared = true
	}
	if info.Entries == 0 {
		out.cursor.Empty = true
		return out, nil
	}
	if cursor != nil && !out.cleared {
		if cursor.LastAddition == info.LastAddition && cursor.Entries == info.Entries && (cursor.LastRecordID != 0 || cursor.Empty) {
			out.cursor.LastRecordID = cursor.LastRecordID
			return out, nil // nothing added
		}
		if !cursor.Empty {
			// Re-read the last record seen for its (now updated) next id.
			next, _, err := w.get(ctx, cursor.LastRecordID)
			switch {
			case err == nil:
				out.cursor.LastRecordID = cursor.LastRecordID
				return w.walk(ctx, next, 0, out)
			case completionCodeIs(err, ccNotPresent):
				// Overwritten (a SEL that wraps) or deleted: start afresh.
				out.cleared = true
			default:
				return out, err
			}
		} else {
			return w.walk(ctx, selFirstEntry, 0, out)
		}
	}
	return w.readNewest(ctx, info, lim.keep, out)
}

// readNewest reads the newest max entries. The SEL is a forward-linked
// list; walking it all costs one request per entry. BMCs number records
// consecutively, so read the last record (FFFFh), guess the id max-1
// before it, and walk from there; fall back to a full walk that keeps the
// newest max when the guess does not exist.
func (w *selWalker) readNewest(ctx context.Context, info selInfo, max int, out selRead) (selRead, error) {
	if max <= 0 || int(info.Entries) <= max {
		return w.walk(ctx, selFirstEntry, max, out)
	}
	_, last, err := w.get(ctx, selLastEntry)
	if err != nil {
		return out, err
	}
	lastID := uint16(last[0]) | uint16(last[1])<<8
	if int(lastID) >= max-1 {
		start := lastID - uint16(max-1)
		r, err := w.walk(ctx, start, max, out)
		if err == nil {
			return r, nil
		}
		if !completionCodeIs(err, ccNotPresent) {
			return r, err
		}
	}
	return w.walk(ctx, selFirstEntry, max, out)
}

// walk reads from id to the end, keeping at most max (0: all) newest. It
// stops, with a warning, at a record id met twice, past Get SEL Info's
// entry count (plus selSlack), or when the read's requests run out.
func (w *selWalker) walk(ctx context.Context, id uint16, max int, out selRead) (selRead, error) {
	seen := map[uint16]int{}
	var recs []SELRecord
	stop := func(msg string, args ...any) {
		out.warnings = append(out.warnings, model.Warning{Source: "sel", Message: fmt.Sprintf(msg, args...)})
	}
	for n := 0; id != selLastEntry; n++ {
		if at, ok := seen[id]; ok {
			stop("SEL does not end: record 0x%04x comes back after %d more entries (the next-record chain loops); stopped reading", id, n-at)
			break
		}
		if n >= w.entries+selSlack {
			stop("SEL does not end: read %d entries, Get SEL Info counted %d (the next-record chain never reaches FFFFh); stopped reading", n, w.entries)
			break
		}
		if w.left <= 0 {
			stop("SEL does not end or is flooded: read the limit of %d entries in one scan (Get SEL Info counted %d); the next scan goes on from there", w.limit, w.entries)
			break
		}
		seen[id] = n
		next, raw, err := w.get(ctx, id)
		if err != nil {
			if len(recs) == 0 && n == 0 {
				return out, err
			}
			out.warnings = append(out.warnings, model.Warning{Source: fmt.Sprintf("sel 0x%04x", id), Message: err.Error()})
			break
		}
		rec, perr := ParseSELRecord(raw)
		if perr != nil {
			out.warnings = append(out.warnings, model.Warning{Source: fmt.Sprintf("sel 0x%04x", id), Message: perr.Error()})
		} else {
			recs = append(recs, rec)
			if max > 0 && len(recs) > max {
				recs = recs[1:]
			}
		}
		out.cursor.LastRecordID = id
		id = next
	}
	out.records = append(out.records, recs...)
	return out, nil
}
