package redfishmock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DefaultScenarioStart is the wall time simulated time 0 maps to when a
// scenario gives no start, so served timestamps are reproducible.
const DefaultScenarioStart = "2026-01-01T00:00:00Z"

// defaultNoiseInterval is the noise granularity when a scenario gives no
// interval: the same simulated minute always serves the same value.
const defaultNoiseInterval = time.Minute

// maxNoiseSigma bounds a noise draw (in standard deviations), so a
// "healthy" scenario never crosses a threshold by a freak draw.
const maxNoiseSigma = 4

// exponentialRampK shapes "exponential" ramps: slow at first, then
// accelerating, the way wear-out failures look.
const exponentialRampK = 3.0

// ChangeKind names what a scenario change does to its targets.
type ChangeKind string

// The change kinds of the scenario file format (see docs/mock-server.md).
const (
	KindSet          ChangeKind = "set"
	KindRamp         ChangeKind = "ramp"
	KindStep         ChangeKind = "step"
	KindNoise        ChangeKind = "noise"
	KindDiurnal      ChangeKind = "diurnal"
	KindIntermittent ChangeKind = "intermittent"
	KindSchedule     ChangeKind = "schedule"
	KindScale        ChangeKind = "scale"
	KindLog          ChangeKind = "log"
)

// kindList is the kinds as error messages list them.
const kindList = "set, step, ramp, intermittent, schedule, noise, diurnal, scale, log"

// additive reports whether the kind adds to the value the other changes
// produce rather than replacing it.
func (k ChangeKind) additive() bool { return k == KindNoise || k == KindDiurnal }

// level reports whether the kind gives the value (the level) rather than
// adding to it or multiplying it.
func (k ChangeKind) level() bool {
	switch k {
	case KindSet, KindStep, KindRamp, KindIntermittent, KindSchedule:
		return true
	}
	return false
}

// Scenario changes served values as a function of simulated time. It is
// immutable once parsed and safe for concurrent use.
type Scenario struct {
	Name        string
	Description string
	// Base names an embedded tree or a directory relative to the file.
	Base string
	// Speed is simulated seconds per real second for live replays.
	Speed float64
	// Duration is how long the story lasts; Interval the suggested sampling interval.
	Duration time.Duration
	Interval time.Duration
	Seed     int64
	// Start is the wall time of simulated time 0.
	Start   time.Time
	Changes []Change

	dir        string                   // directory of the file, for a relative Base
	byResource map[string][]targetRef   // normalized resource path -> targets on it
	groups     map[string][]*valueGroup // normalized resource path -> its changed values, in order of first appearance
	logs       map[string][]int         // collection path -> log change indexes, in order of appearance
}

// valueGroup is every change to one value (resource, pointer), split by
// how they compose (see apply).
type valueGroup struct {
	ptr pointer
	// levels (set, step, ramp, intermittent, schedule) in order of
	// onset, then file order; adds (noise, diurnal) and factors (scale) in
	// file order.
	levels, adds, factors []targetRef
	// precision of the first change in file order that gives one.
	precision float64
}

// Target is one place a change writes: a resource and an RFC 6901 pointer
// into it. Scale multiplies the numbers the change produces for this target
// (e.g. RPM to percent), so copies of one reading in different units move
// together.
type Target struct {
	Resource string
	Pointer  string
	Scale    float64

	ptr pointer
}

// Change is one entry of a scenario's changes. Only the fields of its Kind
// are meaningful.
type Change struct {
	Kind    ChangeKind
	Comment string
	Targets []Target
	// Precision rounds produced numbers (1 = integers); 0 = inferred from
	// the target (RPM and watts to integers, others to 0.01).
	Precision float64

	At, Start, End time.Duration
	Every, For     time.Duration
	Period, Phase  time.Duration
	Value          any // set, step ("to"), intermittent
	// From and To: a ramp's values, a scale's factors. A ramp without
	// "from" (HasFrom false) starts from the value in effect at its start.
	From, To  float64
	HasFrom   bool
	Shape     string
	SD, SDTo  float64
	Amplitude float64
	Entry     map[string]any // log
	// Steps (schedule) repeat every Period from Start; Weekend, when set,
	// replaces them on Saturdays and Sundays.
	Steps, Weekend []ScheduleStep
	// Exact (set, step, intermittent) serves the value as given while the
	// change is in effect: noise, diurnal and scale do not apply on top.
	Exact bool
	// Since ("from") and Until (noise, diurnal): the addition applies from
	// Since, and stops from Until on (0: never).
	Since, Until time.Duration
	hasSDTo      bool
}

// ScheduleStep is one step of a schedule: the value from At (an offset
// into the period) until the next step.
type ScheduleStep struct {
	At    time.Duration
	Value any
}

type targetRef struct{ change, target int }

