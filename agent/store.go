// The agent's embedded store: one bbolt file holding each target's record,
// its readings over time and the outbox of events waiting for the outputs.
//
// Why bbolt and not SQLite: it is pure Go (no cgo, so the race-enabled CI
// build stays fast and the binary static), the agent needs a single writer
// and nothing more, and its copy-on-write B+tree with a meta page written
// last never leaves a torn page behind a kill -9: a transaction is either
// all in the file or not at all. Every write transaction is fsynced.
// docs/agent-store.md has the layout and the measured sizes.

package agent

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/klauspost/compress/s2"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// StoreFileName is the file a store directory holds.
const StoreFileName = "prefail.db"

// DefaultMaxOutbox bounds the outbox (WithMaxOutbox).
const DefaultMaxOutbox = 100_000

const (
	storeVersion     = "1"
	storeLockTimeout = 2 * time.Second
	// Concurrent Commits within this window share one transaction and so
	// one fsync: with hundreds of targets the fsyncs, not the CPU, bound
	// the rounds per second.
	storeBatchDelay = 5 * time.Millisecond

	storeMaxTarget = 1024
	storeMaxOutput = 256
	storeMaxNames  = 4096 // component + reading + unit of one sample

	// Top-level buckets.
	bucketMeta    = "meta"    // version, outbox head, dropped count
	bucketOutbox  = "outbox"  // 8-byte seq -> event JSON
	bucketOutputs = "outputs" // output name -> 8-byte cursor
	bucketTargets = "targets" // target -> its own bucket (see store_history.go)

	metaVersion     = "version"
	metaHead        = "head"    // the last seq deleted from the outbox
	metaDropped     = "dropped" // events dropped past the bound
	targetRecordKey = "record"  // in a target's bucket
)

// Store is the agent's embedded store (a bbolt file). It is safe for
// concurrent use; writes are serialized by bbolt, reads run beside them.
type Store struct {
	db   *bolt.DB
	path string // the db file
	cfg  storeConfig
}

type storeConfig struct {
	retention Retention
	maxOutbox int
	// noSync skips fsync and batchDelay is bbolt's MaxBatchDelay: tests
	// and simulations of size set them, where durability is not what is
	// measured.
	noSync     bool
	batchDelay time.Duration
}

// StoreOption configures OpenStore.
type StoreOption func(*storeConfig)

// Retention says how long readings are kept at each resolution: raw
// readings are rolled into 5-minute means when older than Raw, those into
// hourly means when older than Minute5, and hourly means are deleted when
// older than Hourly. A zero field keeps its default.
type Retention struct {
	Raw     time.Duration // readings kept at full resolution (default 48h)
	Minute5 time.Duration // 5-minute means kept (default 14 days)
	Hourly  time.Duration // hourly means kept (default 400 days)
}

// DefaultRetention is 48 hours raw, 14 days of 5-minute means, 400 days of
// hourly means.
func DefaultRetention() Retention {
	return Retention{Raw: 48 * time.Hour, Minute5: 14 * 24 * time.Hour, Hourly: 400 * 24 * time.Hour}
}

// WithRetention sets the retention of readings (zero fields keep their
// default).
func WithRetention(r Retention) StoreOption {
	return func(c *storeConfig) {
		if r.Raw > 0 {
			c.retention.Raw = r.Raw
		}
		if r.Minute5 > 0 {
			c.retention.Minute5 = r.Minute5
		}
		if r.Hourly > 0 {
			c.retention.Hourly = r.Hourly
		}
	}
}

// WithMaxOutbox bounds the outbox to n events (default DefaultMaxOutbox;
// n < 1 keeps it): a Commit that would exceed it drops the oldest, which
// DroppedEvents counts.
func WithMaxOutbox(n int) StoreOption {
	return func(c *storeConfig) {
		if n > 0 {
			c.maxOutbox = n
		}
	}
}

