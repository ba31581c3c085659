package redfishmock

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"
)

// appendDoc appends v as encodeJSON's slow path (encoding/json with
// SetEscapeHTML(false) and SetIndent("", " ")) would write it, byte for
// byte, for the values a decoded tree holds: maps, slices, strings,
// json.Number, bool and nil. ok is false for anything else (an int the
// session code puts in, an invalid json.Number), and the caller falls back
// to encoding/json. It exists because a scenario replay serves the same
// expanded collections thousands of times, and encoding/json's reflection
// and key sorting were most of the cost of a scan (see
// TestAppendDocMatchesEncodingJSON).
func appendDoc(dst []byte, v any, depth int) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), true
	case bool:
		return strconv.AppendBool(dst, x), true
	case string:
		return appendJSONString(dst, x), true
	case json.Number:
		s := string(x)
		if s == "" {
			s = "0" // what encoding/json writes for an empty Number
		}
		if !validNumber(s) {
			return dst, false
		}
		return append(dst, s...), true
	case map[string]any:
		if len(x) == 0 {
			return append(dst, "{}"...), true
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = newline(dst, depth+1)
			dst = appendJSONString(dst, k)
			dst = append(dst, ':', ' ')
			var ok bool
			if dst, ok = appendDoc(dst, x[k], depth+1); !ok {
				return dst, false
			}
		}
		dst = newline(dst, depth)
		return append(dst, '}'), true
	case []any:
		if len(x) == 0 {
			return append(dst, "[]"...), true
		}
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = newline(dst, depth+1)
			var ok bool
			if dst, ok = appendDoc(dst, e, depth+1); !ok {
				return dst, false
			}
		}
		dst = newline(dst, depth)
		return append(dst, ']'), true
	}
	return dst, false
}

func newline(dst []byte, depth int) []byte {
	dst = append(dst, '\n')
	for range depth {
		dst = append(dst, ' ')
	}
	return dst
}

// appendJSONString quotes s as encoding/json does without HTML escaping.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// validNumber reports whether s is a JSON number (RFC 8259 section 6), the
// check encoding/json applies to a json.Number before writing it.
func validNumber(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '-' {
		s = s[1:]
		if s == "" {
			return false
		}
	}
	switch {
	case s[0] == '0':
		s = s[1:]
	case '1' <= s[0] && s[0] <= '9':
		s = s[1:]
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	default:
		return false
	}
	if len(s) >= 2 && s[0] == '.' && '0' <= s[1] && s[1] <= '9' {
		s = s[2:]
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	}
	if len(s) >= 2 && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if s[0] == '+' || s[0] == '-' {
			s = s[1:]
			if s == "" {
				return false
			}
		}
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	}
	return s == ""
}
