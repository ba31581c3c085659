package agent

// Readings over time. Each target's bucket holds:
//
//	record          the agent's record of the target
//	columns/        column key -> 4-byte column id; the key is
//	                uvarint(len(component)) component uvarint(len(reading)) reading unit
//	raw/            8-byte time -> row: every reading of one round
//	m5/, h1/        8-byte chunk start + 4-byte column id -> chunk of one
//	                series' 5-minute points (6 hours a chunk) or hourly
//	                points (a day a chunk): sum, min, max and count each
//
// Raw rows are by time, not by series, because a round writes all of a
// target's readings at once: one key per round instead of one page per
// series per round. A row stores only the significant bytes of each value
// (whole numbers, most sensor readings, take 2-3 of the 8), with a nibble
// per column saying how many, so one column is read without decoding the
// others. The downsampled tiers are by series because they are written by
// compaction, read by series, and compress well along time: each field is
// XORed with the previous point's, so a steady sensor costs 2 bytes a point.
// Chunk keys start with the time, and compaction writes a chunk whole,
// so that it appends at the end of the bucket (full pages) and expiry
// deletes from its start.
//
// Times are Unix nanoseconds with the sign bit flipped, big-endian, so the
// byte order of keys is time order.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/bits"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

const (
	bucketColumns = "columns"
	bucketRaw     = "raw"
	bucketM5      = "m5"
	bucketH1      = "h1"

	rowCodeAbsent = 0xF // a row's nibble for a column without a value

	// Compaction's work per transaction, so that Commits are not held up
	// for long: raw rows, or chunks.
	compactRows   = 2000
	compactChunks = 4000

	// Histories of at most this many series seek each one's chunks; more
	// read the tier through.
	seekSeries = 16
)

// storeTier is a downsampled resolution: points width apart, chunks span long.
type storeTier struct {
	bucket string
	width  int64 // ns
	span   int64 // ns, a multiple of width
}

func tierM5() storeTier {
	return storeTier{bucket: bucketM5, width: int64(5 * time.Minute), span: int64(6 * time.Hour)}
}

func tierH1() storeTier {
	return storeTier{bucket: bucketH1, width: int64(time.Hour), span: int64(24 * time.Hour)}
}

// Point is one point of a series: a reading (N 1, Min = Max = Value), or
// the mean, min and max of the N readings of a 5-minute or hourly bucket
// starting at Time.
type Point struct {
	Time     time.Time
	Value    float64
	Min, Max float64
	N        int
}

// Series is one reading of one component over time.
type Series struct {
	Component, Reading, Unit string
	Points                   []Point
}

type preparedSample struct {
	key   []byte // column key
	value float64
}

// prepareSamples checks r and builds its samples' column keys outside the
// transaction (Batch may run the transaction more than once).
func prepareSamples(r *Round) ([]preparedSample, error) {
	if r.Target == "" || len(r.Target) > storeMaxTarget {
		return nil, fmt.Errorf("invalid target name (%d bytes)", len(r.Target))
	}
	if len(r.Samples) == 0 {
		return nil, nil
	}
	if _, ok := timeNanos(r.Time); !ok {
		return nil, fmt.Errorf("samples at time %v, which the store cannot hold", r.Time)
	}
	out := make([]preparedSample, 0, len(r.Samples))
	for _, sm := range r.Samples {
		if sm.Component == "" || sm.Reading == "" || len(sm.Component)+len(sm.Reading)+len(sm.Unit) > storeMaxNames {
			return nil, fmt.Errorf("invalid sample names %.64q %.64q %.64q", sm.Component, sm.Reading, sm.Unit)
		}
		if math.IsNaN(sm.Value) || math.IsInf(sm.Value, 0) {
			continue
		}
		out = append(out, preparedSample{key: columnKey(sm.Component, sm.Reading, sm.Unit), value: sm.Value})
	}
	return out, nil
}

