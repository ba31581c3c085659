package lifecycle

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/prefail/prefail/internal/yamldoc"
	"github.com/prefail/prefail/model"
)

// A policy is YAML decoded by walking yaml.v3's node tree (as the agent's
// configuration is, agent/config.go), so that every error names
// FILE:LINE:COLUMN and the key; unknown keys are errors, with the nearest
// known key suggested.

// Decoding limits: the policy is small; these bound a hostile one.
const (
	maxPolicyBytes   = 1 << 20
	policyNodeBudget = 100_000
	policyMaxDepth   = 32
)

// ParsePolicy parses a policy (YAML, at most 1 MiB); name is used in
// messages. Keys it leaves out take the default policy's values, except
// rules: a policy with a rules list replaces the default rules. The error
// lists every problem found (up to 20), each as NAME:LINE:COLUMN: KEY:
// what, and wraps ErrInvalidPolicy.
func ParsePolicy(name string, data []byte) (*Policy, error) {
	if name == "" {
		name = "policy"
	}
	if len(data) > maxPolicyBytes {
		return nil, &PolicyError{File: name, Msg: fmt.Sprintf("%d bytes, more than the 1 MiB a policy may have", len(data))}
	}
	def, err := parsePolicy("default-policy.yaml", DefaultPolicyYAML(), nil)
	if err != nil {
		return nil, err
	}
	return parsePolicy(name, data, def)
}

