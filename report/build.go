package report

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prefail/prefail/agent"
	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/model"
)

// aboutToFailWithin is how close a forecast threshold crossing must be for
// its part to count as about to fail.
const aboutToFailWithin = 30 * 24 * time.Hour

// numHealth is the number of health values the overview counts.
const numHealth = 5

// healthColumns are the health values of the overview's columns, in order.
func healthColumns() [numHealth]model.Health {
	return [numHealth]model.Health{model.HealthOK, model.HealthWarning, model.HealthCritical, model.HealthAbsent, model.HealthUnknown}
}

// pageView is everything the template shows.
type pageView struct {
	Title          string
	Generated      string
	Overview       overviewView
	Servers        []*serverView // ranked
	Details        []*serverView // those with a section, ranked
	DetailsOmitted int
	Inventory      *inventoryView
}

type overviewView struct {
	Servers, Failed    int
	Components         int
	Assessed           bool // any assessment at all
	AtRisk             int  // components degrading or worse
	Kinds              []kindRow
	Total              kindRow
	WorstRisks         []riskRow
	AboutToFail        []failingServer
	AboutToFailOmitted int
}

type kindRow struct {
	Kind       string
	Total      int
	Counts     [numHealth]healthCount
	AtRisk     int
	ShowAtRisk bool // the fleet has detector verdicts
}

type healthCount struct {
	Health string
	N      int
	Pct    float64 // of the row's total
}

type riskRow struct {
	Server    *serverView
	Part      string
	State     string
	Risk      float64
	RiskClass string
	Reason    string
	Forecast  string
}

type failingServer struct {
	Server *serverView
	Parts  []partNote
	More   int
}

type partNote struct {
	Name  string
	Why   string
	Class string // sev-warn or sev-crit
	soon  time.Duration
	risk  float64
}

// serverView is one target: its ranking row and, when it has one, its
// section.
type serverView struct {
	Rank      int
	Anchor    string // the id of its section; empty when it has none
	Target    string
	Kind      string
	Failed    bool
	Error     string // first line, short
	ErrorFull string
	Health    string // worst health; unknown for a failed scan
	Assessed  bool
	Risk      float64 // worst risk
	RiskClass string
	State     string // state of the riskiest part
	WorstPart string
	Count     int // components
	Kinds     string
	Duration  string
	Requests  int
	Scanned   string

	Attention       []*componentRow // rows that need a look, with reasons and forecasts
	Others          []*componentRow
	RowsOmitted     int
	Warnings        []warningView
	WarningsOmitted int
	WarningsTotal   int
	Charts          []*chartView
	ChartsOmitted   int

	rawTarget string // Result.Target as given: the key of the input's maps
	healthSev int
	notable   bool // failed, at risk or not ok: first in line for a section
	snap      *model.Snapshot
	rows      []*componentRow
	failing   []partNote
}

type warningView struct{ Source, Message string }

// componentRow is one component of a server section.
type componentRow struct {
	Kind       string
	Name       string
	Location   string
	Health     string
	HealthText string
	Assessed   bool
	Risk       float64
	State      string
	Reading    *readingView
	RiskClass  string // the risk's level: sev-ok, sev-watch, sev-warn, sev-crit
	Reasons    []string
	Notes      []string
	Forecast   string
	NotScanned bool // assessed, but not in this scan

	key  string // KIND/ID, as the agent's history names it
	comp *model.Component
	as   *detector.Assessment
	sev  int
}

type inventoryView struct {
	Rows    []inventoryRowView
	Total   int
	Due     int
	Omitted int
}

type inventoryRowView struct {
	InventoryRow
	Anchor string
}