type scenarioFile struct {
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Base        string            `json:"base"`
	Speed       float64           `json:"speed"`
	Duration    string            `json:"duration"`
	Interval    string            `json:"interval"`
	Seed        int64             `json:"seed"`
	Start       string            `json:"start"`
	Changes     []json.RawMessage `json:"changes"`
}

type targetFile struct {
	Resource string   `json:"resource"`
	Pointer  string   `json:"pointer"`
	Scale    *float64 `json:"scale"`
}

type changeFile struct {
	Comment   string       `json:"comment"`
	Targets   []targetFile `json:"targets"`
	Precision float64      `json:"precision"`
	Set       *struct {
		At    string          `json:"at"`
		Value json.RawMessage `json:"value"`
		Exact *bool           `json:"exact"`
	} `json:"set"`
	Ramp     *rampFile `json:"ramp"`
	Scale    *rampFile `json:"scale"`
	Schedule *struct {
		Start   string             `json:"start"`
		Period  string             `json:"period"`
		Steps   []scheduleStepFile `json:"steps"`
		Weekend []scheduleStepFile `json:"weekend"`
	} `json:"schedule"`
	Step *struct {
		At    string          `json:"at"`
		To    json.RawMessage `json:"to"`
		Exact *bool           `json:"exact"`
	} `json:"step"`
	Noise *struct {
		SD    *float64 `json:"sd"`
		SDTo  *float64 `json:"sdTo"`
		Start string   `json:"start"`
		End   string   `json:"end"`
		From  string   `json:"from"`
		Until string   `json:"until"`
	} `json:"noise"`
	Diurnal *struct {
		Amplitude *float64 `json:"amplitude"`
		Period    string   `json:"period"`
		Phase     string   `json:"phase"`
		From      string   `json:"from"`
		Until     string   `json:"until"`
	} `json:"diurnal"`
	Intermittent *struct {
		Start string          `json:"start"`
		Every string          `json:"every"`
		For   string          `json:"for"`
		Value json.RawMessage `json:"value"`
		Exact *bool           `json:"exact"`
	} `json:"intermittent"`
	Log *struct {
		At    string          `json:"at"`
		Entry json.RawMessage `json:"entry"`
	} `json:"log"`
}

type rampFile struct {
	From  *float64 `json:"from"`
	To    *float64 `json:"to"`
	Start string   `json:"start"`
	End   string   `json:"end"`
	Shape string   `json:"shape"`
}

type scheduleStepFile struct {
	At string          `json:"at"`
	To json.RawMessage `json:"to"`
}

// LoadScenario parses a scenario file from r.
func LoadScenario(r io.Reader) (*Scenario, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("scenario: read: %w", err)
	}
	return ParseScenario(b)
}

