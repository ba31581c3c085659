package ipmi

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/bougou/go-ipmi/pkg/crypto"
	"github.com/bougou/go-ipmi/pkg/types"
)

// rmcpGuard checks every datagram from the BMC before go-ipmi sees it, and
// keeps what the reader needs to name a bad reply: the last request sent
// and what came back for it. A datagram that fails a check is dropped, as
// if lost: go-ipmi goes on waiting for the reply (and resends), and the
// exchange ends in a timeout whose error says what was dropped and why.
//
// It works around these go-ipmi v0.9.1 defects, each of which a hostile or
// broken BMC can use:
//
//   - RMCP+ (lanplus): the AES payload (IPMI v2.0 §13.29) is decrypted
//     without a check. A payload shorter than the IV, not whole 16-byte
//     blocks, or whose pad length byte points before its start makes
//     go-ipmi index out of range in its receive goroutine, a panic that
//     ends the whole process; so does an encrypted payload that arrives
//     before the session keys exist. The guard decrypts first and drops
//     such payloads.
//   - RMCP+: the integrity AuthCode of replies (§13.28.4) is not verified,
//     nor the session id (Table 13-8): any datagram reaching the client's port
//     is taken as the BMC's. The guard derives the session keys as go-ipmi
//     does (SIK, K1, K2: §13.31, §13.32, from the set-up messages it sees
//     and the password) and drops replies whose AuthCode or session id is
//     wrong, or that are not authenticated and encrypted once the session
//     is (go-ipmi runs only such sessions: see supportedCipherSuite).
//   - IPMI 1.5 (lan): the session AuthCode of replies (§22.17.1) is not
//     verified: checked the same way.
//   - Both: the IPMI message checksums (§13.8) are not verified, and a
//     reply is matched to its request by sequence number and command only,
//     not by network function. The guard checks the checksums; the reader
//     checks the network function of the matched reply (replyFor).
//
// Replies without a session (session set-up) are checked for structure
// only. The password never leaves the guard.
type rmcpGuard struct {
	password string

	mu sync.Mutex
	// RMCP+ session, from Open Session and RAKP 1/2 (§13.17-13.21).
	consoleID                  uint32
	authAlg, integAlg, confAlg uint8
	rm                         [16]byte
	role                       uint8
	user                       []byte
	k1, k2                     []byte
	// Set-up replies are taken once, after their request: a later one
	// (a second RAKP 2 would re-key the guard but not go-ipmi) is dropped.
	awaitOpen, awaitRAKP2 bool
	// IPMI 1.5 session id, from Activate Session (§22.17).
	v15ID uint32
	// Session sequence numbers of the BMC's replies (checkSeq): the
	// newest, and which of the seqWindow before it were seen.
	seqAny  bool
	seqHi   uint32
	seqSeen uint64
	// The last in-session request and what came back for it.
	req     ipmiHeader
	haveReq bool
	reply   ipmiHeader // the first good reply with the request's rqSeq and command
	matched bool
	drops   []string // why replies were dropped or could not match (bounded)
	dropped int      // how many
	// droppedTotal counts every drop of the session (tests: an honest
	// BMC gets none).
	droppedTotal int
}

// ipmiHeader is what identifies an IPMI message (§13.8).
type ipmiHeader struct {
	netFn, cmd, seq, code uint8
}

func newRMCPGuard(password string) *rmcpGuard { return &rmcpGuard{password: password} }

// maxDropNotes bounds the reasons kept per request.
const maxDropNotes = 3

// RMCP+ payload types (IPMI v2.0 Table 13-16).
const (
	payloadIPMI        = 0x00
	payloadOEM         = 0x02
	payloadOpenSessReq = 0x10
	payloadOpenSessRes = 0x11
	payloadRAKP1       = 0x12
	payloadRAKP2       = 0x13
	payloadRAKP4       = 0x15
)

