package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// JSON Lines outputs: one event per line, in the event's JSON form
// (EventSchema), each line ended by "\n".
//
// The file output is the durable one: every Deliver writes its lines and
// fsyncs the file before it returns, so an event the dispatcher confirms
// in the store is on disk. The store's cursor can still lag the file by
// one Deliver (the process killed between the fsync and the confirm); the
// file output closes that gap itself: on open it reads the ids of the last
// lines written (the tail of the file, and of the rotated files before it
// when the file is shorter than that tail) and skips those events when
// they are handed over again. A line torn by a kill in the middle of a
// write is cut off on open (Repaired reports it).

// File output defaults.
const (
	DefaultFileMaxBytes int64 = 100 << 20 // rotate past 100 MiB
	DefaultFileMaxFiles       = 5         // keep path.1 … path.5
)

// The de-duplication window: on open, the ids of the last jsonlTailLines
// lines (at most jsonlTailBytes of them) are read back. One Deliver never
// writes more than that window (it hands the rest back), so the lines a
// crash can leave unconfirmed are always inside it.
const (
	jsonlTailLines       = 4096
	jsonlTailBytes int64 = 4 << 20
)

// File and directory modes of the file output.
const (
	jsonlFileMode fs.FileMode = 0o640
	jsonlDirMode  fs.FileMode = 0o750
)

// FileOption configures NewFileOutput.
type FileOption func(*fileConfig)

type fileConfig struct {
	name      string
	maxBytes  int64
	maxFiles  int
	tailLines int
	tailBytes int64
}

// WithMaxBytes rotates the file before a line would take it past n bytes
// (DefaultFileMaxBytes; a single line longer than n gets a file of its
// own).
func WithMaxBytes(n int64) FileOption { return func(c *fileConfig) { c.maxBytes = n } }

// WithMaxFiles keeps n rotated files beside the current one: path.1 (the
// newest) … path.n; the oldest beyond that is removed. 0 keeps none.
// Default DefaultFileMaxFiles.
func WithMaxFiles(n int) FileOption {
	return func(c *fileConfig) { c.maxFiles = n }
}

// WithFileOutputName names the output ("file" by default): the name of
// its cursor in the store, so two file outputs need two names.
func WithFileOutputName(name string) FileOption { return func(c *fileConfig) { c.name = name } }

// FileOutput writes events as JSON Lines to a file, rotated by size. It
// is safe for concurrent use.
type FileOutput struct {
	name      string
	path      string
	maxBytes  int64
	maxFiles  int
	tailLines int
	tailBytes int64

	mu       sync.Mutex
	f        *os.File // nil after a failure that left its state unknown: reopened by the next Deliver
	size     int64
	seen     jsonlIDRing
	repaired bool
	closed   bool
}

// NewFileOutput opens (or creates) the JSON Lines file at path (its
// directory is created 0750, the file 0640), cuts off a torn last line
// and reads back the ids of the last lines written, so that events
// handed over again after a crash are not written twice.
func NewFileOutput(path string, opts ...FileOption) (*FileOutput, error) {
	c := fileConfig{name: "file", maxBytes: DefaultFileMaxBytes, maxFiles: DefaultFileMaxFiles,
		tailLines: jsonlTailLines, tailBytes: jsonlTailBytes}
	for _, opt := range opts {
		opt(&c)
	}
	switch {
	case path == "":
		return nil, errors.New("file output: no path")
	case c.name == "":
		return nil, fmt.Errorf("file output (%s): empty output name", path)
	case c.maxBytes <= 0:
		return nil, fmt.Errorf("file output %q (%s): max bytes must be positive, got %d", c.name, path, c.maxBytes)
	case c.maxFiles < 0:
		return nil, fmt.Errorf("file output %q (%s): max files must not be negative, got %d", c.name, path, c.maxFiles)
	}
	o := &FileOutput{name: c.name, path: path, maxBytes: c.maxBytes, maxFiles: c.maxFiles,
		tailLines: c.tailLines, tailBytes: c.tailBytes, seen: newJSONLIDRing(c.tailLines)}
	if err := o.open(); err != nil {
		return nil, err
	}
	return o, nil
}

// Name implements Output.
func (o *FileOutput) Name() string { return o.name }

// Path is the file written to.
func (o *FileOutput) Path() string { return o.path }

// Repaired reports whether opening the file cut off a torn last line (a
// write interrupted by a crash; the events on it are written again).
func (o *FileOutput) Repaired() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.repaired
}

func (o *FileOutput) errorf(format string, args ...any) error {
	return fmt.Errorf("file output %q (%s): "+format, append([]any{o.name, o.path}, args...)...)
}

