package agent

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The store decodes bytes from its file: rows, chunks and column keys. A
// damaged file must give errors, never a panic, and what decodes must
// encode back to the same.

func FuzzStoreRow(f *testing.F) {
	var r storeRowValues
	r.set(0, 5400)
	r.set(2, -0.25)
	r.set(3, 12.05)
	r.set(20, 0)
	f.Add(r.encode(nil), 3)
	f.Add([]byte{0x02, 0xF3, 0x40, 0x46, 0x80}, 1)
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0xFF, 0x0F}, 0)
	f.Fuzz(func(t *testing.T, data []byte, idx int) {
		rw, err := parseRow(data)
		if err != nil {
			return
		}
		v, ok := rw.value(idx)
		var back storeRowValues
		if err := rw.each(back.set); err != nil {
			return
		}
		// A valid row: value agrees with each, and the row encodes back
		// to itself (modulo trailing absent columns and stray bits).
		if ok != (idx >= 0 && idx < len(back.present) && back.present[idx]) || ok && math.Float64bits(v) != math.Float64bits(back.vals[idx]) {
			t.Fatalf("value(%d) = %v, %v; each gives %v", idx, v, ok, back)
		}
		row2, err := parseRow(back.encode(nil))
		if err != nil {
			t.Fatal(err)
		}
		var again storeRowValues
		if err := row2.each(again.set); err != nil {
			t.Fatal(err)
		}
		for i := range back.present {
			if back.present[i] && math.Float64bits(back.vals[i]) != math.Float64bits(again.vals[i]) {
				t.Fatalf("column %d: %v, then %v", i, back.vals[i], again.vals[i])
			}
		}
	})
}

func FuzzStoreChunk(f *testing.F) {
	m5 := tierM5()
	pts := []storePoint{
		{t: 0, n: 5, sum: 27000, min: 5400, max: 5400},
		{t: m5.width, n: 5, sum: 60.27, min: 12.05, max: 12.06},
		{t: 7 * m5.width, n: 3, sum: -1, min: -0.5, max: 0},
	}
	f.Add(encodeChunk(nil, pts, 0, m5), int64(0), false)
	f.Add([]byte{0x01, 0x00, 0x05, 0xF1}, int64(86400e9), true)
	f.Add([]byte{0x02, 0x0F, 0x00, 0x0F, 0x00}, int64(-1), false)
	f.Fuzz(func(t *testing.T, data []byte, start int64, hourly bool) {
		tr := m5
		if hourly {
			tr = tierH1()
		}
		start = floorNanos(max(min(start, storeMaxNanos), storeMinNanos), tr.span)
		pts, err := decodeChunk(data, start, tr)
		if err != nil {
			return
		}
		back, err := decodeChunk(encodeChunk(nil, pts, start, tr), start, tr)
		if err != nil {
			t.Fatal(err)
		}
		if len(back) != len(pts) {
			t.Fatalf("%d points, then %d", len(pts), len(back))
		}
		for i := range pts {
			p, q := pts[i], back[i]
			if p.t != q.t || p.n != q.n || math.Float64bits(p.sum) != math.Float64bits(q.sum) ||
				math.Float64bits(p.min) != math.Float64bits(q.min) || math.Float64bits(p.max) != math.Float64bits(q.max) {
				t.Fatalf("point %d: %+v, then %+v", i, p, q)
			}
			if p.t < start || p.t >= start+tr.span || i > 0 && p.t <= pts[i-1].t {
				t.Fatalf("point %d at %d: out of its chunk or order", i, p.t)
			}
		}
	})
}

func FuzzStoreColumnKey(f *testing.F) {
	f.Add([]byte(columnKey("fan/0", "speed", "RPM")), uint32(1))
	f.Add([]byte{0xFF, 0x01}, uint32(7))
	f.Fuzz(func(t *testing.T, key []byte, id uint32) {
		v := []byte{byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)}
		c, ok := parseColumn(key, v)
		if !ok {
			return
		}
		// Keys the store writes encode back to themselves; any key that
		// parses gives a column that goes round.
		back, ok := parseColumn(columnKey(c.component, c.reading, c.unit), v)
		if c.id != id || !ok || back != c {
			t.Fatalf("%x: %+v, then %+v", key, c, back)
		}
	})
}

// TestStoreEncodingRoundTrip covers values the fuzzers rarely make.
func TestStoreEncodingRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	special := []float64{0, math.Copysign(0, -1), 1, -1, 5400, 12.05, 0.1, math.MaxFloat64, -math.MaxFloat64,
		math.SmallestNonzeroFloat64, 1e300, 123456789.123}
	var r storeRowValues
	var pts []storePoint
	m5 := tierM5()
	for i := range 300 {
		v := special[i%len(special)]
		if i >= len(special) {
			v = rng.NormFloat64() * 1000
		}
		if i%3 != 2 {
			r.set(i, v)
		}
		pts = append(pts, storePoint{t: int64(i+i/7) * m5.width, n: uint64(1 + i%4), sum: v * 3, min: v, max: v + float64(i%2)})
	}
	rw, err := parseRow(r.encode(nil))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 310 {
		v, ok := rw.value(i)
		if ok != (i < 300 && i%3 != 2) || ok && math.Float64bits(v) != math.Float64bits(r.vals[i]) {
			t.Errorf("column %d: %v %v, want %v", i, v, ok, r.vals[min(i, 299)])
		}
	}
	// Chunk points must be strictly increasing and inside one span.
	var uniq []storePoint
	for _, p := range pts {
		if (len(uniq) == 0 || p.t > uniq[len(uniq)-1].t) && p.t < m5.span {
			uniq = append(uniq, p)
		}
	}
	back, err := decodeChunk(encodeChunk(nil, uniq, 0, m5), 0, m5)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(uniq) {
		t.Fatalf("%d points, want %d", len(back), len(uniq))
	}
	for i, p := range uniq {
		q := back[i]
		if p.t != q.t || p.n != q.n || math.Float64bits(p.sum) != math.Float64bits(q.sum) ||
			math.Float64bits(p.min) != math.Float64bits(q.min) || math.Float64bits(p.max) != math.Float64bits(q.max) {
			t.Errorf("point %d: %+v, want %+v", i, q, p)
		}
	}
	// sumSizes agrees with the nibble-by-nibble sum.
	for range 1000 {
		codes := make([]byte, rng.IntN(40))
		want := 0
		for i := range codes {
			hi, lo := byte(rng.IntN(10)), byte(rng.IntN(10))
			if hi == 9 {
				hi = rowCodeAbsent
			}
			if lo == 9 {
				lo = rowCodeAbsent
			}
			codes[i] = hi<<4 | lo
			want += nibbleSize(hi) + nibbleSize(lo)
		}
		if got := sumSizes(codes); got != want {
			t.Fatalf("sumSizes(%x) = %d, want %d", codes, got, want)
		}
	}
}
