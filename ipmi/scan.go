package ipmi

import (
	"context"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"

	"github.com/prefail/prefail/model"
)

// bmcAddress is the BMC's IPMB slave address (IPMI v2.0 §5.4): sensors
// owned by another controller (an ME at 0x2C, a satellite MC) need bridged
// requests, which the reader does not send.
const bmcAddress = 0x20

// scanRun is the state of one Scan.
type scanRun struct {
	c    *Client
	ex   exchanger
	sess *session
	snap *model.Snapshot
	sdrs []SDR
}

func (r *scanRun) warn(source, format string, args ...any) {
	r.snap.Warnings = append(r.snap.Warnings, model.Warning{Source: source, Message: fmt.Sprintf(format, args...)})
}

// Scan reads the BMC once. Snapshot.Requests counts every IPMI message
// sent (session set-up and close included). What could not be read is in
// Snapshot.Warnings; an error is returned only when the session could not
// be opened or the sensor repository could not be read at all.
func (c *Client) Scan(ctx context.Context) (*model.Snapshot, error) {
	snap := &model.Snapshot{Target: c.target, Time: c.now().UTC(), Components: []model.Component{}, Events: []model.Event{}, Warnings: []model.Warning{}}
	sess, err := openSession(ctx, &c.cfg, c.host, c.port)
	if err != nil {
		return snap, fmt.Errorf("ipmi %s: %w", c.target, err)
	}
	r := &scanRun{c: c, ex: sess, sess: sess, snap: snap}
	err = r.run(ctx)

	// Close Session within what is left of the caller's deadline (at most
	// one request timeout); past it, the socket is just released.
	cctx, cancel := context.WithTimeout(ctx, c.cfg.requestTimeout)
	if cerr := sess.close(cctx); cerr != nil && err == nil {
		r.warn("Close Session", "%v", cerr)
	}
	cancel()
	snap.Requests = int(sess.requests.Load())
	if err != nil {
		return snap, fmt.Errorf("ipmi %s: %w", c.target, err)
	}
	return snap, nil
}

// run reads the BMC. Without the sensor repository, or when the deadline
// passes before every sensor was read, the scan fails; what fails after
// that (chassis status, FRU, SEL, including the deadline passing while the
// SEL is read) is a warning on a snapshot whose sensors stand.
func (r *scanRun) run(ctx context.Context) error {
	r.bmc(ctx)
	if err := r.loadSDRs(ctx); err != nil {
		return err
	}
	if err := r.sensors(ctx); err != nil {
		return err
	}
	r.chassis(ctx)
	r.sel(ctx)
	r.redundancy()
	sort.SliceStable(r.snap.Components, func(i, j int) bool { return r.snap.Components[i].ID < r.snap.Components[j].ID })
	if err := ctx.Err(); err != nil {
		r.warn("scan", "the deadline passed before the chassis status, FRU and SEL were all read (sensors were read): %v", err)
	}
	return nil
}

// bmcGone is non-nil once the session's BMC stopped answering (see
// maxSilentExchanges): further requests fail without being sent.
func (r *scanRun) bmcGone() error {
	if r.sess == nil {
		return nil
	}
	return r.sess.goneErr()
}

// bmc reads Get Device ID into the bmc component.
func (r *scanRun) bmc(ctx context.Context) {
	d, err := getDeviceID(ctx, r.ex)
	if err != nil {
		r.warn("Get Device ID", "%v", err)
		return
	}
	r.snap.Components = append(r.snap.Components, model.Component{
		Kind: model.KindBMC, ID: "bmc", Name: "BMC", Health: model.HealthOK,
		Inventory: model.Inventory{
			Manufacturer:    manufacturerName(d.ManufacturerID),
			Model:           fmt.Sprintf("product 0x%04x, device 0x%02x", d.ProductID, d.DeviceID),
			FirmwareVersion: d.FirmwareVersion(),
		},
		Source: "Get Device ID",
	})
}

