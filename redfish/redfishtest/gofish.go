package redfishtest

import (
	"context"

	"github.com/stmcginnis/gofish"
)

// GofishWalk reads the health resources prefail reads (thermal, power,
// sensors, drives, memory, processors, storage, logs) with gofish v0.26.0's
// own API, as a user of gofish would: the baseline the benchmarks compare
// prefail with. Decoding failures are skipped, as a tolerant gofish user
// would; only a failed login is an error.
func GofishWalk(ctx context.Context, cfg gofish.ClientConfig) error {
	c, err := gofish.ConnectContext(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Logout()
	svc := c.GetService()
	chassis, _ := svc.Chassis()
	for _, ch := range chassis {
		_, _ = ch.Thermal()
		_, _ = ch.Power()
		if ts, err := ch.ThermalSubsystem(); err == nil && ts != nil {
			_, _ = ts.Fans()
		}
		if ps, err := ch.PowerSubsystem(); err == nil && ps != nil {
			_, _ = ps.PowerSupplies()
		}
		_, _ = ch.Sensors()
		_, _ = ch.EnvironmentMetrics()
		_, _ = ch.Drives()
	}
	systems, _ := svc.Systems()
	for _, s := range systems {
		_, _ = s.Memory()
		_, _ = s.Processors()
		if st, err := s.Storage(); err == nil {
			for _, x := range st {
				_, _ = x.Drives()
			}
		}
		if ls, err := s.LogServices(); err == nil {
			for _, l := range ls {
				_, _ = l.Entries()
			}
		}
	}
	managers, _ := svc.Managers()
	for _, m := range managers {
		if ls, err := m.LogServices(); err == nil {
			for _, l := range ls {
				_, _ = l.Entries()
			}
		}
	}
	return nil
}
