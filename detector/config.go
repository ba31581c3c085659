package detector

import (
	"bytes"
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

	Source      SourceConfig      `json:"source"`
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
	// Sparse keeps a history slot only when a value changes (right for
	// counters, which drives report; wrong for sensors whose spread
	// within a slot matters, such as fan jitter).
	Sparse bool `json:"sparse,omitempty"`
	// Degrading, when set, is this kind's own degrading level in place of
	// the global one (between watch and failing): the level is where a
	// kind's alarm budget is spent, and a fleet has far more drives than
	// PSUs (docs/evaluation.md measures drives at 0.6).
	Degrading float64 `json:"degrading,omitempty"`
}

// SourceConfig weighs the source's own verdict on a non-drive component
// (a BMC's Health): scores for a warning that has held WarningHold, a
// critical, and a part that was present and is now absent (or gone from
// a complete scan) for RemovedHold.
type SourceConfig struct {
	WarningHold Duration `json:"warning_hold"`
	Warning     float64  `json:"warning"`
	Critical    float64  `json:"critical"`
	Absent      float64  `json:"absent"`
	// RemovedHold: a fan or PSU that was present counts as removed (the
	// Absent score, and "gone" for its siblings' redundancy) only once it
	// has been absent this long: a hot swap takes minutes.
	RemovedHold Duration `json:"removed_hold"`
	// Maintenance: input-loss evidence (readings at zero, log entries,
	// conditions) within this long of a maintenance mark on a fan or PSU
	// (its serial number changed, it came back after being absent, or its
	// log says it was removed or inserted) is the swap, not a fault; and
	// zero readings of a part within this long after it was replaced or
	// came back are not recorded (it is not cabled or spinning yet).
	Maintenance Duration `json:"maintenance"`
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
	// NormalizedWindow, NormalizedHorizon, NormalizedForecast,
	// NormalizedMinDrop: an ATA attribute's normalized value that fell at
	// least NormalizedMinDrop points within NormalizedWindow and whose
	// trend crosses the vendor's failure threshold within
	// NormalizedHorizon scores from half of NormalizedForecast (at the
	// horizon) to all of it (crossing now), with the forecast
	// (disk_normalized.go).
	NormalizedWindow   Duration `json:"normalized_window"`
	NormalizedHorizon  Duration `json:"normalized_horizon"`
	NormalizedForecast float64  `json:"normalized_forecast"`
	NormalizedMinDrop  float64  `json:"normalized_min_drop"`
	// NormalizedMinDays and NormalizedMinSlopeSE: the trend is followed
	// only over at least this many daily values, and only when its fall
	// is this many standard errors of the slope: on the 2016 full-schema
	// drives, Seagate's attributes 1 and 190 wobble by tens of points in a
	// few days, and a line through a week of wobble crosses anything.
	NormalizedMinDays    int     `json:"normalized_min_days"`
	NormalizedMinSlopeSE float64 `json:"normalized_min_slope_se"`
	// Model is the learned risk model (diskmodel.go): one more signal,
	// beside the counters above.
	Model DiskModelConfig `json:"model"`
}

// DiskModelConfig switches the learned disk model (the embedded
// detector/diskmodel/disk-model-v1.json) and weighs it. The model's own
// weights live in its file, not here.
type DiskModelConfig struct {
	// Enabled adds the model's score to every drive's reasons; false
	// leaves the rules alone.
	Enabled bool `json:"enabled"`
	// Weight scales the model's score: its reason scores Weight x
	// sigmoid(logit - alarm_logit), so at the file's alarm point (tuned
	// on the tune split) a Weight of 1 scores 0.5, degrading on its own.
	Weight float64 `json:"weight"`

	// parsed is the model itself (DefaultConfig loads the embedded file;
	// UseModel replaces it): not configuration, so not JSON.
	parsed *DiskModel
}

