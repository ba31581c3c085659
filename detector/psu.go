package detector

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/prefail/prefail/model"
)

// evalPSU scores a power supply from its PowerSupplyMetrics readings
// (input_voltage, input_power, output_power, temperature,
// fan_speed_percent), its PowerCapacityWatts ("capacity"), its output
// rails, its siblings and its log:
//
//   - failed when the source marks it critical; redundancy lost when a
//     sibling that was there has failed or gone;
//   - input lost (readings at zero, or a log entry) and its recurrence
//     within RecurrenceWindow;
//   - input voltage out of band around the nominal voltage its baseline
//     implies;
//   - output over its rating;
//   - efficiency (output/input power) below its baseline at comparable load;
//   - output voltage sag (its output_voltage reading, or the voltage
//     sensors of its rails);
//   - temperature rise, drift toward thresholds, and its own fan slowing.
func (d *Detector) evalPSU(comp *component, v *view, now time.Time) evaluation {
	cfg := &d.cfg.PSU
	var ev evaluation
	nowU := now.Unix()
	if comp.Health == model.HealthCritical {
		ev.failed = true // the reason is sourceVerdict's
	}
	if comp.Health == model.HealthOK || comp.Health == model.HealthWarning {
		var red *Reason
		for _, o := range v.siblings(comp) {
			if o.Health == model.HealthCritical || d.removed(o, now) {
				what := "is critical"
				if o.Health == model.HealthAbsent {
					what = "is gone"
				}
				red = &Reason{Signal: "redundancy", Score: cfg.RedundancyLost,
					Text: fmt.Sprintf("redundancy lost: %s %s, so %s carries the load alone (one failure from an outage)", nameOf(o), what, nameOf(comp))}
				break
			}
		}
		// The source's group says the same, or what the siblings do not
		// show: one reason, the stronger.
		if r, ok := v.groupReason(comp, cfg.RedundancyLost, "%s is one failure from an outage"); ok && (red == nil || r.Score > red.Score) {
			red = &r
		}
		if red != nil {
			ev.reasons = append(ev.reasons, *red)
		}
	}
	if r, ok := d.psuInputLoss(comp, nowU); ok {
		ev.reasons = append(ev.reasons, r)
	}
	if nowU < baseUntil(comp) {
		// The rest compares with the baseline, but for the PSU's own word
		// that its input is out of range.
		if r, ok := d.psuConditionBand(comp); ok {
			ev.reasons = append(ev.reasons, r)
		}
		return ev
	}
	for _, f := range []func(*component, int64) (Reason, bool){d.psuInput, d.psuLoad, d.psuEfficiency, d.psuTemperature, d.psuFan} {
		if r, ok := f(comp, nowU); ok {
			ev.reasons = append(ev.reasons, r)
		}
	}
	d.psuSag(comp, v, nowU, &ev)
	for _, name := range []string{"temperature", "output_voltage"} {
		if s, thr := comp.Series[name], comp.Thresholds[name]; s != nil && !thr.IsZero() {
			d.driftReading(comp, name, s, thr, now, &ev)
		}
	}
	return ev
}

// baseUntil is when the component's first baseline is complete.
func baseUntil(c *component) int64 {
	t := int64(math.MaxInt64)
	for _, s := range c.Series {
		t = min(t, s.BaseUntil)
	}
	return t
}

// inputSeries is the reading input loss shows in, and the level under
// which a slot counts as lost: half the nominal voltage, a tenth of the
// baseline power or current.
func inputSeries(c *component) (string, *series, float64) {
	if s := c.Series["input_voltage"]; s != nil && s.Base.N > 0 {
		b := s.baseline()
		if !plausibleMains(b) {
			// A sensor that has always read 13 V or 572 V (the Intel
			// S2600BPB capture) names no mains voltage: half of what it
			// reads is the loss level, not half of the nearest nominal
			// (which put every 13 V sample below 50 V, a loss).
			return "input_voltage", s, 0.5 * b
		}
		return "input_voltage", s, 0.5 * nominalVoltage(b)
	}
	for _, n := range []string{"input_power", "input_current"} {
		if s := c.Series[n]; s != nil && s.Base.N > 0 {
			return n, s, 0.1 * s.baseline()
		}
	}
	return "", nil, 0
}

