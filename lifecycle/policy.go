package lifecycle

import (
	_ "embed" // the default policy
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/prefail/prefail/model"
)

//go:embed default-policy.yaml
var defaultPolicyYAML string

// Errors of this package, wrapped by the ones it returns.
var (
	// ErrInvalidPolicy: a policy that cannot be used (a PolicyError).
	ErrInvalidPolicy = errors.New("invalid lifecycle policy")
	// ErrInvalidInput: a snapshot or an argument the builder cannot take.
	ErrInvalidInput = errors.New("invalid lifecycle input")
)

// DefaultPolicyYAML returns the default policy, commented, as embedded
// from default-policy.yaml (what `prefail inventory
// --print-default-policy` prints). It parses as is.
func DefaultPolicyYAML() []byte { return []byte(defaultPolicyYAML) }

// DefaultPolicy parses the embedded default policy. It fails only if the
// embedded file is broken, which the tests rule out.
func DefaultPolicy() (*Policy, error) {
	return parsePolicy("default-policy.yaml", DefaultPolicyYAML(), nil)
}

// Condition names what a rule measures.
type Condition string

// The conditions a rule may use. Each has a limit, in the unit given.
const (
	// AgeOver: the part's age (hours, written as 5y, 43800h, ...) is over
	// the limit. Projected forward over the horizon.
	AgeOver Condition = "age_over"
	// PercentageUsedAtLeast: a drive's percentage used (NVMe
	// percentage_used, or 100 - Redfish media_life_left) is at or over the
	// limit (percent). Projected forward when the history gives a rate.
	PercentageUsedAtLeast Condition = "percentage_used_at_least"
	// SectorGrowthOver: the drive's sector counters (wear.sector_counters)
	// grew by more than the limit since the first point of their history.
	SectorGrowthOver Condition = "sector_growth_over"
	// SpeedLossOver: a fan's recent mean speed is more than the limit
	// (percent) below the mean of its earliest week.
	SpeedLossOver Condition = "speed_loss_over"
	// EfficiencyLossOver: a PSU's recent efficiency (output / input power)
	// is more than the limit (percentage points) below its earliest week's.
	EfficiencyLossOver Condition = "efficiency_loss_over"
)

// conditions in the order their keys are listed in messages.
func conditions() []Condition {
	return []Condition{AgeOver, PercentageUsedAtLeast, SectorGrowthOver, SpeedLossOver, EfficiencyLossOver}
}

// appliesTo reports whether condition c can be measured on parts of kind k.
func (c Condition) appliesTo(k model.Kind) bool {
	switch c {
	case AgeOver:
		return true
	case PercentageUsedAtLeast, SectorGrowthOver:
		return k == model.KindDrive
	case SpeedLossOver:
		return k == model.KindFan
	case EfficiencyLossOver:
		return k == model.KindPSU
	}
	return false
}

// Policy says when parts are due for refresh: an ordered list of rules,
// each for one kind of part. Build one with ParsePolicy or DefaultPolicy;
// a Policy built in Go is checked by Validate (NewBuilder does).
type Policy struct {
	// Name is where the policy came from, for messages.
	Name string
	// Horizon is the default look-ahead of the rules: a part whose age or
	// wear, projected this far, reaches a rule's limit is due within the
	// horizon (90 days: "due this quarter").
	Horizon time.Duration
	Wear    WearPolicy
	Rules   []Rule

	// pos is where each key was read ("rules[2].age_over" -> line:col).
	pos map[string]policyPos
}

// WearPolicy says how wear is measured from the history.
type WearPolicy struct {
	// Baseline is the length of the earliest stretch of a reading's
	// history taken as the part's own baseline; Recent the newest stretch
	// compared with it. A history shorter than both together gives no
	// speed or efficiency loss.
	Baseline time.Duration
	Recent   time.Duration
	// SectorCounters are the drive readings whose growth counts as
	// sector_growth: reallocated, pending and uncorrectable sectors.
	SectorCounters []string
}