// open opens the current file, repairs its end and loads the ids of the
// tail. It is called with mu held (or before o is shared).
func (o *FileOutput) open() error {
	dir := filepath.Dir(o.path)
	if err := os.MkdirAll(dir, jsonlDirMode); err != nil {
		return o.errorf("create the directory: %w", err)
	}
	f, created, err := jsonlOpenFile(o.path)
	if err != nil {
		return o.errorf("open: %w", err)
	}
	if created {
		if err := jsonlSyncDir(dir); err != nil {
			f.Close()
			return o.errorf("sync the directory: %w", err)
		}
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return o.errorf("stat: %w", err)
	}
	tail, err := readJSONLTail(f, st.Size(), o.tailLines, o.tailBytes)
	if err != nil {
		f.Close()
		return o.errorf("read the tail: %w", err)
	}
	if tail.end < st.Size() {
		// A torn last line: the write it belonged to never returned, so
		// its events are handed over again. Cut it off.
		if err := f.Truncate(tail.end); err != nil {
			f.Close()
			return o.errorf("cut off a torn last line: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return o.errorf("sync: %w", err)
		}
		o.repaired = true
	}
	ids := tail.ids
	// The last lines may continue in the rotated files (a Deliver that
	// rotated in its middle, or a rotation just before the crash).
	lines, nbytes, whole := tail.lines, tail.bytes, tail.whole
	for i := 1; whole && i <= o.maxFiles && lines < o.tailLines && nbytes < o.tailBytes; i++ {
		older, err := o.readRotatedTail(i, o.tailLines-lines, o.tailBytes-nbytes)
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			f.Close()
			return err
		}
		ids = append(older.ids, ids...)
		lines, nbytes, whole = lines+older.lines, nbytes+older.bytes, older.whole
	}
	o.seen.reset()
	for _, id := range ids {
		o.seen.add(id)
	}
	o.f, o.size = f, tail.end
	return nil
}

func (o *FileOutput) readRotatedTail(i, lines int, nbytes int64) (jsonlTail, error) {
	name := o.rotated(i)
	f, err := os.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return jsonlTail{}, err
		}
		return jsonlTail{}, o.errorf("open %s: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return jsonlTail{}, o.errorf("stat %s: %w", name, err)
	}
	t, err := readJSONLTail(f, st.Size(), lines, nbytes)
	if err != nil {
		return jsonlTail{}, o.errorf("read the tail of %s: %w", name, err)
	}
	return t, nil
}

func (o *FileOutput) rotated(i int) string { return o.path + "." + strconv.Itoa(i) }

// Deliver implements Output: it writes the events not already written
// (by id) and fsyncs the file before returning. Events it skips count as
// delivered. One call writes at most the de-duplication window (4096
// lines, 4 MiB) and returns how many events that covered; the dispatcher
// hands over the rest.
func (o *FileOutput) Deliver(ctx context.Context, events []Event) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, o.errorf("%w", err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return 0, o.errorf("closed")
	}
	if o.f == nil {
		if err := o.open(); err != nil {
			return 0, err
		}
	}

	// Encode the events not yet written, within the window.
	type line struct {
		event  int // index in events
		lo, hi int // its bytes in buf
	}
	var (
		buf    bytes.Buffer
		lines  []line
		batch  = map[string]bool{}
		nbytes int64
		n      = len(events)
	)
	for i := range events {
		ev := &events[i]
		if ev.ID != "" && (o.seen.has(ev.ID) || batch[ev.ID]) {
			continue // written before (a redelivery after a crash or a failed confirm)
		}
		lo := buf.Len()
		if err := jsonlAppendEvent(&buf, ev); err != nil {
			buf.Truncate(lo)
			if len(lines) == 0 {
				return i, o.errorf("%w", err)
			}
			n = i
			break
		}
		sz := int64(buf.Len() - lo)
		if len(lines) > 0 && (len(lines) >= o.tailLines || nbytes+sz > o.tailBytes) {
			buf.Truncate(lo)
			n = i // the rest next time, so a crash never leaves more than the window unconfirmed
			break
		}
		lines = append(lines, line{event: i, lo: lo, hi: buf.Len()})
		nbytes += sz
		if ev.ID != "" {
			batch[ev.ID] = true
		}
	}
	if len(lines) == 0 {
		return n, nil
	}

	// Write them in runs, rotating before a line would pass maxBytes.
	data := buf.Bytes()
	start := 0
	for start < len(lines) {
		if o.size > 0 && o.size+int64(lines[start].hi-lines[start].lo) > o.maxBytes {
			if err := o.rotate(); err != nil {
				return lines[start].event, err
			}
		}
		end, size := start, o.size
		for end < len(lines) && (end == start || size+int64(lines[end].hi-lines[end].lo) <= o.maxBytes) {
			size += int64(lines[end].hi - lines[end].lo)
			end++
		}
		if err := o.write(data[lines[start].lo:lines[end-1].hi]); err != nil {
			return lines[start].event, err
		}
		for _, l := range lines[start:end] {
			if id := events[l.event].ID; id != "" {
				o.seen.add(id)
			}
		}
		start = end
	}
	return n, nil
}

