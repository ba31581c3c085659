package detector

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/prefail/prefail/model"
)

// Detector keeps the history and verdict of every component it has seen.
// It is not safe for concurrent use: the agent gives each detector one
// goroutine (or a lock).
type Detector struct {
	cfg   Config
	comps map[compKey]*component
	logs  map[string]*targetLog
	// groups is what the detector remembers of the source's redundancy
	// groups (redundancy.go), by target and group id.
	groups map[compKey]*groupState
	// driveReadings are the drive readings a disk signal reads.
	driveReadings map[string]bool
	// parts are the fans and PSUs of each target (part.go): a part gone
	// from a complete scan is still evaluated, as removed.
	parts map[string][]*component
}

// New returns a detector with no history.
func New(cfg Config) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Detector{cfg: cfg, comps: map[compKey]*component{}, logs: map[string]*targetLog{}, groups: map[compKey]*groupState{},
		driveReadings: map[string]bool{}, parts: map[string][]*component{}}
	for _, c := range cfg.Disk.Counters {
		d.driveReadings[c.Reading] = true
	}
	for _, r := range []string{"available_spare", "percentage_used", "critical_warning", "media_life_left", "self_tests_failed"} {
		d.driveReadings[r] = true
	}
	for _, r := range diskModelReadings(&cfg.Disk) {
		d.driveReadings[r] = true
	}
	return d, nil
}

// component is one component's history and verdict.
type component struct {
	Ref              ComponentRef                `json:"ref"`
	Health           model.Health                `json:"health"`
	HealthSince      time.Time                   `json:"health_since"`
	FailurePredicted bool                        `json:"failure_predicted,omitempty"`
	Chassis          string                      `json:"chassis,omitempty"`
	Series           map[string]*series          `json:"series"`
	Thresholds       map[string]model.Thresholds `json:"thresholds,omitempty"`
	Units            map[string]string           `json:"units,omitempty"`
	Log              []logEntry                  `json:"log,omitempty"`
	FirstSeen        time.Time                   `json:"first_seen"`
	LastSeen         time.Time                   `json:"last_seen"`
	Seen             int                         `json:"seen"`
	WasPresent       bool                        `json:"was_present,omitempty"`
	// InputLost are the runs of scans in which an input-loss condition
	// was active (a PSU's LineInputStatus LossOfInput, an IPMI "AC
	// lost"): the input-loss signal counts them with the readings' and
	// the log's episodes (conditions.go).
	InputLost []span `json:"input_lost,omitempty"`
	// Thermal is a lone fan's fit against a chassis temperature (nil until
	// its baseline is complete; see thermalFit).
	Thermal *thermalFit `json:"thermal,omitempty"`
	// Replaced is when a fan or PSU was last replaced (a new serial, or
	// back after an absence without a serial to tell): its history starts
	// there. Maint are the recent maintenance marks (replacements, returns
	// after an absence) around which input loss is the swap (part.go).
	Replaced time.Time   `json:"replaced,omitzero"`
	Maint    []time.Time `json:"maint,omitempty"`

	State    State     `json:"state"`
	Since    time.Time `json:"since"`
	Risk     float64   `json:"risk"`
	Reasons  []Reason  `json:"reasons,omitempty"`
	Forecast *Forecast `json:"forecast,omitempty"`
	UpLevel  int       `json:"up_level,omitempty"`
	UpCount  int       `json:"up_count,omitempty"`
	Below    time.Time `json:"below,omitzero"`
	Episode  int       `json:"episode,omitempty"` // highest level announced in the open episode; 0: none open

	// counters caches the series of the disk counters (see counterSeries),
	// valid while Series has countersFor entries.
	counters    []*series
	countersFor int
	// slots cache, per reading position, the series its name resolves to.
	slots []readingSlot
	// conds are the conditions active in the latest snapshot: live state,
	// replaced at every update, so not saved.
	conds []model.Condition
	// zone is a fan's cooling zone (sibling ids) as learned for the slot
	// starting at zoneFor (fan.go, fanZone): a cache, not saved.
	zone    map[string]bool
	zoneFor int64
}

type readingSlot struct {
	name    string
	tracked bool
	series  *series
}

