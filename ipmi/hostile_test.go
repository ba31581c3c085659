package ipmi

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prefail/prefail/ipmi/ipmisim"
	"github.com/prefail/prefail/model"
)

// The hostile BMC: a real session with ipmi_sim through the relay, whose
// mangler then answers chosen commands as a broken or hostile BMC would
// (ipmisim/hostile.go). Each case runs over RMCP+ (lanplus, cipher suite
// 3: the relay derives the session keys, so it forges encrypted and
// authenticated replies) and over IPMI 1.5 (lan, MD5 AuthCodes the relay
// recomputes), unless it only makes sense for one of them.
//
// Every case asserts that the scan ends within its deadline (plus
// hostileMargin), with an error or a snapshot warning that names what was
// wrong, holding no more than the caps allow, and without a panic (a
// panic in go-ipmi's receive goroutine ends the test binary).

const (
	hostileTimeout = 300 * time.Millisecond // per request; one resend
	hostileMargin  = 2 * time.Second
)

// Commands the cases mangle: network function << 8 | command (IPMI v2.0
// Appendix G).
type hcmd uint16

func mkcmd(netFn, cmd uint8) hcmd { return hcmd(netFn)<<8 | hcmd(cmd) }

const (
	cmdDeviceID      hcmd = 0x0601
	cmdChassisStatus hcmd = 0x0001
	cmdSensorReading hcmd = 0x042d
	cmdSDRInfo       hcmd = 0x0a20
	cmdGetSDR        hcmd = 0x0a23
	cmdSELInfo       hcmd = 0x0a40
	cmdSELEntry      hcmd = 0x0a43
	cmdFRUInfo       hcmd = 0x0a10
	cmdReadFRU       hcmd = 0x0a11
)

// hostileBMC counts what the mangler saw.
type hostileBMC struct {
	mu       sync.Mutex
	requests map[hcmd]int
	fruBytes int // Read FRU Data bytes sent to the client
}

func (h *hostileBMC) count(c hcmd) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.requests[c]
}

// on builds a mangler that passes every reply except those to the
// commands in m, and counts requests.
func (h *hostileBMC) on(m map[hcmd]func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply) ipmisim.Mangler {
	return func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
		c := mkcmd(req.NetFn, req.Cmd)
		h.mu.Lock()
		h.requests[c]++
		h.mu.Unlock()
		if f, ok := m[c]; ok {
			out := f(req, rp)
			if c == cmdReadFRU {
				h.mu.Lock()
				for _, r := range out {
					if len(r.Data) > 0 {
						h.fruBytes += len(r.Data) - 1
					}
				}
				h.mu.Unlock()
			}
			return out
		}
		return []ipmisim.Reply{rp}
	}
}

type mangles = map[hcmd]func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply

// answer answers with data and completion code 00h.
func answer(rp ipmisim.Reply, data []byte) []ipmisim.Reply {
	rp.Code, rp.Data = 0, data
	return []ipmisim.Reply{rp}
}

// selEntry is a Get SEL Entry response: next id, then a 16-byte system
// event record with id (temperature sensor 30h, upper critical going high).
func selEntry(id, next uint16) []byte {
	b := binary.LittleEndian.AppendUint16(nil, next)
	b = binary.LittleEndian.AppendUint16(b, id)
	b = append(b, 0x02)
	b = binary.LittleEndian.AppendUint32(b, 0x69000000+uint32(id))
	return append(b, 0x20, 0x00, 0x04, 0x01, 0x30, 0x01, 0x09, 0x00, 0x00)
}

// selInfoData is a Get SEL Info response claiming entries, with a
// last-addition time that changes on every call (the SEL keeps growing).
func selInfoData(entries uint16, addition uint32) []byte {
	b := []byte{0x51}
	b = binary.LittleEndian.AppendUint16(b, entries)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint32(b, addition)
	b = binary.LittleEndian.AppendUint32(b, 0x69000000)
	return append(b, 0x02)
}

