package main

import (
	"cmp"
	"context"
	"io"
	"slices"
	"time"

	"github.com/prefail/prefail/agent"
	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/lifecycle"
	"github.com/prefail/prefail/model"
	htmlreport "github.com/prefail/prefail/report"
)

// scanReport collects, while a scan streams, what `scan --html` shows:
// the results (kept only when a report is asked for), the detector's
// verdicts, the lifecycle inventory, and with --store the readings over
// time from the agent's store.
type scanReport struct {
	path          string
	results       []result
	assessments   map[string][]detector.Assessment
	inventory     *lifecycle.Builder
	store         *agent.Store
	storeHist     *storeHistory
	inventoryErrs int
}

// reportHistoryDays is how far back the report's charts go, and
// reportChartsPerServer / reportHistoryServers how many of the riskiest
// components of how many of the riskiest servers are read from the store
// (each read is a few ms; the report draws at most six a server).
const (
	reportHistoryDays     = 14
	reportChartsPerServer = 6
	reportHistoryServers  = htmlreport.DefaultMaxServerDetails
	// reportChartPoints: each series read is cut to this many means at
	// once, so a fleet's history never sits whole in memory.
	reportChartPoints = 240
)

func (a *app) newScanReport(ctx context.Context, f *scanFlags) (*scanReport, error) {
	if f.html == "" {
		if f.store != "" || f.policy != "" {
			return nil, usagef("--store and --policy are for the --html report (and prefail inventory)")
		}
		return nil, nil
	}
	r := &scanReport{path: f.html, assessments: map[string][]detector.Assessment{}}
	policy, err := loadPolicy(ctx, f.policy)
	if err != nil {
		return nil, err
	}
	opts := []lifecycle.Option{lifecycle.WithPolicy(policy), lifecycle.WithNow(a.clock().UTC())}
	if f.store != "" {
		if r.store, err = openStoreForReading(f.store); err != nil {
			return nil, err
		}
		r.storeHist = &storeHistory{ctx: ctx, store: r.store, to: a.clock()}
		opts = append(opts, lifecycle.WithHistory(r.storeHist.history), lifecycle.WithFirstSeen(r.storeHist.firstSeen))
	}
	if r.inventory, err = lifecycle.NewBuilder(opts...); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

func (r *scanReport) close() {
	if r != nil && r.store != nil {
		_ = r.store.Close()
	}
}

// add keeps one target's result for the report.
func (r *scanReport) add(res result, as assessment) {
	if r == nil {
		return
	}
	r.results = append(r.results, res)
	if len(as.all) > 0 {
		r.assessments[res.Target] = as.all
	}
	if s := res.Snapshot; s != nil && len(s.Components) > 0 {
		if err := r.inventory.Add(res.Target, s); err != nil {
			r.inventoryErrs++
		}
	}
}

// write renders the report into its file (written whole, then renamed).
func (a *app) writeScanReport(ctx context.Context, r *scanReport) error {
	if r == nil {
		return nil
	}
	in := htmlreport.Input{Generated: a.clock(), Results: r.results, Assessments: r.assessments}
	inv := r.inventory.Inventory()
	for _, row := range inv.Rows() {
		in.Inventory = append(in.Inventory, htmlreport.InventoryRow{
			Target: row.Target, Kind: string(row.Kind), ComponentID: row.Component, Name: row.Name, Location: row.Location,
			Model: row.Model, Serial: row.SerialNumber, PartNumber: row.PartNumber, Firmware: row.Firmware,
			Age: row.AgeText(), AgeSource: string(row.AgeSource), Wear: row.WearText(),
			RefreshDue: row.RefreshDue != lifecycle.DueNo, Rule: row.Rule,
		})
	}
	if r.store != nil {
		in.History = r.chartHistory(ctx, a.clock())
	}
	return a.writeOutput(ctx, "--html", r.path, func(ctx context.Context, w io.Writer) error {
		return htmlreport.WriteHTML(ctx, w, in)
	})
}

// chartHistory reads, for the riskiest servers, the riskiest components'
// readings of the last reportHistoryDays from the agent's store, each
// series cut to reportChartPoints means.
func (r *scanReport) chartHistory(ctx context.Context, now time.Time) map[string][]agent.Series {
	type server struct {
		target string
		risk   float64
		comps  []detector.Assessment
	}
	var servers []server
	for _, res := range r.results {
		if res.Snapshot == nil {
			continue
		}
		as := slices.Clone(r.assessments[res.Target])
		slices.SortStableFunc(as, func(x, y detector.Assessment) int {
			return cmp.Or(cmp.Compare(y.Risk, x.Risk), model.KindRank(x.Component.Kind)-model.KindRank(y.Component.Kind))
		})
		sv := server{target: res.Target, comps: as}
		if len(as) > 0 {
			sv.risk = as[0].Risk
		}
		servers = append(servers, sv)
	}
	slices.SortStableFunc(servers, func(x, y server) int { return cmp.Compare(y.risk, x.risk) })
	from := now.Add(-reportHistoryDays * 24 * time.Hour)
	out := map[string][]agent.Series{}
	for _, sv := range servers[:min(len(servers), reportHistoryServers)] {
		n := 0
		for _, c := range sv.comps {
			if n == reportChartsPerServer || ctx.Err() != nil {
				break
			}
			if !chartable(c.Component.Kind) {
				continue
			}
			series, err := r.store.History(sv.target, string(c.Component.Kind)+"/"+c.Component.ID, from, now)
			if err != nil || len(series) == 0 {
				continue
			}
			n++
			for _, s := range series {
				s.Points = thinPoints(s.Points, reportChartPoints)
				out[sv.target] = append(out[sv.target], s)
			}
		}
	}
	return out
}

// chartable kinds have readings worth a chart.
func chartable(k model.Kind) bool {
	switch k {
	case model.KindFan, model.KindPSU, model.KindDrive, model.KindTemperature, model.KindVoltage, model.KindCurrent, model.KindPower, model.KindBattery:
		return true
	}
	return false
}

// thinPoints merges consecutive points into at most n (weighted means,
// the extremes kept), so that a chart's series costs a few KB.
func thinPoints(ps []agent.Point, n int) []agent.Point {
	if len(ps) <= n {
		return ps
	}
	out := make([]agent.Point, 0, n)
	per := (len(ps) + n - 1) / n
	for i := 0; i < len(ps); i += per {
		group := ps[i:min(i+per, len(ps))]
		m := agent.Point{Time: group[0].Time, Min: group[0].Min, Max: group[0].Max}
		var sum float64
		for _, p := range group {
			w := max(p.N, 1)
			sum += p.Value * float64(w)
			m.N += w
			m.Min, m.Max = min(m.Min, p.Min), max(m.Max, p.Max)
		}
		m.Value = sum / float64(m.N)
		out = append(out, m)
	}
	return out
}

func (r *scanReport) warnings(a *app) {
	if r == nil {
		return
	}
	if r.inventoryErrs > 0 {
		a.log.Warn().Int("targets", r.inventoryErrs).Msg("some targets' parts are left out of the report's inventory")
	}
	if h := r.storeHist; h != nil && h.err != nil {
		a.log.Warn().Err(h.err).Int("failed_reads", h.failed).Msg("store: some history could not be read")
	}
}
