package backblaze

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func testdata(parts ...string) string {
	return filepath.Join(append([]string{"..", "..", "testdata", "backblaze"}, parts...)...)
}

// day is one NextDay result, flattened for comparisons.
type dayRows struct {
	day  string
	rows []string
}

// readAll reads every day; rows are "serial model cap col=value... [F]".
func readAll(t testing.TB, r *Reader) ([]dayRows, error) {
	t.Helper()
	var out []dayRows
	for {
		d, rows, err := r.NextDay(context.Background())
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		dr := dayRows{day: d.Format(time.DateOnly)}
		for _, row := range rows {
			var b strings.Builder
			fmt.Fprintf(&b, "%s %s %d", row.Serial, row.Model, row.CapacityBytes)
			for i, c := range r.Columns() {
				if v, ok := row.Value(i); ok {
					fmt.Fprintf(&b, " %s=%s", c.Name, strconv.FormatFloat(v, 'f', -1, 64))
				}
			}
			if row.Failure {
				b.WriteString(" F")
			}
			dr.rows = append(dr.rows, b.String())
		}
		out = append(out, dr)
	}
}

func newTestReader(t testing.TB, opts ReaderOptions, files ...string) (*Reader, error) {
	t.Helper()
	var srcs []Source
	for i, f := range files {
		srcs = append(srcs, Source{Name: fmt.Sprintf("f%d.csv", i+1), R: strings.NewReader(f)})
	}
	r, err := NewReader(context.Background(), srcs, opts)
	if err == nil {
		t.Cleanup(func() { r.Close() })
	}
	return r, err
}

func TestParseDate(t *testing.T) {
	for in, want := range map[string]string{
		"2018-01-02": "2018-01-02",
		"2018/1/1":   "2018-01-01",
		"2018/12/31": "2018-12-31",
		"2018-1-9":   "2018-01-09",
		"1/2/2018":   "2018-01-02",
		"12/31/2019": "2019-12-31",
		"2020-02-29": "2020-02-29",
	} {
		d, err := parseDate([]byte(in))
		if err != nil || d.time().Format(time.DateOnly) != want {
			t.Errorf("parseDate(%q) = %v, %v; want %s", in, d.time(), err, want)
		}
	}
	for _, in := range []string{"", "2018", "2018-01", "2018-13-01", "2019-02-29", "2018-01-00", "2018-01-01x",
		"20180101", "2018-01/01", "18-01-01", "1/2/18", "2018-001-01", "-2018-01-01", "1969-12-31", "2018--01"} {
		if d, err := parseDate([]byte(in)); err == nil {
			t.Errorf("parseDate(%q) = %v, want an error", in, d.time())
		}
	}
}

func TestParseNumMatchesStrconv(t *testing.T) {
	for _, in := range []string{"0", "0.0", "-0", "7", "29856061680.0", "280442000000.0", "123456789012345",
		"1234567890123456", "12345678901234567890", "1.5", "1e3", "-12.25", ".5", "5.", "0.000", "+3", "0x10p0", "1_0"} {
		want, werr := strconv.ParseFloat(in, 64)
		got, err := parseNum([]byte(in))
		if (err != nil) != (werr != nil) || (err == nil && got != want) {
			t.Errorf("parseNum(%q) = %v, %v; strconv says %v, %v", in, got, err, want, werr)
		}
	}
	for _, in := range []string{"NaN", "Inf", "-inf", "1e400", "abc", ""} {
		if v, err := parseNum([]byte(in)); err == nil {
			t.Errorf("parseNum(%q) = %v, want an error", in, v)
		}
	}
}