// compactSDR returns a compact sensor record of the failing board (PSU1
// Status) renumbered as record id and sensor number.
func compactSDR(t testing.TB) func(id uint16) []byte {
	raw, err := os.ReadFile("../testdata/ipmi/captures/failing/sdr.bin")
	if err != nil {
		t.Fatal(err)
	}
	var tmpl []byte
	for off := 0; off+5 <= len(raw); off += 5 + int(raw[off+4]) {
		if raw[off+3] == 0x02 {
			tmpl = raw[off : off+5+int(raw[off+4])]
			break
		}
	}
	if tmpl == nil {
		t.Fatal("no compact record in the capture")
	}
	return func(id uint16) []byte {
		r := append([]byte(nil), tmpl...)
		binary.LittleEndian.PutUint16(r, id)
		r[7] = byte(id)
		return r
	}
}

// sdrAnswer answers Get SDR from rec(id) with next(id) as next record id,
// honouring offset and count.
func sdrAnswer(rec func(uint16) []byte, next func(uint16) uint16) func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
	return func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
		id := binary.LittleEndian.Uint16(req.Data[2:4])
		if id == 0 {
			id = 1
		}
		r := rec(id)
		off, n := int(req.Data[4]), int(req.Data[5])
		off = min(off, len(r))
		data := binary.LittleEndian.AppendUint16(nil, next(id))
		return answer(rp, append(data, r[off:min(len(r), off+n)]...))
	}
}

func junk(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rand.IntN(256))
	}
	return b
}

type hostileCase struct {
	name     string
	lanOnly  bool // IPMI 1.5 only
	plusOnly bool // RMCP+ only
	opts     []Option
	deadline time.Duration // default 5 s
	mangle   func(h *hostileBMC) ipmisim.Mangler
	// wantErr: substrings of the scan error ("" = the scan succeeds,
	// what went wrong being warnings); wantWarn: substrings one warning
	// each must hold.
	wantErr  []string
	wantWarn []string
	mayFail  bool // junk: the scan may fail or not, as long as it ends
	check    func(t *testing.T, snap *model.Snapshot, h *hostileBMC)
}

