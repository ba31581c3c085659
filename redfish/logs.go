package redfish

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/prefail/prefail/model"
)

// Managers (the BMC itself) and log services. Log entries become events;
// each log is bounded to the newest N entries (WithMaxLogEntries), so that
// a 1,000-entry SEL costs one or two requests and does not dominate the
// scan.

// managerRead is what was read of one manager.
type managerRead struct {
	mn     node
	events []model.Event
}

// readManagers reads every manager's logs at once.
func (s *scan) readManagers(members []node) []managerRead {
	out := make([]managerRead, len(members))
	s.forEach(len(members), s.cfg.maxInFlight, func(w *scan, i int) {
		mn := members[i]
		out[i].mn = mn
		if ls := mn.link("LogServices"); ls != "" && mn.ok() {
			out[i].events = w.readLogServices(ls, nodeID(mn))
		}
	})
	return out
}

func (s *scan) buildManager(r managerRead) {
	mn := r.mn
	mID := nodeID(mn)
	if !mn.ok() {
		return
	}
	h, state, conds := status(mn)
	inv := inventory(mn)
	if t := mn.str("ManagerType"); t != "" && inv.Model == "" {
		inv.Model = t
	}
	s.add(model.Component{
		Kind: model.KindBMC, ID: mID, Name: name(mn, mID), Health: h, State: state, Conditions: conds,
		Inventory: inv, Source: mID,
	})
	s.addEvents(r.events)
}

// readLogServices reads every log service of a collection, at once, and
// returns their events (in the services' order), owned by owner unless
// an entry names its origin.
func (s *scan) readLogServices(collID, owner string) []model.Event {
	if s.cfg.maxLogEntries <= 0 {
		return nil
	}
	services := s.members(collID, 0)
	perService := make([][]model.Event, len(services))
	s.forEach(len(services), s.cfg.maxInFlight, func(w *scan, i int) {
		svc := services[i]
		entries := svc.link("Entries")
		if entries == "" {
			return
		}
		ev := w.entries(entries, svc.id())
		for j := range ev {
			if ev[j].Component == "" {
				ev[j].Component = owner
			}
		}
		perService[i] = ev
	})
	var out []model.Event
	for _, ev := range perService {
		out = append(out, ev...)
	}
	return out
}

// entries reads the newest N entries of one log. Services order entries
// either oldest first (most) or newest first (HPE IML); with $top/$skip we
// read the first page, and when the log is longer than N and that page is
// oldest first, the last page.
func (s *scan) entries(collID, svcID string) []model.Event {
	limit := s.cfg.maxLogEntries
	var nodes []node
	if s.f.c.features.topSkip {
		q := joinQuery(s.f.expandQuery(1), fmt.Sprintf("$top=%d", limit))
		m, err := s.f.getFresh(collID, q, false)
		if err != nil {
			s.warnErr(collID, err)
			return nil
		}
		page := s.node(m, collID)
		nodes = s.entryNodes(page, limit)
		total := page.num("Members@odata.count")
		if total != nil && int(*total) > limit && oldestFirst(nodes) {
			q := joinQuery(s.f.expandQuery(1), fmt.Sprintf("$skip=%d&$top=%d", int(*total)-limit, limit))
			if m, err := s.f.getFresh(collID, q, false); err == nil {
				nodes = s.entryNodes(s.node(m, collID), limit)
			} else {
				s.warnErr(collID, err)
			}
		}
	} else {
		m, err := s.f.getFresh(collID, s.f.expandQuery(1), true)
		if err != nil {
			s.warnErr(collID, err)
			return nil
		}
		nodes = s.entryNodes(s.node(m, collID), limit)
	}
	out := make([]model.Event, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, logEvent(n, svcID))
	}
	// Newest N by time (entries without a time sort first and go first).
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	if len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out
}

// entryNodes returns the entries of a collection page, fetching those
// that were not expanded (at most limit of them, the last ones listed).
func (s *scan) entryNodes(page node, limit int) []node {
	var out, refs []node
	for _, m := range page.list("Members") {
		if isExpanded(m.m) {
			out = append(out, m)
		} else {
			refs = append(refs, m)
		}
	}
	if len(out) == 0 && len(refs) > limit {
		refs = refs[len(refs)-limit:]
	}
	ids := make([]string, len(refs))
	for i, r := range refs {
		ids[i] = r.id()
	}
	for _, n := range s.resources(ids, 0) {
		if n.ok() {
			out = append(out, n)
		}
	}
	return out
}

func oldestFirst(nodes []node) bool {
	if len(nodes) < 2 {
		return true
	}
	a, aok := parseTime(created(nodes[0]))
	b, bok := parseTime(created(nodes[len(nodes)-1]))
	if !aok || !bok {
		return true
	}
	return !b.Before(a)
}

func created(n node) string {
	if c := n.str("Created"); c != "" {
		return c
	}
	return n.str("EventTimestamp")
}

func joinQuery(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "&")
}

// logEvent maps a LogEntry (LogEntry.v1) to an event. SEL entries carry
// SensorType and EntryCode ("Assert", "Deassert", or an IPMI threshold
// offset name); the raw entry is kept.
func logEvent(n node, svcID string) model.Event {
	e := model.Event{
		ID: n.str("Id"), Source: svcID, Message: n.str("Message"), MessageID: n.str("MessageId"),
		SensorType: n.str("SensorType"), Code: n.str("EntryCode"), Component: n.obj("Links").link("OriginOfCondition"),
	}
	sev := n.str("Severity")
	if sev == "" {
		sev = n.str("MessageSeverity")
	}
	e.Severity = severity(sev)
	if c := created(n); c != "" {
		if t, ok := parseTime(c); ok {
			e.Time = t
		} else {
			n.problem("Created", "unparseable time %q", truncate(c, 40))
		}
	}
	if e.Component == "" {
		e.Component = n.link("OriginOfCondition")
	}
	if num := n.str("SensorNumber"); num != "" && e.SensorName == "" {
		e.SensorName = "sensor " + num
	}
	e.Asserted = asserted(e.Code, e.Message)
	if e.Message == "" {
		e.Message = strings.TrimSpace(strings.Join([]string{e.SensorType, e.Code}, " "))
	}
	if raw, err := json.Marshal(n.m); err == nil {
		e.Raw = raw
	}
	return e
}

// asserted reads assertion/deassertion from the EntryCode, else from the
// message text ("... Deasserted", as IPMI-derived messages say).
func asserted(code, msg string) *bool {
	t, f := true, false
	lc, lm := strings.ToLower(code), strings.ToLower(msg)
	switch {
	case strings.Contains(lc, "deassert"):
		return &f
	case strings.Contains(lc, "assert"):
		return &t
	case strings.HasSuffix(lm, "deasserted") || strings.Contains(lm, "deasserted"):
		return &f
	case strings.HasSuffix(lm, "asserted"):
		return &t
	}
	return nil
}