// psuInputLoss counts input-loss episodes within the recurrence window:
// runs of slots whose lowest input sample fell below the loss level, log
// entries of type input_lost, and runs of scans with an input-loss
// condition (LineInputStatus LossOfInput), merged when within an hour of
// each other (the same episode seen two or three ways). An episode seen
// as a condition counts, once over, for the window like the others: the
// recurrence is the sign, not the condition's presence now.
func (d *Detector) psuInputLoss(comp *component, now int64) (Reason, bool) {
	cfg := &d.cfg.PSU
	window := secs(cfg.RecurrenceWindow)
	var times []int64
	name, s, lossAt := inputSeries(comp)
	// A loss around a swap (the part pulled, replaced, put back) is the
	// maintenance, not the part's fault (part.go).
	marks := d.maintenance(comp)
	fromReadings := 0
	if s != nil && lossAt > 0 {
		prev, inRun := int64(0), false
		for _, b := range s.window(now - window) {
			if b.Min < lossAt && !d.nearMaintenance(marks, b.Start, b.Start+s.Width) {
				if !inRun || b.Start-prev > s.Width {
					inRun = true
					times = append(times, b.Start)
					fromReadings++
				}
				prev = b.Start
			}
		}
	}
	fromLog := 0
	lastMsg := ""
	for _, e := range comp.Log {
		if e.Asserted != nil && !*e.Asserted || e.Active != nil && !*e.Active {
			continue
		}
		if t := d.logType(&e); t == nil || t.Type != "input_lost" {
			continue
		}
		if tu := e.Time.Unix(); tu > now-window && tu <= now && !d.nearMaintenance(marks, tu, tu) {
			times = append(times, tu)
			fromLog++
			lastMsg = e.Message
		}
	}
	condTimes, condActive, condWhat := inputLossConditions(comp, now, window, func(from, to int64) bool { return d.nearMaintenance(marks, from, to) })
	times = append(times, condTimes...)
	if len(times) == 0 {
		return Reason{}, false
	}
	slices.Sort(times)
	episodes := 0
	last := int64(0)
	for i, t := range times {
		if i == 0 || t-last > 3600 {
			episodes++
		}
		last = t
	}
	ps := make([]float64, episodes)
	for i := range ps {
		ps[i] = cfg.InputLoss
	}
	var seen []string
	if fromReadings > 0 {
		seen = append(seen, fmt.Sprintf("%s at zero", strings.ReplaceAll(name, "_", " ")))
	}
	if fromLog > 0 {
		seen = append(seen, fmt.Sprintf("log: %q", lastMsg))
	}
	if len(condTimes) > 0 {
		seen = append(seen, condWhat)
	}
	ago := fmt.Sprintf("last %s ago", fmtAgo(time.Duration(now-last)*time.Second))
	if condActive {
		ago = "lost now"
	}
	return Reason{Signal: "input_loss", Value: ptr(float64(episodes)), Score: round3(math.Min(0.9, noisyOr(ps...))),
		Text: fmt.Sprintf("%s lost its input %d time(s) in %s, %s (%s)", nameOf(comp), episodes, fmtSpan(cfg.RecurrenceWindow.D()),
			ago, strings.Join(seen, "; "))}, true
}

// nominalVoltages are the standard mains voltages a PSU input is judged
// against.
var nominalVoltages = []float64{100, 115, 120, 127, 200, 208, 220, 230, 240, 277}

// plausibleMains reports whether an input that has read v all along can be
// a single-phase mains feed: from 50 V (below is DC, or a sensor that says
// nothing) to 10 % over the highest nominal voltage.
func plausibleMains(v float64) bool {
	return v >= 50 && v <= 1.1*nominalVoltages[len(nominalVoltages)-1]
}

// nominalVoltage is the standard voltage nearest v.
func nominalVoltage(v float64) float64 {
	best := nominalVoltages[0]
	for _, n := range nominalVoltages {
		if math.Abs(v-n) < math.Abs(v-best) {
			best = n
		}
	}
	return best
}

