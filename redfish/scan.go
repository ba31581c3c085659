package redfish

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/prefail/prefail/model"
)

// Levels of $expand asked for on the three top collections. Three levels
// reach a chassis's Sensors and Fans/PowerSupplies collections and a
// system's Memory and Processors members in one response each on services
// that support it, without pulling in whole log services (four levels
// down); services that cap MaxLevels lower get their cap.
const topLevels = 3

// maxPages bounds how many Members@odata.nextLink pages we follow.
const maxPages = 50

func (s *scan) run() {
	s.seen = map[string]int{}
	// The three top collections are the big responses: ask for them at
	// once (bounded by WithMaxInFlight).
	tops := []string{"/redfish/v1/Systems", "/redfish/v1/Chassis", "/redfish/v1/Managers"}
	s.forEach(len(tops), len(tops), func(w *scan, i int) {
		_, _ = w.f.get(tops[i], topLevels) // errors are remembered and reported by the walk
	})
	defer func() {
		if s.cut > 0 {
			s.warn(s.f.c.endpoint, fmt.Sprintf("the scan was cut short (%v): %d reads were not made; what is reported is what was read before", context.Cause(s.f.ctx), s.cut))
		}
	}()
	// Everything below the top collections is read at once, each part of
	// the tree by a walk of its own (see view: what a walk requests does
	// not depend on the others' timing), within WithMaxInFlight; then
	// the snapshot is built from what was read, in a fixed order (systems,
	// chassis, managers), so that it does not depend on timing either.
	var (
		systems  []systemRead
		chassis  []chassisRead
		managers []managerRead
	)
	sys, sysOK := s.top(tops[0])
	ch, chOK := s.top(tops[1])
	mgr, mgrOK := s.top(tops[2])
	s.together(
		func(w *scan) {
			if sysOK {
				systems = w.readSystems(w.topMembers(sys))
			}
		},
		func(w *scan) {
			if chOK {
				chassis = w.readChassisAll(w.topMembers(ch))
			}
		},
		func(w *scan) {
			if mgrOK {
				managers = w.readManagers(w.topMembers(mgr))
			}
		},
	)
	for _, r := range systems {
		s.buildSystem(r)
	}
	for _, r := range chassis {
		s.buildChassis(r)
	}
	for _, r := range managers {
		s.buildManager(r)
	}
	// Drives a chassis only links to (Links.Drives) are mostly the ones the
	// systems walk reached through Storage: read only those it did not.
	var ids, owners []string
	listed := map[string]bool{}
	for _, d := range s.chassisDrives {
		if _, seen := s.seen[d.id]; seen || listed[d.id] {
			continue
		}
		listed[d.id] = true
		ids, owners = append(ids, d.id), append(owners, d.chassis)
	}
	for i, dn := range s.resources(ids, 0) {
		if dn.ok() {
			s.add(drive(dn, owners[i]))
		}
	}
}

// fork returns a walk that reads with a view of its own (see view) and
// reports into s's snapshot.
func (s *scan) fork() *scan {
	return &scan{f: s.f.fork(), cfg: s.cfg, log: s.log, results: s.results}
}

// together runs each walk in a fork of s at once, and returns when all
// are done, s's view then knowing what they learnt (taken in the order
// given, so that it is the same whatever finished first).
func (s *scan) together(walks ...func(w *scan)) {
	s.forEach(len(walks), len(walks), func(w *scan, i int) { walks[i](w) })
}

// forEach runs walk(w, i) for i in [0, n), each in a fork of s, at most
// limit at once (a hostile BMC's 2,000 members are not 2,000 goroutines),
// and returns when all are done, s's view then knowing what they learnt
// (taken in the order of i).
func (s *scan) forEach(n, limit int, walk func(w *scan, i int)) {
	if n == 0 {
		return
	}
	forks := make([]*scan, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(1, limit))
	for i := range n {
		forks[i] = s.fork()
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			walk(forks[i], i)
		})
	}
	wg.Wait()
	for _, f := range forks {
		s.f.absorb(f.f)
	}
}

// resources reads each id (concurrently, within WithMaxInFlight): a node
// per id, not ok for one that could not be read (a warning says why).
func (s *scan) resources(ids []string, levels int) []node {
	out := make([]node, len(ids))
	s.forEach(len(ids), s.cfg.maxInFlight, func(w *scan, i int) {
		out[i], _ = w.resource(ids[i], levels)
	})
	return out
}

// node wraps a decoded resource for lenient field access.
func (s *scan) node(m map[string]any, url string) node {
	return node{m: m, url: url, warn: s.warn}
}

func (s *scan) warn(source, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.warnings {
		if w.Source == source && w.Message == msg {
			return
		}
	}
	s.warnings = append(s.warnings, model.Warning{Source: source, Message: msg})
}