// CounterConfig is one SMART counter signal.
type CounterConfig struct {
	// Reading is the reading name (smart_5_raw, media_errors, grown_defects).
	Reading string `json:"reading"`
	// Label is its name in reasons ("reallocated sectors").
	Label string `json:"label"`
	// Group names counters that move together (on many drives pending and
	// offline-uncorrectable sectors are the same sectors counted twice):
	// a group contributes its strongest member's score once, so one
	// cause is not counted as two pieces of evidence.
	Group string `json:"group,omitempty"`
	// Level is the score of a non-zero value that does not grow (an old
	// scar); Growth the score of an increase within the window; Scale the
	// increase (or level) at which the score reaches its full weight
	// (scores grow with log(1+x)/log(1+Scale)).
	Level  float64 `json:"level"`
	Growth float64 `json:"growth"`
	Scale  float64 `json:"scale"`
}

// FanConfig scores fans from their speed (Redfish Fan.SpeedPercent.SpeedRPM
// and .Reading, legacy Thermal.Fans[].Reading, IPMI fan sensors). Speeds are
// judged "at comparable load": every hourly bucket is divided by the load
// factor of that hour, the median over the sibling fans of the same
// chassis of their speed relative to their own baseline (a BMC's fan
// control moves the fans of a chassis together, so a fan that falls
// behind its siblings is losing speed, not following a cooler room).
type FanConfig struct {
	// DeclineWatch/DeclineDegrading: fractional drop of the speed below the
	// fan's own baseline (at comparable load) that counts.
	DeclineWatch     float64 `json:"decline_watch"`
	DeclineDegrading float64 `json:"decline_degrading"`
	// DeclineWindow: the recent speed is the median of the load-adjusted
	// hourly means over this window (a median, so that a dip or a noisy
	// hour does not move it).
	DeclineWindow Duration `json:"decline_window"`
	// SiblingGap: fraction below the median of the fans of its cooling
	// zone (see ZoneCorrelation) that counts, whatever the baseline (a fan
	// that was already slow when first seen); twice that is degrading.
	SiblingGap float64 `json:"sibling_gap"`
	// JitterRatio: within-slot standard deviation over the baseline's
	// that counts as rising instability (degrading; half-way from 1 is
	// watch). JitterWindow is the recent period whose median spread is
	// compared; JitterFloor the smallest baseline spread assumed, as a
	// fraction of the speed (a sensor that reads a constant value must not
	// make any later jitter infinite).
	JitterRatio  float64  `json:"jitter_ratio"`
	JitterWindow Duration `json:"jitter_window"`
	JitterFloor  float64  `json:"jitter_floor"`
	// DipDepth: a slot whose lowest sample is this fraction below the
	// expected speed (baseline x load factor) holds a dip: a momentary
	// stall, the precursor of a seizing bearing. Each dip in DipWindow
	// scores DipScore (combined as independent signs, capped at DipMax).
	DipDepth  float64  `json:"dip_depth"`
	DipWindow Duration `json:"dip_window"`
	DipScore  float64  `json:"dip_score"`
	DipMax    float64  `json:"dip_max"`
	// ThermalMinR2, ThermalMinSpread: a fan with no sibling is judged at
	// comparable temperature when, over its baseline, a chassis
	// temperature sensor explains at least this share of its speed's
	// variance (R²) and moved at least this much (standard deviation, °C).
	ThermalMinR2     float64 `json:"thermal_min_r2"`
	ThermalMinSpread float64 `json:"thermal_min_spread"`
	// Horizon: a forecast crossing of the lower threshold within this
	// time is failing. ForecastWindow is the span the trend is fitted over.
	Horizon        Duration `json:"horizon"`
	ForecastWindow Duration `json:"forecast_window"`
	// LoadSmoothing: a sibling's speed is averaged over this much either
	// side of a slot for the load factor, so that a sibling's own jitter
	// (a failing sibling's above all) does not leak into this fan's.
	LoadSmoothing Duration `json:"load_smoothing"`
	// ZoneCorrelation, ZoneMinChanges, ZoneWindow: the fans a fan is
	// compared with (sibling gap) and whose load it shares are its cooling
	// zone, learned from history: fans of the same chassis and the same
	// speed regime (the same rated speed, or the same speed for the same
	// percentage, where the source tells) whose hourly speed changes over
	// the last ZoneWindow correlate at least ZoneCorrelation over at least
	// ZoneMinChanges pairs of consecutive hours. Until then, no sibling
	// gap is judged.
	ZoneCorrelation float64  `json:"zone_correlation"`
	ZoneMinChanges  int      `json:"zone_min_changes"`
	ZoneWindow      Duration `json:"zone_window"`
	// StepRatio: the siblings' speed at the same moment (the same hourly
	// slot, unsmoothed) moving more than this fraction away from their
	// smoothed speed, or spanning more than it within the slot, is a step
	// of the fan curve (BMCs drive fans in steps, 40 -> 62 -> 90 %, all
	// fans at once): in such a slot the fan is compared with its siblings
	// at the same moment (the load factor, the lowest sample a dip is
	// judged against) and the slot's spread is not jitter.
	StepRatio float64 `json:"step_ratio"`
	// RedundancyLost: score of a fan whose sibling in the same chassis has
	// failed (it now carries the airflow alone). Watch by default: the
	// failed fan carries the event, the others are watched, and one more
	// watch-level sign on them does not make them degrading.
	RedundancyLost float64 `json:"redundancy_lost"`
}

