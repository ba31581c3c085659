// Package backblaze reads Backblaze Drive Stats CSV files (plain or
// gzipped) as a stream of days: every drive's row of day D before any row
// of day D+1, merged across files, so a replay through the detector is
// causal and its memory grows with the number of drives, not of rows.
//
// The schema is Backblaze's: date, serial_number, model, capacity_bytes,
// failure, smart_N_normalized, smart_N_raw ..., with the columns in any
// order and any subset (date and serial_number are required); an empty
// cell is a missing value. The failure label is read only when asked
// (ReaderOptions.WithLabels), for an evaluator: a replay never sees it.
//
// Data: "Backblaze Drive Stats",
// https://www.backblaze.com/cloud-storage/resources/hard-drive-test-data.
package backblaze

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sync"
	"time"
)

// ReaderOptions say how files are read.
type ReaderOptions struct {
	// WithLabels fills Row.Failure from the failure column. Only an
	// evaluator sets it; without it the column is never parsed.
	WithLabels bool
	// Sort accepts files that are not sorted by date (the 2019 last-day
	// extracts are sorted by serial number): such a file is read whole and
	// its days emitted in order, so its memory grows with its rows.
	// Without Sort a file that goes back in time is an error.
	Sort bool

	chunk int // bytes per read (tests use tiny ones to split lines); 0: chunkSize
}

// Source is one named CSV stream (plain or gzip, told by its first bytes).
type Source struct {
	Name string
	R    io.Reader
}

// Row is one drive's row of one day. A Row and its Values are valid until
// the next call to NextDay, which reuses them.
type Row struct {
	// Drive is a dense index of the serial number in this Reader, in order
	// of first appearance: 0 .. Stats().Drives-1.
	Drive  int
	Serial string
	Model  string
	// CapacityBytes is 0 when the file has no capacity (or says -1).
	CapacityBytes int64
	// Values holds one value per Reader.Columns() entry, NaN when the cell
	// is empty or the file has no such column.
	Values []float64
	// Failure is the failure label, set only with ReaderOptions.WithLabels.
	Failure bool
	// File and Line say where the row was read.
	File string
	Line int

	local int32 // serial's index in its file's intern table
}

// Value returns the value of column i and whether it is present.
func (r *Row) Value(i int) (float64, bool) {
	if i < 0 || i >= len(r.Values) || math.IsNaN(r.Values[i]) {
		return 0, false
	}
	return r.Values[i], true
}

// ParseError says which file, line and column could not be read.
type ParseError struct {
	File   string
	Line   int
	Column string // "" when the error concerns the whole line
	Err    error
}