// logEntry is one log event concerning a component, kept for the event-log
// signal (decay, pairing, recurrence).
type logEntry struct {
	Time     time.Time      `json:"time"`
	Severity model.Severity `json:"severity"`
	Code     string         `json:"code,omitempty"`
	Message  string         `json:"message"`
	Asserted *bool          `json:"asserted,omitempty"`
	Active   *bool          `json:"active,omitempty"`
	Key      string         `json:"key"`
	// MessageID is the registry id (Redfish LogEntry MessageId),
	// classified with the message.
	MessageID string `json:"message_id,omitempty"`
}

// maxLog bounds the log entries kept per component.
const maxLog = 64

// targetLog is a target's log events not matched to any component, and
// the keys of entries already seen (a BMC's log is read again at every
// scan: an entry counts once).
type targetLog struct {
	Unmatched []logEntry           `json:"unmatched,omitempty"`
	Seen      map[string]time.Time `json:"seen"`
}

// compKey identifies a component: a struct key, so a lookup allocates
// nothing (a concatenated string key would, once per component per
// snapshot).
type compKey struct{ target, id string }

// Observe feeds one snapshot and returns the events it causes. The
// snapshot's Time is the clock; snapshots of a target must come in time
// order (an older one is ignored for that component). Observe copies what
// it keeps: the caller may reuse the snapshot.
func (d *Detector) Observe(s *model.Snapshot) []Event {
	now := s.Time
	touched := make([]*component, 0, len(s.Components))
	for i := range s.Components {
		c := &s.Components[i]
		if c.ID == "" {
			continue
		}
		key := compKey{s.Target, c.ID}
		comp := d.comps[key]
		if comp == nil {
			comp = &component{Ref: ComponentRef{Target: s.Target, Kind: c.Kind, ID: c.ID}, Series: map[string]*series{},
				FirstSeen: now, State: StateUnknown, Since: now}
			d.comps[key] = comp
			if isPart(c.Kind) {
				d.parts[s.Target] = append(d.parts[s.Target], comp)
			}
		} else if !now.After(comp.LastSeen) {
			continue
		}
		d.update(comp, c, now)
		touched = append(touched, comp)
	}
	touched = d.missingParts(s, touched, now)
	d.routeLog(s, now)
	v := &view{d: d, target: s.Target, now: now, touched: touched, condOwners: conditionOwners(s)}
	v.groupLost = d.updateGroups(s, v, now)
	var out []Event
	for _, comp := range touched {
		out = append(out, d.evaluate(comp, v, now)...)
	}
	return out
}

// update records what the snapshot says of a component.
func (d *Detector) update(comp *component, c *model.Component, now time.Time) {
	ref := &comp.Ref
	absent := isAbsent(c)
	health := c.Health
	if absent {
		health = model.HealthAbsent
	}
	if isPart(c.Kind) && !absent {
		d.presence(comp, c, now)
	}
	ref.Name = cmp.Or(c.Name, ref.Name)
	ref.Serial = cmp.Or(c.Inventory.SerialNumber, ref.Serial)
	ref.Model = cmp.Or(c.Inventory.Model, ref.Model)
	comp.Chassis = c.Chassis
	if health != comp.Health {
		comp.Health, comp.HealthSince = health, now
	}
	if !absent && c.Health != "" {
		comp.WasPresent = true
	}
	comp.FailurePredicted = c.FailurePredicted != nil && *c.FailurePredicted
	d.updateConditions(comp, c, now)
	comp.LastSeen = now
	comp.Seen++
	kc := d.cfg.kind(c.Kind)
	if len(comp.slots) < len(c.Readings) {
		comp.slots = append(comp.slots, make([]readingSlot, len(c.Readings)-len(comp.slots))...)
	}
	for i, r := range c.Readings {
		// An absent part's readings (an empty bay's 0 RPM) are not
		// readings; nor are a part's zeros just after it was put in.
		if r.Value == nil || absent && c.Kind != model.KindDrive || *r.Value == 0 && d.settling(comp, now) {
			continue
		}
		// A source sends its readings in the same order every time: the
		// slot remembers what the name at this position resolved to.
		slot := &comp.slots[i]
		if slot.name != r.Name || (slot.tracked && slot.series == nil) {
			*slot = readingSlot{name: r.Name, tracked: d.tracked(c.Kind, r.Name) ||
				c.Kind == model.KindDrive && isNormalized(r.Name) && hasFailureThreshold(r.Thresholds)}
			if slot.tracked {
				slot.series = comp.Series[r.Name]
			}
		}
		if !slot.tracked {
			continue
		}
		s := slot.series
		if s == nil {
			s = newSeries(kc.Bucket.D(), kc.History, kc.Baseline.D(), now, *r.Value)
			s.Sparse = kc.Sparse
			comp.Series[r.Name] = s
			slot.series = s
		}
		s.add(now, *r.Value)
		if r.Thresholds != nil && !r.Thresholds.IsZero() {
			if comp.Thresholds == nil {
				comp.Thresholds = map[string]model.Thresholds{}
			}
			comp.Thresholds[r.Name] = *r.Thresholds
		}
		if r.Unit != "" {
			if comp.Units == nil {
				comp.Units = map[string]string{}
			}
			comp.Units[r.Name] = r.Unit
		}
	}
}

