package redfish_test

import (
	"context"
	"testing"

	"github.com/stmcginnis/gofish"

	"github.com/prefail/prefail/redfish"
	"github.com/prefail/prefail/redfish/redfishmock"
	"github.com/prefail/prefail/redfish/redfishtest"
)

// BenchmarkScan measures one full one-shot scan (login, walk, logout) of
// an embedded capture through the mock server over loopback HTTP, and
// reports the requests each scan costs.
//
//	go test ./redfish -run '^$' -bench . -benchmem
func BenchmarkScan(b *testing.B) {
	for _, name := range []string{"public-rackmount1", "public-tower"} {
		tree, err := redfishmock.Embedded(name)
		if err != nil {
			b.Fatal(err)
		}
		for _, mode := range []struct {
			name string
			opts []redfishmock.Option
		}{
			{"expand", nil},
			{"dmtf-mockup-server", []redfishmock.Option{redfishmock.WithDMTFMockupServerBehaviour()}},
		} {
			b.Run(name+"/prefail/"+mode.name, func(b *testing.B) {
				ts := redfishtest.NewServer(tree, mode.opts...)
				defer ts.Close()
				b.ReportAllocs()
				var requests int
				for b.Loop() {
					snap, err := redfish.Scan(context.Background(), ts.URL, redfish.WithCredentials("admin", "password"))
					if err != nil {
						b.Fatal(err)
					}
					requests = snap.Requests
				}
				b.ReportMetric(float64(requests), "requests/scan")
			})
			b.Run(name+"/gofish/"+mode.name, func(b *testing.B) {
				ts := redfishtest.NewServer(tree, mode.opts...)
				defer ts.Close()
				b.ReportAllocs()
				var requests int64
				for b.Loop() {
					ts.Mock.ResetRequests()
					gofishScan(b, ts.URL)
					requests = ts.Mock.Requests()
				}
				b.ReportMetric(float64(requests), "requests/scan")
			})
		}
	}
}

// gofishScan reads the same health resources with gofish v0.26.0's own
// API, as a user of gofish would: the baseline the issue measures.
// Decoding failures are skipped, as a tolerant gofish user would.
func gofishScan(b *testing.B, url string) {
	c, err := gofish.Connect(gofish.ClientConfig{Endpoint: url, Username: "admin", Password: "password"})
	if err != nil {
		b.Fatal(err)
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
}