// LoadScenarioFile parses the scenario at path; a relative Base directory
// is then resolved against the file's directory by BaseTree.
func LoadScenarioFile(path string) (*Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	sc, err := ParseScenario(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	sc.dir = filepath.Dir(path)
	return sc, nil
}

// BaseTree loads the tree the scenario names as its base: an embedded tree,
// else a directory (relative to the scenario file when loaded with
// LoadScenarioFile).
func (sc *Scenario) BaseTree() (*Tree, error) {
	if sc.Base == "" {
		return nil, errors.New("scenario: no base tree named")
	}
	for _, n := range EmbeddedNames() {
		if n == sc.Base {
			return Embedded(n)
		}
	}
	dir := sc.Base
	if !filepath.IsAbs(dir) && sc.dir != "" {
		dir = filepath.Join(sc.dir, dir)
	}
	return LoadDir(dir)
}

// SimTime converts real time elapsed since a live replay started into
// simulated time, using Speed (1 when unset).
func (sc *Scenario) SimTime(elapsed time.Duration) time.Duration {
	if sc.Speed <= 0 {
		return elapsed
	}
	return time.Duration(float64(elapsed) * sc.Speed)
}

// ParseScenario parses a scenario file. Errors name the change index and
// field at fault.
func ParseScenario(b []byte) (*Scenario, error) {
	var f scenarioFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	sc := &Scenario{
		Name: f.Name, Description: f.Description, Base: f.Base,
		Speed: f.Speed, Seed: f.Seed,
		byResource: map[string][]targetRef{},
		groups:     map[string][]*valueGroup{},
		logs:       map[string][]int{},
	}
	if f.Speed < 0 || math.IsNaN(f.Speed) || math.IsInf(f.Speed, 0) {
		return nil, fmt.Errorf("scenario: field \"speed\": must be a positive number, got %v", f.Speed)
	}
	var err error
	if sc.Duration, err = parseOptDuration(f.Duration); err != nil {
		return nil, fmt.Errorf("scenario: field \"duration\": %w", err)
	}
	if sc.Interval, err = parseOptDuration(f.Interval); err != nil {
		return nil, fmt.Errorf("scenario: field \"interval\": %w", err)
	}
	start := f.Start
	if start == "" {
		start = DefaultScenarioStart
	}
	if sc.Start, err = time.Parse(time.RFC3339, start); err != nil {
		return nil, fmt.Errorf("scenario: field \"start\": %w", err)
	}
	for i, raw := range f.Changes {
		c, err := parseChange(raw)
		if err != nil {
			return nil, fmt.Errorf("scenario: change %d: %w", i, err)
		}
		sc.Changes = append(sc.Changes, c)
		for j, t := range c.Targets {
			p := NormalizePath(t.Resource)
			sc.byResource[p] = append(sc.byResource[p], targetRef{i, j})
			if c.Kind == KindLog && j == 0 {
				sc.logs[p] = append(sc.logs[p], i)
			}
		}
	}
	// Entries are numbered in order of appearance, so visible ones are
	// always a prefix and ids stay sequential.
	for _, idx := range sc.logs {
		sort.SliceStable(idx, func(a, b int) bool { return sc.Changes[idx[a]].At < sc.Changes[idx[b]].At })
	}
	sc.groupValues()
	return sc, nil
}

// groupValues builds sc.groups from sc.byResource.
func (sc *Scenario) groupValues() {
	for p, refs := range sc.byResource {
		byPtr := map[string]*valueGroup{}
		for _, r := range refs {
			c := &sc.Changes[r.change]
			if c.Kind == KindLog {
				continue
			}
			ptr := c.Targets[r.target].ptr
			g := byPtr[ptr.String()]
			if g == nil {
				g = &valueGroup{ptr: ptr}
				byPtr[ptr.String()] = g
				sc.groups[p] = append(sc.groups[p], g)
			}
			switch {
			case c.Kind.level():
				g.levels = append(g.levels, r)
			case c.Kind.additive():
				g.adds = append(g.adds, r)
			default:
				g.factors = append(g.factors, r)
			}
			if g.precision == 0 && c.Precision > 0 {
				g.precision = c.Precision
			}
		}
	}
	for _, gs := range sc.groups {
		for _, g := range gs {
			sort.SliceStable(g.levels, func(a, b int) bool {
				return sc.Changes[g.levels[a].change].onset() < sc.Changes[g.levels[b].change].onset()
			})
		}
	}
}

// onset is when a change first takes effect.
func (c *Change) onset() time.Duration {
	switch c.Kind {
	case KindSet, KindStep, KindLog:
		return c.At
	case KindNoise, KindDiurnal:
		return c.Since
	}
	return c.Start
}

func parseChange(raw json.RawMessage) (Change, error) {
	var cf changeFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cf); err != nil {
		return Change{}, err
	}
	var c Change
	kinds := 0
	var err error
	field := func(kind, name string, e error) error {
		return fmt.Errorf("%s: field %q: %w", kind, name, e)
	}
	if cf.Set != nil {
		kinds++
		c.Kind = KindSet
		if c.At, err = parseOptDuration(cf.Set.At); err != nil {
			return c, field("set", "at", err)
		}
		if c.Value, err = decodeValue(cf.Set.Value); err != nil {
			return c, field("set", "value", err)
		}
		c.Exact = cf.Set.Exact != nil && *cf.Set.Exact
	}
	if cf.Ramp != nil {
		kinds++
		c.Kind = KindRamp
		if err := parseRamp(&c, "ramp", cf.Ramp, false); err != nil {
			return c, err
		}
	}
	if cf.Scale != nil {
		kinds++
		c.Kind = KindScale
		if err := parseRamp(&c, "scale", cf.Scale, true); err != nil {
			return c, err
		}
	}
	if cf.Schedule != nil {
		kinds++
		c.Kind = KindSchedule
		if err := parseSchedule(&c, cf.Schedule.Start, cf.Schedule.Period, cf.Schedule.Steps, cf.Schedule.Weekend); err != nil {
			return c, err
		}
	}
	if cf.Step != nil {
		kinds++
		c.Kind = KindStep
		if c.At, err = parseDuration(cf.Step.At); err != nil {
			return c, field("step", "at", err)
		}
		if c.Value, err = decodeValue(cf.Step.To); err != nil {
			return c, field("step", "to", err)
		}
		c.Exact = cf.Step.Exact != nil && *cf.Step.Exact
	}
	if cf.Noise != nil {
		kinds++
		c.Kind = KindNoise
		n := cf.Noise
		if n.SD == nil || *n.SD < 0 {
			return c, field("noise", "sd", errors.New("want a number >= 0"))
		}
		c.SD = *n.SD
		if c.Since, c.Until, err = parseWindow("noise", n.From, n.Until); err != nil {
			return c, err
		}
		if n.SDTo != nil {
			if *n.SDTo < 0 {
				return c, field("noise", "sdTo", errors.New("want a number >= 0"))
			}
			c.SDTo, c.hasSDTo = *n.SDTo, true
			if c.Start, err = parseOptDuration(n.Start); err != nil {
				return c, field("noise", "start", err)
			}
			if c.End, err = parseDuration(n.End); err != nil {
				return c, field("noise", "end", err)
			}
			if c.End <= c.Start {
				return c, field("noise", "end", fmt.Errorf("%s is not after start %s", n.End, n.Start))
			}
		}
	}
	if cf.Diurnal != nil {
		kinds++
		c.Kind = KindDiurnal
		d := cf.Diurnal
		if d.Amplitude == nil {
			return c, field("diurnal", "amplitude", errors.New("missing number"))
		}
		c.Amplitude = *d.Amplitude
		p := d.Period
		if p == "" {
			p = "24h"
		}
		if c.Period, err = parseDuration(p); err != nil || c.Period <= 0 {
			if err == nil {
				err = errors.New("must be positive")
			}
			return c, field("diurnal", "period", err)
		}
		if c.Phase, err = parseOptDuration(d.Phase); err != nil {
			return c, field("diurnal", "phase", err)
		}
		if c.Since, c.Until, err = parseWindow("diurnal", d.From, d.Until); err != nil {
			return c, err
		}
	}
	if cf.Intermittent != nil {
		kinds++
		c.Kind = KindIntermittent
		in := cf.Intermittent
		if c.Start, err = parseOptDuration(in.Start); err != nil {
			return c, field("intermittent", "start", err)
		}
		if c.Every, err = parseDuration(in.Every); err != nil || c.Every <= 0 {
			if err == nil {
				err = errors.New("must be positive")
			}
			return c, field("intermittent", "every", err)
		}
		if c.For, err = parseDuration(in.For); err != nil || c.For <= 0 || c.For > c.Every {
			if err == nil {
				err = errors.New("must be positive and at most every")
			}
			return c, field("intermittent", "for", err)
		}
		if c.Value, err = decodeValue(in.Value); err != nil {
			return c, field("intermittent", "value", err)
		}
		// A blip (input lost, fan stalled) reads exactly its value.
		c.Exact = in.Exact == nil || *in.Exact
	}
	if cf.Log != nil {
		kinds++
		c.Kind = KindLog
		if c.At, err = parseOptDuration(cf.Log.At); err != nil {
			return c, field("log", "at", err)
		}
		v, err := decodeValue(cf.Log.Entry)
		if err != nil {
			return c, field("log", "entry", err)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return c, field("log", "entry", errors.New("want a JSON object (a LogEntry)"))
		}
		c.Entry = m
	}
	switch {
	case kinds == 0:
		return c, errors.New("no kind: want exactly one of " + kindList)
	case kinds > 1:
		return c, errors.New("more than one kind: want exactly one of " + kindList)
	}
	if cf.Precision != 0 && (cf.Precision < 1e-6 || cf.Precision > 1e6) {
		return c, fmt.Errorf("field \"precision\": want a number between 1e-6 and 1e6 (1 = integers, 0.01 = hundredths)")
	}
	c.Precision = cf.Precision
	c.Comment = cf.Comment
	if len(cf.Targets) == 0 {
		return c, fmt.Errorf("%s: field \"targets\": no targets", c.Kind)
	}
	for j, tf := range cf.Targets {
		t := Target{Resource: tf.Resource, Pointer: tf.Pointer, Scale: 1}
		if tf.Scale != nil {
			t.Scale = *tf.Scale
		}
		if !strings.HasPrefix(t.Resource, "/redfish/") {
			return c, fmt.Errorf("%s: target %d: field \"resource\": %q is not a /redfish/ path", c.Kind, j, t.Resource)
		}
		if t.ptr, err = parsePointer(t.Pointer); err != nil {
			return c, fmt.Errorf("%s: target %d: field \"pointer\": %w", c.Kind, j, err)
		}
		if c.Kind != KindLog && len(t.ptr) == 0 {
			return c, fmt.Errorf("%s: target %d: field \"pointer\": empty (the whole resource cannot be replaced)", c.Kind, j)
		}
		c.Targets = append(c.Targets, t)
	}
	return c, nil
}

