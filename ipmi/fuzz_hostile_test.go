package ipmi

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	goipmi "github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/crypto"
	"github.com/bougou/go-ipmi/pkg/types"
	"github.com/prefail/prefail/model"
)

// Fuzz targets over unexported decoders of outside bytes (the exported
// ones are in fuzz_test.go): the datagram guard, Read FRU Data, and the
// whole reader against a BMC whose every reply is fuzzed.

const (
	fuzzConsoleID = 0xa0a1a2a3
	fuzzV15ID     = 0x00001234
	fuzzPassword  = "password"
)

// fuzzGuards returns a guard in an established RMCP+ session (cipher
// suite 3: HMAC-SHA1, HMAC-SHA1-96, AES-CBC-128) and one in an IPMI 1.5
// session.
func fuzzGuards() (v20, v15 *rmcpGuard) {
	v20 = newRMCPGuard(fuzzPassword)
	v20.consoleID = fuzzConsoleID
	v20.authAlg, v20.integAlg, v20.confAlg = 1, 1, 1
	copy(v20.rm[:], "0123456789abcdef")
	v20.role, v20.user = 0x14, []byte("admin")
	v20.deriveKeys([]byte("fedcba9876543210"))
	v15 = newRMCPGuard(fuzzPassword)
	v15.v15ID = fuzzV15ID
	return v20, v15
}

// reply builds an IPMI response message (§13.8).
func fuzzReply(netFn, seq, cmd, cc uint8, data []byte) []byte {
	m := []byte{0x81, netFn << 2, 0, 0x20, seq << 2, cmd, cc}
	m[2] = -(m[0] + m[1])
	m = append(m, data...)
	return append(m, -ipmbChecksum(m[3:]))
}

// sealV20 builds an in-session RMCP+ datagram of msg, as the BMC of g's
// session would.
func sealV20(g *rmcpGuard, msg []byte) []byte {
	payload, err := crypto.EncryptAESPayload(msg, g.k2, make([]byte, 16))
	if err != nil {
		panic(err)
	}
	b := []byte{0x06, 0x00, 0xff, 0x07, 0x06, 0xc0}
	b = binary.LittleEndian.AppendUint32(b, g.consoleID)
	b = binary.LittleEndian.AppendUint32(b, 7)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(payload)))
	b = append(b, payload...)
	pad := types.IntegrityPadLen(12, len(payload))
	for range pad {
		b = append(b, 0xff)
	}
	b = append(b, byte(pad), 0x07)
	code, err := crypto.SessionIntegrityAuthCode(types.IntegrityAlg(g.integAlg), b[4:], g.k1, fuzzPassword)
	if err != nil {
		panic(err)
	}
	return append(b, code...)
}

// sealV15 builds an IPMI 1.5 in-session datagram with an MD5 AuthCode.
func sealV15(msg []byte) []byte { return sealV15seq(msg, 9) }

// sealV15seq is sealV15 with session sequence number seq.
func sealV15seq(msg []byte, seq uint32) []byte {
	b := []byte{0x06, 0x00, 0xff, 0x07, 0x02}
	b = binary.LittleEndian.AppendUint32(b, seq)
	b = binary.LittleEndian.AppendUint32(b, fuzzV15ID)
	b = append(b, crypto.AuthCodeMultiSession(types.AuthTypeMD5, []byte(fuzzPassword), fuzzV15ID, seq, msg)...)
	b = append(b, byte(len(msg)))
	return append(b, msg...)
}

// goipmiDecrypt is go-ipmi v0.9.1's AES decryption of a payload
// (client.decryptPayload), checks and all: what the guard lets through
// must not make it panic.
func goipmiDecrypt(data, k2 []byte) []byte {
	iv := data[0:16]
	cipherText := data[16:]
	d, err := crypto.DecryptAES(cipherText, k2[0:16], iv)
	if err != nil {
		return nil
	}
	padLength := d[len(d)-1]
	dEnd := len(d) - int(padLength) - 1
	return d[0:dEnd]
}

