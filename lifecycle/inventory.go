package lifecycle

import (
	"cmp"
	"iter"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/prefail/prefail/model"
)

// interner keeps one copy of each string shared between rows (models,
// firmware versions, kinds); id 0 is "".
type interner struct {
	ids  map[string]uint32
	strs []string
}

func (in *interner) init() {
	in.ids = map[string]uint32{"": 0}
	in.strs = []string{""}
}

func (in *interner) id(s string) uint32 {
	if id, ok := in.ids[s]; ok {
		return id
	}
	id := uint32(len(in.strs))
	s = strings.Clone(s) // not a slice of a snapshot's big buffer
	in.ids[s] = id
	in.strs = append(in.strs, s)
	return id
}

// AgeSource says where a part's age comes from.
type AgeSource string

// Age sources, best first: a part's own power-on hours, its manufacture
// date, the date the agent first saw it (a lower bound of its age).
const (
	AgePowerOnHours    AgeSource = "power_on_hours"
	AgeManufactureDate AgeSource = "manufacture_date"
	AgeFirstSeen       AgeSource = "first_seen"
	AgeUnknown         AgeSource = "unknown"
)

// Row is one part of the inventory.
type Row struct {
	Target string     `json:"target"`
	Kind   model.Kind `json:"kind"`
	// Component is the part's id in its target's scans.
	Component    string `json:"component"`
	Name         string `json:"name,omitempty"`
	Location     string `json:"location,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Model        string `json:"model,omitempty"`
	SerialNumber string `json:"serial_number,omitempty"`
	PartNumber   string `json:"part_number,omitempty"`
	Firmware     string `json:"firmware,omitempty"`
	// FirmwareOutlier: the part's firmware is held by a minority of its
	// model's parts, or older than the majority's (Summary.Firmware).
	FirmwareOutlier bool `json:"firmware_outlier,omitempty"`
	// Media of a drive: HDD, SSD or unknown.
	Media string `json:"media,omitempty"`

	// AgeHours is the part's age at SeenAt (nil: unknown), from AgeSource.
	AgeHours  *float64  `json:"age_hours"`
	AgeSource AgeSource `json:"age_source"`
	// The age sources the part has.
	PowerOnHours    *float64   `json:"power_on_hours,omitempty"`
	ManufactureDate string     `json:"manufacture_date,omitempty"` // YYYY-MM-DD
	FirstSeen       *time.Time `json:"first_seen,omitempty"`

	// Wear, where known: an SSD's percentage used, a drive's sector
	// counter growth, a fan's speed loss (percent) and a PSU's efficiency
	// loss (points) against their own baselines.
	PercentageUsed       *float64 `json:"percentage_used,omitempty"`
	SectorGrowth         *float64 `json:"sector_growth,omitempty"`
	SpeedLossPercent     *float64 `json:"speed_loss_percent,omitempty"`
	EfficiencyLossPoints *float64 `json:"efficiency_loss_points,omitempty"`

	// RefreshDue: now, within the rule's horizon (DueInDays from SeenAt),
	// or no; Rule is the rule that fired, Reason says why in words.
	RefreshDue Due      `json:"refresh_due"`
	DueInDays  *float64 `json:"due_in_days,omitempty"`
	Rule       string   `json:"rule,omitempty"`
	Reason     string   `json:"reason,omitempty"`

	// SeenAt is the time of the scan the row comes from.
	SeenAt time.Time `json:"seen_at"`
}

// Inventory is the built inventory: rows sorted by target, kind,
// location and name, and the summary.
type Inventory struct {
	policy  *Policy
	strs    []string
	targets []targetInfo
	rows    []row
	summary Summary
}

// Summary is what the hardware team orders, and the fleet's firmware.
type Summary struct {
	// AsOf is the newest scan's time (WithNow's when none was added).
	AsOf    time.Time `json:"as_of"`
	Targets int       `json:"targets"`
	Parts   int       `json:"parts"`
	// Absent counts the empty bays and missing parts the scans listed.
	Absent           int `json:"absent"`
	DueNow           int `json:"due_now"`
	DueWithinHorizon int `json:"due_within_horizon"`
	// HorizonDays is the policy's default horizon.
	HorizonDays float64 `json:"horizon_days"`
	// AgeUnknown counts the parts an age rule applies to whose age no
	// source gives.
	AgeUnknown int `json:"age_unknown"`
	// Order is what to order this horizon (due now or within it), by kind
	// and model, most first.
	Order []OrderLine `json:"order"`
	// Firmware lists, for each kind and model, the firmware versions of
	// its parts across the fleet.
	Firmware []FirmwareModel `json:"firmware"`
	// FirmwareOutliers are the versions held by a minority of their
	// model's parts, or older than the majority's (in the JSON document,
	// beside the summary).
	FirmwareOutliers []FirmwareOutlier `json:"-"`
}

// OrderLine is how many parts of one kind and model are due.
type OrderLine struct {
	Kind         model.Kind `json:"kind"`
	Manufacturer string     `json:"manufacturer,omitempty"`
	Model        string     `json:"model"`
	// PartNumbers are the part numbers of the due parts (at most 10).
	PartNumbers      []string `json:"part_numbers,omitempty"`
	DueNow           int      `json:"due_now"`
	DueWithinHorizon int      `json:"due_within_horizon"`
	// Installed is how many parts of this kind and model the fleet has.
	Installed int `json:"installed"`
}

// FirmwareModel is the firmware versions of one kind and model.
type FirmwareModel struct {
	Kind  model.Kind `json:"kind"`
	Model string     `json:"model"`
	Parts int        `json:"parts"`
	// Versions, most held first; Majority is the most held (the newest of
	// equals).
	Versions []FirmwareCount `json:"versions"`
	Majority string          `json:"majority"`
}

// FirmwareCount is how many parts hold a version.
type FirmwareCount struct {
	Version string `json:"version"`
	Parts   int    `json:"parts"`
}

// FirmwareOutlier is a version that stands out among its model's parts.
type FirmwareOutlier struct {
	Kind    model.Kind `json:"kind"`
	Model   string     `json:"model"`
	Version string     `json:"version"`
	Parts   int        `json:"parts"`
	// Of is how many parts of the model have a firmware version.
	Of            int    `json:"of"`
	Majority      string `json:"majority"`
	MajorityParts int    `json:"majority_parts"`
	// Minority: held by fewer than half the model's parts. Older: older
	// than the majority's version (compared number by number; versions
	// not shaped alike are not compared).
	Minority bool `json:"minority"`
	Older    bool `json:"older"`
}

// Inventory finishes the builder (Add fails afterwards) and returns the
// inventory: rows sorted, summary and firmware outliers computed.
func (b *Builder) Inventory() *Inventory {
	b.done = true
	inv := &Inventory{policy: b.policy, strs: b.strs.strs, targets: b.targets, rows: b.rows}
	b.strs.ids = nil // the table stays, the index is no longer needed
	b.seen, b.ids = nil, nil
	sortByTarget(inv.rows, inv.targets)
	s := &inv.summary
	s.AsOf = b.opts.now
	for _, t := range inv.targets {
		if t.at.After(s.AsOf) || s.AsOf.IsZero() {
			s.AsOf = t.at
		}
	}
	s.AsOf = s.AsOf.UTC()
	s.Targets, s.Parts, s.Absent = len(inv.targets), len(inv.rows), b.absent
	s.HorizonDays = b.policy.Horizon.Hours() / hoursPerDay
	inv.summarize()
	inv.firmware()
	return inv
}

// sortByTarget orders the rows by target name, keeping each target's
// rows in their order (Add sorted them).
func sortByTarget(rows []row, targets []targetInfo) {
	order := make([]uint32, len(targets))
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortStableFunc(order, func(a, b uint32) int { return strings.Compare(targets[a].name, targets[b].name) })
	rank := make([]uint32, len(targets))
	sorted := true
	for pos, ti := range order {
		rank[ti] = uint32(pos)
		sorted = sorted && ti == uint32(pos)
	}
	if !sorted {
		slices.SortStableFunc(rows, func(a, b row) int { return cmp.Compare(rank[a.target], rank[b.target]) })
	}
}

// Policy returns the policy the inventory was judged by.
func (inv *Inventory) Policy() *Policy { return inv.policy }

// Summary returns the summary (shared: do not modify).
func (inv *Inventory) Summary() *Summary { return &inv.summary }

// Len is the number of rows.
func (inv *Inventory) Len() int { return len(inv.rows) }

// Rows yields the rows in order, each built on demand (the inventory
// keeps them compact).
func (inv *Inventory) Rows() iter.Seq2[int, Row] {
	return func(yield func(int, Row) bool) {
		for i := range inv.rows {
			if !yield(i, inv.Row(i)) {
				return
			}
		}
	}
}

type orderKey struct{ kind, model uint32 }

func (inv *Inventory) summarize() {
	s := &inv.summary
	lines := map[orderKey]*OrderLine{}
	installed := map[orderKey]int{}
	for i := range inv.rows {
		r := &inv.rows[i]
		k := orderKey{r.kind, r.model}
		installed[k]++
		if r.flags&flagAgeRule != 0 {
			if _, src := ageOf(r, inv.targets[r.target].at); src == AgeUnknown {
				s.AgeUnknown++
			}
		}
		if r.due == dueNo {
			continue
		}
		l := lines[k]
		if l == nil {
			l = &OrderLine{Kind: model.Kind(inv.strs[r.kind]), Manufacturer: inv.strs[r.manufacturer], Model: inv.strs[r.model]}
			lines[k] = l
		}
		if r.due == dueNow {
			s.DueNow++
			l.DueNow++
		} else {
			s.DueWithinHorizon++
			l.DueWithinHorizon++
		}
		if pn := inv.strs[r.part]; pn != "" && !slices.Contains(l.PartNumbers, pn) && len(l.PartNumbers) < 10 {
			l.PartNumbers = append(l.PartNumbers, pn)
		}
	}
	s.Order = make([]OrderLine, 0, len(lines))
	for k, l := range lines {
		l.Installed = installed[k]
		slices.Sort(l.PartNumbers)
		s.Order = append(s.Order, *l)
	}
	slices.SortFunc(s.Order, func(a, b OrderLine) int {
		return cmp.Or(cmp.Compare(b.DueNow+b.DueWithinHorizon, a.DueNow+a.DueWithinHorizon),
			cmp.Compare(kindRank(a.Kind), kindRank(b.Kind)), strings.Compare(string(a.Kind), string(b.Kind)),
			strings.Compare(a.Model, b.Model), strings.Compare(a.Manufacturer, b.Manufacturer))
	})
}

// firmware counts the versions of each kind and model and flags the
// outliers, in the summary and on their rows.
func (inv *Inventory) firmware() {
	s := &inv.summary
	counts := map[orderKey]map[uint32]int{}
	for i := range inv.rows {
		r := &inv.rows[i]
		if r.model == 0 || r.firmware == 0 {
			continue
		}
		k := orderKey{r.kind, r.model}
		if counts[k] == nil {
			counts[k] = map[uint32]int{}
		}
		counts[k][r.firmware]++
	}
	outlier := map[orderKey]map[uint32]bool{}
	s.Firmware = make([]FirmwareModel, 0, len(counts))
	type held struct {
		id uint32
		FirmwareCount
	}
	for k, vs := range counts {
		fm := FirmwareModel{Kind: model.Kind(inv.strs[k.kind]), Model: inv.strs[k.model]}
		versions := make([]held, 0, len(vs))
		for v, n := range vs {
			fm.Parts += n
			versions = append(versions, held{v, FirmwareCount{Version: inv.strs[v], Parts: n}})
		}
		// Most held first; the newest of equals first, so it is the majority.
		slices.SortFunc(versions, func(a, b held) int {
			if c := cmp.Compare(b.Parts, a.Parts); c != 0 {
				return c
			}
			if c, ok := compareVersions(b.Version, a.Version); ok && c != 0 {
				return c
			}
			return strings.Compare(a.Version, b.Version)
		})
		maj := versions[0]
		fm.Majority = maj.Version
		for _, v := range versions {
			fm.Versions = append(fm.Versions, v.FirmwareCount)
			if v.id == maj.id {
				continue
			}
			c, ok := compareVersions(v.Version, maj.Version)
			o := FirmwareOutlier{Kind: fm.Kind, Model: fm.Model, Version: v.Version, Parts: v.Parts, Of: fm.Parts,
				Majority: maj.Version, MajorityParts: maj.Parts, Minority: 2*v.Parts < fm.Parts, Older: ok && c < 0}
			if !o.Minority && !o.Older {
				continue
			}
			s.FirmwareOutliers = append(s.FirmwareOutliers, o)
			if outlier[k] == nil {
				outlier[k] = map[uint32]bool{}
			}
			outlier[k][v.id] = true
		}
		s.Firmware = append(s.Firmware, fm)
	}
	byModel := func(ak, bk model.Kind, am, bm string) int {
		return cmp.Or(cmp.Compare(kindRank(ak), kindRank(bk)), strings.Compare(string(ak), string(bk)), strings.Compare(am, bm))
	}
	slices.SortFunc(s.Firmware, func(a, b FirmwareModel) int { return byModel(a.Kind, b.Kind, a.Model, b.Model) })
	slices.SortFunc(s.FirmwareOutliers, func(a, b FirmwareOutlier) int {
		return cmp.Or(byModel(a.Kind, b.Kind, a.Model, b.Model), cmp.Compare(b.Parts, a.Parts), strings.Compare(a.Version, b.Version))
	})
	if s.FirmwareOutliers == nil {
		s.FirmwareOutliers = []FirmwareOutlier{}
	}
	if len(outlier) == 0 {
		return
	}
	for i := range inv.rows {
		r := &inv.rows[i]
		if outlier[orderKey{r.kind, r.model}][r.firmware] {
			r.flags |= flagFirmwareOutlier
		}
	}
}

// Row returns row i in full.
func (inv *Inventory) Row(i int) Row {
	r := &inv.rows[i]
	t := inv.targets[r.target]
	out := Row{
		Target: t.name, Kind: model.Kind(inv.strs[r.kind]), Component: r.id(), Name: r.name(), Location: r.location(),
		Manufacturer: inv.strs[r.manufacturer], Model: inv.strs[r.model], SerialNumber: r.serial(),
		PartNumber: inv.strs[r.part], Firmware: inv.strs[r.firmware], FirmwareOutlier: r.flags&flagFirmwareOutlier != 0,
		SeenAt: t.at, RefreshDue: DueNo,
	}
	switch r.media {
	case mediaHDD:
		out.Media = MediaHDD
	case mediaSSD:
		out.Media = MediaSSD
	case mediaUnknown:
		out.Media = MediaUnknown
	}
	age, src := ageOf(r, t.at)
	out.AgeSource = src
	if src != AgeUnknown {
		out.AgeHours = ptr(math.Round(age))
	}
	if !isNaN32(r.poh) {
		out.PowerOnHours = ptr(math.Round(float64(r.poh)))
	}
	if r.mfgDay != noDay {
		out.ManufactureDate = time.Unix(int64(r.mfgDay)*86400, 0).UTC().Format(time.DateOnly)
	}
	if r.firstSeen != noHour {
		fs := time.Unix(int64(r.firstSeen)*3600, 0).UTC()
		out.FirstSeen = &fs
	}
	if !isNaN32(r.pctUsed) {
		out.PercentageUsed = ptr(round(float64(r.pctUsed), 1))
	}
	if !isNaN32(r.sectorGrowth) {
		out.SectorGrowth = ptr(math.Round(float64(r.sectorGrowth)))
	}
	if v, ok := speedLoss(r); ok {
		out.SpeedLossPercent = ptr(round(v, 1))
	}
	if v, ok := efficiencyLoss(r); ok {
		out.EfficiencyLossPoints = ptr(round(v, 2))
	}
	switch r.due {
	case dueNow:
		out.RefreshDue = DueNow
	case dueWithin:
		out.RefreshDue = DueWithinHorizon
		out.DueInDays = ptr(math.Ceil(float64(r.dueIn)))
	}
	if r.rule > 0 {
		out.Rule = inv.policy.Rules[r.rule-1].Name
	}
	out.Reason = inv.reason(r, t.at)
	return out
}

func ptr(v float64) *float64 { return &v }

func round(v float64, prec int) float64 {
	p := math.Pow(10, float64(prec))
	return math.Round(v*p) / p
}