// recentNormal is the mean of the recent slots of s whose lowest sample
// stayed above floor (slots with a loss are the loss signal's business).
func recentNormal(s *series, since int64, floor float64) (float64, int) {
	sum, n := 0.0, 0
	for _, b := range s.window(since) {
		if b.Min >= floor {
			sum += b.mean()
			n++
		}
	}
	if n == 0 {
		return 0, 0
	}
	return sum / float64(n), n
}

// psuInput is the input voltage band: the readings' (psuInputBand) and
// the PSU's own word that its input is out of range, one reason, the
// stronger.
func (d *Detector) psuInput(comp *component, now int64) (Reason, bool) {
	r, ok := d.psuInputBand(comp, now)
	c, cok := d.psuConditionBand(comp)
	switch {
	case ok && cok:
		return *stronger(&r, &c), true
	case cok:
		return c, true
	}
	return r, ok
}

// psuInputBand scores the input voltage off its nominal value.
func (d *Detector) psuInputBand(comp *component, now int64) (Reason, bool) {
	cfg := &d.cfg.PSU
	s := comp.Series["input_voltage"]
	if s == nil || s.Base.N == 0 || s.baseline() < 50 {
		return Reason{}, false // a DC input or a missing baseline
	}
	if !plausibleMains(s.baseline()) {
		// No single-phase mains runs there: a sensor that has always
		// read like this (the Intel S2600BPB capture's PSU reads 572 V)
		// is misreporting, not out of band; its changes are still
		// judged against its own baseline by the other signals.
		return Reason{}, false
	}
	nom := nominalVoltage(s.baseline())
	v, n := recentNormal(s, now-secs(d.cfg.PSU.Recent), 0.5*nom)
	if n == 0 {
		return Reason{}, false
	}
	dev := math.Abs(v-nom) / nom
	score := d.levelScore(dev, 0.7*cfg.InputVoltageBand, cfg.InputVoltageBand, d.cfg.Failing-0.05)
	if score == 0 {
		return Reason{}, false
	}
	return Reason{Signal: "input_voltage", Value: ptr(round2(v)), Baseline: ptr(nom), Threshold: ptr(nom * (1 + math.Copysign(cfg.InputVoltageBand, v-nom))), Score: round3(score),
		Text: fmt.Sprintf("%s input %s V, %s%% off its nominal %s V (band +-%s%%)", nameOf(comp), fmtNum(round2(v)), fmtNum(math.Round(dev*1000)/10),
			fmtNum(nom), fmtNum(cfg.InputVoltageBand*100))}, true
}

// psuLoad scores the output against the PSU's rating (PowerCapacityWatts).
func (d *Detector) psuLoad(comp *component, now int64) (Reason, bool) {
	cfg := &d.cfg.PSU
	out, capS := comp.Series["output_power"], comp.Series["capacity"]
	if out == nil || capS == nil || len(capS.Buckets) == 0 || capS.last() <= 0 {
		return Reason{}, false
	}
	w, n := recentNormal(out, now-secs(d.cfg.PSU.Recent), 0)
	if n == 0 {
		return Reason{}, false
	}
	c := capS.last()
	ratio := w / c
	score := d.levelScore(ratio, cfg.LoadWatch, 1, d.cfg.Failing-0.05)
	if score == 0 {
		return Reason{}, false
	}
	return Reason{Signal: "output_power", Value: ptr(math.Round(w)), Threshold: ptr(c), Score: round3(score),
		Text: fmt.Sprintf("%s delivers %s W, %s%% of its %s W rating", nameOf(comp), fmtNum(math.Round(w)), fmtNum(math.Round(ratio*100)), fmtNum(c))}, true
}