// OpenStore opens the store at path, creating it: path is a directory
// (created 0700) holding prefail.db, or a file path ending in ".db". A
// store another process has open is an error after two seconds, not a
// wait; a file that is not a readable store is an error naming it.
func OpenStore(path string, opts ...StoreOption) (*Store, error) {
	cfg := storeConfig{retention: DefaultRetention(), maxOutbox: DefaultMaxOutbox, batchDelay: storeBatchDelay}
	for _, o := range opts {
		o(&cfg)
	}
	file, err := storeFile(path)
	if err != nil {
		return nil, err
	}
	db, err := openBolt(file, &cfg)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, path: file, cfg: cfg}
	if err := s.init(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

func storeFile(path string) (string, error) {
	if path == "" {
		return "", errors.New("store: empty path")
	}
	dir, file := path, filepath.Join(path, StoreFileName)
	if strings.HasSuffix(path, ".db") {
		dir, file = filepath.Dir(path), path
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("store %s: %w", path, err)
	}
	return file, nil
}

func openBolt(file string, cfg *storeConfig) (db *bolt.DB, err error) {
	// bbolt trusts the file: a damaged one can panic or fault instead of
	// failing; both become an error naming the file.
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("store %s is corrupt: %v", file, r)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	db, err = bolt.Open(file, 0o600, &bolt.Options{
		Timeout: storeLockTimeout,
		// The map freelist stays fast when the file is fragmented. The
		// freelist is synced (NoFreelistSync false): otherwise every open
		// walks the whole file to rebuild it, slow and memory-hungry for
		// a store of many targets, and done in a goroutine where a
		// damaged page would crash the process.
		FreelistType: bolt.FreelistMapType,
		NoSync:       cfg.noSync,
	})
	switch {
	case err == nil:
		db.MaxBatchDelay = cfg.batchDelay
		return db, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("store %s is in use by another process (waited %s for its lock): %w", file, storeLockTimeout, err)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch):
		return nil, fmt.Errorf("store %s is not a readable prefail store (corrupt, or not a bbolt file): %w", file, err)
	default:
		return nil, fmt.Errorf("store %s: %w", file, err)
	}
}

// init creates the buckets of a new store and checks an existing one is a
// store of this version.
func (s *Store) init() error {
	err := s.update(func(tx *bolt.Tx) error {
		meta := tx.Bucket([]byte(bucketMeta))
		if meta == nil {
			empty := true
			_ = tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil })
			if !empty {
				return errors.New("not a prefail store (a bbolt file with other buckets)")
			}
			var err error
			if meta, err = tx.CreateBucket([]byte(bucketMeta)); err != nil {
				return err
			}
			if err := meta.Put([]byte(metaVersion), []byte(storeVersion)); err != nil {
				return err
			}
		}
		if v := string(meta.Get([]byte(metaVersion))); v != storeVersion {
			return fmt.Errorf("store version %q, this prefail reads %q", v, storeVersion)
		}
		for _, name := range []string{bucketOutbox, bucketOutputs, bucketTargets} {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return s.errorf("%w", err)
	}
	return nil
}

// Close closes the store; the store's methods fail after it.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store %s: close: %w", s.path, err)
	}
	return nil
}

// Path is the store's file.
func (s *Store) Path() string { return s.path }

// Size is the size of the store's file in bytes. The file does not shrink:
// the pages freed by compaction and delivery are reused by later writes.
func (s *Store) Size() (int64, error) {
	fi, err := os.Stat(s.path)
	if err != nil {
		return 0, fmt.Errorf("store %s: %w", s.path, err)
	}
	return fi.Size(), nil
}

