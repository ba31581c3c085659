package redfishmock

import (
	"fmt"
	"strconv"
	"strings"
)

// pointer is a parsed RFC 6901 JSON pointer.
type pointer []string

func parsePointer(s string) (pointer, error) {
	if s == "" {
		return pointer{}, nil
	}
	if s[0] != '/' {
		return nil, fmt.Errorf("JSON pointer %q must start with \"/\"", s)
	}
	parts := strings.Split(s[1:], "/")
	for i, p := range parts {
		for j := 0; j < len(p); j++ {
			if p[j] == '~' && (j+1 == len(p) || (p[j+1] != '0' && p[j+1] != '1')) {
				return nil, fmt.Errorf("JSON pointer %q: \"~\" must be followed by 0 or 1", s)
			}
		}
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
	}
	return parts, nil
}

func (p pointer) String() string {
	var b strings.Builder
	for _, t := range p {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

func arrayIndex(tok string, n int) (int, bool) {
	if tok == "" || (len(tok) > 1 && tok[0] == '0') {
		return 0, false
	}
	i, err := strconv.Atoi(tok)
	if err != nil || i < 0 || i >= n {
		return 0, false
	}
	return i, true
}

// get returns the value p points at in doc.
func (p pointer) get(doc any) (any, bool) {
	cur := doc
	for _, tok := range p {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, ok := arrayIndex(tok, len(c))
			if !ok {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// set replaces the value p points at, or adds it when only the last member
// of an object is missing (so a scenario can add, say, a threshold the
// capture lacks). It reports whether the value was stored.
func (p pointer) set(doc any, v any) bool {
	if len(p) == 0 {
		return false
	}
	parent, ok := p[:len(p)-1].get(doc)
	if !ok {
		return false
	}
	last := p[len(p)-1]
	switch c := parent.(type) {
	case map[string]any:
		c[last] = v
		return true
	case []any:
		i, ok := arrayIndex(last, len(c))
		if !ok {
			return false
		}
		c[i] = v
		return true
	}
	return false
}

// parent returns the object or array holding the value p points at.
func (p pointer) parent(doc any) (any, bool) {
	if len(p) == 0 {
		return nil, false
	}
	return p[:len(p)-1].get(doc)
}
