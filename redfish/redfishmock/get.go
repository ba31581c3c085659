package redfishmock

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ReplyCache holds computed GET replies shared by servers (WithReplyCache).
type ReplyCache struct {
	mu      sync.Mutex
	replies map[string]*cachedReply
}

// cachedReply is computed once; concurrent requests for it wait for it.
type cachedReply struct {
	once sync.Once
	rep  reply
}

// NewReplyCache returns an empty cache.
func NewReplyCache() *ReplyCache { return &ReplyCache{replies: map[string]*cachedReply{}} }

// Len is the number of replies held.
func (c *ReplyCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.replies)
}

func (c *ReplyCache) get(key string, compute func() reply) reply {
	c.mu.Lock()
	e, ok := c.replies[key]
	if !ok {
		e = &cachedReply{}
		c.replies[key] = e
	}
	c.mu.Unlock()
	e.once.Do(func() {
		e.rep = compute()
		e.rep.etag = etagOf(e.rep.body)
	})
	return e.rep
}

// expandQuery is a parsed $expand value.
type expandQuery struct {
	// kind is '*' (all references), '.' (subordinate: not under Links) or
	// '~' (only under Links).
	kind   byte
	levels int
}

// parseExpand parses a DSP0266 $expand value: "*", "." or "~", optionally
// followed by "($levels=N)". Levels above MaxLevels are capped.
func parseExpand(v string) (expandQuery, error) {
	if v == "" {
		return expandQuery{}, errors.New("empty $expand")
	}
	q := expandQuery{kind: v[0], levels: 1}
	switch q.kind {
	case '*', '.', '~':
	default:
		return q, fmt.Errorf("$expand=%q: want *, . or ~", v)
	}
	rest := v[1:]
	if rest == "" {
		return q, nil
	}
	if !strings.HasPrefix(rest, "($levels=") || !strings.HasSuffix(rest, ")") {
		return q, fmt.Errorf("$expand=%q: want an optional ($levels=N)", v)
	}
	n, err := strconv.Atoi(rest[len("($levels=") : len(rest)-1])
	if err != nil || n < 1 {
		return q, fmt.Errorf("$expand=%q: $levels must be a positive integer", v)
	}
	q.levels = min(n, MaxLevels)
	return q, nil
}

// get serves GET and HEAD.
func (s *Server) get(r *http.Request, p string) reply {
	t := s.Time()
	if p == "/redfish" {
		return jsonReply(http.StatusOK, []byte(`{"v1":"/redfish/v1/"}`))
	}
	if !s.opts.dmtf {
		if rep, ok := s.getSession(p); ok {
			return rep
		}
	}
	raw, ok := s.tree.bodies[p]
	if !ok {
		if sc := s.opts.scenario; sc != nil {
			if e, ok := sc.logEntryDoc(p, t, s.baseMemberCount); ok {
				s.stripCopyright(e)
				return jsonReply(http.StatusOK, mustJSON(e))
			}
		}
		return notFound(p)
	}
	query := r.URL.Query()
	expandArg, hasExpand := query["$expand"]
	_, hasTop := query["$top"]
	_, hasSkip := query["$skip"]
	if s.opts.noExpand {
		hasExpand = false
	}
	rewrite := (p == ServiceRoot && !s.opts.dmtf) || s.opts.dmtf || s.opts.scenario.touches(p) ||
		hasExpand || hasTop || hasSkip || p == sessionCollection
	if c := s.opts.replies; c != nil && s.opts.scenario == nil && p != sessionCollection {
		return c.get(p+"?"+r.URL.RawQuery, func() reply {
			if !rewrite {
				return reply{status: http.StatusOK, body: raw, contentType: s.tree.contentType(p)}
			}
			return s.rewrite(p, raw, query, expandArg, hasExpand, hasTop, hasSkip, t)
		})
	}
	if !rewrite {
		return reply{status: http.StatusOK, body: raw, contentType: s.tree.contentType(p)}
	}
	return s.rewrite(p, raw, query, expandArg, hasExpand, hasTop, hasSkip, t)
}