// sent looks at a datagram go-ipmi sends: session set-up values and the
// in-session request being made.
func (g *rmcpGuard) sent(b []byte) {
	if len(b) < 5 || b[0] != 0x06 || b[3]&0x1f != 0x07 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if b[4] == 0x06 {
		h, payload, ok := splitV20(b)
		if !ok {
			return
		}
		switch h.typ {
		case payloadOpenSessReq:
			if len(payload) >= 8 {
				g.consoleID = binary.LittleEndian.Uint32(payload[4:8])
				g.k1, g.k2 = nil, nil
				g.awaitOpen, g.awaitRAKP2 = true, false
				g.seqAny = false
			}
		case payloadRAKP1:
			if len(payload) >= 28 && len(payload) >= 28+int(payload[27]) {
				copy(g.rm[:], payload[8:24])
				g.role = payload[24]
				g.user = append(g.user[:0], payload[28:28+int(payload[27])]...)
				g.awaitRAKP2 = g.k2 == nil
			}
		case payloadIPMI:
			if h.sessionID == 0 {
				return
			}
			msg := payload
			if h.encrypted {
				var err error
				if msg, err = g.decrypt(payload); err != nil {
					return
				}
			}
			g.newRequest(msg)
		}
		return
	}
	h, msg, ok := splitV15(b)
	if !ok || h.sessionID == 0 || h.seq == 0 {
		return
	}
	g.newRequest(msg)
}

func (g *rmcpGuard) newRequest(msg []byte) {
	if len(msg) < 7 {
		return
	}
	req := ipmiHeader{netFn: msg[1] >> 2, seq: msg[4] >> 2, cmd: msg[5]}
	if g.haveReq && req == g.req {
		return // go-ipmi resending: keep what came for the first try
	}
	g.req, g.haveReq, g.matched, g.drops, g.dropped = req, true, false, g.drops[:0], 0
}

// check reports whether datagram b from the BMC may go to go-ipmi.
func (g *rmcpGuard) check(b []byte) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	msg, sessionless, why := g.checkLocked(b)
	if why != "" {
		g.drop(why)
		return false
	}
	if msg == nil {
		return true // session set-up
	}
	h := ipmiHeader{netFn: msg[1] >> 2, seq: msg[4] >> 2, cmd: msg[5], code: msg[6]}
	g.learn(h, msg)
	if sessionless {
		return true // before the session: nothing to match
	}
	switch {
	case !g.haveReq:
	case h.seq != g.req.seq || h.cmd != g.req.cmd:
		// go-ipmi drops it; say why.
		g.drop(fmt.Sprintf("a reply with sequence number %d and command 0x%02x, for the request with sequence number %d and command 0x%02x", h.seq, h.cmd, g.req.seq, g.req.cmd))
	case !g.matched:
		g.reply, g.matched = h, true
	}
	return true
}

func (g *rmcpGuard) drop(why string) {
	g.dropped++
	g.droppedTotal++
	if len(g.drops) < maxDropNotes {
		g.drops = append(g.drops, why)
	}
}

// learn takes the IPMI 1.5 session id and auth type from an Activate
// Session reply (§22.17, Table 22-21).
func (g *rmcpGuard) learn(h ipmiHeader, msg []byte) {
	if h.netFn == uint8(netFnApp)+1 && h.cmd == 0x3a && h.code == 0 && len(msg) >= 7+10+1 {
		g.v15ID = binary.LittleEndian.Uint32(msg[8:12])
	}
}

// checkLocked returns the IPMI message of datagram b (nil for one that
// carries none), whether it came outside a session, and why it must be
// dropped ("" when it may pass).
func (g *rmcpGuard) checkLocked(b []byte) (msg []byte, sessionless bool, why string) {
	switch {
	case len(b) < 5 || b[0] != 0x06:
		return nil, false, fmt.Sprintf("a datagram of %d bytes that is not an RMCP message", len(b))
	case b[3]&0x1f != 0x07:
		// ASF (presence pong) or other classes: the reader sends no ping.
		return nil, false, fmt.Sprintf("an RMCP message of class 0x%02x, not IPMI", b[3]&0x1f)
	}
	if b[4] == 0x06 {
		return g.checkV20(b)
	}
	return g.checkV15(b)
}

