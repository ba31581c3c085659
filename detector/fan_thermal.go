package detector

import (
	"github.com/prefail/prefail/model"
)

// thermalFit is how a fan with no sibling fans follows its chassis's
// temperature. A BMC's fan control answers temperatures; with siblings the
// detector reads that demand off them (loadFactors), but a lone fan (a
// tower, a 1U board with one blower, a PSU-cooled chassis) has none, and
// without a covariate its own daily cycle looks like decline every night.
// So, once its baseline is complete, its hourly speed relative to the
// baseline is fitted against each temperature sensor of its chassis over
// the baseline period (least squares, speed/baseline = Intercept +
// Slope × °C) and the best-correlated sensor is kept. Sensor is empty
// when none explains the speed (R² below FanConfig.ThermalMinR2, a
// temperature spread below ThermalMinSpread, or a speed that does not
// rise with heat): the fan is then judged against its plain baseline, as
// before.
type thermalFit struct {
	Sensor    string  `json:"sensor,omitempty"` // the temperature component's ID
	Name      string  `json:"name,omitempty"`
	Intercept float64 `json:"intercept,omitempty"`
	Slope     float64 `json:"slope,omitempty"` // per °C
	R2        float64 `json:"r2,omitempty"`
}

// fitThermal fits the fan's baseline speeds (series s) against the
// temperature sensors of its chassis seen in this snapshot.
func (d *Detector) fitThermal(comp *component, s *series, v *view) *thermalFit {
	cfg := &d.cfg.Fan
	fit := &thermalFit{}
	base := s.baseline()
	if base <= 0 {
		return fit
	}
	for _, o := range v.touched {
		if o.Ref.Kind != model.KindTemperature || o.Chassis != comp.Chassis {
			continue
		}
		ts := o.Series["temperature"]
		if ts == nil {
			continue
		}
		var n, sx, sy, sxx, syy, sxy float64
		for _, b := range s.Buckets {
			if b.Start >= s.BaseUntil {
				break
			}
			tb, ok := bucketAt(ts, b.Start)
			if !ok {
				continue
			}
			x, y := tb.mean(), b.mean()/base
			n++
			sx, sy, sxx, syy, sxy = sx+x, sy+y, sxx+x*x, syy+y*y, sxy+x*y
		}
		if n < 24 { // less than a day of hours: no cycle to learn from
			continue
		}
		vx, vy, cxy := sxx/n-(sx/n)*(sx/n), syy/n-(sy/n)*(sy/n), sxy/n-(sx/n)*(sy/n)
		if vx < cfg.ThermalMinSpread*cfg.ThermalMinSpread || vy <= 0 || cxy <= 0 {
			continue
		}
		r2 := cxy * cxy / (vx * vy)
		if r2 < cfg.ThermalMinR2 || r2 <= fit.R2 {
			continue
		}
		k := cxy / vx
		fit = &thermalFit{Sensor: o.Ref.ID, Name: nameOf(o), Slope: k, Intercept: sy/n - k*sx/n, R2: round3(r2)}
	}
	return fit
}

// factor is the expected speed relative to the baseline at temperature t.
func (f *thermalFit) factor(t float64) float64 {
	return min(3, max(0.5, f.Intercept+f.Slope*t))
}