// hasFailureThreshold: an ATA attribute's threshold above zero (the
// normalized-trend signal follows those; see disk_normalized.go).
func hasFailureThreshold(t *model.Thresholds) bool {
	return t != nil && t.LowerCritical != nil && *t.LowerCritical > 0
}

// tracked says which readings get a history. Drives report dozens of SMART
// attributes; only those a disk signal reads are kept, so memory grows
// with drives, not attributes.
func (d *Detector) tracked(k model.Kind, name string) bool {
	return k != model.KindDrive || d.driveReadings[name]
}

// routeLog files the snapshot's log events under their components, each
// entry once.
func (d *Detector) routeLog(s *model.Snapshot, now time.Time) {
	if len(s.Events) == 0 {
		return
	}
	tl := d.logs[s.Target]
	if tl == nil {
		tl = &targetLog{Seen: map[string]time.Time{}}
		d.logs[s.Target] = tl
	}
	for _, e := range s.Events {
		t := e.Time
		if t.IsZero() {
			t = now
		}
		if now.Sub(t) > 30*24*time.Hour {
			// Older than any key kept below: it would count again at
			// every scan (a BMC serves its old entries for years).
			continue
		}
		key := e.Source + "\x00" + e.ID + "\x00" + e.Time.String() + "\x00" + e.Message
		if _, dup := tl.Seen[key]; dup {
			continue
		}
		tl.Seen[key] = t
		le := logEntry{Time: t, Severity: e.Severity, Code: e.Code, Message: e.Message, MessageID: e.MessageID, Asserted: e.Asserted, Active: e.Active, Key: e.SensorType}
		if comp := d.comps[compKey{s.Target, e.Component}]; e.Component != "" && comp != nil {
			if t.Before(comp.Replaced) {
				continue // the part replaced since: not this one's
			}
			comp.Log = appendBounded(comp.Log, le)
		} else {
			tl.Unmatched = appendBounded(tl.Unmatched, le)
		}
	}
	// Forget keys of entries older than any log keeps (30 days).
	for k, t := range tl.Seen {
		if now.Sub(t) > 30*24*time.Hour {
			delete(tl.Seen, k)
		}
	}
}

func appendBounded(l []logEntry, e logEntry) []logEntry {
	if len(l) == maxLog {
		copy(l, l[1:])
		l = l[:maxLog-1]
	}
	return append(l, e)
}

// evaluation is what a kind's signals say of a component now.
type evaluation struct {
	reasons  []Reason
	forecast *Forecast
	// failed: the source reports the part failed (a fan at 0 RPM, a PSU
	// the BMC marks critical): the state is failed whatever the risk.
	failed bool
}