// parsePolicy decodes data over base (nil: over nothing, every key must
// be given).
func parsePolicy(name string, data []byte, base *Policy) (*Policy, error) {
	p := &Policy{Name: name}
	if base != nil {
		p.Horizon, p.Wear = base.Horizon, base.Wear
		p.Wear.SectorCounters = slices.Clone(base.Wear.SectorCounters)
	}
	p.pos = map[string]policyPos{}
	d := &policyDecoder{file: name, data: data, p: p}
	root, err := d.parse()
	if err != nil {
		return nil, err
	}
	rules := d.top(root)
	switch {
	case rules == nil && base != nil:
		p.Rules = slices.Clone(base.Rules)
	case rules == nil && len(d.errs) == 0:
		d.errorf(nil, "rules", "no rules")
	}
	if len(d.errs) > 0 {
		return nil, d.err()
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

type policyDecoder struct {
	file string
	data []byte
	p    *Policy

	errs      []error
	dropped   int
	nodes     int
	exhausted bool
}

func (d *policyDecoder) err() error {
	errs := d.errs
	if d.dropped > 0 {
		errs = append(errs, &PolicyError{File: d.file, Msg: fmt.Sprintf("%d more errors not shown", d.dropped)})
	}
	return errors.Join(errs...)
}

func (d *policyDecoder) errorf(n *yaml.Node, key, format string, args ...any) {
	if len(d.errs) >= maxPolicyErrs {
		d.dropped++
		return
	}
	e := &PolicyError{File: d.file, Key: key, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

func (d *policyDecoder) setPos(key string, n *yaml.Node) {
	d.p.pos[key] = policyPos{line: n.Line, col: n.Column}
}

// spend counts a visited node; past the budget (an alias bomb) decoding
// stops with one error.
func (d *policyDecoder) spend(n *yaml.Node) bool {
	d.nodes++
	if d.nodes <= policyNodeBudget {
		return true
	}
	if !d.exhausted {
		d.exhausted = true
		d.errorf(n, "", "too many values once aliases are expanded (more than %d)", policyNodeBudget)
	}
	return false
}

// parse parses data as one YAML document and returns its root.
func (d *policyDecoder) parse() (*yaml.Node, error) {
	root, err := yamldoc.Root(d.data, "policy", "prefail inventory --print-default-policy prints the default one")
	if err != nil {
		return nil, &PolicyError{File: d.file, Line: err.Line, Column: err.Column, Msg: err.Msg}
	}
	return root, nil
}

// deref follows aliases.
func (d *policyDecoder) deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if n.Alias == nil || i > policyMaxDepth {
			return nil
		}
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// describe names what a node is, for "want X, got Y".
func describe(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch tag := n.ShortTag(); tag {
		case "!!null":
			return "nothing (null)"
		case "!!bool":
			return "true/false"
		case "!!int", "!!float":
			return "a number"
		case "!!str":
			return "a string"
		default:
			return "a value tagged " + clip(tag, 20)
		}
	}
	return "an unexpected node"
}

type policyPair struct{ k, v *yaml.Node }

// pairs returns the key/value pairs of mapping n, merge keys (<<)
// expanded: keys of n itself win over merged ones.
func (d *policyDecoder) pairs(n *yaml.Node, path string, depth int) []policyPair {
	var own []policyPair
	var merged [][]policyPair
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !d.spend(k) {
			return nil
		}
		kd := d.deref(k)
		if kd != nil && kd.Kind == yaml.ScalarNode && kd.ShortTag() == "!!merge" {
			vd := d.deref(v)
			var srcs []*yaml.Node
			switch {
			case depth >= 8:
				d.errorf(kd, path, "merge keys (<<) nested too deeply")
				continue
			case vd != nil && vd.Kind == yaml.MappingNode:
				srcs = []*yaml.Node{vd}
			case vd != nil && vd.Kind == yaml.SequenceNode:
				for _, e := range vd.Content {
					srcs = append(srcs, d.deref(e))
				}
			}
			if len(srcs) == 0 {
				d.errorf(kd, path, "<< merges a mapping or a list of mappings, got %s", describe(vd))
			}
			for _, s := range srcs {
				if s == nil || s.Kind != yaml.MappingNode {
					d.errorf(kd, path, "<< merges a mapping or a list of mappings, got %s", describe(s))
					continue
				}
				merged = append(merged, d.pairs(s, path, depth+1))
			}
			continue
		}
		if kd == nil || kd.Kind != yaml.ScalarNode || isNull(kd) {
			d.errorf(k, path, "keys must be plain strings, got %s", describe(kd))
			continue
		}
		if prev, dup := seen[kd.Value]; dup {
			d.errorf(kd, path, "key %q given twice (also at line %d)", clip(kd.Value, 40), prev.Line)
			continue
		}
		seen[kd.Value] = kd
		own = append(own, policyPair{kd, v})
	}
	for _, m := range merged {
		for _, p := range m {
			if _, ok := seen[p.k.Value]; !ok {
				seen[p.k.Value] = p.k
				own = append(own, p)
			}
		}
	}
	return own
}

type policyField struct {
	name string
	set  func(v *yaml.Node, key string)
}

// mapping decodes mapping n at key path with fields; unknown keys are
// errors. It returns false when n is null or not a mapping.
func (d *policyDecoder) mapping(n *yaml.Node, path string, fields []policyField) bool {
	n = d.deref(n)
	if isNull(n) {
		return false
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping (key: value lines), got %s", describe(n))
		return false
	}
	if path != "" {
		d.setPos(path, n)
	}
	for _, p := range d.pairs(n, path, 0) {
		key := p.k.Value
		kp := key
		if path != "" {
			kp = path + "." + key
		}
		i := slices.IndexFunc(fields, func(f policyField) bool { return f.name == key })
		if i < 0 {
			d.unknownKey(p.k, path, key, fields)
			continue
		}
		d.setPos(kp, p.k)
		fields[i].set(p.v, kp)
	}
	return true
}

func (d *policyDecoder) unknownKey(k *yaml.Node, path, key string, fields []policyField) {
	known := make([]string, len(fields))
	for i, f := range fields {
		known[i] = f.name
	}
	where := "at the top level"
	if path != "" {
		where = "in " + path
	}
	hint := ""
	if s := closestKey(key, known); s != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", s)
	}
	d.errorf(k, "", "unknown key %q %s%s; known keys: %s", clip(key, 40), where, hint, strings.Join(known, ", "))
}

// closestKey returns the known key within a small edit distance of key.
func closestKey(key string, known []string) string {
	best, bestD := "", 3
	if len(key) <= 3 {
		bestD = 2
	}
	for _, k := range known {
		if dist := editDistance(strings.ToLower(key), k); dist < bestD {
			best, bestD = k, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// scalar returns n as a scalar, or false (null: silently; anything else:
// an error wanting want).
func (d *policyDecoder) scalar(n *yaml.Node, key, want string) (*yaml.Node, bool) {
	n = d.deref(n)
	if isNull(n) {
		d.errorf(n, key, "want %s, got nothing", want)
		return nil, false
	}
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, key, "want %s, got %s", want, describe(n))
		return nil, false
	}
	return n, true
}

// str decodes a string; numbers are taken as written, true/false refused.
func (d *policyDecoder) str(n *yaml.Node, key string, dst *string) bool {
	s, ok := d.scalar(n, key, "a string")
	if !ok {
		return false
	}
	switch s.ShortTag() {
	case "!!str", "!!int", "!!float":
	case "!!bool":
		d.errorf(s, key, "want a string, got true/false (quote it)")
		return false
	default:
		d.errorf(s, key, "want a string, got %s", describe(s))
		return false
	}
	*dst = s.Value
	return true
}

// span decodes a duration with a unit ("5y", "90d") into hours; the text
// as written goes to written when not nil.
func (d *policyDecoder) span(n *yaml.Node, key string, dst *float64, written *string) bool {
	var s string
	if !d.str(n, key, &s) {
		return false
	}
	h, err := parseSpan(s)
	if err != nil {
		d.errorf(d.deref(n), key, "%v", err)
		return false
	}
	*dst = h
	if written != nil {
		*written = strings.TrimSpace(s)
	}
	return true
}

// number decodes a number; a trailing "%" is allowed (percentages).
func (d *policyDecoder) number(n *yaml.Node, key string, dst *float64) bool {
	s, ok := d.scalar(n, key, "a number")
	if !ok {
		return false
	}
	if tag := s.ShortTag(); tag != "!!int" && tag != "!!float" && tag != "!!str" {
		d.errorf(s, key, "want a number, got %s", describe(s))
		return false
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s.Value), "%")), 64)
	if err != nil || v != v || v > 1e15 || v < -1e15 {
		d.errorf(s, key, "want a number, got %q", clip(s.Value, 40))
		return false
	}
	*dst = v
	return true
}

