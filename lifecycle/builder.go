package lifecycle

import (
	"cmp"
	"fmt"
	"math"
	"path"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prefail/prefail/model"
)

// HistoryPoint is one value of a reading at a time (a scan's value, or a
// downsampled mean).
type HistoryPoint struct {
	Time  time.Time
	Value float64
}

// HistoryFunc returns a reading's history for a part of a target, oldest
// first (nil: none). component is ComponentKey's "kind/id", as the
// agent's store names it.
type HistoryFunc func(target, component, reading string) []HistoryPoint

// FirstSeenFunc returns when the agent first saw a part (component as
// ComponentKey), or false.
type FirstSeenFunc func(target, component string) (time.Time, bool)

// ComponentKey is how the agent's store and events name a component:
// "kind/id" ("fan//redfish/v1/Chassis/1U/ThermalSubsystem/Fans/Bay1").
func ComponentKey(c *model.Component) string { return string(c.Kind) + "/" + c.ID }

// Option configures NewBuilder.
type Option func(*options)

type options struct {
	policy    *Policy
	history   HistoryFunc
	firstSeen FirstSeenFunc
	now       time.Time
	sensors   bool
}

// WithPolicy sets the refresh policy (default: DefaultPolicy).
func WithPolicy(p *Policy) Option { return func(o *options) { o.policy = p } }

// WithHistory gives the readings' history: wear (fan speed and PSU
// efficiency loss, sector growth) and the rates that project SSD wear
// and power-on hours forward come from it. Without it they are unknown.
func WithHistory(f HistoryFunc) Option { return func(o *options) { o.history = f } }

// WithFirstSeen gives when the agent first saw each part: the age of a
// part with neither power-on hours nor a manufacture date.
func WithFirstSeen(f FirstSeenFunc) Option { return func(o *options) { o.firstSeen = f } }

// WithNow sets the time of snapshots that carry none, and the
// inventory's date when no snapshot is added. Ages are otherwise
// measured at each snapshot's own time: the package reads no clock.
func WithNow(t time.Time) Option { return func(o *options) { o.now = t } }

// WithSensors keeps rows for sensor components too (temperature,
// voltage, current, power, other sensors), which are not parts one
// orders and are left out by default.
func WithSensors() Option { return func(o *options) { o.sensors = true } }

// Due says whether a part is due for refresh.
type Due string

// Due values.
const (
	DueNow           Due = "now"
	DueWithinHorizon Due = "within_horizon"
	DueNo            Due = "no"
)

// due in a compact row.
const (
	dueNo uint8 = iota
	dueWithin
	dueNow
)

// Row limits: BMC strings are cut to this many bytes (a hostile BMC
// must not make the inventory hold megabytes a part).
const maxField = 256

// Builder collects parts from snapshots, one snapshot at a time, into
// compact rows. It is not safe for concurrent use.
type Builder struct {
	opts    options
	policy  *Policy
	strs    interner
	targets []targetInfo
	seen    map[string]bool
	rows    []row
	absent  int
	done    bool

	// scratch, reused across components
	applies []int
	ids     map[string]bool
}

type targetInfo struct {
	name string
	at   time.Time
}

// row is one part, compact: 96 bytes plus its own strings.
// Strings shared between parts (model, firmware, ...) are interned.
type row struct {
	// text holds the component id, name, serial number and location,
	// ends their ends.
	text string
	ends [3]uint16

	target                                       uint32
	kind, manufacturer, model, part, firmware    uint32
	media                                        uint8
	flags                                        uint8
	due                                          uint8
	rule, also                                   uint16 // rule index + 1; 0: none
	mfgDay                                       int32  // days since 1970 (noDay: unknown)
	firstSeen                                    int32  // hours since 1970 (noHour: unknown)
	poh, pohRate                                 float32
	pctUsed, pctRate, sectorGrowth, base, recent float32
	dueIn                                        float32 // days, when due within the horizon
}

const (
	noDay  = math.MinInt32
	noHour = math.MinInt32
)

// row flags
const (
	flagFanPercent      = 1 << iota // fan base/recent are percent of full speed, not RPM
	flagLifeLeft                    // pctUsed is 100 - media_life_left
	flagFirmwareOutlier             // set by Inventory
	flagAgeRule                     // an age rule applies to the part
	flagFan                         // a fan: base/recent are speeds
	flagPSU                         // a PSU: base/recent are efficiencies
)

