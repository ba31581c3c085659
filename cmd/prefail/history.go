package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/prefail/prefail/agent"
)

// historyFlags are the history command's options.
type historyFlags struct {
	store   string
	agent   string
	since   time.Duration
	reading string
	rows    int
	json    bool
}

func (a *app) newHistoryCmd() *cobra.Command {
	var f historyFlags
	cmd := &cobra.Command{
		Use:   "history TARGET [COMPONENT]",
		Short: "Print a component's readings over time from the agent's store",
		Long: `History prints what the agent recorded of a target's components: each
reading over --since, oldest first, at the finest resolution the store
kept (every scan for the last two days, then 5-minute and hourly means
with their minimum and maximum). COMPONENT is "kind/id" as in the events
(fan//redfish/v1/Chassis/1U/ThermalSubsystem/Fans/Bay1), a unique end of
one ("Bay1"), or absent for the list of the target's components.

The store is read directly (--store PATH) when no agent holds it, or
through a running agent's listener (--agent http://127.0.0.1:9464).`,
		Example: `  prefail history --store /var/lib/prefail https://bmc1.example.com
  prefail history --agent http://127.0.0.1:9464 https://bmc1.example.com Fans/Bay1 --reading speed --since 30d`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return usagef("history: give TARGET and, optionally, COMPONENT")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runHistory(cmd.Context(), args, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.store, "store", "", "the agent's store `PATH`")
	fl.StringVar(&f.agent, "agent", "", "ask the running agent listening at `URL` instead")
	fl.DurationVar(&f.since, "since", 30*24*time.Hour, "how far back")
	fl.StringVar(&f.reading, "reading", "", "only this reading (speed, temperature, input_power, ...)")
	fl.IntVar(&f.rows, "rows", 48, "at most N rows per reading (consecutive points averaged; 0: all)")
	fl.BoolVar(&f.json, "json", false, "print the series as JSON")
	return cmd
}

// historyAnswer is the JSON of a history query, from the store or the
// agent's /api/v1/history.
type historyAnswer struct {
	Target     string          `json:"target"`
	Components []string        `json:"components,omitempty"`
	Series     []historySeries `json:"series,omitempty"`
}

type historySeries struct {
	Component string         `json:"component"`
	Reading   string         `json:"reading"`
	Unit      string         `json:"unit,omitempty"`
	Points    []historyPoint `json:"points"`
}

type historyPoint struct {
	Time  time.Time `json:"time"`
	Value float64   `json:"value"`
	Min   float64   `json:"min"`
	Max   float64   `json:"max"`
	N     int       `json:"n"`
}

func (a *app) runHistory(ctx context.Context, args []string, f *historyFlags) error {
	if (f.store == "") == (f.agent == "") {
		return usagef("history: give --store PATH or --agent URL")
	}
	if f.since <= 0 || f.rows < 0 {
		return usagef("history: --since must be positive and --rows 0 or more")
	}
	target, component := args[0], ""
	if len(args) == 2 {
		component = args[1]
	}
	to := a.clock()
	from := to.Add(-f.since)
	var ans *historyAnswer
	var err error
	if f.agent != "" {
		ans, err = fetchHistory(ctx, f.agent, target, component, from, to)
	} else {
		var s *agent.Store
		if s, err = agent.OpenStore(f.store); err != nil {
			if strings.Contains(err.Error(), "in use") {
				return fmt.Errorf("%w (an agent holds it: ask it with --agent http://ITS-LISTEN-ADDRESS)", err)
			}
			return err
		}
		defer s.Close()
		ans, err = queryHistory(s, target, component, from, to)
	}
	if err != nil {
		return err
	}
	if f.reading != "" {
		kept := ans.Series[:0]
		for _, se := range ans.Series {
			if se.Reading == f.reading {
				kept = append(kept, se)
			}
		}
		ans.Series = kept
	}
	if f.json {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(ans)
	}
	return writeHistory(a.stdout, ans, f.rows)
}

// queryHistory answers from the store: the series of a component, or
// the list of the target's components.
func queryHistory(s *agent.Store, target, component string, from, to time.Time) (*historyAnswer, error) {
	ans := &historyAnswer{Target: target}
	if component == "" {
		comps, err := s.Components(target)
		if err != nil {
			return nil, err
		}
		if len(comps) == 0 {
			return nil, fmt.Errorf("%s: no history in the store (targets are named as in the agent's targets: https://HOST[:PORT], ipmi://HOST:PORT)", target)
		}
		ans.Components = comps
		return ans, nil
	}
	component, err := resolveComponent(s, target, component)
	if err != nil {
		return nil, err
	}
	series, err := s.History(target, component, from, to)
	if err != nil {
		return nil, err
	}
	for _, se := range series {
		hs := historySeries{Component: se.Component, Reading: se.Reading, Unit: se.Unit, Points: make([]historyPoint, len(se.Points))}
		for i, p := range se.Points {
			hs.Points[i] = historyPoint{Time: p.Time, Value: p.Value, Min: p.Min, Max: p.Max, N: p.N}
		}
		ans.Series = append(ans.Series, hs)
	}
	return ans, nil
}

// resolveComponent accepts a component as the events name it
// ("fan//redfish/v1/.../Fans/Bay1"), or a unique end of that ("Fans/Bay1",
// "Bay1").
func resolveComponent(s *agent.Store, target, component string) (string, error) {
	comps, err := s.Components(target)
	if err != nil {
		return "", err
	}
	var matches []string
	for _, c := range comps {
		if c == component {
			return c, nil
		}
		if strings.HasSuffix(c, "/"+strings.TrimPrefix(component, "/")) {
			matches = append(matches, c)
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		return "", fmt.Errorf("%s: no component %q in the history (prefail history %s lists them)", target, component, target)
	}
	return "", fmt.Errorf("%s: %q names %d components: %s", target, component, len(matches), strings.Join(matches, ", "))
}

// historyHandler serves /api/v1/history from the running agent's store.
func historyHandler(s *agent.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		from, err1 := time.Parse(time.RFC3339, q.Get("from"))
		to, err2 := time.Parse(time.RFC3339, q.Get("to"))
		if q.Get("target") == "" || errors.Join(err1, err2) != nil {
			http.Error(w, "want target=, from= and to= (RFC 3339), component= optional", http.StatusBadRequest)
			return
		}
		ans, err := queryHistory(s, q.Get("target"), q.Get("component"), from, to)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(ans)
	})
}