// PSUConfig scores power supplies (Redfish PowerSupply and
// PowerSupplyMetrics: InputVoltage, InputPowerWatts, OutputPowerWatts,
// TemperatureCelsius, FanSpeedPercent, PowerCapacityWatts; legacy
// Power.PowerSupplies; IPMI power supply sensors).
type PSUConfig struct {
	// InputVoltageBand: fraction off nominal input voltage that counts.
	// The nominal voltage is the standard one (100, 115, 120, 127, 200,
	// 208, 220, 230, 240, 277 V) nearest the PSU's baseline.
	InputVoltageBand float64 `json:"input_voltage_band"`
	// EfficiencyDrop: fall of output/input power below the baseline (in
	// points of efficiency) that counts. EfficiencyWindow is the recent
	// period compared (a whole day, so daily load cycles cancel);
	// LoadTolerance how far (fraction) the recent output may be from the
	// baseline's for the two to be compared directly, else only history
	// slots at a similar output are (efficiency depends on load).
	EfficiencyDrop   float64  `json:"efficiency_drop"`
	EfficiencyWindow Duration `json:"efficiency_window"`
	LoadTolerance    float64  `json:"load_tolerance"`
	// OutputSag: fractional fall of output voltage below its baseline
	// (the PSU's output_voltage reading, or its rail sensors).
	OutputSag float64 `json:"output_sag"`
	// TemperatureRise: degrees above the baseline that count.
	TemperatureRise float64 `json:"temperature_rise"`
	// FanDecline: fractional fall of the PSU's own fan speed below its
	// baseline that counts (a hotter PSU with a slower fan has a failing fan).
	FanDecline float64 `json:"fan_decline"`
	// LoadWatch: output over capacity (PowerCapacityWatts) from which the
	// PSU is watched; at 1 it is degrading.
	LoadWatch float64 `json:"load_watch"`
	// RecurrenceWindow: input-loss events seen again within it recur.
	// InputLoss is the score of one loss episode in the window (readings
	// at zero or a log entry); episodes combine as independent signs, so
	// two within the window are degrading and five failing.
	RecurrenceWindow Duration `json:"recurrence_window"`
	InputLoss        float64  `json:"input_loss"`
	// RedundancyLost: score of a PSU whose sibling in the same chassis has
	// failed or gone: it carries the load alone, one failure from an outage.
	RedundancyLost float64 `json:"redundancy_lost"`
	// Recent: the current level of the input voltage, output power, output
	// voltage and fan speed is over this period (hourly means, so that one
	// sample does not move it).
	Recent  Duration `json:"recent"`
	Horizon Duration `json:"horizon"`
}

