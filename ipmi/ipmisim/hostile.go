package ipmisim

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"sync"
	"sync/atomic"
)

// A hostile BMC, after the session is up.
//
// The relay forwards the session set-up untouched, so the client talks to
// the real simulator and gets a real session. Once the session is up, a
// Mangler installed with Relay.Mangle sees every IPMI request of the
// session and the simulator's reply to it, and says what the client gets
// instead: other data, a wrong sequence number, command or network
// function, a bad checksum, garbage, several datagrams, or nothing.
//
// To forge replies the relay does what the BMC does, with the password the
// test hands it:
//
//   - RMCP+ (lanplus): it watches Open Session and RAKP 1/2 (IPMI v2.0
//     §13.17-13.21) and derives the session keys as both ends do (SIK, K1,
//     K2; §13.31-13.32), so it decrypts requests and replies (AES-CBC-128,
//     §13.29) and encrypts and authenticates the forged replies (integrity
//     HMAC over the session header, payload and trailer, §13.28.4). It
//     handles the RAKP-HMAC-SHA1/-SHA256/-MD5 authentication algorithms
//     with the HMAC integrity algorithms and AES, which covers cipher
//     suites 3, 8 and 17 (Table 22-20); only the BMC key Kg must be unset
//     (one-key logins, as ipmi_sim runs).
//   - IPMI 1.5 (lan): messages are in clear; the relay recomputes the
//     session header's AuthCode (none, straight password or MD5; §22.17.1).
//     MD2 (which the standard library lacks) cannot be forged: such
//     replies pass unchanged and Err reports it.
//
// Both the relay and the mangler only ever run on loopback, in tests.

// Request is one IPMI request of an established session, as the client sent it.
type Request struct {
	NetFn uint8 // request network function (even)
	LUN   uint8 // responder's LUN
	Cmd   uint8
	Seq   uint8 // requester's sequence number (rqSeq)
	Data  []byte
}

// Reply is one reply datagram the client gets. The mangler receives the
// simulator's reply decoded into NetFn, Cmd, Seq, Code and Data; it
// returns replies built from those fields (checksums, encryption,
// integrity and AuthCode computed), or from one of the raw forms.
type Reply struct {
	NetFn uint8 // response network function (request's + 1)
	Cmd   uint8
	Seq   uint8 // rqSeq echoed
	Code  uint8 // completion code
	Data  []byte

	// BadChecksum spoils the IPMI message's second checksum (§13.8).
	BadChecksum bool
	// BadAuthCode spoils the session header's AuthCode (IPMI 1.5) or the
	// integrity AuthCode (RMCP+): a reply not from the session's BMC.
	BadAuthCode bool
	// BadPadding (RMCP+ only) encrypts the message with a confidentiality
	// pad length byte of FFh, past the start of the payload (§13.29).
	BadPadding bool
	// Message, when set, is sent as the whole IPMI message (no checksum
	// computed), inside a valid session wrapper.
	Message []byte
	// Payload (RMCP+ only), when set, is sent as the session payload as
	// is (not encrypted), with a valid integrity trailer.
	Payload []byte
	// Datagram, when set, is sent as the whole UDP datagram as is.
	Datagram []byte
}

// Mangler decides what the client gets for one request of an established
// session: return []Reply{reply} to pass it on, nil to drop it (the reply
// never comes), or any number of replies of your own. It runs on the
// relay's goroutine for that client, one reply at a time.
type Mangler func(req Request, reply Reply) []Reply

// mangleState is the relay's view of the sessions it forges replies in.
type mangleState struct {
	pass    string
	m       Mangler
	mangled atomic.Int64

	mu       sync.Mutex
	sessions map[string]*hostileSession // by client address
	errs     []error
}

// hostileSession is one client's session as seen on the wire.
type hostileSession struct {
	// RMCP+
	consoleID                  uint32
	authAlg, integAlg, confAlg uint8
	rm                         [16]byte
	role                       uint8
	user                       []byte
	k1, k2                     []byte
	// requests of the established session awaiting their reply, by rqSeq
	pending map[uint8]Request
}