func putSamples(tb *bolt.Bucket, t time.Time, samples []preparedSample) error {
	cols, err := tb.CreateBucketIfNotExists([]byte(bucketColumns))
	if err != nil {
		return err
	}
	raw, err := tb.CreateBucketIfNotExists([]byte(bucketRaw))
	if err != nil {
		return err
	}
	raw.FillPercent = 1 // rounds come in time order: pack the pages
	var vals storeRowValues
	key := timeKey(t)
	if old := raw.Get(key); old != nil {
		// A second round at the same instant: merge, the later wins.
		if err := vals.decode(old); err != nil {
			return fmt.Errorf("row at %v: %w", t, err)
		}
	}
	ids := make([]uint32, len(samples))
	var missing [][]byte
	for i, sm := range samples {
		if v := cols.Get(sm.key); len(v) == 4 {
			ids[i] = binary.BigEndian.Uint32(v)
		} else {
			missing = append(missing, sm.key)
		}
	}
	if len(missing) > 0 {
		// New columns in key order: bbolt inserts into a node's sorted
		// slice, so keys out of order cost a copy of the node each.
		slices.SortFunc(missing, bytes.Compare)
		added := make(map[string]uint32, len(missing))
		for _, k := range missing {
			if _, dup := added[string(k)]; dup {
				continue
			}
			seq, err := cols.NextSequence()
			if err != nil {
				return err
			}
			if seq > math.MaxUint32 {
				return errors.New("too many columns")
			}
			if err := cols.Put(k, binary.BigEndian.AppendUint32(nil, uint32(seq))); err != nil {
				return err
			}
			added[string(k)] = uint32(seq)
		}
		for i, sm := range samples {
			if ids[i] == 0 {
				ids[i] = added[string(sm.key)]
			}
		}
	}
	for i, sm := range samples {
		vals.set(int(ids[i])-1, sm.value)
	}
	return raw.Put(key, vals.encode(nil))
}

// storeColumn is one series of a target.
type storeColumn struct {
	id                       uint32
	component, reading, unit string
}

func columnKey(component, reading, unit string) []byte {
	b := make([]byte, 0, len(component)+len(reading)+len(unit)+4)
	b = binary.AppendUvarint(b, uint64(len(component)))
	b = append(b, component...)
	b = binary.AppendUvarint(b, uint64(len(reading)))
	b = append(b, reading...)
	return append(b, unit...)
}

func parseColumn(k, v []byte) (storeColumn, bool) {
	var c storeColumn
	if len(v) != 4 {
		return c, false
	}
	c.id = binary.BigEndian.Uint32(v)
	n, w := binary.Uvarint(k)
	if w <= 0 || n > uint64(len(k)-w) {
		return c, false
	}
	c.component, k = string(k[w:w+int(n)]), k[w+int(n):]
	n, w = binary.Uvarint(k)
	if w <= 0 || n > uint64(len(k)-w) {
		return c, false
	}
	c.reading, c.unit = string(k[w:w+int(n)]), string(k[w+int(n):])
	return c, c.id > 0
}