// TemperatureConfig scores temperatures and voltages (and any other
// reading with thresholds: Redfish Sensor.Thresholds, legacy
// UpperThresholdCritical etc., IPMI SDR thresholds) drifting toward their
// thresholds.
type TemperatureConfig struct {
	// Margin: within this fraction of the span baseline->threshold left,
	// the reading is degrading (within twice that, watched).
	Margin  float64  `json:"margin"`
	Horizon Duration `json:"horizon"`
	// MinDrift: the fitted drift must exceed this many units per day, or
	// MinDriftSpan of the span baseline->threshold per day (a 12 V rail
	// that sags 0.03 V a day is drifting; a CPU that warms 0.03 C is not).
	MinDrift     float64 `json:"min_drift"`
	MinDriftSpan float64 `json:"min_drift_span"`
	// Window: the trend is fitted over this much of the history (in whole
	// days, so daily cycles cancel); Level: the current level is the mean
	// of this recent period.
	Window Duration `json:"window"`
	Level  Duration `json:"level"`
	// ForecastProgress: a forecast counts once the reading has covered
	// this fraction of the way from its baseline to the threshold, so that
	// the upswing of a daily or weekly cycle, extrapolated, raises nothing.
	ForecastProgress float64 `json:"forecast_progress"`
}

// EventLogConfig scores log events (SEL, Redfish LogEntry).
type EventLogConfig struct {
	// HalfLife: an event's weight halves every HalfLife, so old entries
	// stop alarming (Types may set their own).
	HalfLife Duration `json:"half_life"`
	// Warning and Critical: the score of a still-active event of that severity.
	Warning  float64 `json:"warning"`
	Critical float64 `json:"critical"`
	// StaleAfter and Stale: an assertion older than StaleAfter whose
	// component reads fine now (source health ok, every reading inside its
	// non-critical thresholds) weighs Stale times as much: the live sensor
	// knows better than an old log line.
	StaleAfter Duration `json:"stale_after"`
	Stale      float64  `json:"stale"`
	// RecurrenceWindow: entries of one type within it are counted together
	// ("input power lost 4 times in 7 days"); their weights combine as
	// independent signs, capped at Max.
	RecurrenceWindow Duration `json:"recurrence_window"`
	Max              float64  `json:"max"`
	// Unmatched caps the score of entries naming no known component (they
	// are filed under the target's BMC): worth watching, not an alarm.
	Unmatched float64 `json:"unmatched"`
	// Types classify entries by case-insensitive substrings of their
	// message, code, sensor type or message id, first match wins. They
	// classify the components' active conditions too (message id and
	// message): a condition scores its type's Weight for as long as it
	// is active, without decay (conditions.go).
	Types []LogTypeConfig `json:"types"`
}

// LogTypeConfig is one class of log entries.
type LogTypeConfig struct {
	Type  string   `json:"type"`
	Label string   `json:"label"`
	Match []string `json:"match"`
	// Ignore: not a fault at all (log cleared, informational).
	Ignore bool `json:"ignore,omitempty"`
	// Weight overrides the severity's score when set; HalfLife the decay.
	Weight   float64  `json:"weight,omitempty"`
	HalfLife Duration `json:"half_life,omitempty"`
}

