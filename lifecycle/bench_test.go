package lifecycle

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/prefail/prefail/model"
)

// fleetSnapshot is server i of a fleet: 100 parts as a Redfish BMC
// names them (2 PSUs, 8 fans, 24 drives, 32 DIMMs, 2 CPUs, 32 others),
// with models and firmware shared across the fleet and serials unique.
func fleetSnapshot(i int, at time.Time) *model.Snapshot {
	s := &model.Snapshot{Target: fmt.Sprintf("https://bmc%05d.dc1.example.com", i), Time: at}
	add := func(kind model.Kind, n int, path, modelName, fw string, inv func(*model.Inventory), readings ...string) {
		for j := range n {
			c := model.Component{Kind: kind, ID: fmt.Sprintf("/redfish/v1/Chassis/1U/%s/%d", path, j), Name: fmt.Sprintf("%s %d", path, j),
				Location: fmt.Sprintf("Bay %d", j), Health: model.HealthOK,
				Inventory: model.Inventory{Manufacturer: "Contoso", Model: modelName, SerialNumber: fmt.Sprintf("SN%07d%03d", i, j),
					PartNumber: modelName + "-PN", FirmwareVersion: fw}}
			if inv != nil {
				inv(&c.Inventory)
			}
			for _, r := range readings {
				c.Readings = append(c.Readings, model.Reading{Name: r, Value: model.Float(float64(1000 + j))})
			}
			s.Components = append(s.Components, c)
		}
	}
	add(model.KindPSU, 2, "PowerSubsystem/PowerSupplies", "DPS-800AB", "1.2.0", func(inv *model.Inventory) { inv.ManufactureDate = "2021-01-11T08:00:00Z" }, "input_power", "output_power")
	add(model.KindFan, 8, "ThermalSubsystem/Fans", "PFR0612UHE", "", nil, "speed")
	add(model.KindDrive, 24, "Drives", "ST4000NM0035", fmt.Sprintf("TN0%d", i%3), func(inv *model.Inventory) {
		inv.MediaType, inv.PowerOnHours = "HDD", model.Float(float64(30000+i%20000))
	}, "smart_5_raw", "smart_197_raw")
	add(model.KindMemory, 32, "Memory", "HMA84GR7AFR4N-VK", "", nil)
	add(model.KindProcessor, 2, "Processors", "Xeon Gold 6338", "0xd000375", nil)
	add(model.KindStorage, 32, "Storage", "PERC H755", "52.16.1-4405", nil)
	return s
}

// buildFleet builds the inventory of servers servers.
func buildFleet(tb testing.TB, servers int, opts ...Option) *Inventory {
	tb.Helper()
	at := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	b, err := NewBuilder(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	for i := range servers {
		s := fleetSnapshot(i, at)
		if err := b.Add(s.Target, s); err != nil {
			tb.Fatal(err)
		}
	}
	return b.Inventory()
}

// heapPerRow builds a fleet and returns the heap it holds per row.
func heapPerRow(tb testing.TB, servers int) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	inv := buildFleet(tb, servers)
	runtime.GC()
	runtime.ReadMemStats(&after)
	rows := inv.Len()
	runtime.KeepAlive(inv)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(rows)
}

// The rows stay compact: 10,000 servers x 100 parts must fit in a few
// hundred MB. (A bound on bytes, not on time.)
func TestRowMemory(t *testing.T) {
	const servers = 200
	perRow := heapPerRow(t, servers)
	t.Logf("%.0f bytes per row (%d servers x 100 parts): %.0f MB for 10,000 servers x 100 parts", perRow, servers, perRow*1_000_000/1e6)
	if perRow > 300 {
		t.Errorf("%.0f bytes per row; want at most 300 (1,000,000 rows in 300 MB)", perRow)
	}
}

// BenchmarkBuild: building the inventory of 1,000 servers x 100 parts,
// with the history function consulted (empty history); bytes/row is the
// heap the built inventory holds.
func BenchmarkBuild(b *testing.B) {
	const servers = 1000
	at := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	snaps := make([]*model.Snapshot, servers)
	for i := range snaps {
		snaps[i] = fleetSnapshot(i, at)
	}
	noHistory := WithHistory(func(_, _, _ string) []HistoryPoint { return nil })
	b.ReportAllocs()
	for b.Loop() {
		bld, err := NewBuilder(noHistory)
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range snaps {
			if err := bld.Add(s.Target, s); err != nil {
				b.Fatal(err)
			}
		}
		bld.Inventory()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*servers*100), "ns/row")
	b.ReportMetric(heapPerRow(b, servers), "bytes/row")
}

// BenchmarkWriteCSV: writing 100,000 rows.
func BenchmarkWriteCSV(b *testing.B) {
	inv := buildFleet(b, 1000)
	b.ResetTimer()
	for b.Loop() {
		if err := inv.WriteCSV(context.Background(), io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*inv.Len()), "ns/row")
}