func (e *ParseError) Error() string {
	if e.Column != "" {
		return fmt.Sprintf("%s:%d: column %s: %v", e.File, e.Line, e.Column, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Stats counts what the reader has returned so far.
type Stats struct {
	Files int `json:"files"`
	Rows  int `json:"rows"`
	Days  int `json:"days"`
	// Drives is the number of distinct serial numbers.
	Drives int `json:"drives"`
	// Duplicates counts rows dropped because the same serial number already
	// had a row that day (an earlier file, or earlier in the file, wins).
	Duplicates int `json:"duplicates"`
}

// Reader streams the rows of several files day by day.
type Reader struct {
	opts    ReaderOptions
	cols    []Column
	files   []*fileReader
	closers []io.Closer
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	heads    []*batch
	held     []*batch
	out      []Row
	globalOf [][]int32 // per file: serial's local index -> Row.Drive
	drives   map[string]int32
	stamp    []int32 // per drive: Stats.Days when it last had a row, to drop duplicates
	pos      []int32 // per drive: its index in out that day
	stats    Stats
	err      error
	closed   bool
}

// Open opens files by path (plain or .gz) and starts reading them in the
// background; ctx bounds that work. Close releases them.
func Open(ctx context.Context, paths []string, opts ReaderOptions) (*Reader, error) {
	srcs := make([]Source, 0, len(paths))
	var closers []io.Closer
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			for _, c := range closers {
				c.Close()
			}
			return nil, err
		}
		closers = append(closers, f)
		srcs = append(srcs, Source{Name: p, R: f})
	}
	r, err := newReader(ctx, srcs, opts, closers)
	if err != nil {
		for _, c := range closers {
			c.Close()
		}
		return nil, err
	}
	return r, nil
}

// NewReader reads the given streams; the caller keeps ownership of them.
func NewReader(ctx context.Context, srcs []Source, opts ReaderOptions) (*Reader, error) {
	return newReader(ctx, srcs, opts, nil)
}

func newReader(ctx context.Context, srcs []Source, opts ReaderOptions, closers []io.Closer) (*Reader, error) {
	if len(srcs) == 0 {
		return nil, errors.New("backblaze: no files to read")
	}
	r := &Reader{opts: opts, closers: closers, drives: map[string]int32{}}
	var all []Column
	for i, s := range srcs {
		fr, err := openFile(i, s, opts)
		if err != nil {
			return nil, err
		}
		r.files = append(r.files, fr)
		for _, c := range fr.hdr.cols {
			if !slices.ContainsFunc(all, func(o Column) bool { return o.Name == c.Name }) {
				all = append(all, c)
			}
		}
	}
	slices.SortFunc(all, columnCompare)
	r.cols = all
	r.heads = make([]*batch, len(r.files))
	r.globalOf = make([][]int32, len(r.files))
	r.stats.Files = len(r.files)
	ictx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	for _, fr := range r.files {
		fr.hdr.bind(all)
		fr.width = len(all)
		fr.nans = make([]float64, len(all))
		for i := range fr.nans {
			fr.nans[i] = math.NaN()
		}
		r.wg.Add(2)
		go func() { defer r.wg.Done(); fr.produce(ictx.Done()) }()
		go func() { defer r.wg.Done(); fr.parse(ictx.Done()) }()
	}
	return r, nil
}

// Columns returns the SMART columns of all the files, ordered by
// attribute number, normalized before raw. Row.Values follows it.
func (r *Reader) Columns() []Column { return r.cols }

// Column returns the index of the named column in Columns, or -1.
func (r *Reader) Column(name string) int {
	return slices.IndexFunc(r.cols, func(c Column) bool { return c.Name == name })
}

// Stats returns the counts so far.
func (r *Reader) Stats() Stats { return r.stats }

// NextDay returns the next day (00:00 UTC) and every row dated that day,
// from all files, in file order then line order. It returns io.EOF after
// the last day. The rows are valid until the next call.
func (r *Reader) NextDay(ctx context.Context) (time.Time, []Row, error) {
	if r.err != nil {
		return time.Time{}, nil, r.err
	}
	if r.closed {
		return time.Time{}, nil, errors.New("backblaze: reader closed")
	}
	for _, b := range r.held {
		select {
		case r.files[b.file].freeBatches <- b:
		default:
		}
	}
	r.held = r.held[:0]
	for i, fr := range r.files {
		if r.heads[i] != nil || fr.eof {
			continue
		}
		select {
		case b, ok := <-fr.batches:
			if !ok {
				fr.eof = true
				continue
			}
			if b.err != nil {
				r.err = b.err
				return time.Time{}, nil, b.err
			}
			r.heads[i] = b
		case <-ctx.Done():
			return time.Time{}, nil, ctx.Err()
		}
	}
	first := true
	var d day
	for _, b := range r.heads {
		if b != nil && (first || b.day < d) {
			d, first = b.day, false
		}
	}
	if first {
		r.err = io.EOF
		return time.Time{}, nil, io.EOF
	}
	r.stats.Days++
	stamp := int32(r.stats.Days)
	r.out = r.out[:0]
	for i, b := range r.heads {
		if b == nil || b.day != d {
			continue
		}
		for j := range b.rows {
			row := &b.rows[j]
			g := r.global(i, row)
			if r.stamp[g] == stamp {
				r.stats.Duplicates++
				if row.Failure {
					r.out[r.pos[g]].Failure = true
				}
				continue
			}
			r.stamp[g], r.pos[g] = stamp, int32(len(r.out))
			row.Drive = int(g)
			r.out = append(r.out, *row)
		}
		r.held = append(r.held, b)
		r.heads[i] = nil
	}
	r.stats.Rows += len(r.out)
	return d.time(), r.out, nil
}

// global returns the drive index of a row's serial number.
func (r *Reader) global(file int, row *Row) int32 {
	m := r.globalOf[file]
	for int(row.local) >= len(m) {
		m = append(m, -1)
	}
	r.globalOf[file] = m
	if g := m[row.local]; g >= 0 {
		return g
	}
	g, ok := r.drives[row.Serial]
	if !ok {
		g = int32(len(r.drives))
		r.drives[row.Serial] = g
		r.stamp = append(r.stamp, 0)
		r.pos = append(r.pos, 0)
		r.stats.Drives = len(r.drives)
	}
	m[row.local] = g
	return g
}

// Close stops the background readers and closes the files Open opened.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	r.cancel()
	var errs []error
	for _, c := range r.closers {
		errs = append(errs, c.Close())
	}
	r.wg.Wait()
	return errors.Join(errs...)
}