func FuzzRMCPGuard(f *testing.F) {
	g20, _ := fuzzGuards()
	ok := fuzzReply(0x0b, 5, 0x40, 0, selInfoData(24, 1))
	f.Add(sealV20(g20, ok))
	f.Add(sealV20(g20, fuzzReply(0x01, 5, 0x01, 0, []byte{1, 2, 3})))
	f.Add(sealV20(g20, ok[:5]))
	f.Add(sealV15(ok))
	f.Add(sealV15(fuzzReply(0x07, 9, 0x3a, 0, []byte{2, 0x34, 0x12, 0, 0, 1, 0, 0, 0, 4})))
	f.Add([]byte{0x06, 0x00, 0xff, 0x07, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0x81, 0x1c, 0x63, 0x20, 0x04, 0x38, 0x00, 0xa4})
	f.Add([]byte{0x06, 0x00, 0xff, 0x06, 0xbe, 0x11, 0x00, 0x00, 0x40, 0, 0, 0x10})
	f.Fuzz(func(t *testing.T, b []byte) {
		g20, g15 := fuzzGuards()
		if g20.check(b) && len(b) >= 16 && b[4] == 0x06 && b[5]&0x80 != 0 && b[5]&0x3f <= 0x01 {
			// Accepted, encrypted, IPMI or SOL: go-ipmi decrypts it.
			n := int(binary.LittleEndian.Uint16(b[14:16]))
			msg := goipmiDecrypt(b[16:16+n], g20.k2)
			res := &types.IPMIResponse{}
			if err := res.Unpack(msg); err != nil {
				t.Fatalf("accepted a payload whose message does not unpack: %v", err)
			}
		}
		g15.check(b)
		// go-ipmi's parse of whatever arrives (outside a session: no
		// decryption) must not panic either.
		c, err := goipmi.NewClient("127.0.0.1", 623, "admin", fuzzPassword)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.ParseRmcpResponse(context.Background(), b, types.Command{}, &goipmi.CommandRawResponse{})
		for _, g := range []*rmcpGuard{g20, g15} {
			if _, _, _, drops, n := g.replyFor(); len(drops) > maxDropNotes || n < len(drops) {
				t.Fatalf("%d notes for %d drops", len(drops), n)
			}
		}
	})
}

func FuzzParseReadFRUData(f *testing.F) {
	f.Add([]byte{3, 1, 2, 3}, uint8(16))
	f.Add([]byte{200, 1}, uint8(128))
	f.Add([]byte{}, uint8(8))
	f.Fuzz(func(t *testing.T, b []byte, count uint8) {
		d, err := parseReadFRUData("Read FRU Data", b, count)
		if err == nil && (len(d) > int(count) || len(d) > len(b)) {
			t.Fatalf("%d bytes from %d asked, %d sent", len(d), count, len(b))
		}
	})
}

// cyclingBMC answers each exchange with the next record of script: a
// completion code, a length byte, that many bytes; it starts over at the
// end, so chains can run forever.
type cyclingBMC struct {
	script []byte
	pos    int
	n      int
}

func (b *cyclingBMC) exchange(ctx context.Context, netFn types.NetFn, cmd uint8, name string, data []byte) ([]byte, error) {
	b.n++
	if len(b.script) < 2 {
		return nil, errors.New("no reply")
	}
	if b.pos+2 > len(b.script) {
		b.pos = 0
	}
	cc, n := b.script[b.pos], int(b.script[b.pos+1])
	b.pos += 2
	end := min(len(b.script), b.pos+n)
	out := append([]byte(nil), b.script[b.pos:end]...)
	b.pos = end
	if cc != 0 {
		return nil, &CompletionCodeError{Command: name, Code: cc}
	}
	return out, nil
}