// top decodes the document's root mapping. It returns the rules list
// node, or nil when the policy gives none.
func (d *policyDecoder) top(root *yaml.Node) (rules *yaml.Node) {
	p := d.p
	setDuration := func(dst *time.Duration, positive bool) func(v *yaml.Node, key string) {
		return func(v *yaml.Node, key string) {
			var h float64
			switch {
			case !d.span(v, key, &h, nil):
			case positive && h <= 0:
				d.errorf(d.deref(v), key, "want a positive duration such as 7d")
			default:
				*dst = hours(h)
			}
		}
	}
	fields := []policyField{
		{"horizon", setDuration(&p.Horizon, false)},
		{"wear", func(v *yaml.Node, key string) {
			d.mapping(v, key, []policyField{
				{"baseline", setDuration(&p.Wear.Baseline, true)},
				{"recent", setDuration(&p.Wear.Recent, true)},
				{"sector_counters", func(v *yaml.Node, key string) {
					p.Wear.SectorCounters = d.strings(v, key)
				}},
			})
		}},
		{"rules", func(v *yaml.Node, key string) {
			rules = v
			d.rules(v, key)
		}},
	}
	root = d.deref(root)
	if isNull(root) {
		d.errorf(root, "", "empty policy")
		return nil
	}
	if root.Kind != yaml.MappingNode {
		d.errorf(root, "", "want a mapping (horizon:, wear:, rules:), got %s", describe(root))
		return nil
	}
	d.mapping(root, "", fields)
	return rules
}

// strings decodes a list of strings.
func (d *policyDecoder) strings(n *yaml.Node, key string) []string {
	n = d.deref(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, key, "want a list, got %s", describe(n))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, e := range n.Content {
		if !d.spend(e) {
			return out
		}
		k := fmt.Sprintf("%s[%d]", key, i)
		var s string
		if d.str(e, k, &s) {
			d.setPos(k, d.deref(e))
			out = append(out, s)
		}
	}
	return out
}

// rules decodes the rules list.
func (d *policyDecoder) rules(n *yaml.Node, key string) {
	n = d.deref(n)
	if isNull(n) {
		d.errorf(n, key, "want a list of rules, got nothing")
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, key, "want a list of rules (- name: ...), got %s", describe(n))
		return
	}
	if len(n.Content) > maxRules {
		d.errorf(n, key, "%d rules, more than %d", len(n.Content), maxRules)
		return
	}
	for i, e := range n.Content {
		if !d.spend(e) {
			return
		}
		d.rule(e, fmt.Sprintf("%s[%d]", key, i))
	}
}

func (d *policyDecoder) rule(n *yaml.Node, key string) {
	r := Rule{Horizon: -1}
	var conds []string
	var condNode *yaml.Node
	cond := func(c Condition) policyField {
		return policyField{string(c), func(v *yaml.Node, k string) {
			conds = append(conds, string(c))
			if len(conds) == 2 {
				condNode = d.deref(v) // the one too many
			}
			if len(conds) > 1 {
				return
			}
			r.Condition = c
			if c == AgeOver {
				d.span(v, k, &r.Limit, &r.LimitText)
			} else if d.number(v, k, &r.Limit) {
				r.LimitText = strings.TrimSpace(d.deref(v).Value)
			}
		}}
	}
	var kind string
	fields := []policyField{
		{"name", func(v *yaml.Node, k string) { d.str(v, k, &r.Name) }},
		{"description", func(v *yaml.Node, k string) { d.str(v, k, &r.Description) }},
		{"kind", func(v *yaml.Node, k string) { d.str(v, k, &kind) }},
		{"media", func(v *yaml.Node, k string) { d.str(v, k, &r.Media) }},
		{"model", func(v *yaml.Node, k string) { d.str(v, k, &r.Model) }},
		{"horizon", func(v *yaml.Node, k string) {
			var h float64
			if d.span(v, k, &h, nil) {
				r.Horizon = hours(h)
			}
		}},
	}
	for _, c := range conditions() {
		fields = append(fields, cond(c))
	}
	if !d.mapping(n, key, fields) {
		if isNull(d.deref(n)) {
			d.errorf(d.deref(n), key, "an empty rule")
		}
		return
	}
	r.Kind = model.Kind(kind)
	if kind == "" {
		d.errorf(d.deref(n), key, "no kind: give kind: drive, fan, psu, ...")
	}
	if r.Name == "" {
		d.errorf(d.deref(n), key, "no name: give name: (such as hdd-age)")
	}
	switch len(conds) {
	case 0:
		d.errorf(d.deref(n), key, "no condition: give one of %s", conditionList())
	case 1:
	default:
		d.errorf(condNode, key, "%s: a rule has one condition; write one rule for each", strings.Join(conds, " and "))
	}
	d.p.Rules = append(d.p.Rules, r)
}