func hostileCases(t *testing.T) []hostileCase {
	rec := compactSDR(t)
	return []hostileCase{
		{
			name: "SEL never ends: next record id keeps increasing",
			mangle: func(h *hostileBMC) ipmisim.Mangler {
				return h.on(mangles{cmdSELEntry: func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
					id := binary.LittleEndian.Uint16(req.Data[2:4])
					if id == 0 {
						id = 1
					}
					return answer(rp, selEntry(id, id+1))
				}})
			},
			wantWarn: []string{"SEL does not end", "never reaches FFFFh"},
			check: func(t *testing.T, snap *model.Snapshot, h *hostileBMC) {
				// The failing board's SEL counts 24 entries: the walk stops
				// past that plus selSlack.
				if n := h.count(cmdSELEntry); n > 24+selSlack+1 {
					t.Errorf("%d Get SEL Entry requests, want at most %d", n, 24+selSlack+1)
				}
			},
		},
		{
			name: "SEL next record id cycles back",
			mangle: func(h *hostileBMC) ipmisim.Mangler {
				return h.on(mangles{cmdSELEntry: func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
					id := binary.LittleEndian.Uint16(req.Data[2:4])
					if id == 0 {
						id = 1
					}
					return answer(rp, selEntry(id, id%5+1))
				}})
			},
			// Ids 0 (first: record 1), 2, 3, 4, 5, 1, then 2 again.
			wantWarn: []string{"SEL does not end: record 0x0002 comes back after 5 more entries (the next-record chain loops)"},
			check: func(t *testing.T, snap *model.Snapshot, h *hostileBMC) {
				if n := h.count(cmdSELEntry); n != 6 {
					t.Errorf("%d Get SEL Entry requests, want 6", n)
				}
				if len(snap.Events) != 6 {
					t.Errorf("%d events, want the 6 records read", len(snap.Events))
				}
			},
		},
		{
			name: "SEL flood: Get SEL Info claims 65535 entries, the chain never ends",
			opts: []Option{WithMaxSELReads(500)},
			mangle: func(h *hostileBMC) ipmisim.Mangler {
				var add atomic.Uint32
				return h.on(mangles{
					cmdSELInfo: func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
						return answer(rp, selInfoData(0xffff, 0x69000000+add.Add(1)))
					},
					cmdSELEntry: func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
						id := binary.LittleEndian.Uint16(req.Data[2:4])
						switch id {
						case 0, 0xffff:
							id = 0xfffe
						}
						next := id + 1
						if next == 0xffff {
							next = 1 // wraps instead of ending
						}
						return answer(rp, selEntry(id, next))
					},
				})
			},
			wantWarn: []string{"SEL does not end or is flooded: read the limit of 500 entries in one scan (Get SEL Info counted 65535)"},
			check: func(t *testing.T, snap *model.Snapshot, h *hostileBMC) {
				if n := h.count(cmdSELEntry); n > 500 {
					t.Errorf("%d Get SEL Entry requests, want at most 500", n)
				}
				if len(snap.Events) != 200 {
					t.Errorf("%d events held, want the newest 200 (WithMaxSELEntries default)", len(snap.Events))
				}
			},
		},
		{
			name:     "SEL flood with the default caps",
			plusOnly: true,
			deadline: 15 * time.Second,
			mangle: func(h *hostileBMC) ipmisim.Mangler {
				return h.on(mangles{
					cmdSELInfo: func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
						return answer(rp, selInfoData(0xffff, 0x69000001))
					},
					cmdSELEntry: func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
						id := binary.LittleEndian.Uint16(req.Data[2:4])
						switch id {
						case 0, 0xffff:
							id = 0xfffe
						}
						next := id + 1
						if next == 0xffff {
							next = 1
						}
						return answer(rp, selEntry(id, next))
					},
				})
			},
			wantWarn: []string{fmt.Sprintf("read the limit of %d entries in one scan", DefaultMaxSELReads)},
			check: func(t *testing.T, snap *model.Snapshot, h *hostileBMC) {
				if n := h.count(cmdSELEntry); n > DefaultMaxSELReads {
					t.Errorf("%d Get SEL Entry requests, want at most %d", n, DefaultMaxSELReads)
				}
				if len(snap.Events) != 200 {
					t.Errorf("%d events held, want 200", len(snap.Events))
				}
			},
		},
		{
			name: "SDR repository never ends: next record id keeps increasing",
			mangle: func(h *hostileBMC) ipmisim.Mangler {
				return h.on(mangles{cmdGetSDR: sdrAnswer(rec, func(id uint16) uint16 { return id + 1 })})
			},
			// The failing board's repository counts 16 records.
			wantWarn: []string{"SDR repository does not end: more than 32 records, Get SDR Repository Info counted 16"},
			check: func(t *testing.T, snap *model.Snapshot, h *hostileBMC) {
				if n := hsensors(snap); n != 32 {
					t.Errorf("%d sensors held, want the 32 records read", n)
				}
			},
		},
		{
			name: "SDR repository flood: Get SDR Repository Info claims 65535 records",
			opts: []Option{WithMaxSDRRecords(300)},
			mangle: func(h *hostileBMC) ipmisim.Mangler {
				return h.on(mangles{
					cmdSDRInfo: func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
						d := append([]byte(nil), rp.Data...)
						binary.LittleEndian.PutUint16(d[1:], 0xffff)
						return answer(rp, d)
					},
					cmdGetSDR: sdrAnswer(rec, func(id uint16) uint16 { return id + 1 }),
				})
			},
			wantWarn: []string{"SDR repository flood: more than the limit of 300 records (Get SDR Repository Info counted 65535)"},
			check: func(t *testing.T, snap *model.Snapshot, h *hostileBMC) {
				if n := hsensors(snap); n != 300 {
					t.Errorf("%d sensors held, want the 300 records read", n)
				}
				if n := h.count(cmdGetSDR); n > 300 {
					t.Errorf("%d Get SDR requests, want at most 300", n)
				}
				// 300 sensors that fail alike are a handful of warnings,
				// not 300.
				if n := len(snap.Warnings); n > 12 {
					t.Errorf("%d warnings for one flood, want at most 12", n)
				}
			},
		},
		{
			name: "SDR repository chain loops",
			mangle: func(h *hostileBMC) ipmisim.Mangler {
				return h.on(mangles{cmdGetSDR: sdrAnswer(rec, func(id uint16) uint16 { return id%7 + 1 })})
			},
			// Ids 0 (first: record 1), 2..7, 1, then 2 again.
			wantWarn: []string{"SDR repository does not end: record 0x0002 comes back after 8 records"},
			check: func(t *testing.T, snap *model.Snapshot, h *hostileBMC) {
				if n := hsensors(snap); n != 8 {
					t.Errorf("%d sensors held, want 8", n)
				}
			},
		},
		{
			name: "truncated replies: shorter than the commands' fixed fields",
			mangle: func(h *hostileBMC) ipmisim.Mangler {
				cut := func(n int) func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
					return func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
						return answer(rp, rp.Data[:min(n, len(rp.Data))])
					}
				}
				return h.on(mangles{
					cmdDeviceID:      cut(4),
					cmdSensorReading: cut(1),
					cmdChassisStatus: cut(2),
					cmdFRUInfo:       cut(1),
					cmdSELInfo:       cut(3),
				})
			},
			wantWarn: []string{
				"reply too short for Get Device ID: 4 bytes, want at least 11",
				"reply too short for Get Sensor Reading: 1 bytes, want at least 2",
				"reply too short for Get Chassis Status: 2 bytes, want at least 3",
				"reply too short for Get FRU Inventory Area Info 0: 1 bytes, want at least 3",
				"reply too short for Get SEL Info: 3 bytes, want at least 14",
			},
			check: func(t *testing.T, snap *model.Snapshot, h *hostileBMC) {
				for _, c := range snap.Components {
					if strings.HasPrefix(c.ID, "sensor:") && c.Health != model.HealthUnknown && c.Health != model.HealthAbsent {
						t.Errorf("%s is %s from a truncated reading", c.Name, c.Health)
					}
				}
			},
		},
		{
			name: "truncated Get SEL Entry and Read FRU Data",
			mangle: func(h *hostileBMC) ipmisim.Mangler {
				return h.on(mangles{
					cmdSELEntry: func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply { return answer(rp, rp.Data[:5]) },
					cmdReadFRU: func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
						return answer(rp, []byte{req.Data[3], 1, 2}) // count byte says more than sent
					},
				})
			},
			wantWarn: []string{
				"reply too short for Get SEL Entry 0x0000: 5 bytes, want at least 18",
				"count byte says 128 bytes, the reply holds 2",
			},
		},
		{
			name: "truncated Get SDR Repository Info: no sensor repository, the scan fails",
			mangle: func(h *hostileBMC) ipmisim.Mangler {
				return h.on(mangles{cmdSDRInfo: func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply { return answer(rp, rp.Data[:2]) }})
			},
			wantErr: []string{"reply too short for Get SDR Repository Info: 2 bytes, want at least 14"},
		},
		{
			name: "IPMI message shorter than its fixed fields",
			mangle: func(h *hostileBMC) ipmisim.Mangler {
				return h.on(mangles{cmdChassisStatus: func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
					rp.Message = []byte{0x81, 0x04, 0x7b, 0x20, 0x04}
					return []ipmisim.Reply{rp}
				}})
			},
			wantWarn: []string{"Get Chassis Status: no answer from the BMC: no usable reply within the timeout; the BMC sent malformed IPMI data: an IPMI reply of 5 bytes, shorter than its 8 fixed bytes"},
		},
		{
			name: "wrong sequence number",
			mangle: func(h *hostileBMC) ipmisim.Mangler {
				return h.on(mangles{cmdChassisStatus: func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
					rp.Seq = (rp.Seq + 1) & 0x3f
					return []ipmisim.Reply{rp}
				}})
			},
			wantWarn: []string{"Get Chassis Status: no answer from the BMC: no usable reply within the timeout; the BMC sent malformed IPMI data: a reply with sequence number"},
			check: func(t *testing.T, snap *model.Snapshot, h *hostileBMC) {
				// The wrong-sequence reply to the first try and to the resend.
				for _, w := range snap.Warnings {
					if strings.HasPrefix(w.Source, "Get Chassis Status") && !strings.Contains(w.Message, "for the request with sequence number") {
						t.Errorf("warning does not say which request: %s", w.Message)
					}
				}
			},
		},
		{
			name: "wrong command",
			mangle: func(h *hostileBMC) ipmisim.Mangler {
				return h.on(mangles{cmdSELInfo: func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
					rp.Cmd = 0x44
					return []ipmisim.Reply{rp}
				}})
			},
			wantWarn: []string{"and command 0x44, for the request with sequence number"},
		},
		{
			name: "wrong network function",
			mangle: func(h *hostileBMC) ipmisim.Mangler {
				return h.on(mangles{cmdSELInfo: func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
					rp.NetFn = 0x07 // App response, for a Storage request
					return []ipmisim.Reply{rp}
				}})
			},
			wantWarn: []string{"Get SEL Info: malformed IPMI data: the reply has network function 0x07, want 0x0b"},
		},
		{
			name: "bad IPMI checksum",
			mangle: func(h *hostileBMC) ipmisim.Mangler {
				return h.on(mangles{cmdDeviceID: func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
					rp.BadChecksum = true
					return []ipmisim.Reply{rp}
				}})
			},
			wantWarn: []string{"an IPMI reply with a wrong data checksum"},
		},
		{
			name: "forged reply: wrong AuthCode",
			mangle: func(h *hostileBMC) ipmisim.Mangler {
				return h.on(mangles{cmdDeviceID: func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
					rp.Data = append([]byte(nil), rp.Data...)
					rp.Data[2] = 0x7f // a firmware version the BMC never sent
					rp.BadAuthCode = true
					return []ipmisim.Reply{rp}
				}})
			},
			wantWarn: []string{"AuthCode"},
		},
		{
			name: "garbage datagrams, then the real reply",
			mangle: func(h *hostileBMC) ipmisim.Mangler {
				return h.on(mangles{cmdChassisStatus: func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
					return []ipmisim.Reply{{Datagram: junk(37)}, {Datagram: append([]byte{0x06, 0x00, 0xff, 0x07}, junk(60)...)}, rp}
				}})
			},
			check: func(t *testing.T, snap *model.Snapshot, h *hostileBMC) {
				for _, c := range snap.Components {
					if c.ID == "chassis" && c.Health == model.HealthUnknown {
						t.Errorf("chassis unknown: the real reply after the garbage was not taken")
					}
				}
			},
		},
		{
			name: "garbage data in every storage reply",
			mangle: func(h *hostileBMC) ipmisim.Mangler {
				g := func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
					return answer(rp, junk(rand.IntN(40)))
				}
				return h.on(mangles{cmdSDRInfo: func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
					d := junk(14)
					d[1], d[2] = 40, 0 // 40 records, so the walk goes on
					return answer(rp, d)
				}, cmdGetSDR: g, cmdSELInfo: g, cmdSELEntry: g, cmdFRUInfo: g, cmdReadFRU: g})
			},
			// Anything may come of junk; the case asserts the common ones:
			// within the deadline, no panic, bounded.
			mayFail: true,
		},
		{
			name: "the reply never comes: Get SEL Entry",
			mangle: func(h *hostileBMC) ipmisim.Mangler {
				return h.on(mangles{cmdSELEntry: func(ipmisim.Request, ipmisim.Reply) []ipmisim.Reply { return nil }})
			},
			wantWarn: []string{"Get SEL Entry 0x0000: no answer from the BMC"},
			check: func(t *testing.T, snap *model.Snapshot, h *hostileBMC) {
				if n := hsensors(snap); n != 15 {
					t.Errorf("%d sensors, want the board's 15 read before the SEL failed", n)
				}
			},
		},
		{
			name: "the BMC stops answering after the sensor repository",
			mangle: func(h *hostileBMC) ipmisim.Mangler {
				none := func(ipmisim.Request, ipmisim.Reply) []ipmisim.Reply { return nil }
				return h.on(mangles{cmdSensorReading: none, cmdChassisStatus: none, cmdFRUInfo: none, cmdSELInfo: none, cmdSELEntry: none})
			},
			wantWarn: []string{"12 of 15 sensors not read: no answer from the BMC: not sent, the BMC stopped answering (3 requests in a row got no usable reply)"},
			check: func(t *testing.T, snap *model.Snapshot, h *hostileBMC) {
				// 3 requests, each resent once: the relay sees the BMC's
				// reply to each datagram.
				if n := h.count(cmdSensorReading); n < 3 || n > 6 {
					t.Errorf("%d Get Sensor Reading replies dropped, want 3 requests (each sent twice) before giving up", n)
				}
				for _, c := range snap.Components {
					if strings.HasPrefix(c.ID, "sensor:") && c.Health != model.HealthUnknown {
						t.Errorf("%s is %s, want unknown", c.Name, c.Health)
					}
				}
			},
		},
		{
			name:     "the BMC never answers once the session is up: the deadline",
			opts:     []Option{WithRequestTimeout(2 * time.Second)},
			deadline: 1500 * time.Millisecond,
			mangle: func(h *hostileBMC) ipmisim.Mangler {
				return func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
					if req.NetFn == 0x06 && req.Cmd == 0x3b { // Set Session Privilege Level: the session comes up
						return []ipmisim.Reply{rp}
					}
					return nil
				}
			},
			wantErr: []string{"Get SDR Repository Info: no answer from the BMC"},
		},
		{
			name: "oversized FRU area claim: 64 KiB, then junk",
			mangle: func(h *hostileBMC) ipmisim.Mangler {
				return h.on(mangles{
					cmdFRUInfo: fru64K,
					cmdReadFRU: func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
						n := req.Data[3]
						return answer(rp, append([]byte{n}, bytes.Repeat([]byte{0xa5}, int(n))...))
					},
				})
			},
			wantWarn: []string{"fru 0: malformed IPMI data: not a FRU common header (format version 0xa5, want 0x01); stopped reading"},
			check: func(t *testing.T, snap *model.Snapshot, h *hostileBMC) {
				if h.fruBytes > 128 {
					t.Errorf("%d FRU bytes read, want the first chunk (128) only", h.fruBytes)
				}
			},
		},
		{
			name: "oversized FRU areas: a valid header claims areas to byte 4080",
			opts: []Option{WithMaxFRUBytes(1024)},
			mangle: func(h *hostileBMC) ipmisim.Mangler {
				return h.on(mangles{cmdFRUInfo: fru64K, cmdReadFRU: bigFRU(255)})
			},
			wantWarn: []string{"past the limit of 1024 bytes read per FRU device; read the first 1024"},
			check: func(t *testing.T, snap *model.Snapshot, h *hostileBMC) {
				if h.fruBytes > 1024 {
					t.Errorf("%d FRU bytes read, want at most 1024", h.fruBytes)
				}
			},
		},
		{
			name: "Read FRU Data returns more than asked",
			mangle: func(h *hostileBMC) ipmisim.Mangler {
				return h.on(mangles{cmdReadFRU: func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
					return answer(rp, append([]byte{200}, junk(200)...))
				}})
			},
			wantWarn: []string{"200 bytes returned, 128 asked for"},
		},
		{
			name: "Read FRU Data returns one byte at a time of areas claimed to byte 4080",
			mangle: func(h *hostileBMC) ipmisim.Mangler {
				return h.on(mangles{cmdFRUInfo: fru64K, cmdReadFRU: bigFRU(1)})
			},
			wantWarn: []string{fmt.Sprintf("fru 0: malformed IPMI data: %d reads returned only %d of", fruMaxReads(DefaultMaxFRUBytes), fruMaxReads(DefaultMaxFRUBytes))},
			check: func(t *testing.T, snap *model.Snapshot, h *hostileBMC) {
				if n, limit := h.count(cmdReadFRU), fruMaxReads(DefaultMaxFRUBytes); n > limit {
					t.Errorf("%d Read FRU Data requests, want at most %d", n, limit)
				}
			},
		},
		{
			name:     "RMCP+ encrypted payload that is not whole AES blocks",
			plusOnly: true,
			mangle: func(h *hostileBMC) ipmisim.Mangler {
				return h.on(mangles{cmdChassisStatus: func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
					// go-ipmi v0.9.1 would panic on each of these.
					return []ipmisim.Reply{{Payload: junk(7)}, {Payload: junk(16)}, {Payload: junk(41)}}
				}})
			},
			wantWarn: []string{"a reply whose encrypted payload is 7 bytes, not an IV and whole 16-byte blocks"},
		},
		{
			name:     "RMCP+ AES pad length past the start of the payload",
			plusOnly: true,
			mangle: func(h *hostileBMC) ipmisim.Mangler {
				return h.on(mangles{cmdChassisStatus: func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
					rp.BadPadding = true // go-ipmi v0.9.1 would panic
					return []ipmisim.Reply{rp}
				}})
			},
			wantWarn: []string{"a reply whose encrypted payload has a pad length of 255 in 16 bytes"},
		},
	}
}