func readColumns(tb *bolt.Bucket) ([]storeColumn, error) {
	b := tb.Bucket([]byte(bucketColumns))
	if b == nil {
		return nil, nil
	}
	var out []storeColumn
	err := b.ForEach(func(k, v []byte) error {
		c, ok := parseColumn(k, v)
		if !ok {
			return fmt.Errorf("corrupt column %x", k)
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

// Components lists the components the target has readings of, sorted.
func (s *Store) Components(target string) ([]string, error) {
	var out []string
	err := s.view(func(tx *bolt.Tx) error {
		tb := targetBucket(tx, target)
		if tb == nil {
			return nil
		}
		cols, err := readColumns(tb)
		for _, c := range cols {
			out = append(out, c.component)
		}
		return err
	})
	if err != nil {
		return nil, s.errorf("components of %s: %w", target, err)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// History returns the target's series of component ("" for all of them)
// between from and to, sorted by component, reading and unit. component is
// "kind/id", or only the id when a single component has it. Each series
// has the finest resolution kept for every instant: raw readings, then
// 5-minute means, then hourly means, in time order; a downsampled point is
// returned when its bucket overlaps [from, to]. No such component, or no
// readings in the range, is an empty answer; an ambiguous id an error.
func (s *Store) History(target, component string, from, to time.Time) ([]Series, error) {
	var out []Series
	err := s.view(func(tx *bolt.Tx) error {
		tb := targetBucket(tx, target)
		if tb == nil {
			return nil
		}
		var cols []storeColumn
		var err error
		if component == "" {
			cols, err = readColumns(tb)
		} else if cols, err = componentColumns(tb, component); err == nil && len(cols) == 0 {
			// Not a "kind/id" the target has: perhaps an id alone.
			if cols, err = readColumns(tb); err == nil {
				cols, err = matchComponent(cols, component)
			}
		}
		if err != nil {
			return err
		}
		f, t := clampNanos(from), clampNanos(to)
		if len(cols) == 0 || f > t {
			return nil
		}
		out, err = readHistory(tb, cols, f, t)
		return err
	})
	if err != nil {
		return nil, s.errorf("history of %s: %w", strings.TrimSpace(target+" "+component), err)
	}
	return out, nil
}

// componentColumns is the columns of component (exactly), found by the
// prefix of their keys rather than by reading them all.
func componentColumns(tb *bolt.Bucket, component string) ([]storeColumn, error) {
	b := tb.Bucket([]byte(bucketColumns))
	if b == nil || component == "" {
		return nil, nil
	}
	prefix := binary.AppendUvarint(nil, uint64(len(component)))
	prefix = append(prefix, component...)
	var out []storeColumn
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		col, ok := parseColumn(k, v)
		if !ok {
			return nil, fmt.Errorf("corrupt column %x", k)
		}
		out = append(out, col)
	}
	return out, nil
}

// matchComponent keeps the columns of the component whose id (after the
// kind) is id, if only one component has it.
func matchComponent(cols []storeColumn, id string) ([]storeColumn, error) {
	var out []storeColumn
	names := map[string]bool{}
	for _, c := range cols {
		if _, cid, ok := strings.Cut(c.component, "/"); ok && cid == id {
			out = append(out, c)
			names[c.component] = true
		}
	}
	if len(names) > 1 {
		sorted := slices.Sorted(maps.Keys(names))
		return nil, fmt.Errorf("component %q is ambiguous: %s", id, strings.Join(sorted, ", "))
	}
	return out, nil
}

// seriesPoints is one series' points per tier while a history is read.
type seriesPoints struct {
	col         storeColumn
	raw, m5, h1 []storePoint
}

func readHistory(tb *bolt.Bucket, cols []storeColumn, f, t int64) ([]Series, error) {
	byIdx := make(map[int]*seriesPoints, len(cols))
	idxs := make([]int, 0, len(cols))
	for _, c := range cols {
		byIdx[int(c.id)-1] = &seriesPoints{col: c}
		idxs = append(idxs, int(c.id)-1)
	}
	slices.Sort(idxs)

	if raw := tb.Bucket([]byte(bucketRaw)); raw != nil {
		var at int64
		add := func(idx int, val float64) {
			if sp := byIdx[idx]; sp != nil {
				sp.raw = append(sp.raw, storePoint{t: at, n: 1, sum: val, min: val, max: val})
			}
		}
		c := raw.Cursor()
		for k, v := c.Seek(nanosKey(f)); k != nil; k, v = c.Next() {
			if at = keyNanos(k); at > t {
				break
			}
			rw, err := parseRow(v)
			if err != nil {
				return nil, fmt.Errorf("row at %v: %w", time.Unix(0, at).UTC(), err)
			}
			if len(idxs) <= seekSeries {
				for _, idx := range idxs {
					if val, ok := rw.value(idx); ok {
						add(idx, val)
					}
				}
			} else if err := rw.each(add); err != nil {
				return nil, fmt.Errorf("row at %v: %w", time.Unix(0, at).UTC(), err)
			}
		}
	}
	for _, tr := range []storeTier{tierM5(), tierH1()} {
		b := tb.Bucket([]byte(tr.bucket))
		if b == nil {
			continue
		}
		err := readTier(b, tr, idxs, f, t, func(idx int, pts []storePoint) {
			sp := byIdx[idx]
			if tr.bucket == bucketM5 {
				sp.m5 = append(sp.m5, pts...)
			} else {
				sp.h1 = append(sp.h1, pts...)
			}
		})
		if err != nil {
			return nil, err
		}
	}

	var out []Series
	for _, idx := range idxs {
		sp := byIdx[idx]
		pts := mergeTier(sp.raw, sp.m5, tierM5().width)
		pts = mergeTier(pts, sp.h1, tierH1().width)
		if len(pts) == 0 {
			continue
		}
		s := Series{Component: sp.col.component, Reading: sp.col.reading, Unit: sp.col.unit, Points: make([]Point, len(pts))}
		for i, p := range pts {
			s.Points[i] = Point{Time: time.Unix(0, p.t).UTC(), Value: p.sum / float64(p.n), Min: p.min, Max: p.max, N: int(p.n)}
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Series) int {
		return comparePairs(a.Component, b.Component, a.Reading, b.Reading, a.Unit, b.Unit)
	})
	return out, nil
}

func comparePairs(pairs ...string) int {
	for i := 0; i+1 < len(pairs); i += 2 {
		if c := strings.Compare(pairs[i], pairs[i+1]); c != 0 {
			return c
		}
	}
	return 0
}

// readTier hands fn the points of the columns idxs (sorted) whose bucket
// overlaps [f, t], in time order per column.
func readTier(b *bolt.Bucket, tr storeTier, idxs []int, f, t int64, fn func(idx int, pts []storePoint)) error {
	want := func(idx int) bool { _, ok := slices.BinarySearch(idxs, idx); return ok }
	take := func(k, v []byte) error {
		start, idx := keyNanos(k), int(binary.BigEndian.Uint32(k[8:12]))-1
		pts, err := decodeChunk(v, start, tr)
		if err != nil {
			return fmt.Errorf("%s chunk at %v of column %d: %w", tr.bucket, time.Unix(0, start).UTC(), idx+1, err)
		}
		lo, _ := slices.BinarySearchFunc(pts, f-tr.width+1, func(p storePoint, at int64) int { return cmpInt64(p.t, at) })
		hi, _ := slices.BinarySearchFunc(pts, t+1, func(p storePoint, at int64) int { return cmpInt64(p.t, at) })
		if lo < hi {
			fn(idx, pts[lo:hi])
		}
		return nil
	}
	c := b.Cursor()
	first := nanosKey(floorNanos(f, tr.span))
	if len(idxs) > seekSeries {
		for k, v := c.Seek(first); k != nil && keyNanos(k) <= t; k, v = c.Next() {
			if len(k) != 12 {
				return fmt.Errorf("%s: corrupt key %x", tr.bucket, k)
			}
			if want(int(binary.BigEndian.Uint32(k[8:12])) - 1) {
				if err := take(k, v); err != nil {
					return err
				}
			}
		}
		return nil
	}
	// Few series: seek each one's chunk in every chunk period present.
	for next := first; ; {
		k, _ := c.Seek(next)
		if k == nil || keyNanos(k) > t {
			return nil
		}
		start := keyNanos(k)
		for _, idx := range idxs {
			key := chunkKey(start, uint32(idx+1))
			if k2, v := c.Seek(key); bytes.Equal(k2, key) {
				if err := take(k2, v); err != nil {
					return err
				}
			}
		}
		next = nanosKey(start + tr.span)
	}
}

// mergeTier adds to fine (time-ordered) the coarse points (time-ordered,
// width apart) whose bucket holds no fine point: the finest resolution
// wins for every instant, and no time appears twice.
func mergeTier(fine, coarse []storePoint, width int64) []storePoint {
	if len(coarse) == 0 {
		return fine
	}
	out := make([]storePoint, 0, len(fine)+len(coarse))
	i := 0
	for _, p := range coarse {
		for i < len(fine) && fine[i].t < p.t {
			out = append(out, fine[i])
			i++
		}
		if i < len(fine) && fine[i].t < p.t+width {
			continue // the finer tier has this bucket
		}
		out = append(out, p)
	}
	return append(out, fine[i:]...)
}

// Compact rolls raw readings older than the retention's Raw into 5-minute
// points, 5-minute points older than Minute5 into hourly ones, and deletes
// hourly points older than Hourly. Each tier moves by whole chunks of the
// next one, so that a chunk is written once, in key order, and its pages
// are full: raw readings move 6 hours at a time, 5-minute points and
// hourly points a day at a time, so each tier keeps up to that much more
// than its retention. Compact runs in transactions of bounded size so
// that Commits go on meanwhile. A reading committed for a 5-minute bucket
// already rolled is dropped.
func (s *Store) Compact(now time.Time) error {
	n, ok := timeNanos(now)
	if !ok {
		return s.errorf("compact: time %v", now)
	}
	r, m5, h1 := s.cfg.retention, tierM5(), tierH1()
	cutAt := func(keep time.Duration, unit int64) int64 {
		if int64(keep) > n-storeMinNanos { // a retention of centuries
			return storeMinNanos
		}
		return floorNanos(n-int64(keep), unit)
	}
	rawCut, m5Cut, h1Cut := cutAt(r.Raw, m5.span), cutAt(r.Minute5, h1.span), cutAt(r.Hourly, h1.span)

	var targets []string
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketTargets)).ForEachBucket(func(k []byte) error {
			targets = append(targets, string(k))
			return nil
		})
	})
	if err != nil {
		return s.errorf("compact: %w", err)
	}
	for _, target := range targets {
		steps := []func(tx *bolt.Tx, tb *bolt.Bucket) (bool, error){
			func(_ *bolt.Tx, tb *bolt.Bucket) (bool, error) { return rollRaw(tb, rawCut) },
			func(_ *bolt.Tx, tb *bolt.Bucket) (bool, error) { return rollTier(tb, m5, h1, m5Cut) },
			func(_ *bolt.Tx, tb *bolt.Bucket) (bool, error) { return rollTier(tb, h1, storeTier{}, h1Cut) },
			func(tx *bolt.Tx, tb *bolt.Bucket) (bool, error) { return false, dropEmptyTarget(tx, tb, target) },
		}
		for _, step := range steps {
			for more := true; more; {
				err := s.update(func(tx *bolt.Tx) error {
					more = false
					tb := targetBucket(tx, target)
					if tb == nil {
						return nil // deleted meanwhile
					}
					var err error
					more, err = step(tx, tb)
					return err
				})
				if err != nil {
					return s.errorf("compact %s: %w", target, err)
				}
			}
		}
	}
	return nil
}

// rollRaw rolls up to compactRows raw rows older than cut (a multiple of
// 5 minutes) into 5-minute points; it stops only between 5-minute buckets,
// so no bucket is ever rolled in two parts (a later part would be dropped
// as already there).
func rollRaw(tb *bolt.Bucket, cut int64) (more bool, err error) {
	raw := tb.Bucket([]byte(bucketRaw))
	if raw == nil {
		return false, nil
	}
	m5 := tierM5()
	var (
		keys    [][]byte
		bucket  int64
		current = map[int]*storePoint{}
		points  = map[int][]storePoint{}
	)
	flush := func() {
		for idx, p := range current {
			points[idx] = append(points[idx], *p)
		}
		clear(current)
	}
	c := raw.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		at := keyNanos(k)
		if at >= cut {
			break
		}
		b := floorNanos(at, m5.width)
		if len(keys) > 0 && b != bucket {
			if len(keys) >= compactRows {
				more = true
				break
			}
			flush()
		}
		bucket = b
		rw, err := parseRow(v)
		if err != nil {
			return false, fmt.Errorf("row at %v: %w", time.Unix(0, at).UTC(), err)
		}
		err = rw.each(func(idx int, val float64) {
			if p := current[idx]; p != nil {
				p.add(storePoint{n: 1, sum: val, min: val, max: val})
			} else {
				current[idx] = &storePoint{t: b, n: 1, sum: val, min: val, max: val}
			}
		})
		if err != nil {
			return false, fmt.Errorf("row at %v: %w", time.Unix(0, at).UTC(), err)
		}
		keys = append(keys, slices.Clone(k))
	}
	if len(keys) == 0 {
		return false, nil
	}
	flush()
	if err := appendTier(tb, m5, points); err != nil {
		return false, err
	}
	for _, k := range keys {
		if err := raw.Delete(k); err != nil {
			return false, err
		}
	}
	return more, nil
}