// buildPage turns the input into what the template shows. Every string
// from a BMC or a caller is clipped here; the template escapes it.
func buildPage(ctx context.Context, in Input) (*pageView, error) {
	p := &pageView{Title: in.title()}
	if !in.Generated.IsZero() {
		p.Generated = in.Generated.UTC().Format("2006-01-02 15:04 UTC")
	}
	servers := make([]*serverView, 0, len(in.Results))
	for i := range in.Results {
		if i%64 == 0 && ctx.Err() != nil {
			return nil, fmt.Errorf("report: %w: %w", ErrCanceled, context.Cause(ctx))
		}
		servers = append(servers, buildServer(&in.Results[i], in.Assessments[in.Results[i].Target], in.Generated))
	}
	slices.SortStableFunc(servers, compareServers)
	for i, s := range servers {
		s.Rank = i + 1
	}
	p.Servers = servers

	// Sections: failed scans and servers with something to see first,
	// then the rest in ranking order, up to the bound; shown in ranking
	// order.
	byPriority := slices.Clone(servers)
	slices.SortStableFunc(byPriority, func(a, b *serverView) int {
		switch {
		case a.notable == b.notable:
			return 0
		case a.notable:
			return -1
		}
		return 1
	})
	n := min(in.maxDetails(), len(byPriority))
	for _, s := range byPriority[:n] {
		s.Anchor = "server-" + strconv.Itoa(s.Rank)
	}
	for _, s := range servers {
		if s.Anchor == "" {
			continue
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("report: %w: %w", ErrCanceled, context.Cause(ctx))
		}
		fillSection(s, in.History[s.rawTarget], in.Generated)
		p.Details = append(p.Details, s)
	}
	p.DetailsOmitted = len(servers) - len(p.Details)
	p.Overview = buildOverview(servers, in.Generated)
	p.Inventory = buildInventory(in.Inventory, servers)
	return p, nil
}

// compareServers ranks servers: the worst component risk first, then the
// worst health (a failed scan counts as unknown), then failed scans before
// the others, then by name.
func compareServers(a, b *serverView) int {
	if c := cmp.Compare(b.Risk, a.Risk); c != 0 {
		return c
	}
	if c := cmp.Compare(b.healthSev, a.healthSev); c != 0 {
		return c
	}
	if a.Failed != b.Failed {
		if a.Failed {
			return -1
		}
		return 1
	}
	return strings.Compare(a.Target, b.Target)
}

// buildServer makes a target's ranking row and its component rows
// (without the views only a section needs).
func buildServer(r *agent.Result, assessments []detector.Assessment, now time.Time) *serverView {
	s := &serverView{
		Target:    clip(r.Target, 200),
		rawTarget: r.Target,
		Kind:      clip(r.Kind, 20),
		Failed:    r.Err != nil,
		Duration:  formatDuration(r.Duration),
		snap:      r.Snapshot,
	}
	if r.Err != nil {
		msg := r.Err.Error()
		first, _, _ := strings.Cut(msg, "\n")
		s.Error = clip(first, 240)
		s.ErrorFull = clip(msg, 2000)
	}
	health := model.HealthUnknown
	if snap := r.Snapshot; snap != nil {
		s.Requests = snap.Requests
		s.Count = len(snap.Components)
		s.Kinds = kindCounts(snap.Components)
		if !snap.Time.IsZero() {
			s.Scanned = snap.Time.UTC().Format("2006-01-02 15:04:05 UTC")
		}
		if r.Err == nil {
			health = snap.Worst()
		}
	}
	s.Health, _ = healthName(health)
	s.healthSev = health.Severity()

	// Assessments by kind and ID; the riskiest wins a duplicate.
	byKey := make(map[string]*detector.Assessment, len(assessments))
	for i := range assessments {
		a := &assessments[i]
		k := componentKey(a.Component.Kind, a.Component.ID)
		if old, ok := byKey[k]; !ok || a.Risk > old.Risk {
			byKey[k] = a
		}
	}
	used := make(map[string]bool, len(byKey))
	if snap := r.Snapshot; snap != nil {
		s.rows = make([]*componentRow, 0, len(snap.Components))
		for i := range snap.Components {
			c := &snap.Components[i]
			row := &componentRow{key: componentKey(c.Kind, c.ID), comp: c}
			if a, ok := byKey[row.key]; ok && !used[row.key] {
				row.as, used[row.key] = a, true
			}
			s.rows = append(s.rows, row)
		}
	}
	for _, a := range assessments {
		k := componentKey(a.Component.Kind, a.Component.ID)
		if !used[k] {
			used[k] = true
			s.rows = append(s.rows, &componentRow{key: k, as: byKey[k], NotScanned: true})
		}
	}
	for _, row := range s.rows {
		row.fillSummary()
		if row.Assessed {
			s.Assessed = true
		}
		if note, ok := row.aboutToFail(now); ok {
			s.failing = append(s.failing, note)
		}
	}
	// Riskiest first, then worst health, then by kind; else the source's order.
	slices.SortStableFunc(s.rows, func(a, b *componentRow) int {
		if c := cmp.Compare(b.Risk, a.Risk); c != 0 {
			return c
		}
		if c := cmp.Compare(stateLevel(b.State), stateLevel(a.State)); c != 0 {
			return c
		}
		if c := cmp.Compare(b.sev, a.sev); c != 0 {
			return c
		}
		return cmp.Compare(model.KindRank(model.Kind(a.Kind)), model.KindRank(model.Kind(b.Kind)))
	})
	// The riskiest part; without any risk, the part in the worst health.
	if len(s.rows) > 0 {
		top := s.rows[0]
		if top.Assessed {
			s.Risk, s.RiskClass, s.State = top.Risk, top.RiskClass, top.State
		}
		if top.Risk > 0 || stateLevel(top.State) > 0 || top.sev >= model.HealthWarning.Severity() {
			s.WorstPart = top.Name
		} else if worst := slices.MaxFunc(s.rows, func(a, b *componentRow) int { return cmp.Compare(a.sev, b.sev) }); worst.sev >= model.HealthWarning.Severity() {
			s.WorstPart = worst.Name
		}
	}
	s.notable = s.Failed || s.Risk >= riskWatch || stateLevel(s.State) > 0 || s.healthSev >= model.HealthWarning.Severity() || len(s.failing) > 0
	slices.SortStableFunc(s.failing, func(a, b partNote) int {
		if c := cmp.Compare(a.soon, b.soon); c != 0 {
			return c
		}
		return cmp.Compare(b.risk, a.risk)
	})
	return s
}