// fru64K answers Get FRU Inventory Area Info with 65535 bytes, by bytes.
func fru64K(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
	return answer(rp, []byte{0xff, 0xff, 0x00})
}

// bigFRU answers Read FRU Data, at most most bytes at a time, from a
// device whose valid common header puts the board area at 2040 and
// every length byte at FFh: areas to byte 4080, the most the format allows.
func bigFRU(most int) func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
	hdr := []byte{0x01, 0x00, 0x00, 0xff, 0x00, 0x00, 0x00, 0x00}
	hdr[7] = -(hdr[0] + hdr[3])
	return func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
		off := int(binary.LittleEndian.Uint16(req.Data[1:3]))
		n := min(int(req.Data[3]), most)
		out := []byte{byte(n)}
		for i := off; i < off+n; i++ {
			b := byte(0xff)
			if i < len(hdr) {
				b = hdr[i]
			}
			out = append(out, b)
		}
		return answer(rp, out)
	}
}

// hsensors counts the sensor components of a snapshot.
func hsensors(snap *model.Snapshot) int {
	n := 0
	for _, c := range snap.Components {
		if strings.HasPrefix(c.ID, "sensor:") {
			n++
		}
	}
	return n
}

// TestHostileBMC runs every hostile case over a real session with
// ipmi_sim (one simulator, a relay per case).
func TestHostileBMC(t *testing.T) {
	sim := ipmisim.StartT(t, "../testdata/ipmi/boards/failing")
	for _, tc := range hostileCases(t) {
		for _, iface := range []Interface{InterfaceLANPlus, InterfaceLAN} {
			if (tc.lanOnly && iface != InterfaceLAN) || (tc.plusOnly && iface != InterfaceLANPlus) {
				continue
			}
			t.Run(tc.name+"/"+string(iface), func(t *testing.T) {
				t.Parallel()
				runHostile(t, sim, tc, iface)
			})
		}
	}
}