// rollTier moves up to compactChunks chunks of from whose span ends by cut
// into the tier to (aggregated to its width), or deletes them if to is
// the zero tier. cut is a multiple of to's width, so that no point of to
// is made from two rolls.
func rollTier(tb *bolt.Bucket, from, to storeTier, cut int64) (more bool, err error) {
	b := tb.Bucket([]byte(from.bucket))
	if b == nil {
		return false, nil
	}
	var keys [][]byte
	points := map[int][]storePoint{}
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		start := keyNanos(k)
		if start > cut-from.span {
			break
		}
		if len(keys) >= compactChunks {
			more = true
			break
		}
		keys = append(keys, slices.Clone(k))
		if to.bucket == "" {
			continue
		}
		if len(k) != 12 {
			return false, fmt.Errorf("%s: corrupt key %x", from.bucket, k)
		}
		pts, err := decodeChunk(v, start, from)
		if err != nil {
			return false, fmt.Errorf("%s chunk at %v: %w", from.bucket, time.Unix(0, start).UTC(), err)
		}
		idx := int(binary.BigEndian.Uint32(k[8:12])) - 1
		for _, p := range pts {
			p.t = floorNanos(p.t, to.width)
			if acc := points[idx]; len(acc) > 0 && acc[len(acc)-1].t == p.t {
				acc[len(acc)-1].add(p)
			} else {
				points[idx] = append(acc, p)
			}
		}
	}
	if to.bucket != "" {
		if err := appendTier(tb, to, points); err != nil {
			return false, err
		}
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return false, err
		}
	}
	if !more && to.bucket == "" && len(keys) > 0 {
		// Series may have aged out entirely: forget their columns.
		return false, pruneColumns(tb)
	}
	return more, nil
}