// FuzzHostileScan runs the whole reader against fuzzed replies, with
// small caps, and checks the bounds hold.
func FuzzHostileScan(f *testing.F) {
	sdr := func(id, next uint16, rec []byte) []byte {
		b := binary.LittleEndian.AppendUint16(nil, next)
		binary.LittleEndian.PutUint16(rec, id)
		return append(b, rec...)
	}
	rec := []byte{0, 0, 0x51, 0x02, 0x26, 0x20, 0x00, 0x01, 0x0a, 0x01, 0x67, 0x40, 0x08, 0x6f, 0xff, 0x00, 0xff, 0x00, 0xff, 0x00, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xcb, 'P', 'S', 'U', '1', ' ', 'S', 't', 'a', 't', 'u', 's'}
	var seed []byte
	add := func(cc uint8, data []byte) { seed = append(append(seed, cc, byte(len(data))), data...) }
	add(0, []byte{0, 3, 9, 8, 0x02, 0x9f, 0x91, 0x12, 0, 2, 0x0f}) // Get Device ID
	add(0, []byte{0x51, 2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0})    // Get SDR Repository Info
	add(0, sdr(1, 2, append([]byte(nil), rec...)))                 // Get SDR
	add(0, sdr(2, 1, append([]byte(nil), rec...)))                 // Get SDR: loops
	add(0, []byte{0x10, 0xc0, 0x01})                               // Get Sensor Reading
	add(0, selInfoData(0xffff, 1))                                 // Get SEL Info
	add(0, selEntry(5, 6))                                         // Get SEL Entry
	f.Add(seed)
	f.Add([]byte{0, 14, 0x51, 0xff, 0xff, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, script []byte) {
		cfg := defaultConfig()
		cfg.maxSELReads, cfg.maxSDRRecords, cfg.maxFRUBytes = 40, 20, 256
		c := &Client{target: "fuzz", cfg: cfg, now: func() time.Time { return time.Unix(1e9, 0) }}
		bmc := &cyclingBMC{script: script}
		r := &scanRun{c: c, ex: bmc, snap: &model.Snapshot{}}
		_ = r.run(context.Background())
		if len(r.sdrs) > cfg.maxSDRRecords {
			t.Fatalf("%d SDRs held, cap %d", len(r.sdrs), cfg.maxSDRRecords)
		}
		if len(r.snap.Events) > cfg.maxSELReads {
			t.Fatalf("%d events held, cap %d", len(r.snap.Events), cfg.maxSELReads)
		}
		// Device ID, repository info, the records (each within its read
		// budget, plus reservations), a reading per sensor, chassis,
		// FRU, SEL.
		limit := 2 + cfg.maxSDRRecords*(sdrMaxReads+12) + cfg.maxSDRRecords + 1 + 1 + fruMaxReads(cfg.maxFRUBytes) + 1 + cfg.maxSELReads + 2
		if bmc.n > limit {
			t.Fatalf("%d requests, bound %d", bmc.n, limit)
		}
	})
}