// loadSDRs reads the SDR repository, or takes it from the cache when the
// repository's timestamps say it has not changed.
func (r *scanRun) loadSDRs(ctx context.Context) error {
	c := r.c
	info, err := getSDRRepositoryInfo(ctx, r.ex)
	if err != nil {
		return fmt.Errorf("sdr repository: %w", err)
	}
	now := c.now()
	if c.cache == nil && c.cfg.sdrCacheDir != "" {
		cached, err := loadSDRCache(c.cfg.sdrCacheDir, c.target)
		if err != nil {
			r.warn("sdr cache", "ignored, reading the repository: %v", err)
		}
		c.cache = cached
	}
	var raws [][]byte
	if c.cache.matches(info, now) {
		raws, err = c.cache.records()
		if err != nil {
			r.warn("sdr cache", "ignored, reading the repository: %v", err)
			c.cache = nil
		}
	} else {
		c.cache = nil
	}
	if c.cache == nil {
		rd := &sdrReader{ex: r.ex, whole: true, maxRecords: c.cfg.maxSDRRecords}
		raws, err = rd.readAll(ctx, info.RecordCount)
		if err != nil {
			if len(raws) == 0 {
				return err
			}
			r.warn("sdr repository", "read %d records, then: %v", len(raws), err)
		} else {
			c.cache = newSDRCache(c.target, info, raws, now)
			if c.cfg.sdrCacheDir != "" {
				if err := saveSDRCache(c.cfg.sdrCacheDir, c.cache); err != nil {
					r.warn("sdr cache", "not saved: %v", err)
				}
			}
		}
	}
	for _, raw := range raws {
		s, err := ParseSDR(raw)
		if err != nil {
			r.warn("sdr", "%v (record %s)", err, hex.EncodeToString(raw))
			continue
		}
		r.sdrs = append(r.sdrs, s)
	}
	return nil
}

// maxSensorWarnings bounds the warnings naming one failed sensor each.
const maxSensorWarnings = 8

// isSensorRecord: full and compact sensor records have a reading.
func isSensorRecord(s *SDR) bool { return s.Type == 0x01 || s.Type == 0x02 }

// sensors reads every sensor once. Sensors it could not read are still
// components, of unknown health. It fails when the deadline passes first.
func (r *scanRun) sensors(ctx context.Context) error {
	var (
		gone                  error // the BMC stopped answering: not asked again
		total, unread, failed int
	)
	for i := range r.sdrs {
		s := &r.sdrs[i]
		if !isSensorRecord(s) {
			continue
		}
		total++
		var (
			rd  *SensorReading
			err error
		)
		switch {
		case gone != nil || ctx.Err() != nil:
			if gone == nil {
				gone = fmt.Errorf("%w: the scan's deadline passed: %w", ErrTimeout, ctx.Err())
			}
			unread++
			r.snap.Components = append(r.snap.Components, SensorComponent(s, nil, gone))
			continue
		case s.OwnerID != bmcAddress:
			err = fmt.Errorf("%w: sensor owned by controller 0x%02x needs a bridged request", ErrUnsupported, s.OwnerID)
		default:
			var data []byte
			data, err = r.readSensor(ctx, s)
			if err == nil {
				var v SensorReading
				if v, err = ParseSensorReading(data); err == nil {
					rd = &v
				}
			}
		}
		if err != nil && !completionCodeIs(err, ccNotPresent) {
			// A flood of failing sensors (a hostile SDR, a BMC in
			// trouble) is listed up to a few, then counted.
			if failed++; failed <= maxSensorWarnings {
				r.warn(fmt.Sprintf("sensor 0x%02x %q", s.Number, s.Name), "%v", err)
			}
		}
		r.snap.Components = append(r.snap.Components, SensorComponent(s, rd, err))
		if err != nil {
			gone = r.bmcGone()
		}
	}
	if failed > maxSensorWarnings {
		r.warn("sensors", "%d more sensors could not be read (the first %d are listed)", failed-maxSensorWarnings, maxSensorWarnings)
	}
	if unread == 0 {
		return nil
	}
	err := fmt.Errorf("%d of %d sensors not read: %w", unread, total, gone)
	if ctx.Err() != nil {
		return err
	}
	r.warn("sensors", "%v", err)
	return nil
}