// appendTier appends each column's points (time-ordered) to its chunks;
// points not after a chunk's last are dropped, so a tier never holds a
// time twice.
func appendTier(tb *bolt.Bucket, tr storeTier, points map[int][]storePoint) error {
	if len(points) == 0 {
		return nil
	}
	b, err := tb.CreateBucketIfNotExists([]byte(tr.bucket))
	if err != nil {
		return err
	}
	b.FillPercent = 1 // chunks are written whole, in key order: pack the pages
	type piece struct {
		start int64
		idx   int
		pts   []storePoint
	}
	var pieces []piece
	for idx, pts := range points {
		for len(pts) > 0 {
			start := floorNanos(pts[0].t, tr.span)
			n := 1
			for n < len(pts) && pts[n].t < start+tr.span {
				n++
			}
			pieces = append(pieces, piece{start, idx, pts[:n]})
			pts = pts[n:]
		}
	}
	// In key order: bbolt inserts into a node's sorted slice, so keys out
	// of order cost a copy of the node each.
	slices.SortFunc(pieces, func(a, b piece) int {
		if c := cmpInt64(a.start, b.start); c != 0 {
			return c
		}
		return a.idx - b.idx
	})
	for _, pc := range pieces {
		key := chunkKey(pc.start, uint32(pc.idx+1))
		var old []storePoint
		if v := b.Get(key); v != nil {
			if old, err = decodeChunk(v, pc.start, tr); err != nil {
				return fmt.Errorf("%s chunk at %v: %w", tr.bucket, time.Unix(0, pc.start).UTC(), err)
			}
		}
		merged := old
		for _, p := range pc.pts {
			if len(merged) == 0 || p.t > merged[len(merged)-1].t {
				merged = append(merged, p)
			}
		}
		if len(merged) > len(old) {
			if err := b.Put(key, encodeChunk(nil, merged, pc.start, tr)); err != nil {
				return err
			}
		}
	}
	return nil
}

