package backblaze

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// fuzzSeeds are the first lines of every test file, plus hand-made edge
// cases.
func fuzzSeeds(t testing.TB) [][]byte {
	seeds := [][]byte{
		[]byte("date,serial_number,model,capacity_bytes,failure,smart_5_raw\n2018/1/1,A,M,1,0,0.0\n2018-01-02,A,M,1,1,5\n"),
		[]byte("serial_number,date,failure,smart_5_raw,smart_197_raw\nA,1/2/2018,0,,\nB,1/2/2018,0,1,\"2\"\n"),
		[]byte("date,serial_number\r\n2018-01-02,A\r\n\r\n2018-01-01,B\r\n"),
		[]byte("\ufeffdate,serial_number,smart_9_normalized\n2018-01-01,A,1e3\n2018-01-01,A,7"),
	}
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "backblaze", "*", "*.csv*"))
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = fh
		if filepath.Ext(f) == ".gz" {
			if r, err = gzip.NewReader(fh); err != nil {
				t.Fatal(err)
			}
		}
		var b bytes.Buffer
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 1<<20)
		for i := 0; i < 12 && sc.Scan(); i++ {
			b.Write(sc.Bytes())
			b.WriteByte('\n')
		}
		fh.Close()
		seeds = append(seeds, b.Bytes())
	}
	return seeds
}

// readString reads data whole and renders what the reader returned, or
// the error.
func readString(t *testing.T, data []byte, opts ReaderOptions) (string, error) {
	r, err := NewReader(context.Background(), []Source{{Name: "fuzz.csv", R: bytes.NewReader(data)}}, opts)
	if err != nil {
		return "", err
	}
	defer r.Close()
	var b bytes.Buffer
	prev := int64(-1 << 62)
	for {
		d, rows, err := r.NextDay(context.Background())
		if errors.Is(err, io.EOF) {
			return b.String(), nil
		}
		if err != nil {
			return b.String(), err
		}
		if d.Unix() <= prev || d.Unix()%86400 != 0 {
			t.Fatalf("day %v after %v", d, prev)
		}
		prev = d.Unix()
		seen := map[int]bool{}
		for _, row := range rows {
			if len(row.Values) != len(r.Columns()) || row.Drive < 0 || row.Drive >= r.Stats().Drives || seen[row.Drive] || row.Serial == "" {
				t.Fatalf("bad row %+v (columns %d, drives %d)", row, len(r.Columns()), r.Stats().Drives)
			}
			seen[row.Drive] = true
			fmt.Fprintf(&b, "%d %q %q %d %v %v %d\n", d.Unix(), row.Serial, row.Model, row.CapacityBytes, row.Values, row.Failure, row.Line)
		}
	}
}

// FuzzBackblazeCSV: any input either reads or fails with an error naming
// the file and line; gzip, tiny read chunks (lines split across reads)
// and Sort on a sorted file all read the same rows.
func FuzzBackblazeCSV(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want, err := readString(t, data, ReaderOptions{WithLabels: true})
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.File != "fuzz.csv" || pe.Line < 1 {
				t.Fatalf("error without file and line: %v", err)
			}
			return
		}
		for _, opts := range []ReaderOptions{{WithLabels: true, chunk: 3}, {WithLabels: true, Sort: true}} {
			got, err := readString(t, data, opts)
			if err != nil || got != want {
				t.Fatalf("options %+v: %v\n%s\nwant\n%s", opts, err, got, want)
			}
		}
		if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
			var z bytes.Buffer
			zw := gzip.NewWriter(&z)
			zw.Write(data)
			zw.Close()
			got, err := readString(t, z.Bytes(), ReaderOptions{WithLabels: true})
			if err != nil || got != want {
				t.Fatalf("gzipped: %v\n%s\nwant\n%s", err, got, want)
			}
		}
	})
}
