package redfishmock

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// slowEncode is encodeJSON without the fast path.
func slowEncode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	err := enc.Encode(v)
	return buf.Bytes(), err
}

// The fast encoder writes exactly what encoding/json writes, for every
// resource of every embedded tree as every embedded scenario serves it,
// and for the awkward strings and numbers.
func TestAppendDocMatchesEncodingJSON(t *testing.T) {
	check := func(what string, v any) {
		t.Helper()
		fast, ok := appendDoc(nil, v, 0)
		slow, err := slowEncode(v)
		if !ok {
			// Declining is allowed (encodeJSON falls back), but a decoded
			// tree must never need the slow path.
			if err == nil && what != "literal" {
				t.Errorf("%s: fast path declined a value encoding/json encodes", what)
			}
			return
		}
		if err != nil {
			t.Errorf("%s: fast path encoded a value encoding/json rejects: %v", what, err)
			return
		}
		if !bytes.Equal(append(fast, '\n'), slow) {
			t.Errorf("%s: fast and encoding/json differ:\n%s\n---\n%s", what, fast, slow)
		}
	}
	for _, name := range EmbeddedNames() {
		tree, err := Embedded(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range tree.Paths() {
			if doc, err := decodeJSON(tree.bodies[p]); err == nil {
				check(name+p, doc)
			}
		}
	}
	for _, name := range EmbeddedScenarioNames() {
		sc, err := EmbeddedScenario(name)
		if err != nil {
			t.Fatal(err)
		}
		tree, err := sc.BaseTree()
		if err != nil {
			t.Fatal(err)
		}
		s := New(tree, WithScenario(sc))
		for _, at := range []time.Duration{0, sc.Duration / 2, sc.Duration} {
			for _, p := range tree.Paths() {
				if doc, ok := s.load(p, at); ok {
					check(name+p, doc)
				}
			}
		}
	}
	for _, v := range []any{
		nil, true, false, "", "a\"b\\c\n\r\t\b\f\x00\x1f\x7f<>&", "\u2028\u2029é\xff\xfe", json.Number("12.06"),
		json.Number(""), json.Number("-0.5e+10"), json.Number("01"), json.Number("1."), json.Number("-"),
		map[string]any{}, []any{}, map[string]any{"b": []any{map[string]any{}, []any{}, "x"}, "a": nil, "\n": json.Number("1")},
		[]any{[]any{[]any{}}}, 3, 2.5, map[string]any{"n": 1},
	} {
		check("literal", v)
	}
}