// Mangle makes the relay a hostile BMC from now on: every IPMI request of
// a session established through it, and the simulator's reply, go
// through m. password is the session user's password: the relay derives
// the keys from it (the user name it reads from RAKP 1). A nil m forwards
// untouched again.
func (r *Relay) Mangle(password string, m Mangler) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m == nil {
		r.mangle = nil
		return
	}
	r.mangle = &mangleState{pass: password, m: m, sessions: map[string]*hostileSession{}}
}

// Mangled is the number of replies that went through the mangler.
func (r *Relay) Mangled() int {
	if ms := r.mangler(); ms != nil {
		return int(ms.mangled.Load())
	}
	return 0
}

// Err reports what the relay could not forge (nil when all went through).
func (r *Relay) Err() error {
	ms := r.mangler()
	if ms == nil {
		return nil
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return errors.Join(ms.errs...)
}

func (r *Relay) mangler() *mangleState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mangle
}

func (ms *mangleState) fail(err error) {
	if len(ms.errs) < 16 {
		ms.errs = append(ms.errs, err)
	}
}

func (ms *mangleState) session(client string) *hostileSession {
	s, ok := ms.sessions[client]
	if !ok {
		s = &hostileSession{pending: map[uint8]Request{}}
		ms.sessions[client] = s
	}
	return s
}

// RMCP+ payload types (IPMI v2.0 §13.27.3, Table 13-16).
const (
	ptIPMI        = 0x00
	ptOpenSessReq = 0x10
	ptOpenSessRes = 0x11
	ptRAKP1       = 0x12
	ptRAKP2       = 0x13
)

// Algorithms (Tables 13-17, 13-18, 13-19).
const (
	authHMACSHA1   = 0x01
	authHMACMD5    = 0x02
	authHMACSHA256 = 0x03

	integHMACSHA196    = 0x01
	integHMACMD5128    = 0x02
	integHMACSHA256128 = 0x04

	confAESCBC128 = 0x01
)

// isIPMIClass reports an RMCP datagram of class IPMI (IPMI v2.0 §13.1).
func isIPMIClass(b []byte) bool { return len(b) > 4 && b[0] == 0x06 && b[3]&0x1f == 0x07 }