// parseRamp parses a ramp, or a scale (a ramp of a factor: from defaults
// to 1, and without end the factor steps to "to" at start).
func parseRamp(c *Change, kind string, r *rampFile, factor bool) error {
	field := func(name string, e error) error { return fmt.Errorf("%s: field %q: %w", kind, name, e) }
	if r.To == nil || math.IsNaN(*r.To) || math.IsInf(*r.To, 0) {
		return field("to", errors.New("missing number"))
	}
	c.To = *r.To
	switch {
	case r.From != nil:
		c.From, c.HasFrom = *r.From, true
	case factor:
		c.From, c.HasFrom = 1, true
	}
	var err error
	if c.Start, err = parseOptDuration(r.Start); err != nil {
		return field("start", err)
	}
	if factor && r.End == "" {
		c.End = c.Start
	} else {
		if c.End, err = parseDuration(r.End); err != nil {
			return field("end", err)
		}
		if c.End <= c.Start {
			return field("end", fmt.Errorf("%s is not after start %s", r.End, r.Start))
		}
	}
	switch r.Shape {
	case "", "linear":
		c.Shape = "linear"
	case "exponential":
		c.Shape = r.Shape
	default:
		return field("shape", fmt.Errorf("unknown shape %q (want linear or exponential)", r.Shape))
	}
	return nil
}