// rewrite serves a tree body changed by the request's query, the scenario
// or the server's own state.
func (s *Server) rewrite(p string, raw []byte, query url.Values, expandArg []string, hasExpand, hasTop, hasSkip bool, t time.Duration) reply {
	doc, err := s.decoded(p, raw)
	if err != nil {
		// Broken captures are served as they are: the reader must cope.
		return reply{status: http.StatusOK, body: raw, contentType: s.tree.contentType(p)}
	}
	if sc := s.opts.scenario; sc != nil {
		sc.apply(p, doc, t)
	}
	s.stripCopyright(doc)
	m, _ := doc.(map[string]any)
	if p == ServiceRoot && !s.opts.dmtf && m != nil {
		s.advertiseFeatures(m)
	}
	if p == sessionCollection && !s.opts.dmtf && m != nil {
		s.listSessions(m)
	}
	if (hasTop || hasSkip) && m != nil {
		if rep, ok := pageMembers(p, m, query); !ok {
			return rep
		}
	}
	if hasExpand && s.opts.dmtf {
		// redfishMockupServer.py looks only at whether $expand is there.
		x := expander{s: s, t: t}
		x.expandMembers(m)
	} else if hasExpand {
		q, err := parseExpand(expandArg[0])
		if err != nil {
			return errorReply(http.StatusBadRequest, msgQueryValueFormatError,
				"The value '"+expandArg[0]+"' for the parameter $expand is of a different format than the parameter can accept.",
				"Correct the value for the query parameter in the request and resubmit the request if the operation failed.",
				expandArg[0], "$expand")
		}
		x := expander{s: s, t: t, kind: q.kind, budget: maxExpansions}
		doc = x.expand(doc, q.levels, false, []string{p})
	}
	return jsonReply(http.StatusOK, mustJSON(doc))
}

func (s *Server) stripCopyright(doc any) {
	if m, ok := doc.(map[string]any); ok && s.opts.dmtf {
		delete(m, "@Redfish.Copyright")
	}
}

// advertiseFeatures makes the served root tell the truth about what this
// server supports, whatever the capture's BMC did.
func (s *Server) advertiseFeatures(root map[string]any) {
	pfs, _ := root["ProtocolFeaturesSupported"].(map[string]any)
	if pfs == nil {
		pfs = map[string]any{}
		root["ProtocolFeaturesSupported"] = pfs
	}
	on := !s.opts.noExpand
	eq := map[string]any{"ExpandAll": on, "Levels": on, "Links": on, "NoLinks": on}
	if on {
		eq["MaxLevels"] = MaxLevels
	}
	pfs["ExpandQuery"] = eq
	pfs["TopSkipQuery"] = true
}

// getSession serves the sessions this server opened.
func (s *Server) getSession(p string) (reply, bool) {
	id, ok := strings.CutPrefix(p, sessionCollection+"/")
	if !ok {
		return reply{}, false
	}
	s.mu.Lock()
	sess, ok := s.sessions[id]
	s.mu.Unlock()
	if !ok {
		return reply{}, false
	}
	return jsonReply(http.StatusOK, mustJSON(sessionDoc(sess))), true
}