// DefaultConfig is the tuned configuration (docs/detector.md explains
// each value and how it was chosen).
func DefaultConfig() Config {
	day := Duration(24 * time.Hour)
	return Config{
		Watch: 0.25, Degrading: 0.5, Failing: 0.8, Hysteresis: 0.1,
		Kinds: map[model.Kind]KindConfig{
			model.KindDrive:       {Bucket: day, History: 32, Baseline: 3 * day, Confirm: 1, ClearAfter: 60 * day, Sparse: true},
			model.KindFan:         {Bucket: Duration(time.Hour), History: 24 * 21, Baseline: 3 * day, Confirm: 2, ClearAfter: day},
			model.KindPSU:         {Bucket: Duration(time.Hour), History: 24 * 21, Baseline: 3 * day, Confirm: 2, ClearAfter: day},
			model.KindTemperature: {Bucket: Duration(time.Hour), History: 24 * 21, Baseline: 3 * day, Confirm: 3, ClearAfter: day},
			model.KindVoltage:     {Bucket: Duration(time.Hour), History: 24 * 21, Baseline: 3 * day, Confirm: 3, ClearAfter: day},
			"":                    {Bucket: Duration(time.Hour), History: 24 * 7, Baseline: day, Confirm: 2, ClearAfter: day},
		},
		Source: SourceConfig{WarningHold: Duration(time.Hour), Warning: 0.3, Critical: 0.85, Absent: 0.6,
			RemovedHold: Duration(time.Hour), Maintenance: Duration(time.Hour)},
		Disk: DiskConfig{
			Counters: []CounterConfig{
				{Reading: "smart_5_raw", Label: "reallocated sectors", Level: 0.2, Growth: 0.6, Scale: 50},
				{Reading: "smart_197_raw", Label: "pending sectors", Group: "unreadable", Level: 0.3, Growth: 0.6, Scale: 64},
				{Reading: "smart_198_raw", Label: "offline uncorrectable sectors", Group: "unreadable", Level: 0.3, Growth: 0.6, Scale: 64},
				{Reading: "smart_187_raw", Label: "reported uncorrectable errors", Level: 0.2, Growth: 0.6, Scale: 20},
				{Reading: "smart_188_raw", Label: "command timeouts", Level: 0.05, Growth: 0.3, Scale: 10},
				{Reading: "smart_184_raw", Label: "end-to-end errors", Level: 0.3, Growth: 0.6, Scale: 5},
				{Reading: "smart_10_raw", Label: "spin retries", Level: 0.1, Growth: 0.4, Scale: 5},
				{Reading: "smart_196_raw", Label: "reallocation events", Level: 0.1, Growth: 0.4, Scale: 20},
				// UDMA CRC errors count transfers corrupted between the drive
				// and its host: a cable, backplane or connector, not the
				// media. Old ones are a scar of a cable since replaced (no
				// level score); a burst means the link is failing now, and
				// the drive will drop off the bus with it.
				{Reading: "smart_199_raw", Label: "interface CRC errors (cable or backplane, not the media)", Growth: 0.55, Scale: 100},
				{Reading: "media_errors", Label: "NVMe media errors", Level: 0.2, Growth: 0.6, Scale: 20},
				{Reading: "grown_defects", Label: "grown defects", Level: 0.2, Growth: 0.6, Scale: 50},
				{Reading: "read_uncorrected_errors", Label: "uncorrected read errors", Level: 0.2, Growth: 0.6, Scale: 10},
				{Reading: "write_uncorrected_errors", Label: "uncorrected write errors", Level: 0.2, Growth: 0.6, Scale: 10},
			},
			Window:               14 * day,
			FailedSelfTest:       0.6,
			PredictedFailure:     0.9,
			NVMeCriticalWarning:  0.9,
			SpareMargin:          10,
			PercentageUsedWatch:  90,
			MediaLifeLeftWatch:   10,
			NormalizedWindow:     30 * day,
			NormalizedHorizon:    30 * day,
			NormalizedForecast:   0.8,
			NormalizedMinDrop:    3,
			NormalizedMinDays:    14,
			NormalizedMinSlopeSE: 2,
			// Off by default: on the 2018 validate split it catches no
			// more failures 7 days ahead, and raises the new onsets
			// (docs/evaluation.md).
			Model: DiskModelConfig{Enabled: false, Weight: 1, parsed: embeddedDiskModel()},
		},
		Fan: FanConfig{DeclineWatch: 0.08, DeclineDegrading: 0.15, DeclineWindow: Duration(6 * time.Hour),
			SiblingGap: 0.15, JitterRatio: 3, JitterWindow: day, JitterFloor: 0.005,
			DipDepth: 0.3, DipWindow: day, DipScore: 0.3, DipMax: 0.75, ThermalMinR2: 0.5, ThermalMinSpread: 0.5,
			Horizon: 7 * day, ForecastWindow: 3 * day, LoadSmoothing: Duration(2 * time.Hour), RedundancyLost: 0.25,
			ZoneCorrelation: 0.6, ZoneMinChanges: 24, ZoneWindow: 7 * day, StepRatio: 0.1},
		PSU: PSUConfig{InputVoltageBand: 0.1, EfficiencyDrop: 0.04, EfficiencyWindow: day, LoadTolerance: 0.15,
			OutputSag: 0.03, TemperatureRise: 8, FanDecline: 0.25, LoadWatch: 0.9,
			RecurrenceWindow: 7 * day, InputLoss: 0.3, RedundancyLost: 0.55, Recent: Duration(6 * time.Hour), Horizon: 7 * day},
		Temperature: TemperatureConfig{Margin: 0.35, Horizon: 7 * day, MinDrift: 0.2, MinDriftSpan: 0.01,
			Window: 5 * day, Level: day, ForecastProgress: 0.3},
		EventLog: EventLogConfig{HalfLife: 2 * day, Warning: 0.35, Critical: 0.6,
			StaleAfter: Duration(6 * time.Hour), Stale: 0.25, RecurrenceWindow: 7 * day, Max: 0.9, Unmatched: 0.3,
			Types: []LogTypeConfig{
				{Type: "log_cleared", Label: "log cleared", Ignore: true,
					Match: []string{"log cleared", "log was cleared", "logs cleared", "log area reset/cleared", "sel cleared", "clear log", "cleared the log", "log service cleared"}},
				// Message ids whose words differ from the messages': DMTF
				// Power.1.0 LineInputPowerFault ("Line input power fault
				// at '%1'", which "fault" would file as the PSU's own
				// failure), OpenBMC's PowerSupplyACLost ("Power supply %1 AC
				// power lost.", bmcweb openbmc_message_registry), iDRAC's
				// PSU0003 ("The power input for power supply %1 is lost.",
				// Dell EEMS reference). The Redfish reader's LineInputStatus
				// condition ("LineInputStatus.LossOfInput", PowerSupply
				// v1.6 LineStatus) matches "lossofinput".
				{Type: "input_lost", Label: "input power lost", Weight: 0.35, HalfLife: 3 * day,
					Match: []string{"loss of input", "lossofinput", "input power lost", "input lost", "ac lost", "power supply input lost", "inputlost",
						"lineinputpowerfault", "powersupplyaclost", "psu0003",
						// HPE iLO 5 IML: "System Power Supply: Input Power Loss or
						// Unplugged Power Cord, Verify Power Supply Input (Power
						// Supply 2)" (the cray-csm DL325 capture's own entries).
						"input power loss"}},
				// PowerSupply v1.6 LineStatus OutOfRange: "line input voltage
				// or current is outside of normal operating range", as the
				// PSU itself judges it; a PSU's input voltage band counts
				// it (psu.go), as the voltage band at its limit.
				{Type: "input_out_of_range", Label: "input out of range", Weight: 0.5, HalfLife: day,
					Match: []string{"lineinputstatus.outofrange"}},
				// OpenBMC's PowerSupplyFailurePredicted writes the words
				// without a space in its id.
				{Type: "predictive_failure", Label: "predictive failure", Weight: 0.55, HalfLife: 7 * day,
					Match: []string{"predictive failure", "predicted failure", "predictivefailure", "failure predicted", "failurepredicted"}},
				// A part removed or inserted (a BMC's "Power supply PSU1
				// removed", IPMI "Device Removed/Device Absent", "Device
				// Inserted/Device Present", DMTF ResourceEvent
				// ResourceRemoved): maintenance, not a fault. Presence is
				// judged live (the part's state); the entry marks the swap,
				// so that the input loss around it counts for nothing.
				{Type: "presence", Label: "part removed or inserted", Ignore: true,
					Match: []string{"removed", "inserted", "device absent", "device present", "not present", "presence detected"}},
				{Type: "failure", Label: "failure", Weight: 0.7, HalfLife: 7 * day,
					Match: []string{"has failed", "failure detected", "failed", "fault"}},
				{Type: "threshold", Label: "threshold crossed", HalfLife: day,
					Match: []string{"threshold", "going low", "going high", "upper critical", "lower critical", "upper non-critical", "lower non-critical"}},
			}},
	}
}