func (g *rmcpGuard) checkV20(b []byte) ([]byte, bool, string) {
	h, payload, ok := splitV20(b)
	if !ok {
		return nil, false, fmt.Sprintf("an RMCP+ message of %d bytes, shorter than its header and payload length", len(b))
	}
	switch h.typ {
	case payloadOpenSessRes:
		if !g.awaitOpen {
			return nil, false, "an Open Session response nobody asked for"
		}
		g.awaitOpen = false
		if len(payload) >= 36 && payload[1] == 0 {
			g.authAlg, g.integAlg, g.confAlg = payload[16]&0x3f, payload[24]&0x3f, payload[32]&0x3f
		}
		return nil, true, ""
	case payloadRAKP2:
		if !g.awaitRAKP2 {
			return nil, false, "a RAKP message 2 nobody asked for"
		}
		g.awaitRAKP2 = false
		if len(payload) >= 24 && payload[1] == 0 {
			g.deriveKeys(payload[8:24])
		}
		return nil, true, ""
	case payloadRAKP4:
		return nil, true, ""
	case payloadIPMI:
	default:
		return nil, false, fmt.Sprintf("an RMCP+ payload of type 0x%02x, not an IPMI reply", h.typ)
	}
	inSession := h.sessionID != 0
	switch {
	case h.encrypted && g.k2 == nil:
		return nil, false, "an encrypted reply before the session keys exist (or with algorithms the reader cannot check)"
	case inSession && g.k2 == nil:
		return nil, false, "an in-session reply before the session keys exist (or with algorithms the reader cannot check)"
	case inSession && h.sessionID != g.consoleID:
		return nil, false, fmt.Sprintf("a reply for session 0x%08x, not this session", h.sessionID)
	case !inSession && g.k2 != nil:
		return nil, false, "a reply outside the session, once the session is up"
	}
	if inSession && (!h.encrypted || !h.authenticated) {
		return nil, false, "a reply that is not encrypted and authenticated, in a session that is"
	}
	if h.authenticated && inSession {
		if why := g.verifyIntegrity(b, h, len(payload)); why != "" {
			return nil, false, why
		}
	}
	msg := payload
	if h.encrypted {
		var err error
		if msg, err = g.decrypt(payload); err != nil {
			return nil, false, "a reply whose encrypted payload " + err.Error()
		}
	}
	if why := checkIPMIMessage(msg); why != "" {
		return nil, false, why
	}
	if inSession {
		if why := g.checkSeq(h.seq); why != "" {
			return nil, false, why
		}
	}
	return msg, !inSession, ""
}

func (g *rmcpGuard) checkV15(b []byte) ([]byte, bool, string) {
	h, msg, ok := splitV15(b)
	if !ok {
		return nil, false, fmt.Sprintf("an IPMI 1.5 message of %d bytes, shorter than its header and payload length", len(b))
	}
	switch h.authType {
	case 0x00, 0x01, 0x02, 0x04, 0x05:
	default:
		return nil, false, fmt.Sprintf("an IPMI 1.5 message with auth type 0x%02x", h.authType)
	}
	if why := checkIPMIMessage(msg); why != "" {
		return nil, false, why
	}
	inSession := h.sessionID != 0 && h.seq != 0
	switch {
	case !inSession && g.v15ID != 0:
		return nil, false, "a reply outside the session, once the session is up"
	case !inSession:
		return msg, true, ""
	case g.v15ID != 0 && h.sessionID != g.v15ID:
		return nil, false, fmt.Sprintf("a reply for session 0x%08x, not this session", h.sessionID)
	}
	// Replies without an AuthCode pass: BMCs with per-message
	// authentication disabled send them (IPMI v2.0 §6.12.4).
	if h.authType != 0x00 && h.authType != 0x05 &&
		!crypto.VerifyMultiSessionAuthCode(types.AuthType(h.authType), []byte(g.password), h.sessionID, h.seq, msg, h.authCode) {
		return nil, false, "a reply with a wrong session AuthCode"
	}
	// Sequence numbers count from the first reply after Activate Session:
	// ipmi_sim (OpenIPMI) numbers that reply and the next one the same.
	if g.v15ID != 0 {
		if why := g.checkSeq(h.seq); why != "" {
			return nil, false, why
		}
	}
	return msg, false, ""
}