// parseSchedule parses a schedule: steps repeating every period.
func parseSchedule(c *Change, start, period string, steps, weekend []scheduleStepFile) error {
	field := func(name string, e error) error { return fmt.Errorf("schedule: field %q: %w", name, e) }
	var err error
	if c.Start, err = parseOptDuration(start); err != nil {
		return field("start", err)
	}
	if period == "" {
		period = "24h"
	}
	if c.Period, err = parseDuration(period); err != nil || c.Period <= 0 {
		if err == nil {
			err = errors.New("must be positive")
		}
		return field("period", err)
	}
	parse := func(name string, in []scheduleStepFile) ([]ScheduleStep, error) {
		out := make([]ScheduleStep, 0, len(in))
		for i, sf := range in {
			at, err := parseOptDuration(sf.At)
			if err != nil {
				return nil, fmt.Errorf("schedule: %s %d: field \"at\": %w", name, i, err)
			}
			if at >= c.Period || (i > 0 && at <= out[i-1].At) {
				return nil, fmt.Errorf("schedule: %s %d: field \"at\": %s is not after the previous step and before the period %s", name, i, sf.At, period)
			}
			v, err := decodeValue(sf.To)
			if err != nil {
				return nil, fmt.Errorf("schedule: %s %d: field \"to\": %w", name, i, err)
			}
			out = append(out, ScheduleStep{At: at, Value: v})
		}
		return out, nil
	}
	if len(steps) == 0 {
		return field("steps", errors.New("no steps"))
	}
	if c.Steps, err = parse("steps", steps); err != nil {
		return err
	}
	if weekend != nil {
		if c.Period != 24*time.Hour {
			return field("weekend", fmt.Errorf("needs a period of 24h, not %s", period))
		}
		if len(weekend) == 0 {
			return field("weekend", errors.New("no steps"))
		}
		if c.Weekend, err = parse("weekend", weekend); err != nil {
			return err
		}
	}
	return nil
}

// parseWindow parses the "from" and "until" of noise and diurnal.
func parseWindow(kind, from, until string) (since, end time.Duration, err error) {
	if since, err = parseOptDuration(from); err != nil {
		return 0, 0, fmt.Errorf("%s: field \"from\": %w", kind, err)
	}
	if end, err = parseOptDuration(until); err != nil {
		return 0, 0, fmt.Errorf("%s: field \"until\": %w", kind, err)
	}
	if end > 0 && end <= since {
		return 0, 0, fmt.Errorf("%s: field \"until\": %s is not after from %s", kind, until, from)
	}
	return since, end, nil
}

func decodeValue(raw json.RawMessage) (any, error) {
	if len(raw) == 0 {
		return nil, errors.New("missing value")
	}
	return decodeJSON(raw)
}

func parseOptDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	return parseDuration(s)
}

// parseDuration accepts Go durations plus a leading day count: "12d",
// "1d6h", "1.5d".
func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("missing duration")
	}
	var days float64
	rest := s
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		var err error
		days, err = strconv.ParseFloat(s[:i], 64)
		if err != nil || days < 0 || days > 100000 || i == 0 || strings.ContainsAny(s[:i], "eEnNxXpP_+-") {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		rest = s[i+1:]
	}
	var d time.Duration
	if rest != "" {
		var err error
		if d, err = time.ParseDuration(rest); err != nil {
			return 0, fmt.Errorf("bad duration %q: %w", s, err)
		}
		if d < 0 {
			return 0, fmt.Errorf("bad duration %q: negative", s)
		}
	}
	return d + time.Duration(days*float64(24*time.Hour)), nil
}

// addend is what an additive change (noise, diurnal) adds to a target at
// t, if it is in effect.
func (sc *Scenario) addend(ci int, t time.Duration, scale float64) (float64, bool) {
	c := &sc.Changes[ci]
	if t < c.Since || (c.Until > 0 && t >= c.Until) {
		return 0, false
	}
	switch c.Kind {
	case KindNoise:
		sd := c.SD
		if c.hasSDTo {
			sd += (c.SDTo - c.SD) * clamp01(float64(t-c.Start)/float64(c.End-c.Start))
		}
		return sc.gaussian(ci, t) * sd * scale, true
	case KindDiurnal:
		phase := 2 * math.Pi * float64(t-c.Phase) / float64(c.Period)
		return c.Amplitude * math.Sin(phase) * scale, true
	}
	return 0, false
}