// warnErr records a failed request as a warning naming the URL. Reads
// that failed because the scan's context ended are counted instead, and
// reported once (see run): past the deadline every read fails at once.
func (s *scan) warnErr(url string, err error) {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		s.mu.Lock()
		s.cut++
		s.mu.Unlock()
		return
	}
	s.log.Debug().Str("url", url).Err(err).Msg("redfish: read failed")
	s.warn(url, err.Error())
}

// top fetches one of the top collections. A 404 just means the service
// has none (a PDU has no Systems); any other failure is fatal for the
// scan only if nothing at all could be read.
func (s *scan) top(id string) (node, bool) {
	m, err := s.collection(id, topLevels)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return node{}, false
		}
		s.mu.Lock()
		if s.fatal == nil {
			s.fatal = err
		} else if sameFailure(s.fatal, err) {
			// The same refusal of the three top collections is one
			// problem: said once, by the scan's error or its warning.
			s.mu.Unlock()
			return node{}, false
		}
		s.mu.Unlock()
		s.warnErr(id, err)
		return node{}, false
	}
	return s.node(m, id), true
}

// topMembers are a top collection's members; one that could not be read
// is kept as a node that is not ok (see collectMembers).
func (s *scan) topMembers(coll node) []node {
	return s.collectMembers(coll, coll.url, topLevels-1, true)
}

// sameFailure reports whether two failed reads failed the same way: the
// same HTTP status, or the same words after the request they name.
func sameFailure(a, b error) bool {
	var ea, eb *Error
	if errors.As(a, &ea) && errors.As(b, &eb) {
		return ea.StatusCode == eb.StatusCode
	}
	_, ra, _ := strings.Cut(a.Error(), ": ")
	_, rb, _ := strings.Cut(b.Error(), ": ")
	return ra == rb
}

// probe gets a resource whose URI we derived rather than read from a
// link: a 404 only means the service does not have it.
func (s *scan) probe(id string, levels int) (node, bool) {
	m, err := s.f.get(id, levels)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			s.warnErr(id, err)
		}
		return node{}, false
	}
	return s.node(m, id), true
}

// resource gets one resource, recording a failure as a warning.
func (s *scan) resource(id string, levels int) (node, bool) {
	if id == "" {
		return node{}, false
	}
	m, err := s.f.get(id, levels)
	if err != nil {
		s.warnErr(id, err)
		return node{}, false
	}
	return s.node(m, id), true
}

// members returns the members of a collection; levels is how deep below
// each member to ask the service to expand.
func (s *scan) members(collID string, levels int) []node {
	if collID == "" {
		return nil
	}
	m, err := s.collection(collID, levels+1)
	if err != nil {
		s.warnErr(collID, err)
		return nil
	}
	return s.collect(s.node(m, collID), collID, levels)
}

// collection gets a collection expanded `levels` deep. One too large to
// read whole is asked for again as its first WithMaxMembers references
// ($top, DSP0266 §7.3.4), where the service supports $top: the member
// cap would drop the rest anyway, and their pages follow by nextLink.
func (s *scan) collection(id string, levels int) (map[string]any, error) {
	m, err := s.f.get(id, levels)
	if !errors.Is(err, ErrTooLarge) || !s.f.c.features.topSkip {
		return m, err
	}
	s.warnErr(id, err)
	s.warn(id, fmt.Sprintf("read again in pages of %d members ($top)", s.cfg.maxMembers))
	return s.f.getFresh(id, fmt.Sprintf("$top=%d", s.cfg.maxMembers), true)
}

// collect resolves a collection's members. When several members were not
// delivered expanded, it asks once more for the collection with $expand
// (one request instead of one per member); a service without $expand gets
// one GET per member.
func (s *scan) collect(coll node, collID string, levels int) []node {
	return s.collectMembers(coll, collID, levels, false)
}

