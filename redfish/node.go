package redfish

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Lenient decoding. gofish v0.26.0 decodes every resource into strict Go
// types, so one vendor field of an unexpected type fails the whole object
// (gofish issue #409), a Power resource without PowerControl fails with
// "unexpected end of JSON input" (losing its PSUs and voltages), and the
// DMTF public-tower NVMe drive M.2-2 is dropped ("cannot unmarshal number
// into ... Identifier"). We therefore read resources as generic JSON and
// pick the fields we need one by one: a field of the wrong type is a
// warning naming the URL and JSON path, never a lost resource.

// node is one JSON object of a resource, with the URL and JSON path it
// came from so that problems can be reported precisely.
type node struct {
	m    map[string]any
	url  string
	path string
	warn func(source, msg string)
}

// parseResource decodes a response body. Numbers are kept as json.Number
// so that large integers (capacities, serials) lose no precision.
// Errors wrap ErrMalformed and say where the JSON broke.
func parseResource(body []byte) (map[string]any, error) {
	if v, ok := parseJSON(body); ok {
		if m, ok := v.(map[string]any); ok {
			return m, nil
		}
	}
	// Not a JSON object: encoding/json says why, in the words the
	// reader's warnings have always used.
	return parseResourceSlowly(body)
}

// parseResourceSlowly is parseResource through encoding/json.
func parseResourceSlowly(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, fmt.Errorf("%w: invalid JSON at byte %d: %s", ErrMalformed, se.Offset, strings.TrimPrefix(se.Error(), "invalid "))
		case errors.Is(err, io.EOF):
			return nil, fmt.Errorf("%w: empty body where a JSON object was expected", ErrMalformed)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, fmt.Errorf("%w: invalid JSON: the body ends at byte %d in the middle of a value (truncated?)", ErrMalformed, len(body))
		}
		return nil, fmt.Errorf("%w: invalid JSON: %v", ErrMalformed, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: invalid JSON at byte %d: data after the JSON object", ErrMalformed, dec.InputOffset())
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: want a JSON object, got %s", ErrMalformed, jsonKind(v))
	}
	return m, nil
}

// membersOmitted marks a collection decoded by parseCollectionPrefix: how
// many members were listed past the ones kept. It is ours, never the
// service's ("@prefail." is no OData or Redfish annotation).
const membersOmitted = "@prefail.MembersOmitted"

// parseCollectionPrefix decodes a collection as a stream: every property
// but Members whole, and of Members the first max elements; the rest are
// scanned and dropped, never decoded into maps. listed is how many members
// the body lists, kept how many were decoded.
func parseCollectionPrefix(body []byte, max int) (m map[string]any, listed, kept int64, err error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, 0, 0, fmt.Errorf("%w: want a JSON object", ErrMalformed)
	}
	m = map[string]any{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, 0, 0, fmt.Errorf("%w: invalid JSON: %v", ErrMalformed, err)
		}
		key, _ := t.(string)
		if key != "Members" {
			var v any
			if err := dec.Decode(&v); err != nil {
				return nil, 0, 0, fmt.Errorf("%w: invalid JSON: %v", ErrMalformed, err)
			}
			m[key] = v
			continue
		}
		if t, err := dec.Token(); err != nil || t != json.Delim('[') {
			return nil, 0, 0, fmt.Errorf("%w: Members is not an array", ErrMalformed)
		}
		// A repeated "Members" key: the last wins, as in parseResource.
		members := []any{}
		listed = 0
		for dec.More() {
			if len(members) < max {
				var v any
				if err := dec.Decode(&v); err != nil {
					return nil, 0, 0, fmt.Errorf("%w: invalid JSON: %v", ErrMalformed, err)
				}
				members = append(members, v)
			} else {
				var skip json.RawMessage // a slice of the body, dropped at once
				if err := dec.Decode(&skip); err != nil {
					return nil, 0, 0, fmt.Errorf("%w: invalid JSON: %v", ErrMalformed, err)
				}
			}
			listed++
		}
		if _, err := dec.Token(); err != nil {
			return nil, 0, 0, fmt.Errorf("%w: invalid JSON: %v", ErrMalformed, err)
		}
		m[key] = members
		kept = int64(len(members))
	}
	return m, listed, kept, nil
}

func (n node) ok() bool { return n.m != nil }

func (n node) problem(key, format string, args ...any) {
	if n.warn != nil {
		n.warn(n.url, fmt.Sprintf("%s/%s: %s", n.path, key, fmt.Sprintf(format, args...)))
	}
}

// id is the node's @odata.id, without a trailing slash.
func (n node) id() string { return normID(n.str("@odata.id")) }