// fetchHistory asks a running agent.
func fetchHistory(ctx context.Context, base, target, component string, from, to time.Time) (*historyAnswer, error) {
	q := url.Values{"target": {target}, "component": {component}, "from": {from.UTC().Format(time.RFC3339)}, "to": {to.UTC().Format(time.RFC3339)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/api/v1/history?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("--agent %s: %w", base, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("--agent %s: %w", base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("--agent %s: %w", base, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("--agent %s: %s: %s", base, resp.Status, strings.TrimSpace(string(body)))
	}
	var ans historyAnswer
	if err := json.Unmarshal(body, &ans); err != nil {
		return nil, fmt.Errorf("--agent %s: %w", base, err)
	}
	return &ans, nil
}

// writeHistory prints each series as a table, at most rows rows (runs of
// consecutive points averaged), with the change from first to last.
func writeHistory(w io.Writer, ans *historyAnswer, rows int) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	if ans.Series == nil {
		fmt.Fprintf(tw, "%s: %d components with history\n", ans.Target, len(ans.Components))
		for _, c := range ans.Components {
			fmt.Fprintln(tw, "  "+c)
		}
		return tw.Flush()
	}
	for _, se := range ans.Series {
		pts := se.Points
		if len(pts) == 0 {
			continue
		}
		first, last := pts[0], pts[len(pts)-1]
		change := ""
		if first.Value != 0 {
			change = fmt.Sprintf(" (%+.1f%%)", 100*(last.Value-first.Value)/first.Value)
		}
		fmt.Fprintf(tw, "%s %s [%s]: %d points, %s .. %s, %g -> %g%s\n", se.Component, se.Reading, se.Unit, len(pts),
			first.Time.Format(time.RFC3339), last.Time.Format(time.RFC3339), first.Value, last.Value, change)
		fmt.Fprintln(tw, "  time\tmean\tmin\tmax\tsamples")
		for _, p := range thin(pts, rows) {
			fmt.Fprintf(tw, "  %s\t%.4g\t%.4g\t%.4g\t%d\n", p.Time.Format(time.RFC3339), p.Value, p.Min, p.Max, p.N)
		}
	}
	return tw.Flush()
}

// thin averages runs of consecutive points down to at most rows points.
func thin(pts []historyPoint, rows int) []historyPoint {
	if rows <= 0 || len(pts) <= rows {
		return pts
	}
	out := make([]historyPoint, 0, rows)
	for i := 0; i < rows; i++ {
		lo, hi := i*len(pts)/rows, (i+1)*len(pts)/rows
		p := historyPoint{Time: pts[lo].Time, Min: pts[lo].Min, Max: pts[lo].Max}
		var sum float64
		for _, q := range pts[lo:hi] {
			n := max(q.N, 1)
			sum += q.Value * float64(n)
			p.N += n
			p.Min, p.Max = min(p.Min, q.Min), max(p.Max, q.Max)
		}
		p.Value = sum / float64(p.N)
		out = append(out, p)
	}
	return out
}