func runHostile(t *testing.T, sim *ipmisim.Sim, tc hostileCase, iface Interface) {
	relay, err := ipmisim.NewRelay(sim.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	h := &hostileBMC{requests: map[hcmd]int{}}
	relay.Mangle(sim.Password, tc.mangle(h))
	deadline := tc.deadline
	if deadline == 0 {
		deadline = 5 * time.Second
	}
	opts := append([]Option{WithCredentials(sim.Username, sim.Password), WithInterface(iface),
		WithRequestTimeout(hostileTimeout), WithRetries(1)}, tc.opts...)
	c, err := New(net.JoinHostPort("127.0.0.1", fmt.Sprint(relay.Port())), opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	snap, err := c.Scan(ctx)
	took := time.Since(start)

	if took > deadline+hostileMargin {
		t.Errorf("scan took %s, deadline %s", took.Round(time.Millisecond), deadline)
	}
	if rerr := relay.Err(); rerr != nil {
		t.Fatalf("the relay could not play the case: %v", rerr)
	}
	if relay.Mangled() == 0 {
		t.Fatal("no reply went through the mangler: the case tested nothing")
	}
	switch {
	case tc.mayFail:
	case len(tc.wantErr) == 0 && err != nil:
		t.Errorf("scan failed: %v", err)
	case len(tc.wantErr) > 0 && err == nil:
		t.Errorf("scan succeeded, want an error with %q", tc.wantErr)
	case err != nil:
		for _, w := range tc.wantErr {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not say %q", err, w)
			}
		}
	}
	var warns []string
	for _, w := range snap.Warnings {
		warns = append(warns, w.Source+": "+w.Message)
	}
	all := strings.Join(warns, "\n")
	for _, w := range tc.wantWarn {
		if !strings.Contains(all, w) {
			t.Errorf("no warning says %q; warnings:\n%s", w, all)
		}
	}
	// Bounded: never more than the caps.
	if n := hsensors(snap); n > DefaultMaxSDRRecords {
		t.Errorf("%d sensors held", n)
	}
	if len(snap.Events) > DefaultMaxSELReads {
		t.Errorf("%d events held", len(snap.Events))
	}
	if tc.check != nil {
		tc.check(t, snap, h)
	}
	t.Logf("%s over %s: %s, %d requests, %d sensors, %d events; error: %v; warnings:\n%s",
		tc.name, iface, took.Round(time.Millisecond), snap.Requests, hsensors(snap), len(snap.Events), err, hshort(warns))
}

// hshort keeps a log readable: the first warnings, and how many more.
func hshort(w []string) string {
	if len(w) > 6 {
		return strings.Join(w[:6], "\n") + fmt.Sprintf("\n(and %d more)", len(w)-6)
	}
	return strings.Join(w, "\n")
}

// TestHostileNoGoroutineLeak: a scan whose deadline passed (the socket
// released without Close Session) leaves no go-ipmi keep-alive goroutine
// behind (go-ipmi v0.9.1 stops it only in its Close).
func TestHostileNoGoroutineLeak(t *testing.T) {
	sim := ipmisim.StartT(t, "../testdata/ipmi/boards/failing")
	relay, err := ipmisim.NewRelay(sim.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	relay.Mangle(sim.Password, func(req ipmisim.Request, rp ipmisim.Reply) []ipmisim.Reply {
		if req.NetFn == 0x06 && req.Cmd == 0x3b { // Set Session Privilege Level: the session comes up
			return []ipmisim.Reply{rp}
		}
		return nil
	})
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
		_, err := Scan(ctx, net.JoinHostPort("127.0.0.1", fmt.Sprint(relay.Port())), WithCredentials(sim.Username, sim.Password), WithRequestTimeout(time.Second))
		cancel()
		t.Logf("scan: %v", err) // an error or warnings: either way the deadline passed
	}
	// go-ipmi's receive goroutines end at their read deadline (1 s); its
	// keep-alive goroutine would tick forever.
	var stacks string
	for range 40 {
		time.Sleep(100 * time.Millisecond)
		buf := make([]byte, 1<<20)
		stacks = string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(stacks, "bougou/go-ipmi") {
			return
		}
	}
	t.Errorf("go-ipmi goroutines left after 3 timed-out scans:\n%s", stacks)
}