// factor is what a scale change multiplies its targets by at t, if it is
// in effect (from its start on).
func (c *Change) factor(t time.Duration) (float64, bool) {
	if t < c.Start {
		return 1, false
	}
	if c.End <= c.Start {
		return c.To, true
	}
	return c.From + (c.To-c.From)*rampShape(c.rampX(t), c.Shape), true
}

// rampX is how far t is through [Start, End], in 0..1.
func (c *Change) rampX(t time.Duration) float64 {
	return clamp01(float64(t-c.Start) / float64(c.End-c.Start))
}

// rampShape maps x in 0..1 through a ramp's shape.
func rampShape(x float64, shape string) float64 {
	if shape == "exponential" {
		return (math.Exp(exponentialRampK*x) - 1) / (math.Exp(exponentialRampK) - 1)
	}
	return x
}

// scheduleValue is a schedule's step in effect at t >= Start.
func (sc *Scenario) scheduleValue(c *Change, t time.Duration) any {
	n := (t - c.Start) / c.Period
	off := (t - c.Start) % c.Period
	steps := sc.scheduleSteps(c, n)
	for i := len(steps) - 1; i >= 0; i-- {
		if steps[i].At <= off {
			return steps[i].Value
		}
	}
	// Before the period's first step: the last step of the period before.
	prev := sc.scheduleSteps(c, n-1)
	return prev[len(prev)-1].Value
}

// scheduleSteps are the steps of the n-th period: the weekend ones when
// the period starts on a Saturday or Sunday (UTC) of the scenario's wall
// time.
func (sc *Scenario) scheduleSteps(c *Change, n time.Duration) []ScheduleStep {
	if c.Weekend == nil {
		return c.Steps
	}
	switch sc.Start.Add(c.Start + n*c.Period).UTC().Weekday() {
	case time.Saturday, time.Sunday:
		return c.Weekend
	}
	return c.Steps
}

func clamp01(x float64) float64 {
	switch {
	case x < 0 || math.IsNaN(x):
		return 0
	case x > 1:
		return 1
	}
	return x
}

func scaled(v any, scale float64) any {
	if scale == 1 {
		return deepCopy(v)
	}
	if f, ok := toFloat(v); ok {
		return f * scale
	}
	return deepCopy(v)
}

// gaussian is a standard normal draw that is a pure function of the seed,
// the change and t rounded down to the sampling interval, so replays are
// reproducible and all targets of a change move together.
func (sc *Scenario) gaussian(ci int, t time.Duration) float64 {
	iv := sc.Interval
	if iv <= 0 {
		iv = defaultNoiseInterval
	}
	slot := uint64(t / iv)
	if t < 0 {
		slot = 0
	}
	h := splitmix64(uint64(sc.Seed) ^ splitmix64(uint64(ci)+0x9e37) ^ splitmix64(slot+0x51ed27))
	u1 := (float64(h>>11) + 0.5) / (1 << 53)
	u2 := float64(splitmix64(h)>>11) / (1 << 53)
	z := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
	return math.Max(-maxNoiseSigma, math.Min(maxNoiseSigma, z))
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	}
	return 0, false
}

// numberValue renders f as a JSON number rounded to precision.
func numberValue(f, precision float64) any {
	f = math.Round(f/precision) * precision
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	decimals := 0
	for p := precision; p < 1 && decimals < 6; p *= 10 {
		decimals++
	}
	s := strconv.FormatFloat(f, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return json.Number(s)
}

// inferPrecision rounds RPM and watts to integers, everything else to 0.01.
func inferPrecision(ptr pointer, doc any) float64 {
	if len(ptr) == 0 {
		return 0.01
	}
	for _, tok := range ptr {
		if strings.Contains(tok, "RPM") || strings.Contains(tok, "Watts") {
			return 1
		}
	}
	if parent, ok := ptr.parent(doc); ok {
		if m, ok := parent.(map[string]any); ok {
			switch m["ReadingUnits"] {
			case "RPM", "W", "Watts":
				return 1
			}
		}
	}
	return 0.01
}

// touches reports whether the scenario changes the resource at p
// (normalized), including log entries it adds.
func (sc *Scenario) touches(p string) bool {
	if sc == nil {
		return false
	}
	if _, ok := sc.byResource[p]; ok {
		return true
	}
	_, _, ok := sc.logEntryParent(p)
	return ok
}

// logEntryParent splits ".../Entries/7" into a collection the scenario
// appends to and the entry id.
func (sc *Scenario) logEntryParent(p string) (string, string, bool) {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "", "", false
	}
	coll, id := p[:i], p[i+1:]
	if _, ok := sc.logs[coll]; !ok {
		return "", "", false
	}
	return coll, id, true
}

// apply rewrites doc, the parsed resource at p, as served at time t.
func (sc *Scenario) apply(p string, doc any, t time.Duration) {
	for _, g := range sc.groups[p] {
		sc.applyGroup(g, doc, t, -1)
	}
	sc.applyLogs(p, doc, t)
}

