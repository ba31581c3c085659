package ipmi_test

import (
	"context"
	"fmt"
	"net"
	"testing"

	"github.com/prefail/prefail/ipmi"
	"github.com/prefail/prefail/ipmi/ipmisim"
)

// BenchmarkFailingBoard compares one full read of the failing board
// (sensors with thresholds, SEL, chassis status) by prefail, ipmitool and
// FreeIPMI, each through a counting relay: ns/op and requests/op.
//
//	go test ./ipmi -run '^$' -bench FailingBoard -benchtime 20x
func BenchmarkFailingBoard(b *testing.B) {
	s := ipmisim.StartT(b, boardDir("failing"))
	relay, err := ipmisim.NewRelay(s.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer relay.Close()
	addr := net.JoinHostPort("127.0.0.1", fmt.Sprint(relay.Port()))
	ctx := context.Background()
	run := func(b *testing.B, f func()) {
		f() // warm-up (fills caches where the case has one)
		relay.Reset()
		b.ResetTimer()
		for b.Loop() {
			f()
		}
		b.ReportMetric(float64(relay.Requests())/float64(b.N), "requests/op")
	}
	b.Run("prefail-cold", func(b *testing.B) {
		run(b, func() {
			if _, err := ipmi.Scan(ctx, addr, ipmi.WithCredentials(s.Username, s.Password)); err != nil {
				b.Fatal(err)
			}
		})
	})
	cache := b.TempDir()
	b.Run("prefail-sdr-cache", func(b *testing.B) {
		run(b, func() {
			if _, err := ipmi.Scan(ctx, addr, ipmi.WithCredentials(s.Username, s.Password), ipmi.WithSDRCacheDir(cache)); err != nil {
				b.Fatal(err)
			}
		})
	})
	c, err := ipmi.New(addr, ipmi.WithCredentials(s.Username, s.Password), ipmi.WithSDRCacheDir(cache))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("prefail-sdr-cache-sel-cursor", func(b *testing.B) {
		run(b, func() {
			if _, err := c.Scan(ctx); err != nil {
				b.Fatal(err)
			}
		})
	})
	tool := func(args ...string) {
		if _, err := ipmisim.Ipmitool(ctx, "127.0.0.1", relay.Port(), s.Username, s.Password, args...); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("ipmitool", func(b *testing.B) {
		run(b, func() {
			tool("sensor")
			tool("sel", "elist")
			tool("chassis", "status")
		})
	})
	free := func(cacheDir string) func() {
		return func() {
			for _, args := range [][]string{
				{"ipmi-sensors", "--sdr-cache-directory", cacheDir, "--output-sensor-thresholds"},
				{"ipmi-sel", "--sdr-cache-directory", cacheDir},
				{"ipmi-chassis", "--get-chassis-status"},
			} {
				if _, err := ipmisim.FreeIPMI(ctx, args[0], "127.0.0.1", relay.Port(), s.Username, s.Password, args[1:]...); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.Run("freeipmi-sdr-cache", func(b *testing.B) { run(b, free(b.TempDir())) })
}
