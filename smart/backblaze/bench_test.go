package backblaze

import (
	"context"
	"errors"
	"io"
	"testing"
)

// BenchmarkRead2018 reads the open 2018 ST4000DM000 set (747,025 rows in
// two gzipped files) day by day: the reader's share of a replay.
func BenchmarkRead2018(b *testing.B) {
	files := []string{testdata("backblaze_2018_st4000dm000", "failed_drives.csv.gz"), testdata("backblaze_2018_st4000dm000", "healthy_drives_sample.csv.gz")}
	b.ReportAllocs()
	rows := 0
	for b.Loop() {
		r, err := Open(context.Background(), files, ReaderOptions{})
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, _, err := r.NextDay(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		rows = r.Stats().Rows
		r.Close()
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