// componentKey names a component as the agent's history does: "KIND/ID".
func componentKey(k model.Kind, id string) string { return string(k) + "/" + id }

// fillSummary sets what the overview needs of a row: its name, health,
// risk and state.
func (row *componentRow) fillSummary() {
	health := model.HealthUnknown
	switch c := row.comp; {
	case c != nil:
		row.Kind = clip(string(c.Kind), 40)
		row.Name = clip(cmp.Or(c.Name, c.ID, "-"), 160)
		if c.Location != "" && c.Location != c.Name {
			row.Location = clip(c.Location, 120)
		}
		health = c.Health
		if health == "" {
			health = model.HealthUnknown
		}
	case row.as != nil:
		ref := row.as.Component
		row.Kind = clip(string(ref.Kind), 40)
		row.Name = clip(cmp.Or(ref.Name, ref.ID, "-"), 160)
	}
	row.Health, row.HealthText = healthName(health)
	row.sev = health.Severity()
	if a := row.as; a != nil {
		row.Assessed = true
		row.Risk = clamp01(a.Risk)
		row.RiskClass = riskClass(row.Risk)
		row.State = stateName(a.State)
	}
}

// fillView sets what only a section shows: the reading, the reasons, the
// notes and the forecast.
func (row *componentRow) fillView(now time.Time) {
	if c := row.comp; c != nil {
		row.Reading = viewReading(c)
		if c.FailurePredicted != nil && *c.FailurePredicted {
			row.Notes = append(row.Notes, "the part predicts its own failure")
		}
		if c.State != "" && c.State != "Enabled" {
			row.Notes = append(row.Notes, "state "+clip(c.State, 40))
		}
		for i, cond := range c.Conditions {
			if i == maxReasons {
				row.Notes = append(row.Notes, fmt.Sprintf("%d more conditions", len(c.Conditions)-maxReasons))
				break
			}
			row.Notes = append(row.Notes, clip(cond.Message, 300))
		}
	}
	if row.NotScanned {
		row.Notes = append(row.Notes, "not in this scan: the verdict is the detector's last")
	}
	if a := row.as; a != nil {
		for i, r := range a.Reasons {
			if i == maxReasons {
				row.Reasons = append(row.Reasons, fmt.Sprintf("%d more reasons", len(a.Reasons)-maxReasons))
				break
			}
			row.Reasons = append(row.Reasons, reasonText(r))
		}
		if a.Forecast != nil {
			row.Forecast = forecastText(a.Forecast, row.unitOf(a.Forecast.Signal), now)
		}
	}
}