// pruneColumns deletes the columns no row or chunk holds a value of.
func pruneColumns(tb *bolt.Bucket) error {
	cols := tb.Bucket([]byte(bucketColumns))
	if cols == nil {
		return nil
	}
	used := map[int]bool{}
	if raw := tb.Bucket([]byte(bucketRaw)); raw != nil {
		err := raw.ForEach(func(_, v []byte) error {
			rw, err := parseRow(v)
			if err != nil {
				return err
			}
			return rw.each(func(idx int, _ float64) { used[idx] = true })
		})
		if err != nil {
			return err
		}
	}
	for _, name := range []string{bucketM5, bucketH1} {
		if b := tb.Bucket([]byte(name)); b != nil {
			_ = b.ForEach(func(k, _ []byte) error {
				if len(k) == 12 {
					used[int(binary.BigEndian.Uint32(k[8:12]))-1] = true
				}
				return nil
			})
		}
	}
	var gone [][]byte
	_ = cols.ForEach(func(k, v []byte) error {
		if len(v) == 4 && !used[int(binary.BigEndian.Uint32(v))-1] {
			gone = append(gone, slices.Clone(k))
		}
		return nil
	})
	for _, k := range gone {
		if err := cols.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// dropEmptyTarget deletes the bucket of a target without a record whose
// readings have all aged out.
func dropEmptyTarget(tx *bolt.Tx, tb *bolt.Bucket, target string) error {
	if tb.Get([]byte(targetRecordKey)) != nil {
		return nil
	}
	for _, name := range []string{bucketRaw, bucketM5, bucketH1} {
		if b := tb.Bucket([]byte(name)); b != nil {
			if k, _ := b.Cursor().First(); k != nil {
				return nil
			}
		}
	}
	return tx.Bucket([]byte(bucketTargets)).DeleteBucket([]byte(target))
}

// storePoint is a point as stored: the sum (not the mean, so that the sum of
// whole numbers stays a short whole number), min, max and count of the
// readings in the bucket starting at t.
type storePoint struct {
	t             int64
	n             uint64
	sum, min, max float64
}

func (p *storePoint) add(q storePoint) {
	p.n += q.n
	p.sum += q.sum
	p.min = math.Min(p.min, q.min)
	p.max = math.Max(p.max, q.max)
}

// Chunk encoding: uvarint(count), then per point a flags byte and
//
//	flagStep unset: uvarint(steps of width since the previous point; the
//	                first point counts from start - width)
//	flagSameN unset: uvarint(n)
//	min             XORed with the previous min (xorFloat)
//	flagMaxIsMin unset: max XORed with the previous max
//	flagSumIsNMin unset: sum XORed with the previous sum
const (
	flagStep      = 1 << 0 // one width after the previous point
	flagSameN     = 1 << 1 // n as the previous point's
	flagMaxIsMin  = 1 << 2 // max == min
	flagSumIsNMin = 1 << 3 // sum == n*min exactly
	flagsKnown    = flagStep | flagSameN | flagMaxIsMin | flagSumIsNMin
)

func encodeChunk(dst []byte, pts []storePoint, start int64, tr storeTier) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(pts)))
	prev := storePoint{t: start - tr.width}
	for _, p := range pts {
		var flags byte
		steps := uint64((p.t - prev.t) / tr.width)
		if steps == 1 {
			flags |= flagStep
		}
		if p.n == prev.n {
			flags |= flagSameN
		}
		// Bit-exact, so that decoding gives back the same floats.
		if math.Float64bits(p.max) == math.Float64bits(p.min) {
			flags |= flagMaxIsMin
		}
		if math.Float64bits(p.sum) == math.Float64bits(float64(p.n)*p.min) {
			flags |= flagSumIsNMin
		}
		dst = append(dst, flags)
		if flags&flagStep == 0 {
			dst = binary.AppendUvarint(dst, steps)
		}
		if flags&flagSameN == 0 {
			dst = binary.AppendUvarint(dst, p.n)
		}
		dst = appendXOR(dst, prev.min, p.min)
		if flags&flagMaxIsMin == 0 {
			dst = appendXOR(dst, prev.max, p.max)
		}
		if flags&flagSumIsNMin == 0 {
			dst = appendXOR(dst, prev.sum, p.sum)
		}
		prev = p
	}
	return dst
}

