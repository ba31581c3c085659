package redfish

import (
	"encoding/json"
	"unicode/utf16"
	"unicode/utf8"
)

// A JSON decoder for response bodies, from the bytes already read. Through
// encoding/json.Decoder, every body was copied a second time into the
// decoder's own buffer (340 MB, 24% of what prefail scan allocated over
// 1,000 mock BMCs) and decoding into interfaces was 42% of its CPU. This one
// builds the same values (map[string]any, []any, string, json.Number,
// bool, nil: what Decoder.UseNumber gives) straight from the body, and
// accepts exactly the JSON that encoding/json accepts (RFC 8259, the same
// nesting bound); FuzzParseJSON holds it to both. Invalid input is only
// reported as such: parseResource then asks encoding/json why, so the
// error messages are the ones they always were.

// maxJSONDepth is encoding/json's bound on nested arrays and objects.
const maxJSONDepth = 10000

// parseJSON decodes body, one JSON value with only white space around it.
// ok is false for anything encoding/json would reject.
func parseJSON(body []byte) (v any, ok bool) {
	return parseJSONShared(body, nil)
}

// parseJSONShared is parseJSON sharing short strings and numbers with
// earlier bodies through t (nil: with none).
func parseJSONShared(body []byte, t *internTable) (v any, ok bool) {
	p := jsonParser{b: body}
	if t != nil {
		p.internTable = *t
	}
	v, ok = p.value(0)
	if t != nil {
		*t = p.internTable
	}
	if !ok {
		return nil, false
	}
	p.skipSpace()
	return v, p.i == len(p.b)
}

type jsonParser struct {
	b []byte
	i int
	internTable
}

// internTable holds short strings and numbers already decoded, boxed:
// Redfish bodies repeat their keys and many values ("Status", "Health",
// "OK", "0") from member to member and from server to server, and each
// one shared is two allocations saved (the bytes and the interface's box)
// and memory held by one copy. Values are immutable, so decoded trees may
// share them.
type internTable struct {
	strs, nums map[string]any
}

// maxInternEntries bounds each map of a table: a BMC sending ever new
// strings must not grow it without end (past it, values are not shared).
const maxInternEntries = 1 << 13

// full reports whether the table has stopped sharing new values: kept, it
// would share only what it already holds.
func (t *internTable) full() bool {
	return len(t.strs) >= maxInternEntries || len(t.nums) >= maxInternEntries
}

// maxInterned bounds the strings and numbers shared (longer ones rarely
// repeat).
const maxInterned = 48

// internSize sizes a table of shared values for a body of n bytes, one
// entry per bytesPer (public-rackmount1's expanded Chassis has a distinct
// short string in 160 bytes, a number in 800); a map grown step by step
// from empty would allocate twice its size.
func internSize(n, bytesPer int) int { return min(n/bytesPer, maxInternEntries) }

func (p *jsonParser) skipSpace() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (any, bool) {
	p.skipSpace()
	if p.i >= len(p.b) {
		return nil, false
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		return p.boxedString()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return p.number()
	}
	return nil, false
}

func (p *jsonParser) literal(word string) bool {
	if len(p.b)-p.i < len(word) || string(p.b[p.i:p.i+len(word)]) != word {
		return false
	}
	p.i += len(word)
	return true
}

func (p *jsonParser) object(depth int) (any, bool) {
	if depth > maxJSONDepth {
		return nil, false
	}
	p.i++ // '{'
	m := map[string]any{}
	p.skipSpace()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return m, true
	}
	for {
		p.skipSpace()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, false
		}
		k, ok := p.boxedString()
		if !ok {
			return nil, false
		}
		p.skipSpace()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, false
		}
		p.i++
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		m[k.(string)] = v // a repeated key: the last wins, as in encoding/json
		p.skipSpace()
		if p.i >= len(p.b) {
			return nil, false
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return m, true
		default:
			return nil, false
		}
	}
}

func (p *jsonParser) array(depth int) (any, bool) {
	if depth > maxJSONDepth {
		return nil, false
	}
	p.i++ // '['
	a := make([]any, 0)
	p.skipSpace()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return a, true
	}
	for {
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		a = append(a, v)
		p.skipSpace()
		if p.i >= len(p.b) {
			return nil, false
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return a, true
		default:
			return nil, false
		}
	}
}

// number reads a number (RFC 8259 §6) as its literal text.
func (p *jsonParser) number() (any, bool) {
	b, i := p.b, p.i
	start := i
	if b[i] == '-' {
		i++
	}
	digits := func() bool {
		s := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i > s
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		return nil, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return nil, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return nil, false
		}
	}
	p.i = i
	lit := b[start:i]
	if len(lit) > maxInterned {
		return json.Number(lit), true
	}
	if v, ok := p.nums[string(lit)]; ok {
		return v, true
	}
	if p.nums == nil {
		p.nums = make(map[string]any, internSize(len(p.b), 512))
	}
	v := any(json.Number(lit))
	if len(p.nums) < maxInternEntries {
		p.nums[string(lit)] = v
	}
	return v, true
}

// boxedString reads a string as an interface value, shared with the same
// string read before when it is short.
func (p *jsonParser) boxedString() (any, bool) {
	b := p.b
	start := p.i + 1
	for i := start; i < len(b) && i-start <= maxInterned; i++ {
		c := b[i]
		if c == '"' {
			p.i = i + 1
			raw := b[start:i]
			if v, ok := p.strs[string(raw)]; ok {
				return v, true
			}
			if p.strs == nil {
				p.strs = make(map[string]any, internSize(len(p.b), 128))
			}
			v := any(string(raw))
			if len(p.strs) < maxInternEntries {
				p.strs[string(raw)] = v
			}
			return v, true
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
	}
	s, ok := p.string()
	return s, ok
}

// string reads a string (RFC 8259 §7). Escapes are decoded, and bytes that
// are not UTF-8 become U+FFFD, as encoding/json does.
func (p *jsonParser) string() (string, bool) {
	b := p.b
	start := p.i + 1
	i := start
	for i < len(b) {
		c := b[i]
		if c == '"' {
			p.i = i + 1
			return string(b[start:i]), true
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		i++
	}
	// Escapes or non-ASCII bytes: build the string.
	out := make([]byte, 0, i-start+16)
	out = append(out, b[start:i]...)
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			p.i = i + 1
			return string(out), true
		case c < 0x20:
			return "", false
		case c < utf8.RuneSelf && c != '\\':
			out = append(out, c)
			i++
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, utf8.RuneError)
			} else {
				out = append(out, b[i:i+size]...)
			}
			i += size
		default: // '\\'
			if i+1 >= len(b) {
				return "", false
			}
			switch e := b[i+1]; e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r := hex4(b, i+2)
				if r < 0 {
					return "", false
				}
				i += 6
				if utf16.IsSurrogate(r) {
					// A pair, else U+FFFD for the lone half (the next
					// escape is read on its own).
					if i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
						if dec := utf16.DecodeRune(r, hex4(b, i+2)); dec != utf8.RuneError {
							out = utf8.AppendRune(out, dec)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
				continue
			default:
				return "", false
			}
			i += 2
		}
	}
	return "", false
}

// hex4 reads four hex digits at b[i:], or returns -1.
func hex4(b []byte, i int) rune {
	if i+4 > len(b) {
		return -1
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}