// media of a drive
const (
	mediaNone uint8 = iota // not a drive
	mediaHDD
	mediaSSD
	mediaUnknown
)

func (r *row) field(i int) string {
	start := 0
	if i > 0 {
		start = int(r.ends[i-1])
	}
	end := len(r.text)
	if i < 3 {
		end = int(r.ends[i])
	}
	return r.text[start:end]
}

func (r *row) id() string       { return r.field(0) }
func (r *row) name() string     { return r.field(1) }
func (r *row) serial() string   { return r.field(2) }
func (r *row) location() string { return r.field(3) }

// NewBuilder returns a builder with the options given. The policy (the
// default one unless WithPolicy) is validated.
func NewBuilder(opts ...Option) (*Builder, error) {
	b := &Builder{seen: map[string]bool{}, ids: map[string]bool{}}
	for _, o := range opts {
		o(&b.opts)
	}
	b.policy = b.opts.policy
	if b.policy == nil {
		p, err := DefaultPolicy()
		if err != nil {
			return nil, err
		}
		b.policy = p
	}
	if err := b.policy.Validate(); err != nil {
		return nil, err
	}
	b.strs.init()
	return b, nil
}

// isSensor reports whether parts of kind k are sensors rather than parts.
func isSensor(k model.Kind) bool {
	switch k {
	case model.KindTemperature, model.KindVoltage, model.KindCurrent, model.KindPower, model.KindSensor:
		return true
	}
	return false
}

// Add takes one target's snapshot: a row for each part present in it
// (absent parts, empty bays, are counted, not listed). target names the
// target ("" takes the snapshot's own); a target is added once. The
// snapshot is not kept.
func (b *Builder) Add(target string, snap *model.Snapshot) error {
	if b.done {
		return fmt.Errorf("lifecycle: add %s: the inventory is already built: %w", clip(target, 80), ErrInvalidInput)
	}
	if snap == nil {
		return fmt.Errorf("lifecycle: add %s: no snapshot: %w", clip(target, 80), ErrInvalidInput)
	}
	if target == "" {
		target = snap.Target
	}
	if target == "" {
		return fmt.Errorf("lifecycle: add: a snapshot without a target name: %w", ErrInvalidInput)
	}
	if b.seen[target] {
		return fmt.Errorf("lifecycle: add %s: target added twice: %w", clip(target, 80), ErrInvalidInput)
	}
	at := snap.Time
	if at.IsZero() {
		at = b.opts.now
	}
	if at.IsZero() {
		return fmt.Errorf("lifecycle: add %s: the snapshot has no time and the builder none (WithNow): %w", clip(target, 80), ErrInvalidInput)
	}
	if len(b.targets) >= math.MaxUint32 {
		return fmt.Errorf("lifecycle: add %s: too many targets: %w", clip(target, 80), ErrInvalidInput)
	}
	b.seen[target] = true
	ti := uint32(len(b.targets))
	b.targets = append(b.targets, targetInfo{name: target, at: at.UTC()})
	clear(b.ids)
	start := len(b.rows)
	for i := range snap.Components {
		c := &snap.Components[i]
		if isSensor(c.Kind) && !b.opts.sensors {
			continue
		}
		if c.Health == model.HealthAbsent {
			b.absent++
			continue
		}
		key := ComponentKey(c)
		if b.ids[key] {
			continue // the same part twice in one scan: once is enough
		}
		b.ids[key] = true
		b.rows = append(b.rows, b.newRow(ti, target, at, c))
	}
	// Each target's rows are sorted as they come: Inventory then only
	// orders the targets, which is much cheaper than sorting every row
	// against every other.
	slices.SortFunc(b.rows[start:], compareParts(b.strs.strs))
	return nil
}