// psuEfficiency compares output/input power over the recent window with
// the baseline's at a comparable output.
func (d *Detector) psuEfficiency(comp *component, now int64) (Reason, bool) {
	cfg := &d.cfg.PSU
	in, out := comp.Series["input_power"], comp.Series["output_power"]
	if in == nil || out == nil || in.Base.N == 0 || out.Base.N == 0 || in.baseline() <= 0 {
		return Reason{}, false
	}
	// sums over the slots of bs present in both series without a loss
	sums := func(bs []bucket, near float64) (so, si float64, n int) {
		for _, ob := range bs {
			ib, ok := bucketAt(in, ob.Start)
			if !ok || ib.Min < 0.1*in.baseline() || ob.Min <= 0 {
				continue
			}
			if near > 0 && math.Abs(ob.mean()-near) > cfg.LoadTolerance*near {
				continue
			}
			so += ob.mean()
			si += ib.mean()
			n++
		}
		return so, si, n
	}
	ro, ri, n := sums(out.window(now-secs(cfg.EfficiencyWindow)), 0)
	if n < 6 || ri <= 0 {
		return Reason{}, false
	}
	recentOut := ro / float64(n)
	recentEff := ro / ri
	baseEff := out.baseline() / in.baseline()
	if math.Abs(recentOut-out.baseline()) > cfg.LoadTolerance*out.baseline() {
		// Efficiency depends on load: compare with the reference slots at
		// a similar output only.
		bo, bi, bn := sums(refBuckets(out), recentOut)
		if bn < 6 || bi <= 0 {
			return Reason{}, false
		}
		baseEff = bo / bi
	}
	drop := baseEff - recentEff
	score := d.levelScore(drop, cfg.EfficiencyDrop/2, cfg.EfficiencyDrop, (d.cfg.Degrading+d.cfg.Failing)/2)
	if score == 0 {
		return Reason{}, false
	}
	return Reason{Signal: "efficiency", Value: ptr(round3(recentEff)), Baseline: ptr(round3(baseEff)), Score: round3(score),
		Text: fmt.Sprintf("%s efficiency %s%% -> %s%% at %s W out (output/input power over %s; degrading at %s points down)", nameOf(comp),
			fmtNum(math.Round(baseEff*1000)/10), fmtNum(math.Round(recentEff*1000)/10), fmtNum(math.Round(recentOut)),
			fmtSpan(cfg.EfficiencyWindow.D()), fmtNum(cfg.EfficiencyDrop*100))}, true
}

// psuTemperature scores the PSU's temperature above its baseline (a day's
// mean against the baseline's, so the daily load cycle cancels).
func (d *Detector) psuTemperature(comp *component, now int64) (Reason, bool) {
	cfg := &d.cfg.PSU
	s := comp.Series["temperature"]
	if s == nil || s.Base.N == 0 {
		return Reason{}, false
	}
	t, ok := meanOver(s, now-86400)
	if !ok {
		return Reason{}, false
	}
	rise := t - s.baseline()
	score := d.levelScore(rise, cfg.TemperatureRise/2, cfg.TemperatureRise, (d.cfg.Degrading+d.cfg.Failing)/2)
	if score == 0 {
		return Reason{}, false
	}
	return Reason{Signal: "temperature", Value: ptr(round2(t)), Baseline: ptr(round2(s.baseline())), Score: round3(score),
		Text: fmt.Sprintf("%s temperature %s -> %s C (+%s C over its baseline; degrading at +%s C)", nameOf(comp),
			fmtNum(math.Round(s.baseline()*10)/10), fmtNum(math.Round(t*10)/10), fmtNum(math.Round(rise*10)/10), fmtNum(cfg.TemperatureRise))}, true
}

// psuFan scores the PSU's own fan turning slower than its baseline.
func (d *Detector) psuFan(comp *component, now int64) (Reason, bool) {
	cfg := &d.cfg.PSU
	s := comp.Series["fan_speed_percent"]
	if s == nil || s.Base.N == 0 || s.baseline() <= 0 {
		return Reason{}, false
	}
	m, ok := medianMean(s, now-secs(d.cfg.PSU.Recent))
	if !ok {
		return Reason{}, false
	}
	decline := 1 - m/s.baseline()
	score := d.levelScore(decline, cfg.FanDecline/2, cfg.FanDecline, (d.cfg.Degrading+d.cfg.Failing)/2)
	if score == 0 {
		return Reason{}, false
	}
	return Reason{Signal: "fan_speed_percent", Value: ptr(round2(m)), Baseline: ptr(round2(s.baseline())), Score: round3(score),
		Text: fmt.Sprintf("%s fan %s%% -> %s%% (%s%% slower than its baseline)", nameOf(comp), fmtNum(math.Round(s.baseline())),
			fmtNum(math.Round(m)), fmtNum(math.Round(decline*100)))}, true
}