func decodeChunk(data []byte, start int64, tr storeTier) ([]storePoint, error) {
	count, w := binary.Uvarint(data)
	if w <= 0 || count > uint64(len(data)) {
		return nil, errors.New("corrupt chunk count")
	}
	data = data[w:]
	pts := make([]storePoint, 0, count)
	prev := storePoint{t: start - tr.width}
	for range count {
		if len(data) == 0 {
			return nil, errors.New("chunk truncated")
		}
		flags := data[0]
		data = data[1:]
		if flags&^flagsKnown != 0 {
			return nil, fmt.Errorf("chunk point flags %#x", flags)
		}
		p := prev
		steps := uint64(1)
		if flags&flagStep == 0 {
			if steps, w = binary.Uvarint(data); w <= 0 {
				return nil, errors.New("corrupt chunk time")
			}
			data = data[w:]
		}
		if steps == 0 || steps > uint64((start+tr.span-1-prev.t)/tr.width) {
			return nil, errors.New("chunk time out of its span")
		}
		p.t = prev.t + int64(steps)*tr.width
		if flags&flagSameN == 0 {
			if p.n, w = binary.Uvarint(data); w <= 0 {
				return nil, errors.New("corrupt chunk count of readings")
			}
			data = data[w:]
		}
		if p.n == 0 {
			return nil, errors.New("chunk point of no readings")
		}
		var err error
		if p.min, data, err = readXOR(data, prev.min); err != nil {
			return nil, err
		}
		p.max = p.min
		if flags&flagMaxIsMin == 0 {
			if p.max, data, err = readXOR(data, prev.max); err != nil {
				return nil, err
			}
		}
		p.sum = float64(p.n) * p.min
		if flags&flagSumIsNMin == 0 {
			if p.sum, data, err = readXOR(data, prev.sum); err != nil {
				return nil, err
			}
		}
		pts = append(pts, p)
		prev = p
	}
	if len(data) != 0 {
		return nil, errors.New("chunk has trailing bytes")
	}
	return pts, nil
}

// appendXOR writes v as its bits XORed with prev's: a header byte
// (leading zero bytes << 4 | significant bytes; 0 when equal) and the
// significant bytes. Readings that change little, or are whole numbers,
// leave few.
func appendXOR(dst []byte, prev, v float64) []byte {
	x := math.Float64bits(prev) ^ math.Float64bits(v)
	if x == 0 {
		return append(dst, 0)
	}
	lead, trail := bits.LeadingZeros64(x)/8, bits.TrailingZeros64(x)/8
	n := 8 - lead - trail
	dst = append(dst, byte(lead<<4|n))
	for i := range n {
		dst = append(dst, byte(x>>(8*(7-lead-i))))
	}
	return dst
}

func readXOR(data []byte, prev float64) (float64, []byte, error) {
	if len(data) == 0 {
		return 0, nil, errors.New("chunk truncated")
	}
	h := data[0]
	if h == 0 {
		return prev, data[1:], nil
	}
	lead, n := int(h>>4), int(h&0xF)
	if n == 0 || lead+n > 8 || len(data) < 1+n {
		return 0, nil, errors.New("corrupt chunk value")
	}
	var x uint64
	for i := range n {
		x |= uint64(data[1+i]) << (8 * (7 - lead - i))
	}
	return math.Float64frombits(math.Float64bits(prev) ^ x), data[1+n:], nil
}

// Row encoding: uvarint(columns), a nibble per column (high nibble first):
// how many leading bytes of the value's big-endian bits are stored (0-8;
// the rest are zero), or rowCodeAbsent; then those bytes, in column order.
type storeRowValues struct {
	vals    []float64
	present []bool
}

func (r *storeRowValues) set(idx int, v float64) {
	if idx >= len(r.vals) {
		r.vals = append(r.vals, make([]float64, idx+1-len(r.vals))...)
		r.present = append(r.present, make([]bool, idx+1-len(r.present))...)
	}
	r.vals[idx], r.present[idx] = v, true
}

func (r *storeRowValues) decode(data []byte) error {
	rw, err := parseRow(data)
	if err != nil {
		return err
	}
	return rw.each(r.set)
}

func (r *storeRowValues) encode(dst []byte) []byte {
	n := len(r.present)
	for n > 0 && !r.present[n-1] {
		n--
	}
	dst = binary.AppendUvarint(dst, uint64(n))
	nib := len(dst)
	dst = append(dst, make([]byte, (n+1)/2)...)
	for i := range n {
		code := byte(rowCodeAbsent)
		if r.present[i] {
			b := math.Float64bits(r.vals[i])
			size := 0
			if b != 0 {
				size = 8 - bits.TrailingZeros64(b)/8
			}
			for j := range size {
				dst = append(dst, byte(b>>(56-8*j)))
			}
			code = byte(size)
		}
		if i%2 == 0 {
			dst[nib+i/2] |= code << 4
		} else {
			dst[nib+i/2] |= code
		}
	}
	return dst
}

