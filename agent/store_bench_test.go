package agent

import (
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// liveBytes is the part of the file holding data: the high-water mark
// less the free pages (the file itself grows in steps and never shrinks).
func storeLiveBytes(tb testing.TB, s *Store) int64 {
	var n int64
	err := s.view(func(tx *bolt.Tx) error {
		st := s.db.Stats()
		n = tx.Size() - int64(st.FreePageN+st.PendingPageN)*int64(s.db.Info().PageSize)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// tierBytes is the bytes in use by each of a target's buckets.
func storeTierBytes(tb testing.TB, s *Store, target string) map[string]int {
	out := map[string]int{}
	err := s.view(func(tx *bolt.Tx) error {
		t := targetBucket(tx, target)
		for _, name := range []string{bucketRaw, bucketM5, bucketH1, bucketColumns} {
			if b := t.Bucket([]byte(name)); b != nil {
				st := b.Stats()
				out[name] = st.LeafInuse + st.BranchInuse + st.InlineBucketInuse
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// BenchmarkStoreBMC30Days runs one Redfish BMC of 100 readings read every
// 60 s for 30 days of simulated time, compacting every hour, with the
// default retention, and reports the file's size, the live bytes, the
// daily growth once the raw and 5-minute tiers are full (only the hourly
// tier grows then: measured from day 16 to day 30, both at midnight after
// compaction, as the tiers move by days), the bytes of each tier, and the
// cost of a Commit (without fsync) and of an hourly Compact.
func BenchmarkStoreBMC30Days(b *testing.B) {
	const readings, days = 100, 30
	for b.Loop() {
		s, err := OpenStore(b.TempDir(), withoutSync())
		if err != nil {
			b.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(10, 11))
		start := storeT0
		var commitTime, compactTime time.Duration
		var commits, compacts int
		var liveDay16 int64
		for at := start; !at.After(start.Add(days * 24 * time.Hour)); at = at.Add(time.Minute) {
			r := &Round{Target: "bmc-0001.example", Time: at, Record: make([]byte, 3000), Samples: make([]Sample, readings)}
			for i := range readings {
				r.Samples[i] = Sample{Component: fmt.Sprintf("sensor/%d", i), Reading: "reading", Unit: "unit", Value: storeSimReading(rng, i, at)}
			}
			t0 := time.Now()
			if err := s.Commit(r); err != nil {
				b.Fatal(err)
			}
			commitTime += time.Since(t0)
			commits++
			if at.Minute() == 0 {
				t0 := time.Now()
				if err := s.Compact(at); err != nil {
					b.Fatal(err)
				}
				compactTime += time.Since(t0)
				compacts++
				if at.Equal(start.Add(16 * 24 * time.Hour)) {
					liveDay16 = storeLiveBytes(b, s)
				}
			}
		}
		size, _ := s.Size()
		live := storeLiveBytes(b, s)
		tiers := storeTierBytes(b, s, "bmc-0001.example")
		b.ReportMetric(float64(size), "bytes/BMC/30d")
		b.ReportMetric(float64(live), "live-bytes/BMC/30d")
		b.ReportMetric(float64(live-liveDay16)/14, "growth-bytes/BMC/day")
		b.ReportMetric(float64(tiers[bucketRaw]), "raw-bytes")
		b.ReportMetric(float64(tiers[bucketM5]), "m5-bytes")
		b.ReportMetric(float64(tiers[bucketH1]), "h1-bytes")
		b.ReportMetric(float64(commitTime.Nanoseconds())/float64(commits), "ns/commit-nosync")
		b.ReportMetric(float64(compactTime.Nanoseconds())/float64(compacts), "ns/compact")
		_ = s.Close()
	}
}

// build5000 fills a store with a target of 5000 drive temperatures and
// 30 days of history as compaction leaves it: 2 days raw at 60 s, 5-minute
// points of 5 readings back to day 15, hourly points of 60 back to day 30.
// The columns come from a real Commit; the rest is written directly, in
// the store's encodings, because 43 200 rounds of 5000 readings would
// take minutes.
func build5000(tb testing.TB, s *Store, now time.Time) {
	const comps = 5000
	r := &Round{Target: "jbod", Time: now.Add(-48 * time.Hour), Record: []byte("{}"), Samples: make([]Sample, comps)}
	for c := range comps {
		r.Samples[c] = Sample{Component: fmt.Sprintf("drive/%d", c), Reading: "temperature", Unit: "Cel", Value: 30}
	}
	if err := s.Commit(r); err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(12, 13))
	temp := func(c int) float64 { return float64(28 + c%15 + rng.IntN(3)) }
	put := func(fn func(t *bolt.Bucket) error) {
		if err := s.update(func(tx *bolt.Tx) error { return fn(targetBucket(tx, "jbod")) }); err != nil {
			tb.Fatal(err)
		}
	}
	// Raw: one row per minute.
	for at := now.Add(-48 * time.Hour); !at.After(now); {
		put(func(t *bolt.Bucket) error {
			raw := t.Bucket([]byte(bucketRaw))
			raw.FillPercent = 1
			for i := 0; i < 100 && !at.After(now); i, at = i+1, at.Add(time.Minute) {
				var rw storeRowValues
				for c := range comps {
					rw.set(c, temp(c))
				}
				if err := raw.Put(timeKey(at), rw.encode(nil)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	agg := func(c, n int) storePoint {
		p := storePoint{n: uint64(n), min: 1e9, max: -1e9}
		for range n {
			v := temp(c)
			p.sum += v
			p.min, p.max = min(p.min, v), max(p.max, v)
		}
		return p
	}
	chunks := func(tr storeTier, from, to time.Time, n int) {
		for start := floorNanos(from.UnixNano(), tr.span); start < to.UnixNano(); start += tr.span {
			put(func(t *bolt.Bucket) error {
				b, err := t.CreateBucketIfNotExists([]byte(tr.bucket))
				if err != nil {
					return err
				}
				for c := range comps {
					var pts []storePoint
					for at := max(start, from.UnixNano()); at < min(start+tr.span, to.UnixNano()); at += tr.width {
						p := agg(c, n)
						p.t = at
						pts = append(pts, p)
					}
					if err := b.Put(chunkKey(start, uint32(c+1)), encodeChunk(nil, pts, start, tr)); err != nil {
						return err
					}
				}
				return nil
			})
		}
	}
	day := 24 * time.Hour
	m5From := now.Add(-14 * day).Truncate(day)
	chunks(tierM5(), m5From, now.Add(-48*time.Hour).Truncate(5*time.Minute), 5)
	chunks(tierH1(), now.Add(-30*day).Truncate(time.Hour), m5From, 60)
}

// BenchmarkHistory5000Components: History of one component of a target
// with 5000, over its 30 days (2880 raw points, ~3500 5-minute ones and
// ~380 hourly ones).
func BenchmarkHistory5000Components(b *testing.B) {
	s := openTestStore(b, b.TempDir(), withoutSync())
	now := storeT0.Add(30 * 24 * time.Hour)
	build5000(b, s, now)
	size, _ := s.Size()
	b.ReportMetric(float64(size), "store-bytes")
	var points int
	i := 0
	for b.Loop() {
		c := (i * 997) % 5000
		i++
		h, err := s.History("jbod", fmt.Sprintf("drive/%d", c), now.Add(-31*24*time.Hour), now)
		if err != nil {
			b.Fatal(err)
		}
		if len(h) != 1 || len(h[0].Points) < 6000 {
			b.Fatalf("component %d: %d series", c, len(h))
		}
		points = len(h[0].Points)
	}
	b.ReportMetric(float64(points), "points/op")
}

// BenchmarkStoreCommit: one round of a 100-reading BMC with 2 events. sync
// is one committer waiting on each fsync (and the batch window);
// parallel is many targets committing at once, sharing transactions and
// fsyncs; nosync is the CPU cost alone.
func BenchmarkStoreCommit(b *testing.B) {
	names := make([]string, 100)
	for i := range names {
		names[i] = fmt.Sprintf("sensor/%d", i)
	}
	// round makes the next round in r (outside the timer would cost more
	// than it saves: the values are cheap to make).
	round := func(r *Round, target string, n int64, rng *rand.Rand) *Round {
		at := storeT0.Add(time.Duration(n) * time.Minute)
		if r == nil {
			r = &Round{Target: target, Record: make([]byte, 3000), Samples: make([]Sample, 100), Events: make([]Event, 2)}
		}
		r.Time = at
		for i := range r.Samples {
			r.Samples[i] = Sample{Component: names[i], Reading: "reading", Unit: "unit", Value: storeSimReading(rng, i, at)}
		}
		r.Events[0], r.Events[1] = storeEvent(target, "a", at), storeEvent(target, "b", at)
		return r
	}
	for _, bc := range []struct {
		name string
		opts []StoreOption
	}{{"sync", nil}, {"nosync", []StoreOption{withoutSync()}}} {
		b.Run(bc.name, func(b *testing.B) {
			s := openTestStore(b, b.TempDir(), append(bc.opts, WithMaxOutbox(1000))...)
			if err := s.SetOutputs([]string{"o"}); err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(14, 15))
			var n int64
			var r *Round
			for b.Loop() {
				n++
				r = round(r, "bmc", n, rng)
				if err := s.Commit(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("parallel", func(b *testing.B) {
		s := openTestStore(b, b.TempDir(), WithMaxOutbox(1000))
		if err := s.SetOutputs([]string{"o"}); err != nil {
			b.Fatal(err)
		}
		var targets atomic.Int64
		b.SetParallelism(16) // targets scanned at once
		b.RunParallel(func(pb *testing.PB) {
			target := fmt.Sprintf("bmc-%d", targets.Add(1))
			rng := rand.New(rand.NewPCG(uint64(len(target)), 16))
			var n int64
			var r *Round
			for pb.Next() {
				n++
				r = round(r, target, n, rng)
				if err := s.Commit(r); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