// Media types a rule may select.
const (
	MediaHDD     = "HDD"
	MediaSSD     = "SSD"
	MediaUnknown = "unknown"
)

// Rule is one refresh rule.
type Rule struct {
	// Name identifies the rule in rows ("hdd-age"): lower-case letters,
	// digits and dashes, unique in the policy.
	Name        string
	Description string
	// Kind of part the rule is for (model.Kind: drive, fan, psu, ...).
	Kind model.Kind
	// Media, for drives, narrows the rule to HDD, SSD or unknown (the
	// source did not say); empty: every drive.
	Media string
	// Model, when set, narrows the rule to the models it matches (a
	// path.Match pattern: "ST4000DM*").
	Model string
	// Condition and its limit: hours (age_over), percent
	// (percentage_used_at_least, speed_loss_over), sectors
	// (sector_growth_over), percentage points (efficiency_loss_over).
	Condition Condition
	Limit     float64
	// LimitText is the limit as written ("5y"), for reasons.
	LimitText string
	// Horizon overrides the policy's (negative: not set; 0: no look-ahead).
	Horizon time.Duration
}

// horizon is the rule's look-ahead.
func (r *Rule) horizon(p *Policy) time.Duration {
	if r.Horizon >= 0 {
		return r.Horizon
	}
	return p.Horizon
}

// PolicyError is one thing wrong with a policy, and where.
type PolicyError struct {
	File   string
	Line   int // 0 when unknown
	Column int
	// Key is the key path: "rules[2].age_over".
	Key string
	Msg string
}