// seqWindow is how far behind the newest session sequence number a reply
// may come (out of order) and still be taken.
const seqWindow = 32

// checkSeq takes the session sequence number of a reply that passed every
// other check (IPMI v2.0 §6.12.12, §6.12.13: the BMC numbers its
// in-session packets; a receiver keeps a window). A number seen before,
// or older than the window, is a duplicated or replayed packet: an
// authenticated reply recorded earlier in the session would otherwise
// match a later request with the same rqSeq (which wraps at 64). go-ipmi
// v0.9.1 does not track these numbers.
func (g *rmcpGuard) checkSeq(seq uint32) string {
	if seq == 0 {
		return "an in-session reply with session sequence number 0"
	}
	if !g.seqAny {
		g.seqAny, g.seqHi, g.seqSeen = true, seq, 1
		return ""
	}
	if d := int32(seq - g.seqHi); d > 0 {
		if d >= 64 {
			g.seqSeen = 1
		} else {
			g.seqSeen = g.seqSeen<<uint(d) | 1
		}
		g.seqHi = seq
		return ""
	}
	back := g.seqHi - seq
	switch {
	case back >= seqWindow:
		return fmt.Sprintf("a reply with session sequence number %d, %d behind the newest (replayed or stale)", seq, back)
	case g.seqSeen&(1<<back) != 0:
		return fmt.Sprintf("a reply with session sequence number %d, already seen (duplicated or replayed)", seq)
	}
	g.seqSeen |= 1 << back
	return ""
}

// checkIPMIMessage checks an IPMI response message: long enough for its
// fixed fields (rqAddr, netFn/rqLUN, checksum, rsAddr, rqSeq/rsLUN, cmd,
// completion code, checksum), both checksums right, a response network
// function (odd) (§13.8).
func checkIPMIMessage(msg []byte) string {
	switch {
	case len(msg) < 8:
		return fmt.Sprintf("an IPMI reply of %d bytes, shorter than its 8 fixed bytes", len(msg))
	case ipmbChecksum(msg[0:3]) != 0:
		return "an IPMI reply with a wrong header checksum"
	case ipmbChecksum(msg[3:]) != 0:
		return "an IPMI reply with a wrong data checksum"
	case (msg[1]>>2)&1 == 0:
		return fmt.Sprintf("an IPMI message with request network function 0x%02x where a reply was due", msg[1]>>2)
	}
	return ""
}

// ipmbChecksum sums bytes; a checked range including its checksum sums to 0.
func ipmbChecksum(b []byte) byte {
	var s byte
	for _, c := range b {
		s += c
	}
	return s
}

// deriveKeys computes K1 and K2 as both ends do (§13.31, §13.32), with the
// password as Kuid (go-ipmi is never given a BMC key Kg).
func (g *rmcpGuard) deriveKeys(rc []byte) {
	_, k1, k2, err := crypto.DeriveSessionKeys(types.AuthAlg(g.authAlg), g.rm[:], rc, g.role, string(g.user), crypto.PadPassword20([]byte(g.password)))
	if err != nil || len(k2) < 16 || g.confAlg != uint8(types.CryptAlg_AES_CBC_128) {
		g.k1, g.k2 = nil, nil // encrypted replies will be dropped
		return
	}
	g.k1, g.k2 = k1, k2
}

// decrypt opens an AES-CBC-128 payload (§13.29): a 16-byte IV, whole
// blocks, and a pad length that leaves the message inside the payload.
func (g *rmcpGuard) decrypt(payload []byte) ([]byte, error) {
	if len(payload) < 32 || len(payload)%16 != 0 {
		return nil, fmt.Errorf("is %d bytes, not an IV and whole 16-byte blocks", len(payload))
	}
	block, err := aes.NewCipher(g.k2[:16])
	if err != nil {
		return nil, err
	}
	plain := make([]byte, len(payload)-16)
	cipher.NewCBCDecrypter(block, payload[:16]).CryptBlocks(plain, payload[16:])
	pad := int(plain[len(plain)-1])
	if pad >= len(plain) {
		return nil, fmt.Errorf("has a pad length of %d in %d bytes", pad, len(plain))
	}
	return plain[:len(plain)-1-pad], nil
}