// needsAttention says whether a row goes in the section's first table:
// the detector sees a risk, the BMC warns, the part predicts its failure
// or has conditions, its reading is beyond a threshold, or a forecast.
func (row *componentRow) needsAttention() bool {
	switch {
	case row.Assessed && (row.Risk >= riskWatch || stateLevel(row.State) > 0),
		row.sev >= model.HealthWarning.Severity(),
		row.NotScanned, row.Forecast != "":
		return true
	case row.Reading != nil && row.Reading.Gauge != nil && row.Reading.Gauge.Class != "sev-ok":
		return true
	}
	if c := row.comp; c != nil {
		return (c.FailurePredicted != nil && *c.FailurePredicted) || len(c.Conditions) > 0
	}
	return false
}

// Risk levels, as the detector's default configuration enters its
// states: watch, degrading, failing.
const (
	riskWatch     = 0.25
	riskDegrading = 0.5
	riskFailing   = 0.8
)

// riskClass is the color of a risk.
func riskClass(r float64) string {
	switch {
	case r >= riskFailing:
		return "sev-crit"
	case r >= riskDegrading:
		return "sev-warn"
	case r >= riskWatch:
		return "sev-watch"
	}
	return "sev-ok"
}

// unitOf is the unit of the row's reading called name, if known.
func (row *componentRow) unitOf(name string) string {
	if row.comp == nil {
		return ""
	}
	if r, ok := row.comp.Reading(name); ok {
		return r.Unit
	}
	return ""
}

// aboutToFail says whether the row's part is about to fail, and why: the
// detector says failing or failed, or forecasts its threshold within
// aboutToFailWithin; or the part predicts its own failure; or the BMC
// reports it critical.
func (row *componentRow) aboutToFail(now time.Time) (partNote, bool) {
	note := partNote{Name: row.Name, Class: "sev-crit", soon: math.MaxInt64, risk: row.Risk}
	var why []string
	if a := row.as; a != nil {
		if a.State.Level() >= detector.StateFailing.Level() {
			why = append(why, stateName(a.State)+" (risk "+formatPercent(a.Risk)+")")
			note.soon = 0
		}
		if f := a.Forecast; f != nil && !f.At.IsZero() {
			ref := now
			if ref.IsZero() {
				ref = a.Updated
			}
			if d := f.At.Sub(ref); d <= aboutToFailWithin {
				why = append(why, forecastText(f, row.unitOf(f.Signal), now))
				note.soon = min(note.soon, max(d, 0))
				if a.State.Level() < detector.StateFailing.Level() {
					note.Class = "sev-warn"
				}
			}
		}
	}
	if c := row.comp; c != nil {
		if c.FailurePredicted != nil && *c.FailurePredicted {
			why = append(why, "the part predicts its own failure")
		}
		if c.Health == model.HealthCritical {
			why = append(why, "the BMC reports it critical")
			note.Class = "sev-crit"
		}
	}
	if len(why) == 0 {
		return partNote{}, false
	}
	note.Why = strings.Join(why, "; ")
	return note, true
}

// fillSection builds what a server's section shows: its component rows
// with their readings, warnings and charts.
func fillSection(s *serverView, history []agent.Series, now time.Time) {
	rows := s.rows
	if len(rows) > maxComponentRows {
		s.RowsOmitted = len(rows) - maxComponentRows
		rows = rows[:maxComponentRows]
	}
	for _, row := range rows {
		row.fillView(now)
		if row.needsAttention() {
			s.Attention = append(s.Attention, row)
		} else {
			s.Others = append(s.Others, row)
		}
	}
	if snap := s.snap; snap != nil {
		s.WarningsTotal = len(snap.Warnings)
		for i, w := range snap.Warnings {
			if i == maxWarnings {
				s.WarningsOmitted = len(snap.Warnings) - maxWarnings
				break
			}
			s.Warnings = append(s.Warnings, warningView{Source: clip(w.Source, 200), Message: clip(w.Message, 400)})
		}
	}
	s.Charts, s.ChartsOmitted = buildCharts(s.rows, history)
}