// LoadConfig reads a JSON configuration over the defaults: fields the file
// leaves out keep their default values, within a kind too
// ({"kinds": {"drive": {"degrading": 0.55}}} changes only that field).
func LoadConfig(r io.Reader) (Config, error) {
	cfg := DefaultConfig()
	data, err := io.ReadAll(io.LimitReader(r, maxConfigBytes+1))
	if err != nil {
		return cfg, fmt.Errorf("detector config: %w", err)
	}
	if len(data) > maxConfigBytes {
		return cfg, fmt.Errorf("detector config: larger than %d bytes", maxConfigBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("detector config: %w", err)
	}
	// encoding/json decodes a map's values from zero: decode each kind
	// the file names again, over its default (the fields were checked
	// above).
	var kinds struct {
		Kinds map[model.Kind]json.RawMessage `json:"kinds"`
	}
	if err := json.Unmarshal(data, &kinds); err != nil {
		return cfg, fmt.Errorf("detector config: %w", err)
	}
	defaults := DefaultConfig()
	for k, raw := range kinds.Kinds {
		kc := defaults.kind(k)
		if err := json.Unmarshal(raw, &kc); err != nil {
			return cfg, fmt.Errorf("detector config: kind %q: %w", k, err)
		}
		cfg.Kinds[k] = kc
	}
	return cfg, cfg.Validate()
}

// maxConfigBytes bounds a configuration file (the defaults are 10 KB).
const maxConfigBytes = 1 << 20

// Validate checks that the levels are ordered and the kinds usable.
func (c Config) Validate() error {
	if !(0 < c.Watch && c.Watch < c.Degrading && c.Degrading < c.Failing && c.Failing <= 1) {
		return fmt.Errorf("detector config: want 0 < watch < degrading < failing <= 1, got %g, %g, %g", c.Watch, c.Degrading, c.Failing)
	}
	if c.Hysteresis < 0 || c.Hysteresis >= c.Watch {
		return fmt.Errorf("detector config: hysteresis %g must be in [0, watch)", c.Hysteresis)
	}
	if c.Disk.NormalizedWindow <= 0 || c.Disk.NormalizedHorizon <= 0 {
		return fmt.Errorf("detector config: disk.normalized_window and disk.normalized_horizon must be > 0, got %s and %s",
			c.Disk.NormalizedWindow.D(), c.Disk.NormalizedHorizon.D())
	}
	if c.Disk.Model.Weight < 0 || c.Disk.Model.Weight > 1 {
		return fmt.Errorf("detector config: disk.model.weight must be in [0, 1], got %g", c.Disk.Model.Weight)
	}
	if c.Disk.Model.Enabled && c.Disk.Model.parsed == nil {
		if _, err := DefaultDiskModel(); err != nil {
			return fmt.Errorf("detector config: disk.model: %w", err)
		}
		return fmt.Errorf("detector config: disk.model.enabled but no model loaded (start from DefaultConfig, or UseModel)")
	}
	if c.Fan.ZoneMinChanges < 3 || c.Fan.StepRatio < 0 {
		return fmt.Errorf("detector config: fan.zone_min_changes must be >= 3 and fan.step_ratio >= 0, got %d and %g", c.Fan.ZoneMinChanges, c.Fan.StepRatio)
	}
	for k, kc := range c.Kinds {
		if kc.Bucket <= 0 || kc.History < 3 || kc.Confirm < 1 {
			return fmt.Errorf("detector config: kind %q: bucket must be > 0, history >= 3, confirm >= 1", k)
		}
		if kc.Degrading != 0 && !(c.Watch < kc.Degrading && kc.Degrading < c.Failing) {
			return fmt.Errorf("detector config: kind %q: degrading %g must be between watch %g and failing %g (or 0: the global %g)",
				k, kc.Degrading, c.Watch, c.Failing, c.Degrading)
		}
	}
	return nil
}

// DegradingFor returns the risk at which a component of kind k enters
// degrading: its kind's own level, else the global one.
func (c *Config) DegradingFor(k model.Kind) float64 {
	if kc := c.kind(k); kc.Degrading != 0 {
		return kc.Degrading
	}
	return c.Degrading
}

// kind returns the settings of kind k (the "" entry for kinds not listed).
func (c *Config) kind(k model.Kind) KindConfig {
	if kc, ok := c.Kinds[k]; ok {
		return kc
	}
	return c.Kinds[""]
}