// Sizes of the pipeline between the file, the parser and NextDay.
const (
	chunkSize   = 256 << 10
	chunksAhead = 4
	daysAhead   = 4
	maxLine     = 1 << 20
)

// chunk is a block of decompressed bytes, not aligned to lines.
type chunk struct {
	data []byte
	last bool
	err  error
}

// batch is one file's rows of one day.
type batch struct {
	file int
	day  day
	rows []Row
	vals []float64
	err  error
}

// fileReader is one file: a goroutine reading (and gunzipping) it into
// chunks, another parsing the chunks into day batches.
type fileReader struct {
	index int
	name  string
	opts  ReaderOptions
	hdr   *header
	src   io.Reader
	width int
	nans  []float64 // a row of missing values
	eof   bool      // NextDay's: batches is closed and drained

	chunks      chan chunk
	freeChunks  chan []byte
	batches     chan *batch
	freeBatches chan *batch

	// Parser state.
	line        int
	cur         *batch
	curLine     int
	lastDate    []byte
	lastDay     day
	serials     map[string]int32
	serialNames []string
	models      map[string]string
	fields      [][]byte
	dateCol     int
	serialCol   int
	sorted      map[day]*batch
}

func openFile(index int, s Source, opts ReaderOptions) (*fileReader, error) {
	br := bufio.NewReaderSize(s.R, 64<<10)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, &ParseError{File: s.Name, Line: 1, Err: fmt.Errorf("gzip: %w", err)}
		}
		src = bufio.NewReaderSize(zr, 64<<10)
	}
	bsrc := src.(*bufio.Reader)
	line, err := bsrc.ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, &ParseError{File: s.Name, Line: 1, Err: fmt.Errorf("read: %w", err)}
	}
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	if len(bytes.TrimSpace(line)) == 0 {
		return nil, &ParseError{File: s.Name, Line: 1, Err: errors.New("no header line (empty file)")}
	}
	h, err := parseHeader(s.Name, line)
	if err != nil {
		return nil, err
	}
	fr := &fileReader{index: index, name: s.Name, opts: opts, hdr: h, src: bsrc, line: 1,
		chunks: make(chan chunk, chunksAhead), freeChunks: make(chan []byte, chunksAhead+2),
		batches: make(chan *batch, daysAhead), freeBatches: make(chan *batch, daysAhead+2),
		serials: map[string]int32{}, models: map[string]string{}}
	for i, r := range h.roles {
		switch r {
		case roleDate:
			fr.dateCol = i
		case roleSerial:
			fr.serialCol = i
		}
	}
	if opts.Sort {
		fr.sorted = map[day]*batch{}
	}
	return fr, nil
}