// view, update and batch run fn in a transaction; a panic or memory fault
// from a damaged file becomes an error. Errors are wrapped by the callers,
// which know what was being done, with the file's path.
func (s *Store) view(fn func(*bolt.Tx) error) (err error) {
	defer recoverCorrupt(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return s.db.View(fn)
}

func (s *Store) update(fn func(*bolt.Tx) error) (err error) {
	defer recoverCorrupt(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return s.db.Update(fn)
}

// batch is update sharing one transaction, and one fsync, among
// concurrent callers; fn may run more than once.
func (s *Store) batch(fn func(*bolt.Tx) error) (err error) {
	defer recoverCorrupt(&err) // a failing fn is run again alone, here
	return s.db.Batch(func(tx *bolt.Tx) error {
		// In bbolt's batch goroutine, which recovers panics but not faults.
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		return fn(tx)
	})
}

func recoverCorrupt(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("the store is corrupt (or prefail has a bug): %v", r)
	}
}

func (s *Store) errorf(format string, args ...any) error {
	return fmt.Errorf("store %s: "+format, append([]any{s.path}, args...)...)
}

// LoadTarget returns the target's record as last committed, nil if it has
// none.
func (s *Store) LoadTarget(target string) ([]byte, error) {
	var rec []byte
	err := s.view(func(tx *bolt.Tx) error {
		if tb := targetBucket(tx, target); tb != nil {
			if v := tb.Get([]byte(targetRecordKey)); v != nil {
				var err error
				rec, err = decodeRecord(v) // a copy: v lives only as long as the transaction
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, s.errorf("load target %s: %w", target, err)
	}
	return rec, nil
}

// A record is written every round for every target (the detector's whole
// state, tens of KB of JSON), so it is stored compressed: s2 (klauspost/
// compress, already in the build for nats.go) cuts the bytes written, and
// fsynced, per round several times over at a few microseconds a record.
// The first byte tells the forms apart: a JSON record starts with '{'.
const recordS2 = 0x01

// maxRecordBytes bounds a record's decoded size, so that a damaged length
// in the file cannot ask for gigabytes.
const maxRecordBytes = 256 << 20

func encodeRecord(rec []byte) []byte {
	n := s2.MaxEncodedLen(len(rec))
	if n < 0 {
		return rec // too large to compress in one block (never, below maxRecordBytes)
	}
	out := make([]byte, 1+n)
	out[0] = recordS2
	return out[:1+len(s2.Encode(out[1:], rec))]
}

func decodeRecord(v []byte) ([]byte, error) {
	if len(v) == 0 || v[0] != recordS2 {
		return bytes.Clone(v), nil // stored uncompressed (records written before compression)
	}
	n, err := s2.DecodedLen(v[1:])
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	if n > maxRecordBytes {
		return nil, fmt.Errorf("record: %d bytes decoded, more than the %d a record may have", n, maxRecordBytes)
	}
	rec, err := s2.Decode(make([]byte, n), v[1:])
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	return rec, nil
}

// Targets lists the targets that have a record, sorted.
func (s *Store) Targets() ([]string, error) {
	var out []string
	err := s.view(func(tx *bolt.Tx) error {
		tbs := tx.Bucket([]byte(bucketTargets))
		return tbs.ForEachBucket(func(k []byte) error {
			if tbs.Bucket(k).Get([]byte(targetRecordKey)) != nil {
				out = append(out, string(k))
			}
			return nil
		})
	})
	if err != nil {
		return nil, s.errorf("list targets: %w", err)
	}
	return out, nil // bbolt keeps keys in byte order, which is string order
}

// DeleteTarget deletes the target's record and all its readings, in one
// transaction; deleting a target the store does not have is not an error.
func (s *Store) DeleteTarget(target string) error {
	err := s.update(func(tx *bolt.Tx) error {
		err := tx.Bucket([]byte(bucketTargets)).DeleteBucket([]byte(target))
		if errors.Is(err, berrors.ErrBucketNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return s.errorf("delete target %s: %w", target, err)
	}
	return nil
}

func targetBucket(tx *bolt.Tx, target string) *bolt.Bucket {
	if target == "" {
		return nil
	}
	return tx.Bucket([]byte(bucketTargets)).Bucket([]byte(target))
}

// Sample is one reading at one time.
type Sample struct {
	Component string // kind + "/" + component id: "fan/0"
	Reading   string // "speed"
	Unit      string // "RPM"
	Value     float64
}

// Round is what one scan of one target produced. Commit writes it in one
// transaction: the target's record, the samples at Time, and the events
// appended to the outbox.
type Round struct {
	Target string
	Time   time.Time
	// Record is the agent's own state of the target (opaque to the
	// store); nil leaves the stored record as it is.
	Record  []byte
	Samples []Sample
	Events  []Event
}

// Commit writes the round atomically: after a crash the round is either
// all in the store or not at all. Samples whose value is not finite are
// not stored (they have no mean). Events are appended to the outbox only
// when it has outputs (SetOutputs): nobody would confirm them otherwise.
func (s *Store) Commit(r *Round) error {
	if r == nil {
		return s.errorf("commit: nil round")
	}
	cols, err := prepareSamples(r)
	if err != nil {
		return s.errorf("commit %s: %w", r.Target, err)
	}
	// The transaction may run more than once: it only reads r and cols.
	if err := s.batch(func(tx *bolt.Tx) error { return s.commit(tx, r, cols) }); err != nil {
		return s.errorf("commit %s: %w", r.Target, err)
	}
	return nil
}

func (s *Store) commit(tx *bolt.Tx, r *Round, samples []preparedSample) error {
	tb, err := tx.Bucket([]byte(bucketTargets)).CreateBucketIfNotExists([]byte(r.Target))
	if err != nil {
		return err
	}
	if r.Record != nil {
		if err := tb.Put([]byte(targetRecordKey), encodeRecord(r.Record)); err != nil {
			return fmt.Errorf("record: %w", err)
		}
	}
	if len(samples) > 0 {
		if err := putSamples(tb, r.Time, samples); err != nil {
			return fmt.Errorf("samples: %w", err)
		}
	}
	if len(r.Events) == 0 {
		return nil
	}
	if k, _ := tx.Bucket([]byte(bucketOutputs)).Cursor().First(); k == nil {
		return nil
	}
	box := tx.Bucket([]byte(bucketOutbox))
	box.FillPercent = 1 // keys only ever grow: pack the pages
	for i := range r.Events {
		data, err := json.Marshal(&r.Events[i])
		if err != nil {
			return fmt.Errorf("event %d (%s): %w", i, r.Events[i].ID, err)
		}
		seq, err := box.NextSequence()
		if err != nil {
			return err
		}
		if err := box.Put(seqKey(seq), data); err != nil {
			return fmt.Errorf("event %d (%s): %w", i, r.Events[i].ID, err)
		}
	}
	// Past the bound the oldest go: the outbox is always the contiguous
	// seqs (head, last], so they are head+1, head+2, ...
	meta := tx.Bucket([]byte(bucketMeta))
	head, last := getUint64(meta, metaHead), box.Sequence()
	over := int64(last-head) - int64(s.cfg.maxOutbox)
	if over <= 0 {
		return nil
	}
	for seq := head + 1; seq <= head+uint64(over); seq++ {
		if err := box.Delete(seqKey(seq)); err != nil {
			return err
		}
	}
	if err := putUint64(meta, metaHead, head+uint64(over)); err != nil {
		return err
	}
	return putUint64(meta, metaDropped, getUint64(meta, metaDropped)+uint64(over))
}

// SetOutputs names the outputs that must confirm an event before it
// leaves the outbox. An output no longer named stops holding events back;
// a newly named one gets everything still in the outbox; a named one that
// was named before keeps its cursor (across restarts).
func (s *Store) SetOutputs(names []string) error {
	set := make(map[string]bool, len(names))
	for _, n := range names {
		if n == "" || len(n) > storeMaxOutput {
			return s.errorf("set outputs: invalid output name %q", n)
		}
		set[n] = true
	}
	err := s.update(func(tx *bolt.Tx) error {
		outs := tx.Bucket([]byte(bucketOutputs))
		var gone [][]byte
		err := outs.ForEach(func(k, _ []byte) error {
			if !set[string(k)] {
				gone = append(gone, append([]byte{}, k...))
			}
			delete(set, string(k))
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range gone {
			if err := outs.Delete(k); err != nil {
				return err
			}
		}
		head := getUint64(tx.Bucket([]byte(bucketMeta)), metaHead)
		for n := range set {
			if err := putUint64(outs, n, head); err != nil {
				return err
			}
		}
		return pruneOutbox(tx)
	})
	if err != nil {
		return s.errorf("set outputs: %w", err)
	}
	return nil
}

// Pending returns up to max events after output's cursor, oldest first.
func (s *Store) Pending(output string, max int) ([]OutboxEntry, error) {
	if max < 1 {
		return nil, s.errorf("pending %s: max %d", output, max)
	}
	var out []OutboxEntry
	err := s.view(func(tx *bolt.Tx) error {
		cur := tx.Bucket([]byte(bucketOutputs)).Get([]byte(output))
		if cur == nil {
			return fmt.Errorf("%q is not one of the outputs (SetOutputs)", output)
		}
		c := tx.Bucket([]byte(bucketOutbox)).Cursor()
		for k, v := c.Seek(seqKey(uint64Value(cur) + 1)); k != nil && len(out) < max; k, v = c.Next() {
			e := OutboxEntry{Seq: binary.BigEndian.Uint64(k)}
			if err := json.Unmarshal(v, &e.Event); err != nil {
				return fmt.Errorf("event %d: %w", e.Seq, err)
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, s.errorf("pending %s: %w", output, err)
	}
	return out, nil
}

// Confirm moves output's cursor to seq (never back): the events up to seq
// were delivered. Events every output has confirmed are deleted.
func (s *Store) Confirm(output string, seq uint64) error {
	err := s.update(func(tx *bolt.Tx) error {
		outs := tx.Bucket([]byte(bucketOutputs))
		cur := outs.Get([]byte(output))
		if cur == nil {
			return fmt.Errorf("%q is not one of the outputs (SetOutputs)", output)
		}
		if seq <= uint64Value(cur) {
			return nil
		}
		if last := tx.Bucket([]byte(bucketOutbox)).Sequence(); seq > last {
			return fmt.Errorf("seq %d was never given (the last is %d)", seq, last)
		}
		if err := putUint64(outs, output, seq); err != nil {
			return err
		}
		return pruneOutbox(tx)
	})
	if err != nil {
		return s.errorf("confirm %s %d: %w", output, seq, err)
	}
	return nil
}

// pruneOutbox deletes the events every output has confirmed.
func pruneOutbox(tx *bolt.Tx) error {
	low, any := uint64(math.MaxUint64), false
	_ = tx.Bucket([]byte(bucketOutputs)).ForEach(func(_, v []byte) error {
		low, any = min(low, uint64Value(v)), true
		return nil
	})
	meta := tx.Bucket([]byte(bucketMeta))
	head := getUint64(meta, metaHead)
	if !any || low <= head {
		return nil
	}
	box := tx.Bucket([]byte(bucketOutbox))
	for seq := head + 1; seq <= low; seq++ {
		if err := box.Delete(seqKey(seq)); err != nil {
			return err
		}
	}
	return putUint64(meta, metaHead, low)
}

// OutboxLen is the number of events in the outbox.
func (s *Store) OutboxLen() (int, error) {
	var n uint64
	err := s.view(func(tx *bolt.Tx) error {
		n = tx.Bucket([]byte(bucketOutbox)).Sequence() - getUint64(tx.Bucket([]byte(bucketMeta)), metaHead)
		return nil
	})
	if err != nil {
		return 0, s.errorf("outbox length: %w", err)
	}
	return int(n), nil
}

// DroppedEvents counts the events dropped from a full outbox over the
// store's life (0 if the store cannot be read).
func (s *Store) DroppedEvents() uint64 {
	var n uint64
	_ = s.view(func(tx *bolt.Tx) error {
		n = getUint64(tx.Bucket([]byte(bucketMeta)), metaDropped)
		return nil
	})
	return n
}

func seqKey(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func uint64Value(v []byte) uint64 {
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func getUint64(b *bolt.Bucket, key string) uint64 { return uint64Value(b.Get([]byte(key))) }

func putUint64(b *bolt.Bucket, key string, v uint64) error { return b.Put([]byte(key), seqKey(v)) }