// write appends b and fsyncs. On failure it cuts the file back to where
// it was, so that no line of a failed write stays (its events are
// handed over again); if even that fails, the file is reopened (and
// repaired) by the next Deliver.
func (o *FileOutput) write(b []byte) error {
	n, err := o.f.Write(b)
	if err == nil {
		err = o.f.Sync()
	}
	if err == nil {
		o.size += int64(n)
		return nil
	}
	err = o.errorf("write: %w", err)
	if terr := o.f.Truncate(o.size); terr != nil {
		o.drop()
		return errors.Join(err, o.errorf("undo a failed write: %w", terr))
	}
	if serr := o.f.Sync(); serr != nil {
		o.drop()
		return errors.Join(err, o.errorf("undo a failed write: %w", serr))
	}
	return err
}

func (o *FileOutput) drop() {
	if o.f != nil {
		o.f.Close()
		o.f = nil
	}
}

// rotate renames path.i to path.i+1 (the oldest removed), path to path.1,
// and starts a new path. The current file was synced by its last write.
func (o *FileOutput) rotate() error {
	if err := o.f.Close(); err != nil {
		o.f = nil
		return o.errorf("close before rotating: %w", err)
	}
	o.f = nil
	if o.maxFiles == 0 {
		if err := os.Remove(o.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return o.errorf("rotate: %w", err)
		}
	} else {
		for i := o.maxFiles - 1; i >= 1; i-- {
			if err := os.Rename(o.rotated(i), o.rotated(i+1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return o.errorf("rotate: %w", err)
			}
		}
		if err := os.Rename(o.path, o.rotated(1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return o.errorf("rotate: %w", err)
		}
	}
	f, _, err := jsonlOpenFile(o.path)
	if err != nil {
		return o.errorf("open after rotating: %w", err)
	}
	if err := jsonlSyncDir(filepath.Dir(o.path)); err != nil {
		f.Close()
		return o.errorf("sync the directory after rotating: %w", err)
	}
	o.f, o.size = f, 0
	return nil
}

// Close implements Output: it syncs and closes the file.
func (o *FileOutput) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil
	}
	o.closed = true
	if o.f == nil {
		return nil
	}
	f := o.f
	o.f = nil
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return o.errorf("close: %w", err)
	}
	return nil
}

// jsonlOpenFile opens path for appending (and reading the tail back),
// creating it 0640 if missing; created says it did.
func jsonlOpenFile(path string) (f *os.File, created bool, err error) {
	f, err = os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_EXCL, jsonlFileMode)
	if err == nil {
		// The umask may have taken bits off; the mode is part of the contract.
		if err := f.Chmod(jsonlFileMode); err != nil {
			f.Close()
			return nil, false, err
		}
		return f, true, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return nil, false, err
	}
	f, err = os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	return f, false, err
}

// jsonlSyncDir makes a created or renamed file's directory entry durable.
func jsonlSyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// jsonlAppendEvent appends ev's JSON form and "\n" to buf.
func jsonlAppendEvent(buf *bytes.Buffer, ev *Event) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil { // Encode ends the line with "\n"
		return fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	return nil
}

// jsonlTail is what readJSONLTail found at the end of a file.
type jsonlTail struct {
	ids   []string // the ids of the complete lines read, oldest first
	end   int64    // the end of the last complete line: what follows is torn
	lines int      // complete lines read (with or without an id)
	bytes int64    // their bytes, "\n" included
	whole bool     // every complete line of the file was read
}