func (e *PolicyError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.File == "" {
		b.WriteString("policy")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap makes every PolicyError an ErrInvalidPolicy.
func (e *PolicyError) Unwrap() error { return ErrInvalidPolicy }

type policyPos struct{ line, col int }

// Policy limits.
const (
	maxRules      = 1000
	maxRuleName   = 64
	maxHorizon    = 10 * hoursPerYear
	maxPolicyErrs = 20
)

// knownKinds are the kinds a rule may name: the model's.
func knownKinds() []model.Kind {
	return []model.Kind{model.KindChassis, model.KindSystem, model.KindBMC, model.KindPSU, model.KindFan,
		model.KindTemperature, model.KindVoltage, model.KindCurrent, model.KindPower, model.KindDrive,
		model.KindMemory, model.KindProcessor, model.KindStorage, model.KindBattery, model.KindSensor}
}

// policyChecker collects Validate's errors.
type policyChecker struct {
	p       *Policy
	errs    []error
	dropped int
}

func (v *policyChecker) errorf(key, format string, args ...any) {
	if len(v.errs) >= maxPolicyErrs {
		v.dropped++
		return
	}
	e := &PolicyError{File: v.p.Name, Key: key, Msg: fmt.Sprintf(format, args...)}
	if pos, ok := v.p.pos[key]; ok {
		e.Line, e.Column = pos.line, pos.col
	}
	v.errs = append(v.errs, e)
}

func (v *policyChecker) err() error {
	if v.dropped > 0 {
		v.errs = append(v.errs, &PolicyError{File: v.p.Name, Msg: fmt.Sprintf("%d more errors not shown", v.dropped)})
	}
	return errors.Join(v.errs...)
}

// Validate checks the policy: every error (up to 20) names the key, and
// the line when the policy was parsed. Each wraps ErrInvalidPolicy.
func (p *Policy) Validate() error {
	v := &policyChecker{p: p}
	if p.Horizon < 0 || p.Horizon > hours(maxHorizon) {
		v.errorf("horizon", "want 0 to 10 years, got %s", p.Horizon)
	}
	if p.Wear.Baseline <= 0 || p.Wear.Baseline > hours(maxPolicyHours) {
		v.errorf("wear.baseline", "want a positive duration, got %s", p.Wear.Baseline)
	}
	if p.Wear.Recent <= 0 || p.Wear.Recent > hours(maxPolicyHours) {
		v.errorf("wear.recent", "want a positive duration, got %s", p.Wear.Recent)
	}
	for i, c := range p.Wear.SectorCounters {
		if strings.TrimSpace(c) == "" || len(c) > 128 {
			v.errorf(fmt.Sprintf("wear.sector_counters[%d]", i), "want a reading name such as smart_5_raw")
		}
	}
	if len(p.Rules) > maxRules {
		v.errorf("rules", "%d rules, more than %d", len(p.Rules), maxRules)
	}
	seen := map[string]int{}
	for i := range p.Rules {
		p.Rules[i].check(v, fmt.Sprintf("rules[%d]", i), seen, i)
	}
	return v.err()
}

func (r *Rule) check(v *policyChecker, key string, seen map[string]int, i int) {
	if !validRuleName(r.Name) {
		v.errorf(key+".name", "want a name of lower-case letters, digits and dashes (at most %d), such as hdd-age, got %q", maxRuleName, clip(r.Name, 40))
	} else if j, dup := seen[r.Name]; dup {
		v.errorf(key+".name", "rule %q is also rules[%d]: names are unique", r.Name, j)
	} else {
		seen[r.Name] = i
	}
	known := false
	for _, k := range knownKinds() {
		known = known || k == r.Kind
	}
	if !known {
		names := make([]string, 0, 16)
		for _, k := range knownKinds() {
			names = append(names, string(k))
		}
		v.errorf(key+".kind", "unknown kind %q: want one of %s", clip(string(r.Kind), 40), strings.Join(names, ", "))
	}
	switch r.Media {
	case "":
	case MediaHDD, MediaSSD, MediaUnknown:
		if r.Kind != model.KindDrive {
			v.errorf(key+".media", "media narrows rules for drives, not %s", r.Kind)
		}
	default:
		v.errorf(key+".media", "want HDD, SSD or unknown, got %q", clip(r.Media, 40))
	}
	if r.Model != "" {
		if _, err := path.Match(r.Model, ""); err != nil || len(r.Model) > 256 {
			v.errorf(key+".model", "not a valid pattern (path.Match syntax: *, ?, [a-z]): %q", clip(r.Model, 40))
		}
	}
	if r.Horizon > hours(maxHorizon) {
		v.errorf(key+".horizon", "want at most 10 years, got %s", r.Horizon)
	}
	ck := key + "." + string(r.Condition)
	switch r.Condition {
	case AgeOver:
		if !(r.Limit > 0 && r.Limit <= maxPolicyHours) {
			v.errorf(ck, "want a positive age such as 5y, got %s", fmtNum(r.Limit, 2)+" h")
		}
	case PercentageUsedAtLeast, SpeedLossOver, EfficiencyLossOver:
		if !(r.Limit > 0 && r.Limit <= 100) {
			v.errorf(ck, "want a number above 0 and at most 100, got %s", fmtNum(r.Limit, 2))
		}
	case SectorGrowthOver:
		if !(r.Limit >= 0 && r.Limit <= 1e12) {
			v.errorf(ck, "want 0 or more sectors, got %s", fmtNum(r.Limit, 2))
		}
	default:
		v.errorf(key, "no condition: give one of %s", conditionList())
		return
	}
	if known && !r.Condition.appliesTo(r.Kind) {
		v.errorf(ck, "%s cannot be measured on a %s (%s)", r.Condition, r.Kind, conditionUse(r.Condition))
	}
}

func conditionList() string {
	var s []string
	for _, c := range conditions() {
		s = append(s, string(c))
	}
	return strings.Join(s, ", ")
}

func conditionUse(c Condition) string {
	switch c {
	case PercentageUsedAtLeast, SectorGrowthOver:
		return "it is for drives"
	case SpeedLossOver:
		return "it is for fans"
	case EfficiencyLossOver:
		return "it is for PSUs"
	}
	return ""
}

func validRuleName(s string) bool {
	if s == "" || len(s) > maxRuleName || s[0] == '-' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}