func (n node) has(key string) bool { _, ok := n.m[key]; return ok }

// str reads a string. Numbers and booleans are printed (some BMCs send
// serials and versions as numbers); objects and arrays are a problem.
func (n node) str(key string) string {
	switch v := n.m[key].(type) {
	case nil:
		return ""
	case string:
		return strings.TrimSpace(v)
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	default:
		n.problem(key, "want a string, got %s", jsonKind(v))
		return ""
	}
}

// num reads a number. Numeric strings are accepted ("12.5", " 42 "), as
// some BMCs send them; null and absent mean unavailable (nil) and are not
// a problem; anything else is.
func (n node) num(key string) *float64 {
	switch v := n.m[key].(type) {
	case nil:
		return nil
	case json.Number:
		f, err := v.Float64()
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			n.problem(key, "number %s out of range", v)
			return nil
		}
		return &f
	case string:
		s := strings.TrimSpace(v)
		if s == "" || strings.EqualFold(s, "n/a") || strings.EqualFold(s, "na") {
			return nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			n.problem(key, "want a number, got string %q", truncate(v, 40))
			return nil
		}
		return &f
	default:
		n.problem(key, "want a number, got %s", jsonKind(v))
		return nil
	}
}

// boolean reads a boolean; "true"/"false" strings are accepted.
func (n node) boolean(key string) *bool {
	switch v := n.m[key].(type) {
	case nil:
		return nil
	case bool:
		return &v
	case string:
		if b, err := strconv.ParseBool(strings.TrimSpace(v)); err == nil {
			return &b
		}
	}
	n.problem(key, "want a boolean, got %s", jsonKind(n.m[key]))
	return nil
}

// obj reads a nested object; absent or null gives a node that is not ok.
func (n node) obj(key string) node {
	switch v := n.m[key].(type) {
	case nil:
	case map[string]any:
		return node{m: v, url: n.url, path: n.path + "/" + key, warn: n.warn}
	default:
		n.problem(key, "want an object, got %s", jsonKind(v))
	}
	return node{url: n.url, path: n.path + "/" + key, warn: n.warn}
}

// list reads an array of objects. A single object where an array belongs
// is taken as a one-element array (Cisco BMCs send PowerControl so);
// non-object elements are problems and skipped.
func (n node) list(key string) []node {
	switch v := n.m[key].(type) {
	case nil:
		return nil
	case map[string]any:
		return []node{{m: v, url: n.url, path: n.path + "/" + key, warn: n.warn}}
	case []any:
		out := make([]node, 0, len(v))
		for i, e := range v {
			p := fmt.Sprintf("%s/%s/%d", n.path, key, i)
			m, ok := e.(map[string]any)
			if !ok {
				if e != nil {
					n.problem(fmt.Sprintf("%s/%d", key, i), "want an object, got %s", jsonKind(e))
				}
				continue
			}
			out = append(out, node{m: m, url: n.url, path: p, warn: n.warn})
		}
		return out
	default:
		n.problem(key, "want an array, got %s", jsonKind(v))
		return nil
	}
}

// link reads a reference {"@odata.id": "..."}; a bare string is accepted.
func (n node) link(key string) string {
	switch v := n.m[key].(type) {
	case string:
		return normID(v)
	case map[string]any:
		if s, ok := v["@odata.id"].(string); ok {
			return normID(s)
		}
	}
	return ""
}

// links reads an array of references (or one reference).
func (n node) links(key string) []string {
	var out []string
	switch v := n.m[key].(type) {
	case []any:
		for _, e := range v {
			switch e := e.(type) {
			case map[string]any:
				if s, ok := e["@odata.id"].(string); ok && s != "" {
					out = append(out, normID(s))
				}
			case string:
				out = append(out, normID(e))
			}
		}
	case map[string]any, string:
		if l := n.link(key); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// normID strips a trailing slash and the query, keeping any #fragment, so
// that "/redfish/v1/Chassis/1/" and "/redfish/v1/Chassis/1" are one key.
func normID(id string) string {
	frag := ""
	if i := strings.IndexByte(id, '#'); i >= 0 {
		id, frag = id[:i], id[i:]
	}
	if i := strings.IndexByte(id, '?'); i >= 0 {
		id = id[:i]
	}
	if len(id) > 1 {
		id = strings.TrimRight(id, "/")
	}
	if frag != "" && !strings.HasPrefix(frag, "#/") {
		// "Thermal#Fans/0" and "Thermal#/Fans/0" name the same entry.
		frag = "#/" + frag[1:]
	}
	return id + frag
}

func jsonKind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("string %q", truncate(v, 40))
	case json.Number:
		return "number " + v.String()
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	default:
		return fmt.Sprintf("%T", v)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