// applyGroup writes the value of g at t into doc, leaving out change skip
// (Check's "before this change"; -1: none). The levels (set, step, ramp,
// intermittent, schedule) give the value, composed in time order (see
// levelAt); unless the level in effect is exact, the additive changes
// (noise, diurnal) are added to it, then the result is multiplied by the
// scale changes' factors.
func (sc *Scenario) applyGroup(g *valueGroup, doc any, t time.Duration, skip int) {
	captured, _ := g.ptr.get(doc)
	lv := levels{sc: sc, g: g, captured: captured, skip: skip}
	cur, touched, exact := lv.at(len(g.levels), t, false)
	numeric := false
	if touched {
		_, numeric = toFloat(cur)
	}
	if !exact {
		for _, r := range g.adds {
			if r.change == skip {
				continue
			}
			add, ok := sc.addend(r.change, t, sc.Changes[r.change].Targets[r.target].Scale)
			base, isNum := toFloat(cur)
			if !ok || !isNum {
				continue // noise on a missing or non-numeric value: nothing to add to
			}
			cur, touched, numeric = base+add, true, true
		}
		for _, r := range g.factors {
			if r.change == skip {
				continue
			}
			// A factor is unitless: the target's scale does not apply.
			f, ok := sc.Changes[r.change].factor(t)
			base, isNum := toFloat(cur)
			if !ok || !isNum {
				continue
			}
			cur, touched, numeric = base*f, true, true
		}
	}
	if !touched {
		return
	}
	if f, ok := toFloat(cur); ok && numeric {
		precision := g.precision
		if precision == 0 {
			precision = inferPrecision(g.ptr, doc)
		}
		cur = numberValue(f, precision)
	}
	g.ptr.set(doc, cur)
}

// levels evaluates the level changes of one value during one apply.
type levels struct {
	sc       *Scenario
	g        *valueGroup
	captured any // the value in the document before the scenario
	skip     int
	from     map[int]float64 // memo: the value a ramp without "from" starts from
	noFrom   map[int]bool    // memo: ... when there is no number to start from
}

// at folds the first n level changes of the group (in order of onset,
// then file order) at t: each one in effect at t replaces the value the
// ones before it give. In effect are a set or step from its at, a
// schedule from its start, an intermittent change during its windows, and
// a ramp from its start (its end value after its end); a ramp that opens
// the story (no set, step, ramp or schedule before it) and has a "from"
// serves it from t=0. It returns the value, whether any change applied
// (else the captured value) and whether the one that applied last is
// exact. noBlips leaves intermittent changes out: a ramp without
// "from" starts from the level under any blip.
func (l *levels) at(n int, t time.Duration, noBlips bool) (any, bool, bool) {
	var v any
	touched, exact, opened := false, false, false
	for k := 0; k < n; k++ {
		r := l.g.levels[k]
		if r.change == l.skip {
			continue
		}
		c := &l.sc.Changes[r.change]
		scale := c.Targets[r.target].Scale
		opening := !opened
		if c.Kind != KindIntermittent {
			opened = true
		}
		switch c.Kind {
		case KindSet, KindStep:
			if t >= c.At {
				v, touched, exact = scaled(c.Value, scale), true, c.Exact
			}
		case KindIntermittent:
			if !noBlips && t >= c.Start && (t-c.Start)%c.Every < c.For {
				v, touched, exact = scaled(c.Value, scale), true, c.Exact
			}
		case KindSchedule:
			if t >= c.Start {
				v, touched, exact = scaled(l.sc.scheduleValue(c, t), scale), true, false
			}
		case KindRamp:
			if t < c.Start && !(opening && c.HasFrom) {
				continue
			}
			from, ok := c.From*scale, true
			if !c.HasFrom {
				from, ok = l.rampFrom(k)
			}
			if !ok {
				continue
			}
			v, touched, exact = from+(c.To*scale-from)*rampShape(c.rampX(t), c.Shape), true, false
		}
	}
	if !touched {
		return l.captured, false, false
	}
	return v, true, exact
}

// rampFrom is the value the k-th level change, a ramp without "from",
// starts from: the level the changes before it give at its start.
func (l *levels) rampFrom(k int) (float64, bool) {
	if f, ok := l.from[k]; ok {
		return f, true
	}
	if l.noFrom[k] {
		return 0, false
	}
	c := &l.sc.Changes[l.g.levels[k].change]
	v, _, _ := l.at(k, c.Start, true)
	f, ok := toFloat(v)
	if l.from == nil {
		l.from, l.noFrom = map[int]float64{}, map[int]bool{}
	}
	if ok {
		l.from[k] = f
	} else {
		l.noFrom[k] = true
	}
	return f, ok
}