// readSensor sends Get Sensor Reading to the sensor's LUN.
func (r *scanRun) readSensor(ctx context.Context, s *SDR) ([]byte, error) {
	if s.OwnerLUN != 0 && r.sess != nil && r.sess.c != nil {
		r.sess.c.WithResponderAddr(bmcAddress, s.OwnerLUN)
		defer r.sess.c.WithResponderAddr(bmcAddress, 0)
	}
	return getSensorReading(ctx, r.ex, s.Number)
}

// chassis reads Get Chassis Status and the FRU inventory into the chassis
// component.
func (r *scanRun) chassis(ctx context.Context) {
	data, err := getChassisStatus(ctx, r.ex)
	var comp model.Component
	if err == nil {
		var st ChassisStatus
		if st, err = ParseChassisStatus(data); err == nil {
			comp = st.Component("chassis")
		}
	}
	if err != nil {
		r.warn("Get Chassis Status", "%v", err)
		comp = model.Component{Kind: model.KindChassis, ID: "chassis", Name: "Chassis", Health: model.HealthUnknown,
			Conditions: []model.Condition{{Message: "chassis status unreadable: " + err.Error(), Severity: model.SeverityWarning}}}
	}
	if r.c.cfg.readFRU {
		comp.Inventory = r.fruInventory(ctx, 0)
	}
	r.snap.Components = append(r.snap.Components, comp)
}

// fruInventory returns FRU device id's inventory, from the cache while the
// SDR repository and the cache age allow.
func (r *scanRun) fruInventory(ctx context.Context, id uint8) model.Inventory {
	key := strconv.Itoa(int(id))
	cache := r.c.cache
	var data []byte
	if cache != nil && cache.FRU != nil && r.c.now().Sub(cache.FRUReadAt) < fruCacheMaxAge {
		if h, ok := cache.FRU[key]; ok {
			data, _ = hex.DecodeString(h)
		}
	}
	if data == nil {
		var err error
		data, err = readFRU(ctx, r.ex, id, r.c.cfg.maxFRUBytes)
		if err != nil {
			if completionCodeIs(err, ccNotPresent, ccInvalidCommand, ccInvalidDataField) && len(data) == 0 {
				return model.Inventory{}
			}
			r.warn(fmt.Sprintf("fru %d", id), "%v", err)
			if len(data) == 0 {
				return model.Inventory{}
			}
		} else if cache != nil {
			if cache.FRU == nil || r.c.now().Sub(cache.FRUReadAt) >= fruCacheMaxAge {
				cache.FRU = map[string]string{}
				cache.FRUReadAt = r.c.now()
			}
			cache.FRU[key] = hex.EncodeToString(data)
			if r.c.cfg.sdrCacheDir != "" {
				if err := saveSDRCache(r.c.cfg.sdrCacheDir, cache); err != nil {
					r.warn("sdr cache", "not saved: %v", err)
				}
			}
		}
	}
	fru, err := ParseFRU(data)
	if err != nil {
		r.warn(fmt.Sprintf("fru %d", id), "%v", err)
	}
	return fru.Inventory()
}

// sel reads the SEL entries added since the last scan into events.
func (r *scanRun) sel(ctx context.Context) {
	c := r.c
	res, err := readSEL(ctx, r.ex, c.selCursor, selLimits{keep: c.cfg.maxSELEntries, reads: c.cfg.maxSELReads})
	r.snap.Warnings = append(r.snap.Warnings, res.warnings...)
	if err != nil {
		r.warn("sel", "%v", err)
		return
	}
	if res.cleared {
		// Information, not a fault: assertions from before the clear can
		// no longer be paired.
		c.openEvents = nil
		r.warn("sel", "the SEL was cleared (or wrapped past the last record read) since the previous scan; reading it afresh")
	}
	lookup := r.sensorLookup()
	evs := make([]model.Event, 0, len(res.records))
	for i := range res.records {
		evs = append(evs, res.records[i].Event(lookup))
	}
	// Pair with assertions left open by earlier scans, then keep the ones
	// still open (bounded) for the next scan.
	all := append(append([]model.Event(nil), c.openEvents...), evs...)
	PairEvents(all)
	r.snap.Events = append(r.snap.Events, all[len(c.openEvents):]...)
	var open []model.Event
	for _, e := range all {
		if e.Asserted != nil && *e.Asserted && e.Active != nil && *e.Active {
			open = append(open, e)
		}
	}
	if len(open) > 256 {
		open = open[len(open)-256:]
	}
	c.openEvents = open
	c.selCursor = &res.cursor
}