func TestReadDaysMergedAcrossFiles(t *testing.T) {
	// Two files with different column subsets and orders, one date in the
	// 2018/1/1 style, empty cells, CRLF endings and a blank line.
	a := "date,serial_number,model,capacity_bytes,failure,smart_5_normalized,smart_5_raw,smart_197_raw\r\n" +
		"2018/1/1,A1,ST4000DM000,4000787030016,0,100,0.0,\r\n" +
		"2018-01-01,A2,ST4000DM000,-1,0,,8.0,2\r\n" +
		"\r\n" +
		"2018-01-03,A1,ST4000DM000,4000787030016,1,99,29856061680.0,0\r\n"
	b := "serial_number,date,model,failure,smart_9_raw,smart_5_raw\n" +
		"B1,2018-01-02,HGST X,0,35449,0\n" +
		"B1,2018-01-03,HGST X,0,35473,1"
	r, err := newTestReader(t, ReaderOptions{WithLabels: true}, a, b)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range r.Columns() {
		names = append(names, c.Name)
	}
	if got, want := strings.Join(names, ","), "smart_5_normalized,smart_5_raw,smart_9_raw,smart_197_raw"; got != want {
		t.Errorf("columns %s, want %s", got, want)
	}
	got, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	want := []dayRows{
		{"2018-01-01", []string{"A1 ST4000DM000 4000787030016 smart_5_normalized=100 smart_5_raw=0", "A2 ST4000DM000 0 smart_5_raw=8 smart_197_raw=2"}},
		{"2018-01-02", []string{"B1 HGST X 0 smart_5_raw=0 smart_9_raw=35449"}},
		{"2018-01-03", []string{"A1 ST4000DM000 4000787030016 smart_5_normalized=99 smart_5_raw=29856061680 smart_197_raw=0 F", "B1 HGST X 0 smart_5_raw=1 smart_9_raw=35473"}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got\n%v\nwant\n%v", got, want)
	}
	if s := r.Stats(); s != (Stats{Files: 2, Rows: 5, Days: 3, Drives: 3}) {
		t.Errorf("stats %+v", s)
	}
}

func TestRowIndexAndDuplicates(t *testing.T) {
	a := "date,serial_number,failure,smart_5_raw\n2019-12-30,X,0,1\n2019-12-31,X,0,2\n2019-12-31,Y,1,0\n"
	b := "date,serial_number,failure,smart_5_raw\n2019-12-31,Y,0,9\n2019-12-31,Z,0,3\n2019-12-31,Z,0,4\n"
	r, err := newTestReader(t, ReaderOptions{WithLabels: true}, a, b)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, rows, err := r.NextDay(ctx); err != nil || len(rows) != 1 || rows[0].Drive != 0 {
		t.Fatalf("day 1: %+v, %v", rows, err)
	}
	_, rows, err := r.NextDay(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, row := range rows {
		got = append(got, fmt.Sprintf("%s#%d=%g@%s:%d,%v", row.Serial, row.Drive, row.Values[0], row.File, row.Line, row.Failure))
	}
	// The first file wins a duplicate; a label on any duplicate is kept.
	if want := "[X#0=2@f1.csv:3,false Y#1=0@f1.csv:4,true Z#2=3@f2.csv:3,false]"; fmt.Sprint(got) != want {
		t.Errorf("got %v, want %s", got, want)
	}
	if s := r.Stats(); s.Duplicates != 2 || s.Drives != 3 {
		t.Errorf("stats %+v", s)
	}
}

func TestFailureColumnIgnoredWithoutLabels(t *testing.T) {
	// Without WithLabels the failure column is not even parsed.
	csv := "date,serial_number,failure,smart_5_raw\n2018-01-01,A,bogus,1\n2018-01-02,A,1,2\n"
	r, err := newTestReader(t, ReaderOptions{}, csv)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(fmt.Sprint(got), " F") {
		t.Errorf("a label leaked without WithLabels: %v", got)
	}
	r, err = newTestReader(t, ReaderOptions{WithLabels: true}, csv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(t, r); err == nil || !strings.Contains(err.Error(), "f1.csv:2: column failure") {
		t.Errorf("with labels: err %v, want f1.csv:2: column failure", err)
	}
}

func TestErrorsNameFileLineAndColumn(t *testing.T) {
	for _, tc := range []struct {
		name, csv, want string
		opts            ReaderOptions
	}{
		{"unsorted", "date,serial_number\n2018-01-02,A\n2018-01-02,B\n2018-01-01,C\n",
			"f1.csv:4: column date: 2018-01-01 is before 2018-01-02 (line 3): the file is not sorted by date", ReaderOptions{}},
		{"bad date", "date,serial_number\n2018-01-02,A\n2018-02-30,B\n", `f1.csv:3: column date: "2018-02-30": not a date`, ReaderOptions{}},
		{"bad number", "date,serial_number,smart_5_raw\n2018-01-02,A,1\n2018-01-02,B,x1\n", `f1.csv:3: column smart_5_raw: "x1": invalid syntax`, ReaderOptions{}},
		{"non-finite", "date,serial_number,smart_5_raw\n2018-01-02,A,Inf\n", `f1.csv:2: column smart_5_raw: "Inf": not a finite number`, ReaderOptions{}},
		{"bad capacity", "date,serial_number,capacity_bytes\n2018-01-02,A,4TB\n", `f1.csv:2: column capacity_bytes: "4TB"`, ReaderOptions{}},
		{"short row", "date,serial_number,smart_5_raw\n2018-01-02,A,1\n2018-01-02,B\n", "f1.csv:3: 2 fields, the header has 3", ReaderOptions{}},
		{"long row", "date,serial_number\n2018-01-02,A,1\n", "f1.csv:2: 3 fields, the header has 2", ReaderOptions{}},
		{"empty serial", "date,serial_number\n2018-01-02,\n", "f1.csv:2: column serial_number: empty", ReaderOptions{}},
		{"no serial column", "date,model\n2018-01-02,X\n", "f1.csv:1: column serial_number: header has no serial_number column", ReaderOptions{}},
		{"no date column", "serial_number\nA\n", "f1.csv:1: column date: header has no date column", ReaderOptions{}},
		{"twice", "date,serial_number,smart_5_raw,smart_5_raw\n", "f1.csv:1: column smart_5_raw: column appears twice", ReaderOptions{}},
		{"empty file", "", "f1.csv:1: no header line", ReaderOptions{}},
		{"bad quote", "date,serial_number\n2018-01-02,\"A\n", "f1.csv:2: ", ReaderOptions{}},
		{"bad label", "date,serial_number,failure\n2018-01-02,A,2\n", `f1.csv:2: column failure: "2": want 0 or 1`, ReaderOptions{WithLabels: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := newTestReader(t, tc.opts, tc.csv)
			if err == nil {
				_, err = readAll(t, r)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.File != "f1.csv" || pe.Line < 1 {
				t.Errorf("not a ParseError naming the file and line: %#v", err)
			}
		})
	}
}

func TestSortOption(t *testing.T) {
	csv := "date,serial_number,smart_5_raw\n2019-12-31,A,1\n2019-01-14,B,2\n2019-12-31,C,3\n2019-01-14,D,4\n"
	r, err := newTestReader(t, ReaderOptions{Sort: true}, csv)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	want := "[{2019-01-14 [B  0 smart_5_raw=2 D  0 smart_5_raw=4]} {2019-12-31 [A  0 smart_5_raw=1 C  0 smart_5_raw=3]}]"
	if fmt.Sprint(got) != want {
		t.Errorf("got %v, want %s", got, want)
	}
}

func TestQuotedFields(t *testing.T) {
	csv := "date,serial_number,model,smart_5_raw\n2018-01-01,\"A,1\",\"HGST \"\"X\"\"\",\"3\"\n2018-01-01,B,Y,4\n"
	r, err := newTestReader(t, ReaderOptions{}, csv)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	if want := `[{2018-01-01 [A,1 HGST "X" 0 smart_5_raw=3 B Y 0 smart_5_raw=4]}]`; fmt.Sprint(got) != want {
		t.Errorf("got %v, want %s", got, want)
	}
}

func gz(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestGzipSameAsPlain(t *testing.T) {
	plain, err := os.ReadFile(testdata("backblaze_2019_last_days", "TOSHIBA_MQ01ABF050_last_10_day_all_q_raw.csv"))
	if err != nil {
		t.Fatal(err)
	}
	read := func(data []byte) []dayRows {
		r, err := NewReader(context.Background(), []Source{{Name: "toshiba", R: bytes.NewReader(data)}}, ReaderOptions{WithLabels: true, Sort: true})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		days, err := readAll(t, r)
		if err != nil {
			t.Fatal(err)
		}
		return days
	}
	a, b := read(plain), read(gz(t, plain))
	if len(a) == 0 || fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("gzip and plain differ (%d and %d days)", len(a), len(b))
	}
}

func TestCorruptGzip(t *testing.T) {
	data := gz(t, []byte("date,serial_number\n"+strings.Repeat("2018-01-01,A\n", 100000)))
	data[len(data)/2] ^= 0xff
	r, err := NewReader(context.Background(), []Source{{Name: "bad.csv.gz", R: bytes.NewReader(data)}}, ReaderOptions{})
	if err == nil {
		_, err = readAll(t, r)
		r.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "bad.csv.gz:") {
		t.Errorf("err %v, want one naming bad.csv.gz", err)
	}
}

// The real files: the 2018 set is sorted (one day written 2018/1/1), the
// 2019 last-day extracts are sorted by serial number (an error naming the
// line without Sort), the failure-day file has every attribute and an
// extra source_file column.
func TestRealFiles(t *testing.T) {
	ctx := context.Background()
	r, err := Open(ctx, []string{testdata("backblaze_2019_last_days", "HGST_HMS5C4040BLE640_last_day_all_q_raw.csv")}, ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = readAll(t, r)
	r.Close()
	if err == nil || !strings.Contains(err.Error(), "HGST_HMS5C4040BLE640_last_day_all_q_raw.csv:") || !strings.Contains(err.Error(), "not sorted by date") {
		t.Errorf("unsorted real file: err %v", err)
	}

	files := []string{
		testdata("backblaze_2019_last_days", "HGST_HMS5C4040BLE640_last_day_all_q_raw.csv"),
		testdata("backblaze_2019_last_days", "TOSHIBA_MQ01ABF050_last_10_day_all_q_raw.csv"),
		testdata("backblaze_2019_last_days", "TOSHIBA_MQ01ABF050_last_day_all_q_raw.csv"),
	}
	r, err = Open(ctx, files, ReaderOptions{WithLabels: true, Sort: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	prev := time.Time{}
	failures := 0
	for {
		d, rows, err := r.NextDay(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !d.After(prev) {
			t.Fatalf("day %v after %v", d, prev)
		}
		prev = d
		for _, row := range rows {
			if row.Failure {
				failures++
			}
		}
	}
	s := r.Stats()
	// 14,606 + 5,335 + 534 rows; the last-day Toshiba file repeats the
	// 10-day file's last rows (dropped as duplicates).
	if s.Rows+s.Duplicates != 14606+5335+534 || s.Duplicates < 450 {
		t.Errorf("stats %+v", s)
	}
	if failures < 57 {
		t.Errorf("%d failure rows", failures)
	}

	r2, err := Open(ctx, []string{testdata("backblaze_failure_day_snapshots", "failure_day_rows_2020_2022.csv.gz")}, ReaderOptions{WithLabels: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if n := len(r2.Columns()); n != 186 {
		t.Errorf("%d SMART columns, want 186", n)
	}
	days, err := readAll(t, r2)
	if err != nil {
		t.Fatal(err)
	}
	rows, labelled := 0, 0
	for _, d := range days {
		rows += len(d.rows)
		for _, row := range d.rows {
			if strings.HasSuffix(row, " F") {
				labelled++
			}
		}
	}
	if rows != 6811 || labelled != 6811 {
		t.Errorf("%d rows, %d labelled failed, want 6811", rows, labelled)
	}
}

func TestCloseEarly(t *testing.T) {
	// Closing before the end stops the background readers.
	files := []string{testdata("backblaze_2018_st4000dm000", "healthy_drives_sample.csv.gz")}
	r, err := Open(context.Background(), files, ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.NextDay(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.NextDay(context.Background()); err == nil {
		t.Error("NextDay after Close: no error")
	}
}

func TestValueMissing(t *testing.T) {
	row := Row{Values: []float64{1, math.NaN()}}
	if v, ok := row.Value(0); !ok || v != 1 {
		t.Error("value 0")
	}
	if _, ok := row.Value(1); ok {
		t.Error("NaN is missing")
	}
	if _, ok := row.Value(5); ok {
		t.Error("out of range is missing")
	}
}