// applyLogs appends the log entries visible at t to the collection doc.
func (sc *Scenario) applyLogs(p string, doc any, t time.Duration) {
	idx := sc.logs[p]
	m, ok := doc.(map[string]any)
	if len(idx) == 0 || !ok {
		return
	}
	members, _ := m["Members"].([]any)
	base := len(members)
	inline := base > 0 && !isRef(members[0])
	for k, ci := range idx {
		if sc.Changes[ci].At > t {
			break
		}
		e := sc.logEntry(p, base, k)
		if inline {
			members = append(members, e)
		} else {
			members = append(members, map[string]any{"@odata.id": e["@odata.id"]})
		}
	}
	if members == nil {
		members = []any{}
	}
	m["Members"] = members
	m["Members@odata.count"] = json.Number(strconv.Itoa(len(members)))
}

// logEntry builds the k-th scenario entry of collection coll, which has
// base entries of its own.
func (sc *Scenario) logEntry(coll string, base, k int) map[string]any {
	c := &sc.Changes[sc.logs[coll][k]]
	e, _ := deepCopy(c.Entry).(map[string]any)
	id := strconv.Itoa(base + k + 1)
	e["@odata.id"] = coll + "/" + id
	setDefault(e, "@odata.type", "#LogEntry.v1_15_0.LogEntry")
	setDefault(e, "Id", id)
	setDefault(e, "Name", "Log Entry "+id)
	setDefault(e, "EntryType", "Event")
	setDefault(e, "Created", sc.Start.Add(c.At).Format(time.RFC3339))
	return e
}

// logEntryDoc returns the scenario entry served at p, if visible at t.
// baseCount is the number of members of the collection in the tree.
func (sc *Scenario) logEntryDoc(p string, t time.Duration, baseCount func(coll string) int) (map[string]any, bool) {
	coll, id, ok := sc.logEntryParent(p)
	if !ok {
		return nil, false
	}
	n, err := strconv.Atoi(id)
	base := baseCount(coll)
	k := n - base - 1
	if err != nil || k < 0 || k >= len(sc.logs[coll]) || sc.Changes[sc.logs[coll][k]].At > t {
		return nil, false
	}
	return sc.logEntry(coll, base, k), true
}

func setDefault(m map[string]any, k string, v any) {
	if _, ok := m[k]; !ok {
		m[k] = v
	}
}

func isRef(v any) bool {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false
	}
	_, ok = m["@odata.id"].(string)
	return ok
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = deepCopy(e)
		}
		return a
	}
	return v
}

// Check verifies the scenario against tree: every target resource exists,
// every log target is a collection, and at the time each change takes
// effect (its at, start or from) its pointer resolves in the resource as
// served then, earlier changes included (a set may add an object whose
// members later changes move). set, step, intermittent and schedule may
// add a member the resource lacks; ramp, noise, diurnal and scale need the
// value there before they apply, and, except a ramp with a "from", a
// number.
func (sc *Scenario) Check(tree *Tree) error {
	var errs []error
	for i := range sc.Changes {
		c := &sc.Changes[i]
		for j, t := range c.Targets {
			p := NormalizePath(t.Resource)
			body, ok := tree.bodies[p]
			if !ok {
				errs = append(errs, fmt.Errorf("change %d (%s): target %d: resource %s not in the tree", i, c.Kind, j, t.Resource))
				continue
			}
			base, err := decodeJSON(body)
			if err != nil {
				errs = append(errs, fmt.Errorf("change %d (%s): target %d: resource %s is not JSON: %w", i, c.Kind, j, t.Resource, err))
				continue
			}
			if c.Kind == KindLog {
				if m, ok := base.(map[string]any); !ok || m["Members"] == nil {
					errs = append(errs, fmt.Errorf("change %d (log): target %d: %s is not a collection", i, j, t.Resource))
				}
				continue
			}
			// The resource as served when the change takes effect, but
			// without it.
			at := c.onset()
			doc := deepCopy(base)
			sc.applyExcept(p, doc, at, i)
			where := t.ptr
			if c.Kind == KindSet || c.Kind == KindStep || c.Kind == KindIntermittent || c.Kind == KindSchedule {
				where = t.ptr[:len(t.ptr)-1]
			}
			v, ok := where.get(doc)
			if !ok {
				errs = append(errs, fmt.Errorf("change %d (%s): target %d: pointer %s does not resolve in %s at %s", i, c.Kind, j, t.Pointer, t.Resource, at))
				continue
			}
			needNumber := c.Kind == KindNoise || c.Kind == KindDiurnal || c.Kind == KindScale || (c.Kind == KindRamp && !c.HasFrom)
			if _, isNum := toFloat(v); needNumber && !isNum {
				errs = append(errs, fmt.Errorf("change %d (%s): target %d: %s%s is %v at %s, not a number", i, c.Kind, j, t.Resource, t.Pointer, v, at))
			}
		}
	}
	return errors.Join(errs...)
}

// applyExcept is apply without change skip, and without log entries.
func (sc *Scenario) applyExcept(p string, doc any, t time.Duration, skip int) {
	for _, g := range sc.groups[p] {
		sc.applyGroup(g, doc, t, skip)
	}
}
