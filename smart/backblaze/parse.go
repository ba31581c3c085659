package backblaze

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Column is one SMART attribute column of the Drive Stats schema.
type Column struct {
	// Name is the column's name, which is also the reading's name:
	// "smart_5_raw", "smart_194_normalized".
	Name string
	// Attr is the ATA attribute number (5 in smart_5_raw).
	Attr int
	// Raw is true for smart_N_raw, false for smart_N_normalized.
	Raw bool
}

// parseSmartColumn recognizes smart_N_raw and smart_N_normalized.
func parseSmartColumn(name string) (Column, bool) {
	rest, ok := strings.CutPrefix(name, "smart_")
	if !ok {
		return Column{}, false
	}
	num, kind, ok := strings.Cut(rest, "_")
	if !ok || (kind != "raw" && kind != "normalized") || num == "" || len(num) > 4 {
		return Column{}, false
	}
	n := 0
	for i := 0; i < len(num); i++ {
		if num[i] < '0' || num[i] > '9' {
			return Column{}, false
		}
		n = n*10 + int(num[i]-'0')
	}
	return Column{Name: name, Attr: n, Raw: kind == "raw"}, true
}

// columnCompare orders columns by attribute number, normalized before raw,
// so the reader's column set does not depend on the order of the files.
func columnCompare(a, b Column) int {
	if a.Attr != b.Attr {
		return a.Attr - b.Attr
	}
	switch {
	case a.Raw == b.Raw:
		return 0
	case b.Raw:
		return -1
	}
	return 1
}

// role is what the reader does with a column of one file.
type role int32

const (
	roleIgnore role = iota // a column the schema does not use (datacenter, source_file, ...)
	roleDate
	roleSerial
	roleModel
	roleCapacity
	roleFailure
	roleSmart // the column's unified index is in smart[]
)

// header is one file's column layout.
type header struct {
	names []string
	roles []role
	smart []int // unified index of each roleSmart column (indexed by file column)
	cols  []Column
}

// parseHeader reads a header line. The columns may come in any order and
// any subset; date and serial_number are required.
func parseHeader(file string, line []byte) (*header, error) {
	line = bytes.TrimPrefix(line, []byte("\ufeff"))
	fields, err := splitSlow(line, nil)
	if err != nil {
		return nil, &ParseError{File: file, Line: 1, Err: fmt.Errorf("header: %w", err)}
	}
	h := &header{roles: make([]role, len(fields)), smart: make([]int, len(fields))}
	seen := map[string]bool{}
	for i, f := range fields {
		name := strings.ToLower(strings.TrimSpace(string(f)))
		h.names = append(h.names, name)
		if name != "" && seen[name] {
			return nil, &ParseError{File: file, Line: 1, Column: name, Err: errors.New("column appears twice in the header")}
		}
		seen[name] = true
		switch name {
		case "date":
			h.roles[i] = roleDate
		case "serial_number":
			h.roles[i] = roleSerial
		case "model":
			h.roles[i] = roleModel
		case "capacity_bytes":
			h.roles[i] = roleCapacity
		case "failure":
			h.roles[i] = roleFailure
		default:
			if c, ok := parseSmartColumn(name); ok {
				h.roles[i] = roleSmart
				h.cols = append(h.cols, c)
			}
		}
	}
	for _, need := range []string{"date", "serial_number"} {
		if !seen[need] {
			return nil, &ParseError{File: file, Line: 1, Column: need, Err: fmt.Errorf("header has no %s column (got %s)", need, shorten(string(line)))}
		}
	}
	return h, nil
}

func shorten(s string) string {
	if len(s) > 120 {
		return strconv.Quote(s[:120] + "...")
	}
	return strconv.Quote(s)
}

// bind maps the file's SMART columns to the reader's unified columns.
func (h *header) bind(unified []Column) {
	for i, r := range h.roles {
		if r != roleSmart {
			continue
		}
		h.smart[i] = slices.IndexFunc(unified, func(c Column) bool { return c.Name == h.names[i] })
	}
}

// splitSlow splits a CSV line with RFC 4180 quoting; the fast path of
// the parser handles the unquoted lines Backblaze writes.
func splitSlow(line []byte, dst [][]byte) ([][]byte, error) {
	r := csv.NewReader(bytes.NewReader(line))
	r.FieldsPerRecord = -1
	r.ReuseRecord = false
	rec, err := r.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		if errors.Is(err, io.EOF) {
			return dst[:0], nil
		}
		return nil, err
	}
	if _, err := r.Read(); err == nil {
		return nil, errors.New("a quoted field holds a line break (not supported)")
	}
	dst = dst[:0]
	for _, f := range rec {
		dst = append(dst, []byte(f))
	}
	return dst, nil
}

// Days are counted from the Unix epoch, UTC: a row's date has no time of day.
type day int32

func (d day) time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// parseDate reads YYYY-MM-DD, YYYY/M/D and M/D/YYYY, month and day with
// one or two digits (Backblaze's own files use YYYY-MM-DD; one day of the
// 2018 extract is written 2018/1/1, a spreadsheet writes 1/31/2018).
func parseDate(b []byte) (day, error) {
	var nums [3]int
	var widths [3]int
	n := 0
	var sep byte
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			if widths[n] == 4 {
				return 0, errBadDate
			}
			nums[n] = nums[n]*10 + int(c-'0')
			widths[n]++
		case (c == '-' || c == '/') && n < 2 && widths[n] > 0 && (sep == 0 || sep == c):
			sep = c
			n++
		default:
			return 0, errBadDate
		}
	}
	if n != 2 || widths[2] == 0 {
		return 0, errBadDate
	}
	var y, m, d int
	switch {
	case widths[0] == 4 && widths[1] <= 2 && widths[2] <= 2:
		y, m, d = nums[0], nums[1], nums[2]
	case sep == '/' && widths[2] == 4 && widths[0] <= 2 && widths[1] <= 2:
		m, d, y = nums[0], nums[1], nums[2]
	default:
		return 0, errBadDate
	}
	if y < 1970 || m < 1 || m > 12 || d < 1 || d > daysIn(m, y) {
		return 0, errBadDate
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	return day(t.Unix() / 86400), nil
}

func daysIn(m, y int) int {
	return time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

var errBadDate = errors.New("not a date (want YYYY-MM-DD, YYYY/M/D or M/D/YYYY)")

// parseNum reads a number cell. Backblaze writes integers, often with a
// ".0" suffix ("29856061680.0"); those take a fast exact path, anything
// else goes through strconv.ParseFloat.
func parseNum(b []byte) (float64, error) {
	i := 0
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, i = true, 1
	}
	var v uint64
	digits := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		v = v*10 + uint64(b[i]-'0')
		digits++
	}
	if digits > 0 && digits <= 15 { // below 2^53: exact in a float64
		if i < len(b) && b[i] == '.' {
			i++
			for ; i < len(b) && b[i] == '0'; i++ {
			}
		}
		if i == len(b) {
			f := float64(v)
			if neg {
				f = -f
			}
			return f, nil
		}
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) {
			err = ne.Err
		}
		return 0, fmt.Errorf("%q: %w", b, err)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%q: not a finite number", b)
	}
	return f, nil
}