// evaluate scores a component and moves its state, returning the events.
func (d *Detector) evaluate(comp *component, v *view, now time.Time) []Event {
	var ev evaluation
	switch comp.Ref.Kind {
	case model.KindDrive:
		ev = d.evalDisk(comp, now)
		ev.reasons = append(ev.reasons, reasonsOf(d.conditionReasons(comp, v))...)
	default:
		ev = d.evalOther(comp, v, now)
	}
	risk := 0.0
	keep := 1.0
	for _, r := range ev.reasons {
		keep *= 1 - clamp01(r.Score)
	}
	risk = 1 - keep
	slices.SortStableFunc(ev.reasons, func(a, b Reason) int { return cmp.Compare(b.Score, a.Score) })
	comp.Risk, comp.Reasons, comp.Forecast = round3(risk), ev.reasons, ev.forecast
	if len(comp.Series) == 0 && comp.Health != model.HealthCritical && len(ev.reasons) == 0 {
		if comp.State == StateUnknown {
			return nil // nothing to say yet
		}
	}
	return d.transition(comp, d.levelFor(comp.Ref.Kind, risk, ev.failed), now)
}

func (d *Detector) levelFor(k model.Kind, risk float64, failed bool) int {
	switch {
	case failed:
		return 4
	case risk >= d.cfg.Failing:
		return 3
	case risk >= d.cfg.DegradingFor(k):
		return 2
	case risk >= d.cfg.Watch:
		return 1
	}
	return 0
}

// entry is the risk at which a component of kind k enters a level.
func (d *Detector) entry(k model.Kind, level int) float64 {
	switch level {
	case 1:
		return d.cfg.Watch
	case 2:
		return d.cfg.DegradingFor(k)
	case 3:
		return d.cfg.Failing
	}
	return math.Inf(1)
}

// transition applies hysteresis: a higher level is entered after Confirm
// consecutive evaluations; a lower one only once the risk has stayed
// Hysteresis below the current level's entry for ClearAfter. Events: the
// first level >= degrading of an episode raises it, failing or failed
// escalates it once, and falling back below degrading clears it.
func (d *Detector) transition(comp *component, want int, now time.Time) []Event {
	kc := d.cfg.kind(comp.Ref.Kind)
	cur := comp.State.Level()
	if comp.State == StateUnknown {
		cur = -1
	}
	next := cur
	switch {
	case want > cur:
		if comp.UpLevel != want {
			comp.UpLevel, comp.UpCount = want, 0
		}
		comp.UpCount++
		comp.Below = time.Time{}
		if comp.UpCount >= kc.Confirm || cur < 0 && want <= 0 {
			next = want
		}
	case want < cur:
		comp.UpLevel, comp.UpCount = 0, 0
		exit := d.entry(comp.Ref.Kind, cur) - d.cfg.Hysteresis
		if cur == 4 {
			exit = math.Inf(1) // failed clears once the source no longer says so
		}
		if comp.Risk < exit || cur == 4 {
			if comp.Below.IsZero() {
				comp.Below = now
			}
			if now.Sub(comp.Below) >= kc.ClearAfter.D() {
				next = want
				comp.Below = time.Time{}
			}
		} else {
			comp.Below = time.Time{}
		}
	default:
		comp.UpLevel, comp.UpCount = 0, 0
		comp.Below = time.Time{}
	}
	if next == cur {
		return nil
	}
	prev := comp.State
	comp.State, comp.Since = stateAt(next), now
	if cur < 0 && next == 0 {
		return nil
	}
	var typ EventType
	var sev model.Severity
	switch {
	case next >= 2 && comp.Episode == 0:
		typ, sev = EventRaised, severityOf(next)
	case next >= 3 && comp.Episode == 2:
		typ, sev = EventEscalated, model.SeverityCritical
	case next <= 1 && comp.Episode > 0:
		typ, sev = EventCleared, model.SeverityInfo
	default:
		return nil
	}
	if typ == EventCleared {
		comp.Episode = 0
	} else {
		comp.Episode = next
	}
	return []Event{{Time: now, Type: typ, Component: comp.Ref, Severity: sev, State: comp.State, Previous: prev,
		Risk: comp.Risk, Reasons: slices.Clone(comp.Reasons), Forecast: comp.Forecast}}
}

func severityOf(level int) model.Severity {
	if level >= 3 {
		return model.SeverityCritical
	}
	return model.SeverityWarning
}