// sawRequest records what the client sent: session set-up values, and the
// requests of an established session.
func (ms *mangleState) sawRequest(client string, b []byte) {
	if !isIPMIClass(b) {
		return
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	s := ms.session(client)
	if b[4] == 0x06 {
		h, payload, ok := parseV20(b)
		if !ok {
			return
		}
		switch h.typ {
		case ptOpenSessReq:
			if len(payload) >= 8 {
				s.consoleID = binary.LittleEndian.Uint32(payload[4:8])
			}
		case ptRAKP1:
			if len(payload) >= 28 && len(payload) >= 28+int(payload[27]) {
				copy(s.rm[:], payload[8:24])
				s.role = payload[24]
				s.user = append([]byte(nil), payload[28:28+int(payload[27])]...)
			}
		case ptIPMI:
			if h.sessionID == 0 || s.k2 == nil {
				return
			}
			msg, err := s.open(payload, h.encrypted)
			if err != nil {
				return
			}
			if req, ok := parseRequest(msg); ok {
				s.pending[req.Seq] = req
			}
		}
		return
	}
	h, msg, ok := parseV15(b)
	// In-session requests carry a session id and a non-zero session
	// sequence number; Activate Session and what comes before carry 0.
	if !ok || h.sessionID == 0 || h.seq == 0 {
		return
	}
	if req, ok := parseRequest(msg); ok {
		s.pending[req.Seq] = req
	}
}

// replies returns what the client gets for datagram b from the
// simulator. The mangler runs with the state locked: one reply at a time.
func (ms *mangleState) replies(client string, b []byte) [][]byte {
	pass := [][]byte{b}
	if !isIPMIClass(b) {
		return pass
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	s := ms.session(client)
	if b[4] == 0x06 {
		h, payload, ok := parseV20(b)
		if !ok {
			return pass
		}
		switch h.typ {
		case ptOpenSessRes:
			if len(payload) >= 36 && payload[1] == 0 {
				s.authAlg, s.integAlg, s.confAlg = payload[16]&0x3f, payload[24]&0x3f, payload[32]&0x3f
			}
			return pass
		case ptRAKP2:
			if len(payload) >= 24 && payload[1] == 0 {
				if err := s.deriveKeys(payload[8:24], ms.pass); err != nil {
					ms.fail(err)
				}
			}
			return pass
		case ptIPMI:
		default:
			return pass
		}
		if h.sessionID == 0 || s.k2 == nil {
			return pass
		}
		msg, err := s.open(payload, h.encrypted)
		if err != nil {
			ms.fail(fmt.Errorf("reply not decoded: %w", err))
			return pass
		}
		req, reply, ok := s.match(msg)
		if !ok {
			return pass
		}
		ms.mangled.Add(1)
		var out [][]byte
		for _, rp := range ms.m(req, reply) {
			d, err := s.sealV20(b[:4], h, msg, rp)
			if err != nil {
				ms.fail(err)
				continue
			}
			out = append(out, d)
		}
		return out
	}
	h, msg, ok := parseV15(b)
	if !ok || h.sessionID == 0 {
		return pass
	}
	req, reply, ok := s.match(msg)
	if !ok {
		return pass
	}
	if h.authType == 0x01 {
		ms.fail(errors.New("IPMI 1.5 session with MD2 AuthCodes: replies cannot be forged (no MD2 in the standard library); passed unchanged"))
		return pass
	}
	ms.mangled.Add(1)
	var out [][]byte
	for _, rp := range ms.m(req, reply) {
		if rp.Datagram != nil {
			out = append(out, append([]byte(nil), rp.Datagram...))
			continue
		}
		m := rp.Message
		if m == nil {
			m = buildReply(msg, rp)
		}
		d, err := sealV15(b[:4], h, m, ms.pass)
		if err != nil {
			ms.fail(err)
			continue
		}
		if rp.BadAuthCode && h.authType != 0 {
			d[4+9] ^= 0x5a // first AuthCode byte
		}
		out = append(out, d)
	}
	return out
}

// match pairs a reply message with its pending request.
func (s *hostileSession) match(msg []byte) (Request, Reply, bool) {
	if len(msg) < 8 {
		return Request{}, Reply{}, false
	}
	seq, cmd := msg[4]>>2, msg[5]
	req, ok := s.pending[seq]
	if !ok || req.Cmd != cmd {
		return Request{}, Reply{}, false
	}
	delete(s.pending, seq)
	return req, Reply{NetFn: msg[1] >> 2, Cmd: cmd, Seq: seq, Code: msg[6], Data: append([]byte(nil), msg[7:len(msg)-1]...)}, true
}

// parseRequest decodes an IPMI request message (§13.8): rsAddr,
// netFn/rsLUN, checksum, rqAddr, rqSeq/rqLUN, cmd, data, checksum.
func parseRequest(msg []byte) (Request, bool) {
	if len(msg) < 7 {
		return Request{}, false
	}
	return Request{NetFn: msg[1] >> 2, LUN: msg[1] & 3, Seq: msg[4] >> 2, Cmd: msg[5], Data: append([]byte(nil), msg[6:len(msg)-1]...)}, true
}

// buildReply builds the IPMI response message of rp, taking the addresses
// and LUNs from the simulator's reply orig.
func buildReply(orig []byte, rp Reply) []byte {
	m := make([]byte, 0, 8+len(rp.Data))
	m = append(m, orig[0], rp.NetFn<<2|orig[1]&3, 0, orig[3], rp.Seq<<2|orig[4]&3, rp.Cmd, rp.Code)
	m = append(m, rp.Data...)
	m[2] = checksum(m[0:2])
	m = append(m, checksum(m[3:]))
	if rp.BadChecksum {
		m[len(m)-1] ^= 0x5a
	}
	return m
}

// checksum is the IPMB 2's-complement checksum (§13.8).
func checksum(b []byte) byte {
	var s byte
	for _, c := range b {
		s += c
	}
	return -s
}

// v15Header is an IPMI 1.5 session header (IPMI v2.0 Table 13-8, v1.5 format).
type v15Header struct {
	authType       uint8
	seq, sessionID uint32
}

// parseV15 splits an IPMI 1.5 datagram into its header and IPMI message.
func parseV15(b []byte) (v15Header, []byte, bool) {
	if len(b) < 14 {
		return v15Header{}, nil, false
	}
	h := v15Header{authType: b[4], seq: binary.LittleEndian.Uint32(b[5:9]), sessionID: binary.LittleEndian.Uint32(b[9:13])}
	off := 13
	if h.authType != 0 {
		off += 16
	}
	if len(b) < off+1 || len(b) < off+1+int(b[off]) {
		return v15Header{}, nil, false
	}
	return h, b[off+1 : off+1+int(b[off])], true
}

// sealV15 wraps msg in an IPMI 1.5 session header with the AuthCode the
// BMC would compute (§22.17.1: MD5 over password, session id, message,
// session sequence, password).
func sealV15(rmcp []byte, h v15Header, msg []byte, password string) ([]byte, error) {
	if len(msg) > 255 {
		return nil, fmt.Errorf("IPMI 1.5 reply of %d bytes does not fit the one-byte payload length", len(msg))
	}
	out := append([]byte(nil), rmcp...)
	out = append(out, h.authType)
	out = binary.LittleEndian.AppendUint32(out, h.seq)
	out = binary.LittleEndian.AppendUint32(out, h.sessionID)
	var pw [16]byte
	copy(pw[:], password)
	switch h.authType {
	case 0x00:
	case 0x04: // straight password
		out = append(out, pw[:]...)
	case 0x02: // MD5
		in := append([]byte(nil), pw[:]...)
		in = binary.LittleEndian.AppendUint32(in, h.sessionID)
		in = append(in, msg...)
		in = binary.LittleEndian.AppendUint32(in, h.seq)
		in = append(in, pw[:]...)
		sum := md5.Sum(in)
		out = append(out, sum[:]...)
	default:
		return nil, fmt.Errorf("IPMI 1.5 auth type 0x%02x cannot be forged", h.authType)
	}
	out = append(out, byte(len(msg)))
	return append(out, msg...), nil
}

// v20Header is an RMCP+ session header (IPMI v2.0 Table 13-8).
type v20Header struct {
	pt                   uint8 // payload type byte as sent
	typ                  uint8
	encrypted, authentic bool
	sessionID, seq       uint32
}

// parseV20 splits an RMCP+ datagram into its header and session payload.
func parseV20(b []byte) (v20Header, []byte, bool) {
	if len(b) < 16 {
		return v20Header{}, nil, false
	}
	h := v20Header{pt: b[5], typ: b[5] & 0x3f, encrypted: b[5]&0x80 != 0, authentic: b[5]&0x40 != 0,
		sessionID: binary.LittleEndian.Uint32(b[6:10]), seq: binary.LittleEndian.Uint32(b[10:14])}
	if h.typ == 0x02 { // OEM explicit: not used by ipmi_sim
		return v20Header{}, nil, false
	}
	n := int(binary.LittleEndian.Uint16(b[14:16]))
	if len(b) < 16+n {
		return v20Header{}, nil, false
	}
	return h, b[16 : 16+n], true
}

func (s *hostileSession) newHash() (func() hash.Hash, error) {
	switch s.authAlg {
	case authHMACSHA1:
		return sha1.New, nil
	case authHMACMD5:
		return md5.New, nil
	case authHMACSHA256:
		return sha256.New, nil
	}
	return nil, fmt.Errorf("RMCP+ authentication algorithm 0x%02x not handled by the relay", s.authAlg)
}

// deriveKeys computes SIK = HMAC_Kuid(Rm | Rc | role | ulen | user), K1 =
// HMAC_SIK(01h x 20), K2 = HMAC_SIK(02h x 20) (§13.31, §13.32), Kuid being
// the password padded to 20 bytes.
func (s *hostileSession) deriveKeys(rc []byte, password string) error {
	h, err := s.newHash()
	if err != nil {
		return err
	}
	if s.confAlg != confAESCBC128 {
		return fmt.Errorf("RMCP+ confidentiality algorithm 0x%02x not handled by the relay", s.confAlg)
	}
	var kuid [20]byte
	copy(kuid[:], password)
	in := append(append(append([]byte(nil), s.rm[:]...), rc...), s.role, byte(len(s.user)))
	in = append(in, s.user...)
	mac := func(key, data []byte) []byte {
		m := hmac.New(h, key)
		m.Write(data)
		return m.Sum(nil)
	}
	sik := mac(kuid[:], in)
	c1, c2 := make([]byte, 20), make([]byte, 20)
	for i := range c1 {
		c1[i], c2[i] = 1, 2
	}
	s.k1, s.k2 = mac(sik, c1), mac(sik, c2)
	return nil
}

// open returns the IPMI message of a session payload (decrypting it).
func (s *hostileSession) open(payload []byte, encrypted bool) ([]byte, error) {
	if !encrypted {
		return payload, nil
	}
	if len(payload) < 32 || len(payload)%16 != 0 {
		return nil, fmt.Errorf("encrypted payload of %d bytes", len(payload))
	}
	block, err := aes.NewCipher(s.k2[:16])
	if err != nil {
		return nil, err
	}
	plain := make([]byte, len(payload)-16)
	cipher.NewCBCDecrypter(block, payload[:16]).CryptBlocks(plain, payload[16:])
	pad := int(plain[len(plain)-1])
	if pad >= len(plain) {
		return nil, fmt.Errorf("pad length %d in %d bytes", pad, len(plain))
	}
	return plain[:len(plain)-1-pad], nil
}

// seal encrypts msg (§13.29): a random IV, then msg, pad bytes 1, 2, 3...
// and the pad length, in AES-CBC-128 with the first 16 bytes of K2.
func (s *hostileSession) seal(msg []byte, badPad bool) ([]byte, error) {
	block, err := aes.NewCipher(s.k2[:16])
	if err != nil {
		return nil, err
	}
	n := 16 - (len(msg)+1)%16
	if n == 16 {
		n = 0
	}
	plain := append([]byte(nil), msg...)
	for i := 1; i <= n; i++ {
		plain = append(plain, byte(i))
	}
	plain = append(plain, byte(n))
	if badPad {
		plain[len(plain)-1] = 0xff
	}
	out := make([]byte, 16+len(plain))
	if _, err := rand.Read(out[:16]); err != nil {
		return nil, err
	}
	cipher.NewCBCEncrypter(block, out[:16]).CryptBlocks(out[16:], plain)
	return out, nil
}

// sealV20 builds the RMCP+ datagram of reply rp in the session of the
// simulator's reply (header h, message orig).
func (s *hostileSession) sealV20(rmcp []byte, h v20Header, orig []byte, rp Reply) ([]byte, error) {
	if rp.Datagram != nil {
		return append([]byte(nil), rp.Datagram...), nil
	}
	payload := rp.Payload
	if payload == nil {
		msg := rp.Message
		if msg == nil {
			msg = buildReply(orig, rp)
		}
		payload = msg
		if h.encrypted {
			var err error
			if payload, err = s.seal(msg, rp.BadPadding); err != nil {
				return nil, err
			}
		}
	}
	out := append([]byte(nil), rmcp...)
	out = append(out, 0x06, h.pt)
	out = binary.LittleEndian.AppendUint32(out, h.sessionID)
	out = binary.LittleEndian.AppendUint32(out, h.seq)
	out = binary.LittleEndian.AppendUint16(out, uint16(len(payload)))
	out = append(out, payload...)
	if !h.authentic {
		return out, nil
	}
	// Integrity pad (FFh) so that the data covered by the AuthCode, from
	// the auth type byte through the next header byte, is a multiple of 4.
	pad := (4 - (len(out)-4+2)%4) % 4
	for range pad {
		out = append(out, 0xff)
	}
	out = append(out, byte(pad), 0x07)
	var (
		newHash func() hash.Hash
		n       int
	)
	switch s.integAlg {
	case integHMACSHA196:
		newHash, n = sha1.New, 12
	case integHMACMD5128:
		newHash, n = md5.New, 16
	case integHMACSHA256128:
		newHash, n = sha256.New, 16
	default:
		return nil, fmt.Errorf("RMCP+ integrity algorithm 0x%02x not handled by the relay", s.integAlg)
	}
	m := hmac.New(newHash, s.k1)
	m.Write(out[4:])
	out = append(out, m.Sum(nil)[:n]...)
	if rp.BadAuthCode {
		out[len(out)-1] ^= 0x5a
	}
	return out, nil
}