// storeRow is a parsed row: its nibbles and value bytes, not yet decoded.
type storeRow struct {
	n     int
	codes []byte
	vals  []byte
}

func parseRow(data []byte) (storeRow, error) {
	n, w := binary.Uvarint(data)
	if w <= 0 || n > 2*uint64(len(data)-w) {
		return storeRow{}, errors.New("corrupt row header")
	}
	nb := int(n+1) / 2
	return storeRow{n: int(n), codes: data[w : w+nb], vals: data[w+nb:]}, nil
}

func (r storeRow) code(idx int) byte {
	if idx%2 == 0 {
		return r.codes[idx/2] >> 4
	}
	return r.codes[idx/2] & 0xF
}

// value is column idx's value, if the row has one.
func (r storeRow) value(idx int) (float64, bool) {
	if idx < 0 || idx >= r.n {
		return 0, false
	}
	size := int(r.code(idx))
	if size > 8 {
		return 0, false
	}
	off := sumSizes(r.codes[:idx/2])
	if idx%2 == 1 {
		off += nibbleSize(r.codes[idx/2] >> 4)
	}
	if off+size > len(r.vals) {
		return 0, false
	}
	return floatPrefix(r.vals[off : off+size]), true
}

// each hands fn every value of the row, checking the whole row.
func (r storeRow) each(fn func(idx int, v float64)) error {
	off := 0
	for i := range r.n {
		size := int(r.code(i))
		if size == rowCodeAbsent {
			continue
		}
		if size > 8 || off+size > len(r.vals) {
			return errors.New("corrupt row")
		}
		fn(i, floatPrefix(r.vals[off:off+size]))
		off += size
	}
	if off != len(r.vals) {
		return errors.New("row has trailing bytes")
	}
	return nil
}

func floatPrefix(b []byte) float64 {
	var x uint64
	for i, c := range b {
		x |= uint64(c) << (56 - 8*i)
	}
	return math.Float64frombits(x)
}

func nibbleSize(c byte) int {
	if c == rowCodeAbsent {
		return 0
	}
	return int(c)
}

// sumSizes adds up the value sizes of whole code bytes, 16 nibbles at a
// time: rows of thousands of columns are read for one column at a time.
func sumSizes(codes []byte) int {
	const (
		lo1  = 0x1111111111111111
		loF  = 0x0F0F0F0F0F0F0F0F
		ones = 0x0101010101010101
	)
	total := 0
	for len(codes) >= 8 {
		x := binary.LittleEndian.Uint64(codes)
		absent := x & (x >> 1) & (x >> 2) & (x >> 3) & lo1 // bit 0 of each 0xF nibble
		x &^= absent * 0xF
		b := x&loF + (x>>4)&loF // per byte, the sum of its two nibbles (<= 30)
		total += int((b * ones) >> 56)
		codes = codes[8:]
	}
	for _, c := range codes {
		total += nibbleSize(c>>4) + nibbleSize(c&0xF)
	}
	return total
}

func chunkKey(start int64, id uint32) []byte {
	return binary.BigEndian.AppendUint32(nanosKey(start), id)
}

func timeKey(t time.Time) []byte { n, _ := timeNanos(t); return nanosKey(n) }

func nanosKey(n int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)^1<<63) }

func keyNanos(k []byte) int64 {
	if len(k) < 8 {
		return math.MinInt64
	}
	return int64(binary.BigEndian.Uint64(k) ^ 1<<63)
}

// The times the store holds: 1900 to 2200, so that time arithmetic on
// them never overflows.
const (
	storeMinNanos = -2208988800 * int64(time.Second) // 1900-01-01
	storeMaxNanos = 7258118400 * int64(time.Second)  // 2200-01-01
)

// timeNanos is t in Unix nanoseconds, if the store can hold it.
func timeNanos(t time.Time) (int64, bool) {
	if t.Before(time.Unix(0, storeMinNanos)) || t.After(time.Unix(0, storeMaxNanos)) {
		return 0, false
	}
	return t.UnixNano(), true
}

// clampNanos is t in Unix nanoseconds, clamped to the times the store
// holds (the zero time is the earliest).
func clampNanos(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, storeMinNanos)):
		return storeMinNanos
	case t.After(time.Unix(0, storeMaxNanos)):
		return storeMaxNanos
	}
	return t.UnixNano()
}

// floorNanos rounds n down to a multiple of d, also below zero.
func floorNanos(n, d int64) int64 {
	q := n / d
	if n%d != 0 && n < 0 {
		q--
	}
	return q * d
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