// cut bounds a BMC string to maxField bytes, on a rune boundary.
func cut(s string) string {
	if len(s) <= maxField {
		return s
	}
	n := maxField
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func (b *Builder) newRow(ti uint32, target string, at time.Time, c *model.Component) row {
	inv := &c.Inventory
	id, name, serial, loc := cut(c.ID), cut(c.Name), cut(inv.SerialNumber), cut(c.Location)
	r := row{
		text:         id + name + serial + loc,
		ends:         [3]uint16{uint16(len(id)), uint16(len(id) + len(name)), uint16(len(id) + len(name) + len(serial))},
		target:       ti,
		kind:         b.strs.id(cut(string(c.Kind))),
		manufacturer: b.strs.id(cut(strings.TrimSpace(inv.Manufacturer))),
		model:        b.strs.id(cut(strings.TrimSpace(inv.Model))),
		part:         b.strs.id(cut(strings.TrimSpace(inv.PartNumber))),
		firmware:     b.strs.id(cut(strings.TrimSpace(inv.FirmwareVersion))),
		mfgDay:       noDay,
		firstSeen:    noHour,
		poh:          nan32(), pohRate: nan32(), pctUsed: nan32(), pctRate: nan32(),
		sectorGrowth: nan32(), base: nan32(), recent: nan32(), dueIn: nan32(),
	}
	switch c.Kind {
	case model.KindDrive:
		r.media = driveMedia(c)
	case model.KindFan:
		r.flags |= flagFan
	case model.KindPSU:
		r.flags |= flagPSU
	}
	// The facts the rules need: age, then wear.
	if inv.PowerOnHours != nil && finite(*inv.PowerOnHours) && *inv.PowerOnHours >= 0 {
		r.poh = float32(*inv.PowerOnHours)
	} else if v, ok := readingValue(c, "power_on_hours"); ok && v >= 0 {
		r.poh = float32(v)
	}
	if t, ok := ParseManufactureDate(inv.ManufactureDate); ok && !t.After(at) {
		r.mfgDay = int32(t.Unix() / 86400)
	}
	b.applies = b.applies[:0]
	for i := range b.policy.Rules {
		if b.ruleApplies(&b.policy.Rules[i], c, r.media, inv.Model) {
			b.applies = append(b.applies, i)
		}
	}
	var need condSet
	for _, i := range b.applies {
		need |= condBit(b.policy.Rules[i].Condition)
	}
	if need.has(AgeOver) {
		r.flags |= flagAgeRule
	}
	key := ""
	if b.opts.history != nil || b.opts.firstSeen != nil {
		key = ComponentKey(c)
	}
	if need.has(AgeOver) && !isNaN32(r.poh) && b.opts.history != nil {
		if rate, ok := rateOf(b.opts.history(target, key, "power_on_hours"), at); ok {
			r.pohRate = float32(min(max(rate/hoursPerDay, 0), 1)) // power-on hours per hour
		}
	}
	if need.has(AgeOver) && isNaN32(r.poh) && r.mfgDay == noDay && b.opts.firstSeen != nil {
		if t, ok := b.opts.firstSeen(target, key); ok && !t.IsZero() && t.Year() >= 1970 {
			if t.After(at) {
				t = at // a clock ahead of the scan's: seen now
			}
			r.firstSeen = int32(min(t.Unix()/3600, math.MaxInt32))
		}
	}
	if c.Kind == model.KindDrive {
		b.driveWear(&r, c, target, key, at, need)
	}
	if c.Kind == model.KindFan && need.has(SpeedLossOver) && b.opts.history != nil {
		b.fanWear(&r, c, target, key, at)
	}
	if c.Kind == model.KindPSU && need.has(EfficiencyLossOver) && b.opts.history != nil {
		b.psuWear(&r, c, target, key, at)
	}
	b.judge(&r, at)
	return r
}

// driveMedia classifies a drive: the source's media type, else SSD when
// it reports SSD wear or speaks NVMe.
func driveMedia(c *model.Component) uint8 {
	switch strings.ToUpper(strings.TrimSpace(c.Inventory.MediaType)) {
	case "HDD", "SMR":
		return mediaHDD
	case "SSD":
		return mediaSSD
	}
	if _, ok := c.Reading("percentage_used"); ok {
		return mediaSSD
	}
	if _, ok := c.Reading("media_life_left"); ok {
		return mediaSSD
	}
	if strings.EqualFold(c.Inventory.Protocol, "NVMe") {
		return mediaSSD
	}
	return mediaUnknown
}

func (b *Builder) ruleApplies(r *Rule, c *model.Component, media uint8, modelName string) bool {
	if r.Kind != c.Kind {
		return false
	}
	switch r.Media {
	case MediaHDD:
		if media != mediaHDD {
			return false
		}
	case MediaSSD:
		if media != mediaSSD {
			return false
		}
	case MediaUnknown:
		if media != mediaUnknown {
			return false
		}
	}
	if r.Model != "" {
		if ok, _ := path.Match(r.Model, strings.TrimSpace(modelName)); !ok {
			return false
		}
	}
	return true
}

// condSet is a set of conditions, a bit each.
type condSet uint8

func condBit(c Condition) condSet {
	switch c {
	case AgeOver:
		return 1
	case PercentageUsedAtLeast:
		return 2
	case SectorGrowthOver:
		return 4
	case SpeedLossOver:
		return 8
	case EfficiencyLossOver:
		return 16
	}
	return 0
}

func (s condSet) has(c Condition) bool { return s&condBit(c) != 0 }

func readingValue(c *model.Component, name string) (float64, bool) {
	rd, ok := c.Reading(name)
	if !ok || rd.Value == nil || !finite(*rd.Value) {
		return 0, false
	}
	return *rd.Value, true
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func nan32() float32 { return float32(math.NaN()) }

func isNaN32(v float32) bool { return v != v }

// driveWear measures a drive's percentage used (and its rate) and its
// sector growth.
func (b *Builder) driveWear(r *row, c *model.Component, target, key string, at time.Time, need condSet) {
	reading, sign := "percentage_used", 1.0
	v, ok := readingValue(c, reading)
	if !ok {
		if left, lok := readingValue(c, "media_life_left"); lok {
			reading, sign, v, ok = "media_life_left", -1, 100-left, true
			r.flags |= flagLifeLeft
		}
	}
	if ok {
		r.pctUsed = float32(v)
		if need.has(PercentageUsedAtLeast) && b.opts.history != nil {
			if rate, rok := rateOf(b.opts.history(target, key, reading), at); rok {
				r.pctRate = float32(sign * rate)
			}
		}
	}
	if !need.has(SectorGrowthOver) || b.opts.history == nil {
		return
	}
	growth, known := 0.0, false
	for _, name := range b.policy.Wear.SectorCounters {
		cur, has := readingValue(c, name)
		if !has {
			continue
		}
		pts := cleanHistory(b.opts.history(target, key, name), at)
		if len(pts) == 0 {
			continue
		}
		known = true
		growth += max(cur-pts[0].Value, 0)
	}
	if known {
		r.sectorGrowth = float32(growth)
	}
}

// fanWear compares a fan's recent speed with its earliest week's.
func (b *Builder) fanWear(r *row, c *model.Component, target, key string, at time.Time) {
	reading := "speed"
	cur, ok := readingValue(c, reading)
	pts := cleanHistory(b.opts.history(target, key, reading), at)
	if !ok && len(pts) == 0 {
		reading = "speed_percent"
		cur, ok = readingValue(c, reading)
		pts = cleanHistory(b.opts.history(target, key, reading), at)
		r.flags |= flagFanPercent
	}
	var current *float64
	if ok {
		current = &cur
	}
	base, recent, wok := baselineRecent(pts, at, current, &b.policy.Wear)
	if wok && base > 0 {
		r.base, r.recent = float32(base), float32(recent)
	}
}

// psuWear compares a PSU's recent efficiency (output / input power) with
// its earliest week's, over the scans where both were read.
func (b *Builder) psuWear(r *row, c *model.Component, target, key string, at time.Time) {
	in := cleanHistory(b.opts.history(target, key, "input_power"), at)
	out := cleanHistory(b.opts.history(target, key, "output_power"), at)
	if len(in) == 0 || len(out) == 0 {
		return
	}
	inAt := make(map[int64]float64, len(in))
	for _, p := range in {
		inAt[p.Time.UnixNano()] = p.Value
	}
	w := &b.policy.Wear
	first := in[0].Time
	if out[0].Time.After(first) {
		first = out[0].Time
	}
	baseEnd, recentStart := first.Add(w.Baseline), at.Add(-w.Recent)
	if baseEnd.After(recentStart) {
		return // too little history to tell a baseline from now
	}
	var bo, bi, ro, ri float64
	add := func(t time.Time, o, i float64) {
		if i <= 0 || o <= 0 || o > i {
			return // an idle or mis-metered scan says nothing of efficiency
		}
		switch {
		case !t.After(baseEnd):
			bo, bi = bo+o, bi+i
		case t.After(recentStart):
			ro, ri = ro+o, ri+i
		}
	}
	for _, p := range out {
		if i, ok := inAt[p.Time.UnixNano()]; ok {
			add(p.Time, p.Value, i)
		}
	}
	if o, ook := readingValue(c, "output_power"); ook {
		if i, iok := readingValue(c, "input_power"); iok {
			add(at, o, i)
		}
	}
	if bi > 0 && ri > 0 {
		r.base, r.recent = float32(bo/bi), float32(ro/ri)
	}
}

// cleanHistory keeps the finite points at or before at, in time order.
func cleanHistory(pts []HistoryPoint, at time.Time) []HistoryPoint {
	out := pts[:0:0]
	sorted := true
	for _, p := range pts {
		if !finite(p.Value) || p.Time.IsZero() || p.Time.After(at) {
			continue
		}
		if len(out) > 0 && p.Time.Before(out[len(out)-1].Time) {
			sorted = false
		}
		out = append(out, p)
	}
	if !sorted {
		slices.SortStableFunc(out, func(a, b HistoryPoint) int { return a.Time.Compare(b.Time) })
	}
	return out
}

// baselineRecent returns the mean of the points in the first Baseline of
// the history and the mean of those in the last Recent before at (with
// the current value, when given). The two stretches must not overlap.
func baselineRecent(pts []HistoryPoint, at time.Time, current *float64, w *WearPolicy) (base, recent float64, ok bool) {
	if len(pts) == 0 {
		return 0, 0, false
	}
	baseEnd, recentStart := pts[0].Time.Add(w.Baseline), at.Add(-w.Recent)
	if baseEnd.After(recentStart) {
		return 0, 0, false
	}
	var bs, rs float64
	var bn, rn int
	for _, p := range pts {
		switch {
		case !p.Time.After(baseEnd):
			bs, bn = bs+p.Value, bn+1
		case p.Time.After(recentStart):
			rs, rn = rs+p.Value, rn+1
		}
	}
	if current != nil {
		rs, rn = rs+*current, rn+1
	}
	if bn == 0 || rn == 0 {
		return 0, 0, false
	}
	return bs / float64(bn), rs / float64(rn), true
}

// rateOf is a reading's change per day over its history: (last - first)
// / days, from at least a week of history.
func rateOf(pts []HistoryPoint, at time.Time) (float64, bool) {
	pts = cleanHistory(pts, at)
	if len(pts) < 2 {
		return 0, false
	}
	first, last := pts[0], pts[len(pts)-1]
	days := last.Time.Sub(first.Time).Hours() / hoursPerDay
	if days < 7 {
		return 0, false
	}
	return (last.Value - first.Value) / days, true
}

// ageOf is the row's age in hours at its scan (at), and where it comes
// from.
func ageOf(r *row, at time.Time) (float64, AgeSource) {
	switch {
	case !isNaN32(r.poh):
		return float64(r.poh), AgePowerOnHours
	case r.mfgDay != noDay:
		return max(at.Sub(time.Unix(int64(r.mfgDay)*86400, 0)).Hours(), 0), AgeManufactureDate
	case r.firstSeen != noHour:
		return max(at.Sub(time.Unix(int64(r.firstSeen)*3600, 0)).Hours(), 0), AgeFirstSeen
	}
	return math.NaN(), AgeUnknown
}

// judge applies the rules that apply to the part: the most urgent one
// that fires (the first of equals) is the row's rule, the next its also.
func (b *Builder) judge(r *row, at time.Time) {
	type fired struct {
		rule int
		days float64 // 0: now
	}
	var best, second *fired
	for _, i := range b.applies {
		ru := &b.policy.Rules[i]
		days, ok := b.dueIn(r, ru, at)
		if !ok {
			continue
		}
		f := &fired{rule: i, days: days}
		switch {
		case best == nil || days < best.days:
			best, second = f, best
		case second == nil || days < second.days:
			second = f
		}
	}
	if best == nil {
		return
	}
	r.rule = uint16(best.rule + 1)
	if second != nil {
		r.also = uint16(second.rule + 1)
	}
	if best.days <= 0 {
		r.due = dueNow
	} else {
		r.due, r.dueIn = dueWithin, float32(best.days)
	}
}

// dueIn says whether rule ru fires for the row: now (0 days) or in so
// many days within the rule's horizon.
func (b *Builder) dueIn(r *row, ru *Rule, at time.Time) (float64, bool) {
	horizonDays := ru.horizon(b.policy).Hours() / hoursPerDay
	switch ru.Condition {
	case AgeOver:
		age, src := ageOf(r, at)
		if src == AgeUnknown {
			return 0, false
		}
		if age > ru.Limit {
			return 0, true
		}
		rate := 1.0 // hours of age per hour
		if src == AgePowerOnHours && !isNaN32(r.pohRate) {
			rate = float64(r.pohRate)
		}
		if rate <= 0 {
			return 0, false
		}
		days := (ru.Limit - age) / rate / hoursPerDay
		return days, horizonDays > 0 && days <= horizonDays
	case PercentageUsedAtLeast:
		if isNaN32(r.pctUsed) {
			return 0, false
		}
		used := float64(r.pctUsed)
		if used >= ru.Limit {
			return 0, true
		}
		if isNaN32(r.pctRate) || r.pctRate <= 0 {
			return 0, false
		}
		days := (ru.Limit - used) / float64(r.pctRate)
		return days, horizonDays > 0 && days <= horizonDays
	case SectorGrowthOver:
		return 0, !isNaN32(r.sectorGrowth) && float64(r.sectorGrowth) > ru.Limit
	case SpeedLossOver:
		loss, ok := speedLoss(r)
		return 0, ok && loss > ru.Limit
	case EfficiencyLossOver:
		loss, ok := efficiencyLoss(r)
		return 0, ok && loss > ru.Limit
	}
	return 0, false
}

// speedLoss is how far (percent) a fan's recent speed is below its
// baseline.
func speedLoss(r *row) (float64, bool) {
	if r.kindIs(model.KindFan) && !isNaN32(r.base) && r.base > 0 {
		return (float64(r.base) - float64(r.recent)) / float64(r.base) * 100, true
	}
	return 0, false
}

// efficiencyLoss is how many points a PSU's recent efficiency is below
// its baseline.
func efficiencyLoss(r *row) (float64, bool) {
	if r.kindIs(model.KindPSU) && !isNaN32(r.base) {
		return (float64(r.base) - float64(r.recent)) * 100, true
	}
	return 0, false
}

// kindIs tells fans and PSUs apart without the interned kind.
func (r *row) kindIs(k model.Kind) bool {
	switch k {
	case model.KindFan:
		return r.flags&flagFan != 0
	case model.KindPSU:
		return r.flags&flagPSU != 0
	}
	return false
}

// compareParts orders one target's rows by kind, location, name and id.
func compareParts(strs []string) func(a, b row) int {
	return func(a, b row) int {
		return cmp.Or(
			cmp.Compare(kindRank(model.Kind(strs[a.kind])), kindRank(model.Kind(strs[b.kind]))),
			strings.Compare(strs[a.kind], strs[b.kind]),
			naturalCompare(a.location(), b.location()),
			naturalCompare(a.name(), b.name()),
			naturalCompare(a.id(), b.id()),
		)
	}
}

// kindRank orders kinds as a technician walks the server.
func kindRank(k model.Kind) int {
	switch k {
	case model.KindSystem:
		return 0
	case model.KindChassis:
		return 1
	case model.KindBMC:
		return 2
	case model.KindPSU:
		return 3
	case model.KindFan:
		return 4
	case model.KindDrive:
		return 5
	case model.KindStorage:
		return 6
	case model.KindMemory:
		return 7
	case model.KindProcessor:
		return 8
	case model.KindBattery:
		return 9
	}
	if isSensor(k) {
		return 11 // after the parts of kinds the model does not name
	}
	return 10
}