// collectMembers is collect; with keepBroken, a member that could not be
// read is returned as a node that is not ok, carrying only its id (url).
func (s *scan) collectMembers(coll node, collID string, levels int, keepBroken bool) []node {
	items := s.memberItems(coll)
	missing := 0
	for _, it := range items {
		if !isExpanded(it.m) {
			if _, ok := s.f.cached(it.id()); !ok {
				missing++
			}
		}
	}
	if missing > 1 {
		if q := s.f.expandQuery(levels + 1); q != "" {
			if m, err := s.f.getFresh(collID, q, true); err == nil {
				items = s.memberItems(s.node(m, collID))
			}
		}
	}
	// Members not delivered inline are read concurrently, within the
	// in-flight bound (WithMaxInFlight); the order stays the listing's.
	slots := make([]node, len(items))
	read := make([]bool, len(items))
	var fetch []int
	for i, it := range items {
		id := it.id()
		if cached, ok := s.f.cached(id); ok && id != "" {
			slots[i], read[i] = s.node(cached, id), true
			continue
		}
		if isErrorObject(it.m) {
			s.warn(collID, fmt.Sprintf("member %d is a Redfish error object, not a resource", i))
			continue
		}
		if isExpanded(it.m) {
			// Delivered inline. A member without an @odata.id (seen in
			// captured HPE responses) still counts, under a derived id.
			if id == "" {
				id = fmtID(normID(collID), "Members", i)
			}
			slots[i], read[i] = s.node(it.m, id), true
			continue
		}
		if id != "" {
			fetch = append(fetch, i)
		}
	}
	s.forEach(len(fetch), s.cfg.maxInFlight, func(w *scan, j int) {
		i := fetch[j]
		id := items[i].id()
		if n, ok := w.resource(id, levels); ok {
			slots[i], read[i] = n, true
		} else if keepBroken {
			// The member exists (it is listed) but could not be read:
			// callers may still reach its standard sub-resources.
			slots[i], read[i] = node{url: id, warn: s.warn}, true
		}
	})
	out := make([]node, 0, len(items))
	for i := range slots {
		if read[i] {
			out = append(out, slots[i])
		}
	}
	return out
}

// isErrorObject reports whether m is a Redfish error response body.
func isErrorObject(m map[string]any) bool {
	_, ok := m["error"].(map[string]any)
	return ok && m["@odata.id"] == nil
}

// memberItems lists a collection's Members (references or expanded
// resources), following Members@odata.nextLink pages, at most
// WithMaxMembers of them and maxPages pages, never the same page twice.
func (s *scan) memberItems(coll node) []node {
	items := coll.list("Members")
	next := coll.str("Members@odata.nextLink")
	seen := map[string]bool{}
	for page := 0; next != "" && page < maxPages && len(items) < s.cfg.maxMembers; page++ {
		if seen[next] {
			s.warn(coll.url, fmt.Sprintf("Members@odata.nextLink %s was already read: the pages loop", quoteRef(next)))
			break
		}
		seen[next] = true
		m, err := s.f.getFresh(next, "", false)
		if err != nil {
			s.warnErr(next, err)
			break
		}
		n := s.node(m, next)
		items = append(items, n.list("Members")...)
		next = n.str("Members@odata.nextLink")
	}
	if n := coll.num(membersOmitted); n != nil {
		s.warn(coll.url, fmt.Sprintf("%v: the collection lists %d members, too many to decode whole within the scan's memory budget; read the first %d (WithMaxMembers)", ErrTooLarge, len(items)+int(*n), len(items)))
	}
	if len(items) > s.cfg.maxMembers {
		s.warn(coll.url, fmt.Sprintf("%v: the collection lists %d members or more; read the first %d (WithMaxMembers)", ErrTooLarge, len(items), s.cfg.maxMembers))
		items = items[:s.cfg.maxMembers]
	}
	return items
}

// prefetch asks once for parent expanded `levels` deep when more than one
// of refs is not cached yet: one request instead of one per reference
// (a Storage resource's Drives, the PowerSupplies' Metrics).
func (s *scan) prefetch(parent string, refs []string, levels int) {
	missing := 0
	for _, r := range refs {
		if _, ok := s.f.cached(r); !ok {
			missing++
		}
	}
	if missing < 2 || parent == "" {
		return
	}
	if q := s.f.expandQuery(levels); q != "" {
		if _, err := s.f.getFresh(parent, q, true); err != nil {
			s.log.Debug().Str("url", parent).Err(err).Msg("redfish: prefetch failed")
		}
	}
}

// nodeID is a resource's @odata.id, or the id it was fetched by.
func nodeID(n node) string {
	if id := n.id(); id != "" {
		return id
	}
	return normID(n.url)
}

// add records a component once: the same resource reached by two paths
// (a drive under both Chassis and Storage), or a second resource of the
// same physical part (samePart), is merged into the one component
// (mergeParts), whichever path came first.
func (s *scan) add(c model.Component) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.seen[c.ID]
	if !ok && matchedAcrossPaths(c.Kind) {
		for j, o := range s.comps {
			if samePart(o, c) {
				i, ok = j, true
				break
			}
		}
	}
	if !ok {
		s.seen[c.ID] = len(s.comps)
		s.comps = append(s.comps, c)
		return
	}
	s.comps[i] = mergeParts(s.comps[i], c)
	s.seen[c.ID] = i
}

func (s *scan) addRedundancy(g model.RedundancyGroup) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.redundancy = append(s.redundancy, g)
}

func (s *scan) addEvents(ev []model.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, ev...)
}

var kindOrder = map[model.Kind]int{
	model.KindChassis: 0, model.KindSystem: 1, model.KindBMC: 2, model.KindPSU: 3, model.KindFan: 4,
	model.KindTemperature: 5, model.KindVoltage: 6, model.KindCurrent: 7, model.KindPower: 8,
	model.KindDrive: 9, model.KindStorage: 10, model.KindMemory: 11, model.KindProcessor: 12,
	model.KindBattery: 13, model.KindSensor: 14,
}