// readJSONLTail reads the complete lines at the end of r (size bytes),
// newest first, as long as they fit in maxLines lines and maxBytes bytes,
// and returns their ids. Lines that are not JSON objects with a string
// "id" are counted but have no id. The bytes after the last "\n" are a
// torn line (end < size). It reads at most maxBytes+1 bytes into memory
// (and scans back through a torn tail in bounded chunks).
func readJSONLTail(r io.ReaderAt, size int64, maxLines int, maxBytes int64) (jsonlTail, error) {
	const chunk = 64 << 10
	var t jsonlTail
	// Find the end of the last complete line.
	buf := make([]byte, chunk)
	for pos := size; pos > 0; {
		lo := max(0, pos-chunk)
		b := buf[:pos-lo]
		if _, err := r.ReadAt(b, lo); err != nil && !errors.Is(err, io.EOF) {
			return t, err
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			t.end = lo + int64(i) + 1
			break
		}
		pos = lo
	}
	if t.end == 0 {
		t.whole = true
		return t, nil
	}
	if maxLines <= 0 || maxBytes <= 0 {
		return t, nil
	}
	// Read the window before it, with one byte more to tell whether the
	// window starts at a line start.
	lo := max(0, t.end-maxBytes)
	from := max(0, lo-1)
	win := make([]byte, t.end-from)
	if _, err := r.ReadAt(win, from); err != nil && !errors.Is(err, io.EOF) {
		return t, err
	}
	first := 0 // the first byte in win that starts a line wholly in the window
	if lo > 0 {
		i := bytes.IndexByte(win, '\n') // win[0] is the byte before the window
		first = i + 1
	}
	// Walk the lines backwards.
	var rev []string
	hi := len(win) // win[hi-1] == '\n'
	for hi > first && t.lines < maxLines {
		start := first + bytes.LastIndexByte(win[first:hi-1], '\n') + 1
		n := int64(hi - start)
		if t.bytes+n > maxBytes {
			break
		}
		if id := jsonlLineID(win[start : hi-1]); id != "" {
			rev = append(rev, id)
		}
		t.lines++
		t.bytes += n
		hi = start
	}
	t.whole = hi == first && from+int64(first) == 0
	t.ids = make([]string, len(rev))
	for i, id := range rev {
		t.ids[len(rev)-1-i] = id
	}
	return t, nil
}

// jsonlLineID is the "id" of a JSON Lines event line ("" if none).
func jsonlLineID(line []byte) string {
	var v struct {
		ID string `json:"id"`
	}
	if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &v) != nil {
		return ""
	}
	return v.ID
}

// jsonlIDRing remembers the last n ids written.
type jsonlIDRing struct {
	ids  []string
	next int
	set  map[string]int // id → how many times it is in ids
}

func newJSONLIDRing(n int) jsonlIDRing {
	return jsonlIDRing{ids: make([]string, 0, max(n, 1)), set: map[string]int{}}
}

func (r *jsonlIDRing) reset() {
	r.ids, r.next = r.ids[:0], 0
	clear(r.set)
}

func (r *jsonlIDRing) has(id string) bool { return r.set[id] > 0 }

func (r *jsonlIDRing) add(id string) {
	if len(r.ids) < cap(r.ids) {
		r.ids = append(r.ids, id)
	} else {
		old := r.ids[r.next]
		if r.set[old]--; r.set[old] <= 0 {
			delete(r.set, old)
		}
		r.ids[r.next] = id
		r.next = (r.next + 1) % len(r.ids)
	}
	r.set[id]++
}

// StreamOutput writes events as JSON Lines to a stream (stdout): no
// fsync, no de-duplication. It is safe for concurrent use.
type StreamOutput struct {
	name string
	mu   sync.Mutex
	w    io.Writer
}

// NewStreamOutput returns an output writing to w (which it does not
// close). If w has a Flush() error method (a bufio.Writer), each Deliver
// flushes it.
func NewStreamOutput(name string, w io.Writer) *StreamOutput {
	return &StreamOutput{name: name, w: w}
}

// Name implements Output.
func (o *StreamOutput) Name() string { return o.name }

// Deliver implements Output: one write of all the lines.
func (o *StreamOutput) Deliver(ctx context.Context, events []Event) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("stream output %q: %w", o.name, err)
	}
	var buf bytes.Buffer
	n := len(events)
	for i := range events {
		lo := buf.Len()
		if err := jsonlAppendEvent(&buf, &events[i]); err != nil {
			buf.Truncate(lo)
			if i == 0 {
				return 0, fmt.Errorf("stream output %q: %w", o.name, err)
			}
			n = i // the ones before it; the error comes back next time
			break
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, err := o.w.Write(buf.Bytes()); err != nil {
		return 0, fmt.Errorf("stream output %q: write: %w", o.name, err)
	}
	if fl, ok := o.w.(interface{ Flush() error }); ok {
		if err := fl.Flush(); err != nil {
			return 0, fmt.Errorf("stream output %q: flush: %w", o.name, err)
		}
	}
	return n, nil
}

// Close implements Output; the stream stays open (its owner closes it).
func (o *StreamOutput) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if fl, ok := o.w.(interface{ Flush() error }); ok {
		if err := fl.Flush(); err != nil {
			return fmt.Errorf("stream output %q: flush: %w", o.name, err)
		}
	}
	return nil
}