// buildCharts draws the target's series, the riskiest components' main
// readings first, up to maxChartsPerServer.
func buildCharts(rows []*componentRow, history []agent.Series) ([]*chartView, int) {
	if len(history) == 0 {
		return nil, 0
	}
	byKey := make(map[string]*componentRow, len(rows))
	for _, row := range rows {
		if _, dup := byKey[row.key]; !dup {
			byKey[row.key] = row
		}
	}
	type candidate struct {
		s    *agent.Series
		row  *componentRow
		main bool
	}
	cands := make([]candidate, 0, len(history))
	for i := range history {
		s := &history[i]
		row := byKey[s.Component]
		main := row != nil && row.comp != nil && isMainReading(row.comp.Kind, s.Reading)
		cands = append(cands, candidate{s: s, row: row, main: main})
	}
	slices.SortStableFunc(cands, func(a, b candidate) int {
		ra, rb := 0.0, 0.0
		sa, sb := -1, -1
		ka, kb := math.MaxInt, math.MaxInt
		if a.row != nil {
			ra, sa, ka = a.row.Risk, a.row.sev, model.KindRank(model.Kind(a.row.Kind))
		}
		if b.row != nil {
			rb, sb, kb = b.row.Risk, b.row.sev, model.KindRank(model.Kind(b.row.Kind))
		}
		if c := cmp.Compare(rb, ra); c != 0 {
			return c
		}
		if c := cmp.Compare(sb, sa); c != 0 {
			return c
		}
		if a.main != b.main {
			if a.main {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(ka, kb); c != 0 {
			return c
		}
		if c := strings.Compare(a.s.Component, b.s.Component); c != 0 {
			return c
		}
		return strings.Compare(a.s.Reading, b.s.Reading)
	})
	var charts []*chartView
	omitted := 0
	for _, c := range cands {
		if len(charts) == maxChartsPerServer {
			omitted++
			continue
		}
		title := clip(c.s.Component, 120)
		var reading *model.Reading
		if c.row != nil {
			title = c.row.Name
			if c.row.comp != nil {
				if r, ok := c.row.comp.Reading(c.s.Reading); ok {
					reading = &r
				}
			}
		}
		if ch := newChart(title, *c.s, reading); ch != nil {
			charts = append(charts, ch)
		}
	}
	return charts, omitted
}

// buildOverview counts components by kind and health across the fleet
// and picks the worst risks and the servers with a part about to fail.
func buildOverview(servers []*serverView, now time.Time) overviewView {
	o := overviewView{Servers: len(servers)}
	kinds := map[string]*kindRow{}
	var risks []atRisk
	for _, s := range servers {
		if s.Failed {
			o.Failed++
		}
		if s.Assessed {
			o.Assessed = true
		}
		for _, row := range s.rows {
			degrading := row.Assessed && stateLevel(row.State) >= detector.StateDegrading.Level()
			if degrading {
				o.AtRisk++
			}
			if row.Assessed && row.Risk > 0 {
				risks = keepRiskiest(risks, atRisk{s, row}, maxWorstRisks)
			}
			if row.NotScanned {
				continue
			}
			o.Components++
			k := kinds[row.Kind]
			if k == nil {
				k = &kindRow{Kind: row.Kind}
				kinds[row.Kind] = k
			}
			k.Total++
			k.Counts[healthIndex(row.Health)].N++
			if degrading {
				k.AtRisk++
			}
		}
		if len(s.failing) > 0 {
			if len(o.AboutToFail) == maxAboutToFail {
				o.AboutToFailOmitted++
				continue
			}
			fs := failingServer{Server: s, Parts: s.failing}
			if len(fs.Parts) > 3 {
				fs.More, fs.Parts = len(fs.Parts)-3, fs.Parts[:3]
			}
			o.AboutToFail = append(o.AboutToFail, fs)
		}
	}

	for _, r := range risks {
		rr := riskRow{Server: r.s, Part: r.row.Name, State: r.row.State, Risk: r.row.Risk, RiskClass: r.row.RiskClass}
		if a := r.row.as; a != nil {
			if len(a.Reasons) > 0 {
				rr.Reason = reasonText(a.Reasons[0])
			}
			if a.Forecast != nil {
				rr.Forecast = forecastText(a.Forecast, r.row.unitOf(a.Forecast.Signal), now)
			}
		}
		o.WorstRisks = append(o.WorstRisks, rr)
	}

	rows := make([]kindRow, 0, len(kinds))
	for _, k := range kinds {
		rows = append(rows, *k)
	}
	slices.SortFunc(rows, func(a, b kindRow) int {
		if c := cmp.Compare(model.KindRank(model.Kind(a.Kind)), model.KindRank(model.Kind(b.Kind))); c != 0 {
			return c
		}
		return strings.Compare(a.Kind, b.Kind)
	})
	o.Total = kindRow{Kind: "all"}
	for i := range rows {
		for j := range numHealth {
			o.Total.Counts[j].N += rows[i].Counts[j].N
		}
		o.Total.Total += rows[i].Total
		o.Total.AtRisk += rows[i].AtRisk
		rows[i].ShowAtRisk = o.Assessed
		rows[i].setPercents()
	}
	o.Total.ShowAtRisk = o.Assessed
	o.Total.setPercents()
	o.Kinds = rows
	return o
}

// atRisk is an assessed component and its server.
type atRisk struct {
	s   *serverView
	row *componentRow
}

// keepRiskiest inserts r into top, riskiest first, keeping at most k: a
// fleet's 100,000 components are not sorted for ten. Among equal risks
// the worse state wins, then the one seen first (servers come ranked).
func keepRiskiest(top []atRisk, r atRisk, k int) []atRisk {
	riskier := func(a, b atRisk) bool {
		if a.row.Risk != b.row.Risk {
			return a.row.Risk > b.row.Risk
		}
		return stateLevel(a.row.State) > stateLevel(b.row.State)
	}
	if len(top) == k && !riskier(r, top[k-1]) {
		return top
	}
	i := len(top)
	for i > 0 && riskier(r, top[i-1]) {
		i--
	}
	top = slices.Insert(top, i, r)
	if len(top) > k {
		top = top[:k]
	}
	return top
}

func (k *kindRow) setPercents() {
	for j, h := range healthColumns() {
		k.Counts[j].Health = string(h)
		if k.Total > 0 {
			k.Counts[j].Pct = round1(100 * float64(k.Counts[j].N) / float64(k.Total))
		}
	}
}

// buildInventory keeps the refresh-due rows first, up to maxInventoryRows,
// and links each row to its server's section.
func buildInventory(rows []InventoryRow, servers []*serverView) *inventoryView {
	if len(rows) == 0 {
		return nil
	}
	anchors := make(map[string]string, len(servers))
	for _, s := range servers {
		if s.Anchor != "" {
			anchors[s.rawTarget] = s.Anchor
		}
	}
	v := &inventoryView{Total: len(rows)}
	ordered := make([]InventoryRow, 0, min(len(rows), maxInventoryRows))
	for _, due := range []bool{true, false} {
		for _, r := range rows {
			if r.RefreshDue != due {
				continue
			}
			if due {
				v.Due++
			}
			if len(ordered) < maxInventoryRows {
				ordered = append(ordered, r)
			}
		}
	}
	v.Omitted = len(rows) - len(ordered)
	v.Rows = make([]inventoryRowView, len(ordered))
	for i, r := range ordered {
		c := InventoryRow{
			Target: clip(r.Target, 200), Kind: clip(r.Kind, 40), ComponentID: clip(r.ComponentID, 200),
			Name: clip(r.Name, 160), Location: clip(r.Location, 120), Model: clip(r.Model, 120),
			Serial: clip(r.Serial, 80), PartNumber: clip(r.PartNumber, 80), Firmware: clip(r.Firmware, 80),
			Age: clip(r.Age, 60), AgeSource: clip(r.AgeSource, 80), Wear: clip(r.Wear, 80),
			RefreshDue: r.RefreshDue, Rule: clip(r.Rule, 200),
		}
		if c.Name == "" {
			c.Name = c.ComponentID
		}
		v.Rows[i] = inventoryRowView{InventoryRow: c, Anchor: anchors[r.Target]}
	}
	return v
}

// healthName is a health value for the page: its class name and its
// text. Empty and unrecognized values are unknown: nothing the page does
// not understand passes as ok.
func healthName(h model.Health) (class, text string) {
	switch h {
	case model.HealthOK, model.HealthWarning, model.HealthCritical, model.HealthAbsent, model.HealthUnknown:
		return string(h), string(h)
	case "":
		return "unknown", "unknown"
	}
	return "unknown", "unknown (" + clip(string(h), 40) + ")"
}

func healthIndex(class string) int {
	for i, h := range healthColumns() {
		if string(h) == class {
			return i
		}
	}
	return numHealth - 1
}

// stateName is a detector state for the page; an unrecognized one is
// unknown.
func stateName(s detector.State) string {
	switch s {
	case detector.StateOK, detector.StateWatch, detector.StateDegrading, detector.StateFailing, detector.StateFailed:
		return string(s)
	}
	return string(detector.StateUnknown)
}

func stateLevel(s string) int { return detector.State(s).Level() }

func reasonText(r detector.Reason) string {
	if r.Text != "" {
		return clip(r.Text, 300)
	}
	t := clip(r.Signal, 60)
	if r.Value != nil && finite(*r.Value) {
		t += " " + formatNumber(*r.Value)
	}
	return t
}

// forecastText says when a forecast crosses its threshold: "speed
// reaches 1000 RPM in about 5 days (3-9 days), on 2026-03-19".
func forecastText(f *detector.Forecast, unit string, now time.Time) string {
	what := clip(f.Signal, 60) + " reaches " + formatValue(f.Threshold, unit)
	if f.At.IsZero() {
		return what
	}
	day := f.At.UTC().Format("2006-01-02")
	if now.IsZero() {
		return what + " around " + day
	}
	if !f.At.After(now) {
		return clip(f.Signal, 60) + " crossed " + formatValue(f.Threshold, unit) + " (expected " + day + ")"
	}
	t := what + " in about " + humanDuration(f.At.Sub(now))
	switch {
	case !f.Earliest.IsZero() && !f.Latest.IsZero():
		t += " (" + humanDuration(max(f.Earliest.Sub(now), 0)) + " to " + humanDuration(f.Latest.Sub(now)) + ")"
	case !f.Earliest.IsZero():
		t += " (" + humanDuration(max(f.Earliest.Sub(now), 0)) + " or later)"
	}
	return t + ", on " + day
}

// humanDuration is a duration in the unit a person would use.
func humanDuration(d time.Duration) string {
	switch {
	case d < 2*time.Hour:
		return plural(int(math.Round(d.Minutes())), "minute")
	case d < 48*time.Hour:
		return plural(int(math.Round(d.Hours())), "hour")
	}
	return plural(int(math.Round(d.Hours()/24)), "day")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

// kindCounts is "2 psu, 4 fan, ...", in kind order.
func kindCounts(cs []model.Component) string {
	counts := map[model.Kind]int{}
	var kinds []model.Kind
	for _, c := range cs {
		if counts[c.Kind] == 0 {
			kinds = append(kinds, c.Kind)
		}
		counts[c.Kind]++
	}
	slices.SortStableFunc(kinds, func(x, y model.Kind) int {
		if d := model.KindRank(x) - model.KindRank(y); d != 0 {
			return d
		}
		return strings.Compare(string(x), string(y))
	})
	parts := make([]string, 0, min(len(kinds), 16))
	for i, k := range kinds {
		if i == 16 {
			parts = append(parts, fmt.Sprintf("%d more kinds", len(kinds)-16))
			break
		}
		parts = append(parts, fmt.Sprintf("%d %s", counts[k], clip(string(k), 40)))
	}
	return strings.Join(parts, ", ")
}