// TestRMCPGuard: what the guard lets through to go-ipmi, and why not.
func TestRMCPGuard(t *testing.T) {
	g20, _ := fuzzGuards()
	msg := fuzzReply(0x0b, 5, 0x40, 0, selInfoData(24, 1))
	good20 := sealV20(g20, msg)
	flip := func(b []byte, i int) []byte {
		c := append([]byte(nil), b...)
		c[(i+len(c))%len(c)] ^= 0x01
		return c
	}
	badPad := func() []byte {
		plain := append(append([]byte(nil), msg...), make([]byte, 16-len(msg)%16)...)
		plain[len(plain)-1] = 0xff
		ct, err := crypto.EncryptAES(plain, g20.k2[:16], make([]byte, 16))
		if err != nil {
			t.Fatal(err)
		}
		return withPayload(g20, append(make([]byte, 16), ct...), 0xc0)
	}
	for _, tc := range []struct {
		name  string
		v15   bool
		b     []byte
		why   string // "" accepted
		first []byte // accepted before b
	}{
		{"RMCP+ reply of the session", false, good20, "", nil},
		{"RMCP+ AuthCode altered", false, flip(good20, -1), "wrong integrity AuthCode", nil},
		{"RMCP+ payload altered", false, flip(good20, 20), "wrong integrity AuthCode", nil},
		{"RMCP+ other session", false, func() []byte { c := append([]byte(nil), good20...); c[6] ^= 1; return c }(), "not this session", nil},
		{"RMCP+ not whole blocks", false, withPayload(g20, make([]byte, 17), 0xc0), "not an IV and whole 16-byte blocks", nil},
		{"RMCP+ pad past the start", false, badPad(), "pad length of 255", nil},
		{"RMCP+ in clear in an encrypted session", false, withPayload(g20, msg, 0x40), "not encrypted and authenticated", nil},
		{"RMCP+ outside the session once up", false, func() []byte {
			b := []byte{0x06, 0x00, 0xff, 0x07, 0x06, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, byte(len(msg)), 0}
			return append(b, msg...)
		}(), "outside the session", nil},
		{"RMCP+ replayed", false, good20, "already seen (duplicated or replayed)", good20},
		{"IPMI 1.5 replayed", true, sealV15(msg), "already seen (duplicated or replayed)", sealV15(msg)},
		{"IPMI 1.5 stale", true, sealV15(msg), "behind the newest", sealV15seq(msg, 9+seqWindow)},
		{"IPMI 1.5 out of order, within the window", true, sealV15(msg), "", sealV15seq(msg, 12)},
		{"RAKP 2 in the session (would re-key)", false, func() []byte {
			p := make([]byte, 40)
			b := []byte{0x06, 0x00, 0xff, 0x07, 0x06, 0x13, 0, 0, 0, 0, 0, 0, 0, 0, byte(len(p)), 0}
			return append(b, p...)
		}(), "RAKP message 2 nobody asked for", nil},
		{"IPMI 1.5 reply of the session", true, sealV15(msg), "", nil},
		{"IPMI 1.5 AuthCode altered", true, flip(sealV15(msg), 14), "wrong session AuthCode", nil},
		{"IPMI 1.5 data checksum", true, sealV15(flip(msg, -1)), "wrong data checksum", nil},
		{"IPMI 1.5 header checksum", true, sealV15(flip(msg, 2)), "wrong header checksum", nil},
		{"IPMI 1.5 request, not a reply", true, sealV15(fuzzReply(0x0a, 5, 0x40, 0, nil)), "request network function", nil},
		{"IPMI 1.5 short message", true, sealV15(msg[:6]), "shorter than its 8 fixed bytes", nil},
		{"not RMCP", true, []byte("hello, world"), "not an RMCP message", nil},
		{"ASF", true, []byte{0x06, 0x00, 0xff, 0x06, 0, 0, 0x11, 0xbe, 0x40, 0, 0, 0}, "not IPMI", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g20, g15 := fuzzGuards()
			g := g20
			if tc.v15 {
				g = g15
			}
			if tc.first != nil && !g.check(tc.first) {
				t.Fatal("first datagram dropped")
			}
			got := g.check(tc.b)
			_, _, _, drops, _ := g.replyFor()
			switch {
			case tc.why == "" && !got:
				t.Errorf("dropped: %v", drops)
			case tc.why != "" && got:
				t.Errorf("accepted, want dropped for %q", tc.why)
			case tc.why != "" && (len(drops) != 1 || !strings.Contains(drops[0], tc.why)):
				t.Errorf("drops %q, want %q", drops, tc.why)
			}
		})
	}
}

// withPayload builds an in-session RMCP+ datagram around payload as is,
// with payload type byte pt and a valid integrity trailer.
func withPayload(g *rmcpGuard, payload []byte, pt byte) []byte {
	b := []byte{0x06, 0x00, 0xff, 0x07, 0x06, pt}
	b = binary.LittleEndian.AppendUint32(b, g.consoleID)
	b = binary.LittleEndian.AppendUint32(b, 7)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(payload)))
	b = append(b, payload...)
	if pt&0x40 == 0 {
		return b
	}
	pad := types.IntegrityPadLen(12, len(payload))
	for range pad {
		b = append(b, 0xff)
	}
	b = append(b, byte(pad), 0x07)
	code, _ := crypto.SessionIntegrityAuthCode(types.IntegrityAlg(g.integAlg), b[4:], g.k1, fuzzPassword)
	return append(b, code...)
}