// sensorLookup resolves SEL sensor keys through the SDRs.
func (r *scanRun) sensorLookup() SensorLookup {
	type key struct{ owner, lun, num uint8 }
	m := map[key]*SDR{}
	for i := range r.sdrs {
		s := &r.sdrs[i]
		if s.Type == 0x01 || s.Type == 0x02 || s.Type == 0x03 {
			m[key{s.OwnerID, s.OwnerLUN, s.Number}] = s
		}
	}
	return func(owner, lun, num uint8) (string, string, func(uint8) (float64, bool), bool) {
		s, ok := m[key{owner, lun, num}]
		if !ok {
			return "", "", nil, false
		}
		return s.ID(), s.Name, s.Convert, true
	}
}

// redundancy turns redundancy sensors (generic event/reading type 0Bh,
// IPMI v2.0 Table 42-2) into redundancy groups, and derives a PSU group
// from the PSU sensors when the BMC has none.
func (r *scanRun) redundancy() {
	for i := range r.sdrs {
		s := &r.sdrs[i]
		if !isSensorRecord(s) || s.EventReadingType != 0x0b {
			continue
		}
		var comp *model.Component
		for j := range r.snap.Components {
			if r.snap.Components[j].ID == s.ID() {
				comp = &r.snap.Components[j]
			}
		}
		if comp == nil {
			continue
		}
		kind := model.KindPSU
		if s.SensorType == 0x04 {
			kind = model.KindFan
		}
		r.snap.Redundancy = append(r.snap.Redundancy, model.RedundancyGroup{
			ID: s.ID(), Name: s.Name, Kind: kind,
			Redundant: comp.Health == model.HealthOK,
			Health:    comp.Health,
		})
	}
	if len(r.snap.Redundancy) > 0 {
		return
	}
	var members []string
	healthy, working := 0, 0
	for _, c := range r.snap.Components {
		if c.Kind != model.KindPSU || c.Health == model.HealthAbsent {
			continue
		}
		members = append(members, c.ID)
		switch c.Health {
		case model.HealthOK:
			healthy++
			working++
		case model.HealthWarning:
			working++
		}
	}
	if len(members) < 2 {
		return
	}
	// Without a redundancy sensor, assume N+1 over the PSUs present: the
	// group is redundant while all of them are healthy.
	g := model.RedundancyGroup{ID: "psu-redundancy", Name: "PSU redundancy (derived)", Kind: model.KindPSU, Mode: "N+1",
		MinNeeded: len(members), Members: members, Healthy: healthy, Working: working, Derived: true}
	g.Redundant = healthy >= g.MinNeeded
	switch {
	case g.Redundant:
		g.Health = model.HealthOK
	case working >= len(members)-1:
		g.Health = model.HealthWarning
	default:
		g.Health = model.HealthCritical
	}
	r.snap.Redundancy = append(r.snap.Redundancy, g)
}

// manufacturerName names the IANA enterprise numbers of common BMC
// vendors (Get Device ID's manufacturer id); others print as the number.
func manufacturerName(id uint32) string {
	switch id {
	case 2:
		return "IBM"
	case 11:
		return "Hewlett Packard Enterprise"
	case 343:
		return "Intel"
	case 674:
		return "Dell"
	case 4128:
		return "ARM"
	case 5771:
		return "Cisco"
	case 7154:
		return "Quanta"
	case 10368:
		return "Fujitsu"
	case 10876:
		return "Supermicro"
	case 19046:
		return "Lenovo"
	case 2011:
		return "Huawei"
	case 0x0ffff, 0:
		return ""
	}
	return "IANA " + strconv.FormatUint(uint64(id), 10)
}
