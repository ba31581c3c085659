package ipmi

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/types"
	"github.com/prefail/prefail/ipmi/ipmisim"
	"github.com/prefail/prefail/model"
)

// Hostile replies at the exchanger seam. The relay (hostile_test.go)
// reaches every case over the network; these tests cover what it cannot:
// the in-band interface (/dev/ipmi0, InterfaceOpen), which has no network
// to put a relay on, so a broken BMC firmware's replies arrive here
// directly; and exact counts of what the readers hold (records, bytes,
// requests), which a scan's snapshot only shows in part.

// fakeBMC answers exchanges with f and counts them per command.
type fakeBMC struct {
	n map[hcmd]int
	f func(ctx context.Context, c hcmd, data []byte) ([]byte, error)
}

func (b *fakeBMC) exchange(ctx context.Context, netFn types.NetFn, cmd uint8, name string, data []byte) ([]byte, error) {
	if b.n == nil {
		b.n = map[hcmd]int{}
	}
	c := mkcmd(uint8(netFn), cmd)
	b.n[c]++
	return b.f(ctx, c, data)
}

// endlessSEL answers a SEL that claims entries and whose chain never ends.
func endlessSEL(entries uint16) *fakeBMC {
	return &fakeBMC{f: func(ctx context.Context, c hcmd, data []byte) ([]byte, error) {
		switch c {
		case cmdSELInfo:
			return selInfoData(entries, 0x69000001), nil
		case cmdSELEntry:
			id := binary.LittleEndian.Uint16(data[2:4])
			if id == 0 || id == 0xffff {
				id = 0xfffe
			}
			next := id + 1
			if next == 0xffff {
				next = 1
			}
			return selEntry(id, next)[:18], nil
		}
		return nil, &CompletionCodeError{Command: "fake", Code: ccInvalidCommand}
	}}
}

func TestSeamSELFlood(t *testing.T) {
	bmc := endlessSEL(0xffff)
	lim := selLimits{keep: 200, reads: 1000}
	res, err := readSEL(context.Background(), bmc, nil, lim)
	if err != nil {
		t.Fatal(err)
	}
	first := bmc.n[cmdSELEntry]
	if first > lim.reads {
		t.Errorf("first read: %d Get SEL Entry, want at most %d", first, lim.reads)
	}
	if len(res.records) != 200 {
		t.Errorf("first read holds %d records, want the newest 200", len(res.records))
	}
	if len(res.warnings) != 1 || !strings.Contains(res.warnings[0].Message, "read the limit of 1000 entries in one scan (Get SEL Info counted 65535)") {
		t.Errorf("warnings %+v", res.warnings)
	}
	// The next read goes on from the cursor, as bounded.
	bmc = endlessSEL(0xfffe)
	next, err := readSEL(context.Background(), bmc, &res.cursor, lim)
	if err != nil {
		t.Fatal(err)
	}
	if len(next.records) > lim.reads || len(next.records) == 0 {
		t.Errorf("cursor read holds %d records, want 1..%d", len(next.records), lim.reads)
	}
	if n := bmc.n[cmdSELEntry]; n > lim.reads {
		t.Errorf("cursor read: %d Get SEL Entry, want at most %d", n, lim.reads)
	}
	t.Logf("first read: %d Get SEL Entry, %d records held; from the cursor: %d Get SEL Entry, %d records held; %v", first, len(res.records), bmc.n[cmdSELEntry], len(next.records), next.warnings)
}

func TestSeamSELLoopsAtFirstRecord(t *testing.T) {
	bmc := &fakeBMC{f: func(ctx context.Context, c hcmd, data []byte) ([]byte, error) {
		if c == cmdSELInfo {
			return selInfoData(3, 1), nil
		}
		return selEntry(1, 0)[:18], nil // next is 0000h: the first record again
	}}
	res, err := readSEL(context.Background(), bmc, nil, selLimits{keep: 200, reads: 100})
	if err != nil {
		t.Fatal(err)
	}
	if n := bmc.n[cmdSELEntry]; n != 1 || len(res.warnings) != 1 || !strings.Contains(res.warnings[0].Message, "comes back") {
		t.Errorf("%d requests, warnings %+v: want one read and a loop warning", n, res.warnings)
	}
}