// listSessions replaces the captured members with the open sessions.
func (s *Server) listSessions(m map[string]any) {
	s.mu.Lock()
	ids := make([]string, 0, len(s.sessions))
	for id := range s.sessions {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	sort.Strings(ids)
	members := make([]any, len(ids))
	for i, id := range ids {
		members[i] = map[string]any{"@odata.id": sessionCollection + "/" + id}
	}
	m["Members"] = members
	m["Members@odata.count"] = len(members)
}

// pageMembers applies $skip and $top to a collection. ok is false with an
// error reply for bad values.
func pageMembers(p string, m map[string]any, query url.Values) (reply, bool) {
	members, isColl := m["Members"].([]any)
	if !isColl {
		return reply{}, true
	}
	skip, top := 0, len(members)
	for _, a := range []struct {
		name string
		dst  *int
	}{{"$skip", &skip}, {"$top", &top}} {
		v, ok := query[a.name]
		if !ok {
			continue
		}
		n, err := strconv.Atoi(v[0])
		// $top=0 would make a nextLink that never advances.
		if err != nil || n < 0 || (n == 0 && a.name == "$top") {
			return errorReply(http.StatusBadRequest, msgQueryValueFormatError,
				"The value '"+v[0]+"' for the parameter "+a.name+" is of a different format than the parameter can accept.",
				"Correct the value for the query parameter in the request and resubmit the request if the operation failed.",
				v[0], a.name), false
		}
		*a.dst = n
	}
	start := min(skip, len(members))
	end := min(start+top, len(members))
	m["Members"] = members[start:end]
	delete(m, "@odata.nextLink")
	if end < len(members) {
		m["Members@odata.nextLink"] = fmt.Sprintf("%s?$skip=%d&$top=%d", p, end, top)
	}
	return reply{}, true
}

// baseMemberCount is the number of members collection coll has in the tree.
func (s *Server) baseMemberCount(coll string) int {
	raw, ok := s.tree.bodies[coll]
	if !ok {
		return 0
	}
	var c struct {
		Members []json.RawMessage `json:"Members"`
	}
	if json.Unmarshal(raw, &c) != nil {
		return 0
	}
	return len(c.Members)
}

// load returns the resource at id as served at t, freshly decoded so the
// caller may modify it.
func (s *Server) load(id string, t time.Duration) (map[string]any, bool) {
	p := NormalizePath(id)
	var doc any
	if raw, ok := s.tree.bodies[p]; ok {
		d, err := s.decoded(p, raw)
		if err != nil {
			return nil, false
		}
		doc = d
		if sc := s.opts.scenario; sc != nil {
			sc.apply(p, doc, t)
		}
	} else if sc := s.opts.scenario; sc != nil {
		e, ok := sc.logEntryDoc(p, t, s.baseMemberCount)
		if !ok {
			return nil, false
		}
		doc = e
	} else {
		return nil, false
	}
	m, ok := doc.(map[string]any)
	if ok {
		s.stripCopyright(m)
	}
	return m, ok
}

// expander inlines referenced resources for $expand.
type expander struct {
	s      *Server
	t      time.Duration
	kind   byte
	budget int
}

// expand replaces, within v, every reference object {"@odata.id": X} that
// the query selects with the resource at X, expanded to levels-1. chain
// holds the resources being expanded, to break cycles.
func (x *expander) expand(v any, levels int, inLinks bool, chain []string) any {
	if levels <= 0 {
		return v
	}
	switch c := v.(type) {
	case map[string]any:
		if isRef(c) {
			return x.expandRef(c, levels, inLinks, chain)
		}
		for k, e := range c {
			c[k] = x.expand(e, levels, inLinks || k == "Links", chain)
		}
	case []any:
		for i, e := range c {
			c[i] = x.expand(e, levels, inLinks, chain)
		}
	}
	return v
}

func (x *expander) expandRef(ref map[string]any, levels int, inLinks bool, chain []string) any {
	id := ref["@odata.id"].(string)
	switch {
	case x.kind == '.' && inLinks, x.kind == '~' && !inLinks:
		return ref
	case strings.Contains(id, "#"), x.budget <= 0:
		return ref
	}
	p := NormalizePath(id)
	for _, c := range chain {
		if c == p {
			return ref
		}
	}
	doc, ok := x.s.load(p, x.t)
	if !ok {
		return ref
	}
	x.budget--
	return x.expand(doc, levels-1, false, append(chain[:len(chain):len(chain)], p))
}

// expandMembers is redfishMockupServer.py's $expand: members of a
// collection, one level, nothing else. Like it, members whose resource
// is missing are dropped (Members@odata.count is left alone).
func (x *expander) expandMembers(m map[string]any) {
	members, ok := m["Members"].([]any)
	if !ok {
		return
	}
	out := members[:0]
	for _, e := range members {
		ref, _ := e.(map[string]any)
		id, _ := ref["@odata.id"].(string)
		if doc, ok := x.s.load(id, x.t); ok {
			out = append(out, doc)
		}
	}
	m["Members"] = out
}

// decodedDoc is a tree body decoded once: every request gets a deep copy,
// which costs a fraction of decoding the bytes again (a scenario replay
// serves the same resources thousands of times).
type decodedDoc struct {
	v   any
	err error
}

// decoded returns a fresh, modifiable copy of the body at p, decoded.
func (s *Server) decoded(p string, raw []byte) (any, error) {
	if d, ok := s.docs.Load(p); ok {
		dd := d.(decodedDoc)
		return deepCopy(dd.v), dd.err
	}
	v, err := decodeJSON(raw)
	s.docs.Store(p, decodedDoc{v, err})
	return deepCopy(v), err
}
