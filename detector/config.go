package detector

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/prefail/prefail/model"
)

// Duration is a time.Duration that reads and writes as "36h", "7d" in JSON.
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes the duration as Go writes it ("168h0m0s").
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "36h", "90m", or "7d" (days).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string like \"36h\" or \"7d\": %w", err)
	}
	if n := len(s); n > 1 && s[n-1] == 'd' {
		var days float64
		if _, err := fmt.Sscanf(s[:n-1], "%g", &days); err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = Duration(days * float64(24*time.Hour))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// Config is every threshold and weight the detector uses: data, not
// constants scattered through the code. DefaultConfig documents the
// defaults; a JSON file can override any field (LoadConfig).
type Config struct {
	// States: the risk at which a component enters watch, degrading and
	// failing; it leaves a state when its risk falls Hysteresis below the
	// entry level, and only after ClearAfter (per kind) of staying there.
	Watch      float64 `json:"watch"`
	Degrading  float64 `json:"degrading"`
	Failing    float64 `json:"failing"`
	Hysteresis float64 `json:"hysteresis"`

	// Kinds holds the per-kind history and timing settings.
	Kinds map[model.Kind]KindConfig `json:"kinds"`

	Disk        DiskConfig        `json:"disk"`
	Fan         FanConfig         `json:"fan"`
	PSU         PSUConfig         `json:"psu"`
	Temperature TemperatureConfig `json:"temperature"`
	EventLog    EventLogConfig    `json:"event_log"`
}

// KindConfig is how a kind of component is sampled and timed.
type KindConfig struct {
	// Bucket is the width of a history slot; History how many slots are
	// kept (History x Bucket is the longest window any signal sees).
	Bucket  Duration `json:"bucket"`
	History int      `json:"history"`
	// Baseline is how long after first sight the baseline is taken.
	Baseline Duration `json:"baseline"`
	// Confirm is how many consecutive evaluations a higher state must
	// hold before it is entered (noisy sensors need more than one).
	Confirm int `json:"confirm"`
	// ClearAfter is how long the risk must stay below a state's exit
	// level before the component leaves it.
	ClearAfter Duration `json:"clear_after"`
}

// DiskConfig scores drives from SMART counters (ATA attributes, NVMe and
// SCSI logs) and the drive's own flags.
type DiskConfig struct {
	// Counters are the raw SMART counters whose growth signals media
	// failure, with a weight each: a counter's score rises with its
	// growth (see Growth*) and its level.
	Counters []CounterConfig `json:"counters"`
	// Window is how far back growth is measured.
	Window Duration `json:"window"`
	// FailedSelfTest, PredictedFailure, NVMeCriticalWarning: scores for
	// the drive's own alarms.
	FailedSelfTest      float64 `json:"failed_self_test"`
	PredictedFailure    float64 `json:"predicted_failure"`
	NVMeCriticalWarning float64 `json:"nvme_critical_warning"`
	// SpareMargin: NVMe available spare within this many points of its
	// threshold is degrading; PercentageUsedWatch is where wear-out starts to count.
	SpareMargin         float64 `json:"spare_margin"`
	PercentageUsedWatch float64 `json:"percentage_used_watch"`
	// MediaLifeLeftWatch: Redfish PredictedMediaLifeLeftPercent below this counts.
	MediaLifeLeftWatch float64 `json:"media_life_left_watch"`
}

// CounterConfig is one SMART counter signal.
type CounterConfig struct {
	// Reading is the reading name (smart_5_raw, media_errors, grown_defects).
	Reading string `json:"reading"`
	// Label is its name in reasons ("reallocated sectors").
	Label string `json:"label"`
	// Level is the score of a non-zero value that does not grow (an old
	// scar); Growth the score of an increase within the window; Scale the
	// increase (or level) at which the score reaches its full weight
	// (scores grow with log(1+x)/log(1+Scale)).
	Level  float64 `json:"level"`
	Growth float64 `json:"growth"`
	Scale  float64 `json:"scale"`
}

// FanConfig scores fans from their speed.
type FanConfig struct {
	// DeclineWatch/DeclineDegrading: fractional drop of the speed below the
	// fan's own baseline (at comparable load) that counts.
	DeclineWatch     float64 `json:"decline_watch"`
	DeclineDegrading float64 `json:"decline_degrading"`
	// SiblingGap: fraction below the median of the sibling fans (same
	// chassis) that counts.
	SiblingGap float64 `json:"sibling_gap"`
	// JitterRatio: within-slot standard deviation over the baseline's
	// that counts as rising instability.
	JitterRatio float64 `json:"jitter_ratio"`
	// Horizon: a forecast crossing of the lower threshold within this
	// time is failing.
	Horizon Duration `json:"horizon"`
}

// PSUConfig scores power supplies.
type PSUConfig struct {
	// InputVoltageBand: fraction off nominal input voltage that counts.
	InputVoltageBand float64 `json:"input_voltage_band"`
	// EfficiencyDrop: fall of output/input power below the baseline (in
	// points of efficiency) that counts.
	EfficiencyDrop float64 `json:"efficiency_drop"`
	// OutputSag: fractional fall of output voltage below its baseline.
	OutputSag float64 `json:"output_sag"`
	// TemperatureRise: degrees above the baseline that count.
	TemperatureRise float64 `json:"temperature_rise"`
	// RecurrenceWindow: input-loss events seen again within it recur.
	RecurrenceWindow Duration `json:"recurrence_window"`
	Horizon          Duration `json:"horizon"`
}

// TemperatureConfig scores temperatures and voltages drifting toward
// their thresholds.
type TemperatureConfig struct {
	// Margin: within this fraction of the span baseline->threshold left,
	// the reading is degrading.
	Margin  float64  `json:"margin"`
	Horizon Duration `json:"horizon"`
	// MinDrift: the fitted drift must exceed this many units per day.
	MinDrift float64 `json:"min_drift"`
}

// EventLogConfig scores log events (SEL, Redfish logs).
type EventLogConfig struct {
	// HalfLife: an event's weight halves every HalfLife, so old entries
	// stop alarming.
	HalfLife Duration `json:"half_life"`
	// Warning and Critical: the score of a still-active event of that severity.
	Warning  float64 `json:"warning"`
	Critical float64 `json:"critical"`
}

// DefaultConfig is the tuned configuration (docs/detector.md explains
// each value and how it was chosen).
func DefaultConfig() Config {
	day := Duration(24 * time.Hour)
	return Config{
		Watch: 0.25, Degrading: 0.5, Failing: 0.8, Hysteresis: 0.1,
		Kinds: map[model.Kind]KindConfig{
			model.KindDrive:       {Bucket: day, History: 45, Baseline: 3 * day, Confirm: 1, ClearAfter: 14 * day},
			model.KindFan:         {Bucket: Duration(time.Hour), History: 24 * 21, Baseline: 3 * day, Confirm: 2, ClearAfter: day},
			model.KindPSU:         {Bucket: Duration(time.Hour), History: 24 * 21, Baseline: 3 * day, Confirm: 2, ClearAfter: day},
			model.KindTemperature: {Bucket: Duration(time.Hour), History: 24 * 21, Baseline: 3 * day, Confirm: 3, ClearAfter: day},
			model.KindVoltage:     {Bucket: Duration(time.Hour), History: 24 * 21, Baseline: 3 * day, Confirm: 3, ClearAfter: day},
			"":                    {Bucket: Duration(time.Hour), History: 24 * 7, Baseline: day, Confirm: 2, ClearAfter: day},
		},
		Disk: DiskConfig{
			Counters: []CounterConfig{
				{Reading: "smart_5_raw", Label: "reallocated sectors", Level: 0.2, Growth: 0.6, Scale: 50},
				{Reading: "smart_197_raw", Label: "pending sectors", Level: 0.3, Growth: 0.6, Scale: 20},
				{Reading: "smart_198_raw", Label: "offline uncorrectable sectors", Level: 0.3, Growth: 0.6, Scale: 20},
				{Reading: "smart_187_raw", Label: "reported uncorrectable errors", Level: 0.2, Growth: 0.6, Scale: 20},
				{Reading: "smart_188_raw", Label: "command timeouts", Level: 0.05, Growth: 0.3, Scale: 10},
				{Reading: "smart_184_raw", Label: "end-to-end errors", Level: 0.3, Growth: 0.6, Scale: 5},
				{Reading: "smart_10_raw", Label: "spin retries", Level: 0.1, Growth: 0.4, Scale: 5},
				{Reading: "smart_196_raw", Label: "reallocation events", Level: 0.1, Growth: 0.4, Scale: 20},
				{Reading: "media_errors", Label: "NVMe media errors", Level: 0.2, Growth: 0.6, Scale: 20},
				{Reading: "grown_defects", Label: "grown defects", Level: 0.2, Growth: 0.6, Scale: 50},
				{Reading: "read_uncorrected_errors", Label: "uncorrected read errors", Level: 0.2, Growth: 0.6, Scale: 10},
				{Reading: "write_uncorrected_errors", Label: "uncorrected write errors", Level: 0.2, Growth: 0.6, Scale: 10},
			},
			Window:              14 * day,
			FailedSelfTest:      0.6,
			PredictedFailure:    0.9,
			NVMeCriticalWarning: 0.9,
			SpareMargin:         10,
			PercentageUsedWatch: 90,
			MediaLifeLeftWatch:  10,
		},
		Fan:         FanConfig{DeclineWatch: 0.08, DeclineDegrading: 0.15, SiblingGap: 0.15, JitterRatio: 3, Horizon: 7 * day},
		PSU:         PSUConfig{InputVoltageBand: 0.1, EfficiencyDrop: 0.04, OutputSag: 0.03, TemperatureRise: 8, RecurrenceWindow: 7 * day, Horizon: 7 * day},
		Temperature: TemperatureConfig{Margin: 0.35, Horizon: 7 * day, MinDrift: 0.2},
		EventLog:    EventLogConfig{HalfLife: 2 * day, Warning: 0.35, Critical: 0.6},
	}
}

// LoadConfig reads a JSON configuration over the defaults: fields the file
// leaves out keep their default values.
func LoadConfig(r io.Reader) (Config, error) {
	cfg := DefaultConfig()
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("detector config: %w", err)
	}
	return cfg, cfg.Validate()
}

// Validate checks that the levels are ordered and the kinds usable.
func (c Config) Validate() error {
	if !(0 < c.Watch && c.Watch < c.Degrading && c.Degrading < c.Failing && c.Failing <= 1) {
		return fmt.Errorf("detector config: want 0 < watch < degrading < failing <= 1, got %g, %g, %g", c.Watch, c.Degrading, c.Failing)
	}
	if c.Hysteresis < 0 || c.Hysteresis >= c.Watch {
		return fmt.Errorf("detector config: hysteresis %g must be in [0, watch)", c.Hysteresis)
	}
	for k, kc := range c.Kinds {
		if kc.Bucket <= 0 || kc.History < 3 || kc.Confirm < 1 {
			return fmt.Errorf("detector config: kind %q: bucket must be > 0, history >= 3, confirm >= 1", k)
		}
	}
	return nil
}

// kind returns the settings of kind k (the "" entry for kinds not listed).
func (c *Config) kind(k model.Kind) KindConfig {
	if kc, ok := c.Kinds[k]; ok {
		return kc
	}
	return c.Kinds[""]
}