func TestSeamSDRFlood(t *testing.T) {
	rec := compactSDR(t)
	bmc := &fakeBMC{f: func(ctx context.Context, c hcmd, data []byte) ([]byte, error) {
		id := binary.LittleEndian.Uint16(data[2:4])
		r := rec(id + 1)
		return append(binary.LittleEndian.AppendUint16(nil, id+1), r[data[4]:min(len(r), int(data[4])+int(data[5]))]...), nil
	}}
	rd := &sdrReader{ex: bmc, whole: true, maxRecords: 100}
	recs, err := rd.readAll(context.Background(), 0xffff)
	if err == nil || !strings.Contains(err.Error(), "SDR repository flood: more than the limit of 100 records") {
		t.Errorf("err = %v", err)
	}
	held := 0
	for _, r := range recs {
		held += len(r)
	}
	if len(recs) != 100 || bmc.n[cmdGetSDR] != 100 || held > 100*(sdrHeaderLen+255) {
		t.Errorf("%d records (%d bytes) held after %d requests, want 100", len(recs), held, bmc.n[cmdGetSDR])
	}
}

func TestSeamSDRDribble(t *testing.T) {
	// A 260-byte OEM record; whole-record reads refused; partial reads
	// return one byte each.
	rec := make([]byte, sdrHeaderLen+255)
	copy(rec, []byte{0x01, 0x00, 0x51, 0xc0, 0xff})
	bmc := &fakeBMC{f: func(ctx context.Context, c hcmd, data []byte) ([]byte, error) {
		if data[5] == sdrReadEntire {
			return nil, &CompletionCodeError{Command: "Get SDR", Code: ccCannotReturnBytes}
		}
		off := int(data[4])
		if off == 0 {
			return append([]byte{0xff, 0xff}, rec[:sdrHeaderLen]...), nil
		}
		return []byte{0xff, 0xff, rec[off]}, nil
	}}
	rd := &sdrReader{ex: bmc, whole: true}
	_, err := rd.readAll(context.Background(), 1)
	if err == nil || !strings.Contains(err.Error(), "partial reads returned") {
		t.Errorf("err = %v", err)
	}
	if n := bmc.n[cmdGetSDR]; n > sdrMaxReads+4 {
		t.Errorf("%d Get SDR requests for one record, want at most %d", n, sdrMaxReads+4)
	}
}

// fruReq is a Read FRU Data request for n bytes at off.
func fruReq(off, n int) ipmisim.Request {
	return ipmisim.Request{Data: []byte{0, byte(off), byte(off >> 8), byte(n)}}
}

func TestSeamFRUHostile(t *testing.T) {
	for _, tc := range []struct {
		name     string
		info     []byte
		read     func(off, n int) []byte
		max      int
		wantErr  string
		maxBytes int
	}{
		{"junk header", []byte{0xff, 0xff, 0}, func(off, n int) []byte { return append([]byte{byte(n)}, make([]byte, n)...) }, 4096,
			"not a FRU common header (format version 0x00, want 0x01)", 128},
		{"areas past the cap", []byte{0xff, 0xff, 0}, func(off, n int) []byte {
			rp := bigFRU(255)(fruReq(off, n), ipmisim.Reply{})
			return rp[0].Data
		}, 512, "past the limit of 512 bytes read per FRU device", 512},
		{"more than asked", []byte{0x00, 0x01, 0}, func(off, n int) []byte { return append([]byte{byte(n + 1)}, make([]byte, n+1)...) }, 4096,
			"bytes returned, 128 asked for", 0},
		{"one byte per read", []byte{0xff, 0xff, 0}, func(off, n int) []byte {
			rp := bigFRU(1)(fruReq(off, n), ipmisim.Reply{})
			return rp[0].Data
		}, 4096, "reads returned only", fruMaxReads(4096)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bmc := &fakeBMC{f: func(ctx context.Context, c hcmd, data []byte) ([]byte, error) {
				if c == cmdFRUInfo {
					return tc.info, nil
				}
				return tc.read(int(binary.LittleEndian.Uint16(data[1:3])), int(data[3])), nil
			}}
			data, err := readFRU(context.Background(), bmc, 0, tc.max)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
			if len(data) > tc.maxBytes {
				t.Errorf("%d bytes held, want at most %d", len(data), tc.maxBytes)
			}
			if n := bmc.n[cmdReadFRU]; n > fruMaxReads(tc.max) {
				t.Errorf("%d reads, want at most %d", n, fruMaxReads(tc.max))
			}
		})
	}
}