// psuSag scores the output voltage below its baseline: the PSU's own
// output_voltage reading, and the voltage sensors of its rails.
func (d *Detector) psuSag(comp *component, v *view, now int64, ev *evaluation) {
	type rail struct {
		label string
		s     *series
	}
	var rails []rail
	if s := comp.Series["output_voltage"]; s != nil {
		rails = append(rails, rail{"output", s})
	}
	for _, o := range psuRails(comp, v) {
		rails = append(rails, rail{nameOf(o), o.Series["voltage"]})
	}
	var best *Reason
	for _, r := range rails {
		s := r.s
		if s == nil || s.Base.N == 0 || s.baseline() <= 0 || now < s.BaseUntil {
			continue
		}
		x, n := recentNormal(s, now-secs(d.cfg.PSU.Recent), 0.5*s.baseline())
		if n == 0 {
			continue
		}
		sag := 1 - x/s.baseline()
		score := d.levelScore(sag, d.cfg.PSU.OutputSag/2, d.cfg.PSU.OutputSag, d.cfg.Failing-0.05)
		if score == 0 || best != nil && score <= best.Score {
			continue
		}
		best = &Reason{Signal: "output_voltage", Value: ptr(round3(x)), Baseline: ptr(round3(s.baseline())), Score: round3(score),
			Text: fmt.Sprintf("%s output sags: %s %s -> %s V (%s%% below its baseline; degrading at %s%%)", nameOf(comp), r.label,
				fmtNum(round2(s.baseline())), fmtNum(round2(x)), fmtNum(math.Round(sag*1000)/10), fmtNum(d.cfg.PSU.OutputSag*100))}
	}
	if best != nil {
		ev.reasons = append(ev.reasons, *best)
	}
}

var (
	trailingNumber = regexp.MustCompile(`(\d+)\D*$`)
	outputWord     = regexp.MustCompile(`(?i)out`)
)

// psuRails finds the voltage sensors of the PSU's output rails among the
// components of its chassis. Redfish has no link from a PSU to such a
// Sensor (PowerSupplyMetrics.RailVoltage points at it by DataSourceUri,
// which, when it resolves, the reader folds into the PSU), so they are
// matched by name: the PSU's number ("Power Supply Bay 1", ".../Bay1")
// against sensors named "Power Supply #1 12V Output Voltage", "PS1Out12V",
// "PSU1 12V".
func psuRails(comp *component, v *view) []*component {
	m := trailingNumber.FindStringSubmatch(comp.Ref.Name)
	if m == nil {
		m = trailingNumber.FindStringSubmatch(comp.Ref.ID)
	}
	if m == nil {
		return nil
	}
	num := m[1]
	re := regexp.MustCompile(`(?i)(?:^|[^a-z0-9])(?:psu|ps|power ?supply)\s*#?\s*` + num + `(?:[^0-9]|$)`)
	var out []*component
	for _, o := range v.touched {
		if o.Ref.Kind != model.KindVoltage || o.Chassis != comp.Chassis || o.Series["voltage"] == nil {
			continue
		}
		id := o.Ref.ID[strings.LastIndexByte(o.Ref.ID, '/')+1:]
		for _, n := range []string{o.Ref.Name, id} {
			if re.MatchString(n) && outputWord.MatchString(n) && !strings.Contains(strings.ToLower(n), "input") {
				out = append(out, o)
				break
			}
		}
	}
	return out
}

// fmtAgo writes how long ago: "5 h", "2 days".
func fmtAgo(d time.Duration) string {
	if d < 48*time.Hour {
		return fmt.Sprintf("%s h", fmtNum(math.Round(d.Hours())))
	}
	return fmtDays(math.Round(d.Hours() / 24))
}