// produce reads the file into chunks.
func (fr *fileReader) produce(done <-chan struct{}) {
	defer close(fr.chunks)
	// Chunks start small and double: a small file costs little memory, a
	// large one is read in chunkSize blocks.
	size := 16 << 10
	for {
		if fr.opts.chunk > 0 {
			size = fr.opts.chunk
		}
		var buf []byte
		select {
		case buf = <-fr.freeChunks:
		default:
		}
		if cap(buf) < size {
			buf = make([]byte, size)
		}
		n, err := io.ReadFull(fr.src, buf[:size])
		size = min(2*size, chunkSize)
		c := chunk{data: buf[:n]}
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			c.last = true
		case err != nil:
			c.err = err
		}
		select {
		case fr.chunks <- c:
		case <-done:
			return
		}
		if c.last || c.err != nil {
			return
		}
	}
}

// errStopped: the reader was closed; nothing to report.
var errStopped = errors.New("stopped")

// parse turns chunks into day batches.
func (fr *fileReader) parse(done <-chan struct{}) {
	defer close(fr.batches)
	err := fr.parseAll(done)
	if err == nil || errors.Is(err, errStopped) {
		return
	}
	select {
	case fr.batches <- &batch{file: fr.index, err: err}:
	case <-done:
	}
}

func (fr *fileReader) parseAll(done <-chan struct{}) error {
	var carry []byte
	for {
		var c chunk
		select {
		case c = <-fr.chunks:
		case <-done:
			return errStopped
		}
		data := c.data
		if len(carry) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				carry = append(carry, data...)
				data = nil
			} else {
				carry = append(carry, data[:i]...)
				data = data[i+1:]
				if err := fr.parseLine(carry, done); err != nil {
					return err
				}
				carry = carry[:0]
			}
		}
		for len(data) > 0 {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				carry = append(carry, data...)
				break
			}
			if err := fr.parseLine(data[:i], done); err != nil {
				return err
			}
			data = data[i+1:]
		}
		if len(carry) > maxLine {
			return &ParseError{File: fr.name, Line: fr.line + 1, Err: fmt.Errorf("line longer than %d bytes", maxLine)}
		}
		if c.data != nil {
			select {
			case fr.freeChunks <- c.data[:0]:
			default:
			}
		}
		if c.err != nil {
			return &ParseError{File: fr.name, Line: fr.line + 1, Err: fmt.Errorf("read: %w", c.err)}
		}
		if c.last {
			break
		}
	}
	if len(carry) > 0 {
		if err := fr.parseLine(carry, done); err != nil {
			return err
		}
	}
	if fr.sorted != nil {
		days := make([]day, 0, len(fr.sorted))
		for d := range fr.sorted {
			days = append(days, d)
		}
		slices.Sort(days)
		for _, d := range days {
			if err := fr.emit(fr.sorted[d], done); err != nil {
				return err
			}
		}
		return nil
	}
	if fr.cur != nil {
		return fr.emit(fr.cur, done)
	}
	return nil
}

// emit hands a complete day to NextDay.
func (fr *fileReader) emit(b *batch, done <-chan struct{}) error {
	w := fr.width
	for i := range b.rows {
		b.rows[i].Values = b.vals[i*w : (i+1)*w : (i+1)*w]
	}
	select {
	case fr.batches <- b:
		return nil
	case <-done:
		return errStopped
	}
}

func (fr *fileReader) newBatch(d day) *batch {
	var b *batch
	select {
	case b = <-fr.freeBatches:
		b.rows, b.vals = b.rows[:0], b.vals[:0]
	default:
		b = &batch{file: fr.index}
	}
	b.day = d
	return b
}