// Assessments returns the current verdict on every component, worst first.
func (d *Detector) Assessments() []Assessment {
	out := make([]Assessment, 0, len(d.comps))
	for _, c := range d.comps {
		out = append(out, Assessment{Component: c.Ref, State: c.State, Risk: c.Risk, Reasons: c.Reasons,
			Forecast: c.Forecast, Since: c.Since, Updated: c.LastSeen})
	}
	slices.SortFunc(out, func(a, b Assessment) int {
		return cmp.Or(cmp.Compare(b.State.Level(), a.State.Level()), cmp.Compare(b.Risk, a.Risk),
			cmp.Compare(a.Component.Target, b.Component.Target), cmp.Compare(a.Component.ID, b.Component.ID))
	})
	return out
}

// Len is the number of components with a history.
func (d *Detector) Len() int { return len(d.comps) }

// savedState is the JSON form of a detector's state.
type savedState struct {
	Version    int                   `json:"version"`
	Components []*component          `json:"components"`
	Logs       map[string]*targetLog `json:"logs,omitempty"`
	// Groups: absent in states saved before redundancy groups were read,
	// which restore as groups not seen yet.
	Groups []*groupState `json:"groups,omitempty"`
}

const stateVersion = 1

// State returns the detector's whole state as JSON, for the agent to save
// and Restore after a restart.
func (d *Detector) State() ([]byte, error) {
	s := savedState{Version: stateVersion, Logs: d.logs}
	for _, c := range d.comps {
		s.Components = append(s.Components, c)
	}
	slices.SortFunc(s.Components, func(a, b *component) int {
		return cmp.Or(cmp.Compare(a.Ref.Target, b.Ref.Target), cmp.Compare(a.Ref.ID, b.Ref.ID))
	})
	for _, g := range d.groups {
		s.Groups = append(s.Groups, g)
	}
	slices.SortFunc(s.Groups, func(a, b *groupState) int {
		return cmp.Or(cmp.Compare(a.Target, b.Target), cmp.Compare(a.ID, b.ID))
	})
	return json.Marshal(s)
}

// Restore returns a detector with cfg and the state State saved.
func Restore(cfg Config, state []byte) (*Detector, error) {
	d, err := New(cfg)
	if err != nil {
		return nil, err
	}
	var s savedState
	if err := json.Unmarshal(state, &s); err != nil {
		return nil, fmt.Errorf("detector state: %w", err)
	}
	if s.Version != stateVersion {
		return nil, fmt.Errorf("detector state: version %d, this build reads %d", s.Version, stateVersion)
	}
	for _, c := range s.Components {
		if c == nil || c.Series == nil {
			return nil, fmt.Errorf("detector state: a component without history")
		}
		d.comps[compKey{c.Ref.Target, c.Ref.ID}] = c
		if isPart(c.Ref.Kind) {
			d.parts[c.Ref.Target] = append(d.parts[c.Ref.Target], c)
		}
	}
	if s.Logs != nil {
		d.logs = s.Logs
	}
	for _, g := range s.Groups {
		if g != nil {
			d.groups[compKey{g.Target, g.ID}] = g
		}
	}
	return d, nil
}

func clamp01(x float64) float64 { return math.Max(0, math.Min(1, x)) }

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// view is what an evaluation may see beyond its own component: the other
// components of the same target in the same snapshot (sibling fans).
type view struct {
	d       *Detector
	target  string
	now     time.Time
	touched []*component
	// condOwners says which components a condition shown by several is
	// scored on (conditionOwners); nil when the snapshot has none.
	condOwners map[string]condOwner
	// groupLost are the source's redundancy groups that report lost
	// redundancy, by member id (redundancy.go).
	groupLost map[string]*groupLoss
}

// siblings returns the other components of c's kind in c's chassis seen in
// this snapshot.
func (v *view) siblings(c *component) []*component {
	var out []*component
	for _, o := range v.touched {
		if o != c && o.Ref.Kind == c.Ref.Kind && o.Chassis == c.Chassis {
			out = append(out, o)
		}
	}
	return out
}

// unmatchedLog is the target's log entries that name no component.
func (v *view) unmatchedLog() []logEntry {
	if tl := v.d.logs[v.target]; tl != nil {
		return tl.Unmatched
	}
	return nil
}