// components returns what was found in a stable order (kind, then id),
// so that two scans of an unchanged server print the same.
func (s *scan) components() []model.Component {
	out := append([]model.Component{}, s.comps...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return kindOrder[out[i].Kind] < kindOrder[out[j].Kind]
		}
		return out[i].ID < out[j].ID
	})
	sort.SliceStable(s.redundancy, func(i, j int) bool { return s.redundancy[i].ID < s.redundancy[j].ID })
	// Warnings by what they are about: the walks that find them run at
	// once, in any order.
	sort.SliceStable(s.warnings, func(i, j int) bool {
		if s.warnings[i].Source != s.warnings[j].Source {
			return s.warnings[i].Source < s.warnings[j].Source
		}
		return s.warnings[i].Message < s.warnings[j].Message
	})
	sort.SliceStable(s.events, func(i, j int) bool {
		if !s.events[i].Time.Equal(s.events[j].Time) {
			return s.events[i].Time.Before(s.events[j].Time)
		}
		return s.events[i].Source+s.events[i].ID < s.events[j].Source+s.events[j].ID
	})
	return out
}

// name picks a human name: Name, else the location label, else the Id.
func name(n node, fallback string) string {
	for _, v := range []string{n.str("Name"), n.str("FanName"), n.str("MemberId"), n.str("Id")} {
		if v != "" {
			return v
		}
	}
	return fallback
}

// location reads Location.PartLocation.ServiceLabel (Redfish 2018+) or the
// older PhysicalLocation.
func location(n node) string {
	for _, key := range []string{"Location", "PhysicalLocation"} {
		l := n.obj(key)
		if !l.ok() {
			continue
		}
		if v := l.obj("PartLocation").str("ServiceLabel"); v != "" {
			return v
		}
		if v := l.str("Info"); v != "" {
			return v
		}
	}
	return ""
}

func inventory(n node) model.Inventory {
	inv := model.Inventory{
		Manufacturer:    n.str("Manufacturer"),
		Model:           n.str("Model"),
		SerialNumber:    n.str("SerialNumber"),
		PartNumber:      n.str("PartNumber"),
		FirmwareVersion: n.str("FirmwareVersion"),
		ManufactureDate: n.str("ProductionDate"),
	}
	if inv.ManufactureDate == "" {
		inv.ManufactureDate = n.str("ManufactureDate")
	}
	return inv
}

func fmtID(base string, key string, i int) string { return fmt.Sprintf("%s#/%s/%d", base, key, i) }

// entryID is the id of entry i of the array key in a legacy resource
// (Thermal.Fans, Power.PowerSupplies, ...): its own @odata.id when that
// points into this resource; else its position. Copy-pasted ids that name
// another chassis's entry exist (DMTF public-telemetry trays, public-
// sasfabric Switch2): taking them would merge two physical parts into one.
func (s *scan) entryID(n node, resourceID, key string, i int) string {
	pos := fmtID(resourceID, key, i)
	id := n.id()
	if id == "" || id == pos {
		return pos
	}
	if !strings.HasPrefix(id, resourceID+"#") {
		s.warn(resourceID, fmt.Sprintf("%s/%d has @odata.id %s, outside this resource: reported as %s", key, i, id, pos))
		return pos
	}
	return id
}

// sub reads the sub-resource prop of a chassis, checking that the link
// leads to a resource of the expected type. A link to something else
// (DMTF public-power-shelf links PowerSubsystem to its Sensors) is a
// warning, and the URI fixed by the Chassis schema is tried instead; the
// misdirected resource is returned as well, for the caller to use.
func (s *scan) sub(ch node, chID, prop, wantType string, levels int) (n node, ok bool, other node) {
	link := ch.link(prop)
	if link == "" {
		return node{}, false, node{}
	}
	n, ok = s.resource(link, levels)
	if !ok || typeIs(n, wantType) {
		return n, ok, node{}
	}
	other = n
	canon := chID + "/" + prop
	s.warn(chID, fmt.Sprintf("%s links to %s, a %s, not a %s", prop, link, n.str("@odata.type"), wantType))
	if canon == link {
		return node{}, false, other
	}
	if n, ok = s.probe(canon, levels); ok && typeIs(n, wantType) {
		return n, true, other
	}
	return node{}, false, other
}

// typeIs reports whether n's @odata.type is of the schema name (any
// version). A resource without @odata.type passes: old services omit it.
func typeIs(n node, schema string) bool {
	t := n.str("@odata.type")
	return t == "" || strings.HasPrefix(strings.TrimPrefix(t, "#"), schema+".")
}