// parseLine parses one line into the current day's batch.
func (fr *fileReader) parseLine(line []byte, done <-chan struct{}) error {
	fr.line++
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) == 0 || (line[0] <= ' ' && len(bytes.TrimSpace(line)) == 0) {
		return nil
	}
	h := fr.hdr
	fields := fr.fields[:0]
	if bytes.IndexByte(line, '"') >= 0 {
		var err error
		if fields, err = splitSlow(line, fields); err != nil {
			return &ParseError{File: fr.name, Line: fr.line, Err: err}
		}
	} else {
		for {
			i := bytes.IndexByte(line, ',')
			if i < 0 {
				fields = append(fields, line)
				break
			}
			fields = append(fields, line[:i])
			line = line[i+1:]
		}
	}
	fr.fields = fields
	if len(fields) != len(h.roles) {
		return &ParseError{File: fr.name, Line: fr.line, Err: fmt.Errorf("%d fields, the header has %d", len(fields), len(h.roles))}
	}

	db := fields[fr.dateCol]
	if len(fr.lastDate) == 0 || !bytes.Equal(db, fr.lastDate) {
		d, err := parseDate(db)
		if err != nil {
			return &ParseError{File: fr.name, Line: fr.line, Column: "date", Err: fmt.Errorf("%q: %w", db, err)}
		}
		fr.lastDate = append(fr.lastDate[:0], db...)
		fr.lastDay = d
	}
	d := fr.lastDay
	switch {
	case fr.sorted != nil:
		if fr.cur == nil || fr.cur.day != d {
			fr.cur = fr.sorted[d]
			if fr.cur == nil {
				fr.cur = fr.newBatch(d)
				fr.sorted[d] = fr.cur
			}
		}
	case fr.cur == nil:
		fr.cur = fr.newBatch(d)
	case d < fr.cur.day:
		return &ParseError{File: fr.name, Line: fr.line, Column: "date", Err: fmt.Errorf(
			"%s is before %s (line %d): the file is not sorted by date (sorting it reads it whole: --sort)",
			d.time().Format(time.DateOnly), fr.cur.day.time().Format(time.DateOnly), fr.curLine)}
	case d > fr.cur.day:
		if err := fr.emit(fr.cur, done); err != nil {
			return err
		}
		fr.cur = fr.newBatch(d)
	}
	fr.curLine = fr.line

	sb := fields[fr.serialCol]
	if len(sb) == 0 {
		return &ParseError{File: fr.name, Line: fr.line, Column: "serial_number", Err: errors.New("empty")}
	}
	// Serial numbers are interned: rows of a drive share one string
	// (memory grows with drives, not rows).
	id, ok := fr.serials[string(sb)]
	if !ok {
		id = int32(len(fr.serialNames))
		s := string(sb)
		fr.serials[s] = id
		fr.serialNames = append(fr.serialNames, s)
	}
	b := fr.cur
	b.rows = append(b.rows, Row{Serial: fr.serialNames[id], File: fr.name, Line: fr.line, local: id})
	row := &b.rows[len(b.rows)-1]
	base := len(b.vals)
	b.vals = append(b.vals, fr.nans...)
	vals := b.vals[base:]
	for i, f := range fields {
		switch h.roles[i] {
		case roleModel:
			row.Model = fr.internModel(f)
		case roleCapacity:
			if len(f) == 0 {
				continue
			}
			v, err := parseNum(f)
			if err != nil {
				return &ParseError{File: fr.name, Line: fr.line, Column: "capacity_bytes", Err: err}
			}
			if v > 0 && v < math.MaxInt64 {
				row.CapacityBytes = int64(v)
			}
		case roleFailure:
			if !fr.opts.WithLabels || len(f) == 0 {
				continue // the detector must never see the label
			}
			v, err := parseNum(f)
			if err != nil || (v != 0 && v != 1) {
				return &ParseError{File: fr.name, Line: fr.line, Column: "failure", Err: fmt.Errorf("%q: want 0 or 1", f)}
			}
			row.Failure = v == 1
		case roleSmart:
			k := h.smart[i]
			if len(f) == 0 || k < 0 {
				continue
			}
			if len(f) == 3 && bytes.EqualFold(f, []byte("nan")) {
				continue // pandas' missing value
			}
			v, err := parseNum(f)
			if err != nil {
				return &ParseError{File: fr.name, Line: fr.line, Column: h.names[i], Err: err}
			}
			vals[k] = v
		}
	}
	return nil
}

// internModel returns the one string kept for a model name.
func (fr *fileReader) internModel(b []byte) string {
	if m, ok := fr.models[string(b)]; ok {
		return m
	}
	m := string(b)
	fr.models[m] = m
	return m
}