// verifyIntegrity checks the session trailer (§13.28.4, Table 13-8):
// integrity pad, pad length, next header (07h), and the AuthCode over
// everything from the auth type byte through the next header. The
// trailer is read from the end (the pad length as the BMC sent it), as
// ipmitool does.
func (g *rmcpGuard) verifyIntegrity(b []byte, h v20Header, payloadLen int) string {
	n, ok := crypto.IntegrityAuthCodeLen(types.IntegrityAlg(g.integAlg))
	if !ok || n == 0 {
		return fmt.Sprintf("a reply with integrity algorithm 0x%02x, which the reader cannot check", g.integAlg)
	}
	end := 4 + h.headerLen + payloadLen
	if len(b) < end+2+n || end+int(b[len(b)-n-2])+2+n != len(b) || b[len(b)-n-1] != 0x07 {
		return fmt.Sprintf("a reply whose session trailer (%d bytes) is not pad, pad length, next header 07h and a %d-byte AuthCode", len(b)-end, n)
	}
	code, err := crypto.SessionIntegrityAuthCode(types.IntegrityAlg(g.integAlg), b[4:len(b)-n], g.k1, g.password)
	if err != nil || !hmac.Equal(code, b[len(b)-n:]) {
		return "a reply with a wrong integrity AuthCode (not from the BMC of this session, or altered)"
	}
	return ""
}

// v20Header is an RMCP+ session header (IPMI v2.0 Table 13-8).
type v20Header struct {
	typ                      uint8
	encrypted, authenticated bool
	sessionID, seq           uint32
	headerLen                int
}

// splitV20 returns the header and session payload of an RMCP+ datagram.
// OEM explicit payloads (longer header) are refused: go-ipmi has none.
func splitV20(b []byte) (v20Header, []byte, bool) {
	if len(b) < 16 {
		return v20Header{}, nil, false
	}
	h := v20Header{typ: b[5] & 0x3f, encrypted: b[5]&0x80 != 0, authenticated: b[5]&0x40 != 0,
		sessionID: binary.LittleEndian.Uint32(b[6:10]), seq: binary.LittleEndian.Uint32(b[10:14]), headerLen: 12}
	if h.typ == payloadOEM {
		return v20Header{}, nil, false
	}
	n := int(binary.LittleEndian.Uint16(b[14:16]))
	if len(b) < 16+n {
		return v20Header{}, nil, false
	}
	return h, b[16 : 16+n], true
}

// v15Header is an IPMI 1.5 session header (IPMI v2.0 Table 13-8, v1.5 format).
type v15Header struct {
	authType       uint8
	seq, sessionID uint32
	authCode       []byte
}

// splitV15 returns the header and IPMI message of an IPMI 1.5 datagram.
func splitV15(b []byte) (v15Header, []byte, bool) {
	if len(b) < 14 {
		return v15Header{}, nil, false
	}
	h := v15Header{authType: b[4], seq: binary.LittleEndian.Uint32(b[5:9]), sessionID: binary.LittleEndian.Uint32(b[9:13])}
	off := 13
	if h.authType != 0 {
		if len(b) < 30 {
			return v15Header{}, nil, false
		}
		h.authCode = b[13:29]
		off = 29
	}
	n := int(b[off])
	if len(b) < off+1+n {
		return v15Header{}, nil, false
	}
	return h, b[off+1 : off+1+n], true
}

// replyFor returns the reply to the last request (its header) and, when
// none matched, why the replies that came were not taken.
func (g *rmcpGuard) replyFor() (reply ipmiHeader, req ipmiHeader, ok bool, drops []string, dropped int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.reply, g.req, g.matched && g.haveReq, append([]string(nil), g.drops...), g.dropped
}