// TestSeamScanDeadline: an in-band BMC that stops answering during the
// SEL (the reply never comes: the call blocks until the deadline). The
// scan keeps its sensors and warns; it ends at the deadline.
func TestSeamScanDeadline(t *testing.T) {
	rec := compactSDR(t)
	bmc := &fakeBMC{f: func(ctx context.Context, c hcmd, data []byte) ([]byte, error) {
		switch c {
		case cmdSDRInfo:
			return []byte{0x51, 2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0}, nil
		case cmdGetSDR:
			id := binary.LittleEndian.Uint16(data[2:4])
			next := uint16(2)
			if id != 0 {
				next = 0xffff
			} else {
				id = 1
			}
			r := rec(id)
			return append(binary.LittleEndian.AppendUint16(nil, next), r[data[4]:min(len(r), int(data[4])+int(data[5]))]...), nil
		case cmdSensorReading:
			return []byte{0, 0xc0, 0x01}, nil
		case cmdSELInfo:
			return selInfoData(10, 1), nil
		case cmdSELEntry:
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return nil, &CompletionCodeError{Command: "fake", Code: ccInvalidCommand}
	}}
	c := &Client{target: "open", cfg: defaultConfig(), now: time.Now}
	r := &scanRun{c: c, ex: bmc, snap: &model.Snapshot{}}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := r.run(ctx)
	if d := time.Since(start); d > 300*time.Millisecond+hostileMargin {
		t.Errorf("took %s", d)
	}
	if err != nil || hsensors(r.snap) != 2 {
		t.Errorf("err %v, %d sensors: want the 2 sensors kept", err, hsensors(r.snap))
	}
	found := false
	for _, w := range r.snap.Warnings {
		found = found || strings.Contains(w.Message, "deadline")
	}
	if !found {
		t.Errorf("no warning about the deadline: %+v", r.snap.Warnings)
	}
}

// TestGuardHonestBMC: the guard drops nothing from an honest BMC (a drop
// would cost a resend and a request timeout), over both interfaces.
func TestGuardHonestBMC(t *testing.T) {
	sim := ipmisim.StartT(t, "../testdata/ipmi/boards/failing")
	for _, iface := range []Interface{InterfaceLANPlus, InterfaceLAN} {
		t.Run(string(iface), func(t *testing.T) {
			c, err := New(sim.Addr(), WithCredentials(sim.Username, sim.Password), WithInterface(iface))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			sess, err := openSession(ctx, &c.cfg, c.host, c.port)
			if err != nil {
				t.Fatal(err)
			}
			r := &scanRun{c: c, ex: sess, sess: sess, snap: &model.Snapshot{}}
			err = r.run(ctx)
			if cerr := sess.close(ctx); cerr != nil {
				t.Errorf("close: %v", cerr)
			}
			if err != nil || len(r.snap.Warnings) != 0 {
				t.Errorf("err %v, warnings %+v", err, r.snap.Warnings)
			}
			sess.guard.mu.Lock()
			defer sess.guard.mu.Unlock()
			if n := sess.guard.droppedTotal; n != 0 {
				t.Errorf("the guard dropped %d datagrams of an honest BMC (last: %q)", n, sess.guard.drops)
			}
		})
	}
}
