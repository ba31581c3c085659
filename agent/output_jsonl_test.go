package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// otFileLines reads a JSON Lines file: every line complete and an event.
func otFileLines(t testing.TB, path string) []Event {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Fatalf("%s does not end with a newline: %q", path, data[max(0, len(data)-40):])
	}
	var evs []Event
	for i, line := range strings.SplitAfter(string(data), "\n") {
		if line == "" {
			continue
		}
		var ev Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("%s line %d: %v: %q", path, i+1, err, line)
		}
		evs = append(evs, ev)
	}
	return evs
}

func otFileIDs(t testing.TB, path string) []string { return otIDs(otFileLines(t, path)) }

// otRotatedIDs reads path.n … path.1, path: the events oldest first.
func otRotatedIDs(t testing.TB, path string, n int) []string {
	t.Helper()
	var ids []string
	for i := n; i >= 1; i-- {
		p := path + "." + strconv.Itoa(i)
		if _, err := os.Stat(p); err == nil {
			ids = append(ids, otFileIDs(t, p)...)
		}
	}
	return append(ids, otFileIDs(t, path)...)
}

// otKill drops a file output as a killed process would: no sync, no
// Close, nothing flushed beyond what Deliver already did.
func otKill(o *FileOutput) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.f != nil {
		_ = o.f.Close()
		o.f = nil
	}
	o.closed = true
}

func otLine(t testing.TB, ev Event) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jsonlAppendEvent(&b, &ev); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func otDeliver(t testing.TB, o Output, evs []Event) int {
	t.Helper()
	n, err := o.Deliver(context.Background(), evs)
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	return n
}

func TestFileOutputWritesEventsAsJSONLines(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "events.jsonl")
	o, err := NewFileOutput(path)
	if err != nil {
		t.Fatal(err)
	}
	if o.Name() != "file" || o.Repaired() {
		t.Errorf("name %q, repaired %v", o.Name(), o.Repaired())
	}
	evs := otEvents(0, 3)
	risk := 0.75
	evs[1].Risk = &risk
	if n := otDeliver(t, o, evs); n != 3 {
		t.Errorf("delivered %d", n)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(evs, otFileLines(t, path)); diff != "" {
		t.Errorf("file (-want +got):\n%s", diff)
	}
	data, _ := os.ReadFile(path)
	if !bytes.Contains(data, []byte(`"message":"event 0 <&>"`)) {
		t.Errorf("HTML escaped or missing: %s", data)
	}
	for p, want := range map[string]fs.FileMode{path: 0o640, dir: 0o750} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %o, want %o", p, st.Mode().Perm(), want)
		}
	}
	if _, err := o.Deliver(context.Background(), evs); err == nil {
		t.Error("Deliver after Close: no error")
	}
}

func TestFileOutputRotatesBySize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	lineLen := int64(len(otLine(t, otEvent(10))))
	maxBytes := 3*lineLen + 5 // three lines a file
	o, err := NewFileOutput(path, WithMaxBytes(maxBytes), WithMaxFiles(2), WithFileOutputName("archive"))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.Name() != "archive" {
		t.Errorf("name %q", o.Name())
	}
	all := otEvents(10, 40)
	for i := 0; i < len(all); i += 7 { // batches that rotate in their middle
		evs := all[i:min(i+7, len(all))]
		if n := otDeliver(t, o, evs); n != len(evs) {
			t.Fatalf("delivered %d of %d", n, len(evs))
		}
	}
	for _, p := range []string{path, path + ".1", path + ".2"} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > maxBytes || st.Mode().Perm() != 0o640 {
			t.Errorf("%s: %d bytes (max %d), mode %o", p, st.Size(), maxBytes, st.Mode().Perm())
		}
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Errorf("path.3 exists (max files 2): %v", err)
	}
	// What is kept is the newest events, in order, without a gap.
	ids := otRotatedIDs(t, path, 2)
	want := otIDs(all[len(all)-len(ids):])
	if len(ids) < 7 || !slices.Equal(ids, want) {
		t.Errorf("kept %v, want the newest in order", ids)
	}
}

func TestFileOutputMaxFilesZeroKeepsOnlyTheCurrentFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	o, err := NewFileOutput(path, WithMaxBytes(1), WithMaxFiles(0))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	otDeliver(t, o, otEvents(0, 3)) // a line longer than max bytes: a file of its own
	if ids := otFileIDs(t, path); !slices.Equal(ids, []string{"ev-00002"}) {
		t.Errorf("file holds %v", ids)
	}
	if _, err := os.Stat(path + ".1"); !os.IsNotExist(err) {
		t.Errorf("path.1 exists: %v", err)
	}
}

func TestFileOutputNoDuplicateAfterCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	o, err := NewFileOutput(path)
	if err != nil {
		t.Fatal(err)
	}
	otDeliver(t, o, otEvents(0, 5)) // confirmed
	otDeliver(t, o, otEvents(5, 9)) // written and synced; killed before the confirm
	otKill(o)

	o, err = NewFileOutput(path)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.Repaired() {
		t.Error("repaired a clean file")
	}
	// The store's cursor is at 5: it hands over 5..8 again, with new ones.
	if n := otDeliver(t, o, otEvents(5, 12)); n != 7 {
		t.Errorf("delivered %d of 7 (skipped ones count)", n)
	}
	if ids := otFileIDs(t, path); !slices.Equal(ids, otIDs(otEvents(0, 12))) {
		t.Errorf("file holds %v", ids)
	}
}

func TestFileOutputNoDuplicateAfterCrashAcrossRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	lineLen := int64(len(otLine(t, otEvent(0))))
	opts := []FileOption{WithMaxBytes(3*lineLen + 2), WithMaxFiles(5)}
	o, err := NewFileOutput(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	otDeliver(t, o, otEvents(0, 10)) // one batch over four files; killed before the confirm
	otKill(o)
	if ids := otFileIDs(t, path); len(ids) != 1 {
		t.Fatalf("the current file holds %v: the test needs the batch to end just after a rotation", ids)
	}

	o, err = NewFileOutput(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if n := otDeliver(t, o, otEvents(0, 12)); n != 12 {
		t.Errorf("delivered %d", n)
	}
	if ids := otRotatedIDs(t, path, 5); !slices.Equal(ids, otIDs(otEvents(0, 12))) {
		t.Errorf("files hold %v", ids)
	}
}

func TestFileOutputNoDuplicateWithinARun(t *testing.T) {
	// A failed confirm hands the same events over again; a batch may
	// carry an id twice.
	path := filepath.Join(t.TempDir(), "events.jsonl")
	o, err := NewFileOutput(path)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	otDeliver(t, o, otEvents(0, 3))
	evs := append(otEvents(0, 4), otEvent(3), otEvent(4))
	if n := otDeliver(t, o, evs); n != len(evs) {
		t.Errorf("delivered %d of %d", n, len(evs))
	}
	if ids := otFileIDs(t, path); !slices.Equal(ids, otIDs(otEvents(0, 5))) {
		t.Errorf("file holds %v", ids)
	}
}

func TestFileOutputCutsATornLine(t *testing.T) {
	for name, torn := range map[string]func(next []byte) []byte{
		"half a line":                func(next []byte) []byte { return next[:len(next)/2] },
		"a whole object without \\n": func(next []byte) []byte { return next[:len(next)-1] },
		"zeros from a lost power":    func([]byte) []byte { return make([]byte, 3000) },
		"a tail longer than a chunk": func([]byte) []byte { return bytes.Repeat([]byte("x"), 200<<10) },
		"garbage without a newline":  func([]byte) []byte { return []byte("\x00\x00garbage") },
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "events.jsonl")
			o, err := NewFileOutput(path)
			if err != nil {
				t.Fatal(err)
			}
			otDeliver(t, o, otEvents(0, 3))
			otKill(o)
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(torn(otLine(t, otEvent(3)))); err != nil {
				t.Fatal(err)
			}
			f.Close()

			o, err = NewFileOutput(path)
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			if !o.Repaired() {
				t.Error("Repaired() = false")
			}
			if ids := otFileIDs(t, path); !slices.Equal(ids, otIDs(otEvents(0, 3))) {
				t.Errorf("after the repair the file holds %v", ids)
			}
			// Event 3 was never confirmed nor wholly written: it is written now.
			otDeliver(t, o, otEvents(2, 5))
			if ids := otFileIDs(t, path); !slices.Equal(ids, otIDs(otEvents(0, 5))) {
				t.Errorf("file holds %v", ids)
			}
		})
	}
}

func TestFileOutputOneDeliverStaysWithinTheDedupeWindow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	window := func(c *fileConfig) { c.tailLines = 4 }
	o, err := NewFileOutput(path, window)
	if err != nil {
		t.Fatal(err)
	}
	if n := otDeliver(t, o, otEvents(0, 10)); n != 4 {
		t.Errorf("delivered %d, want the window of 4", n)
	}
	otKill(o) // before the confirm of those 4
	o, err = NewFileOutput(path, window)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	evs := otEvents(0, 10)
	for len(evs) > 0 {
		n := otDeliver(t, o, evs)
		evs = evs[n:]
	}
	if ids := otFileIDs(t, path); !slices.Equal(ids, otIDs(otEvents(0, 10))) {
		t.Errorf("file holds %v", ids)
	}
	// By bytes too.
	path2 := filepath.Join(t.TempDir(), "events.jsonl")
	lineLen := int64(len(otLine(t, otEvent(0))))
	o2, err := NewFileOutput(path2, func(c *fileConfig) { c.tailBytes = 2*lineLen + 1 })
	if err != nil {
		t.Fatal(err)
	}
	defer o2.Close()
	if n := otDeliver(t, o2, otEvents(0, 10)); n != 2 {
		t.Errorf("delivered %d, want the 2 lines that fit the byte window", n)
	}
}

func TestFileOutputReopensAfterAFailedWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	o, err := NewFileOutput(path)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	otDeliver(t, o, otEvents(0, 2))
	// Swap in a handle that cannot write (nor truncate): the write fails,
	// its undo fails, and the next Deliver reopens the file.
	ro, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	o.mu.Lock()
	o.f.Close()
	o.f = ro
	o.mu.Unlock()
	n, err := o.Deliver(context.Background(), otEvents(2, 4))
	if err == nil || n != 0 || !strings.Contains(err.Error(), path) {
		t.Fatalf("Deliver on a read-only handle: %d, %v", n, err)
	}
	otDeliver(t, o, otEvents(0, 5))
	if ids := otFileIDs(t, path); !slices.Equal(ids, otIDs(otEvents(0, 5))) {
		t.Errorf("file holds %v", ids)
	}
}

func TestFileOutputErrorsNameThePath(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "not-a-dir")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := NewFileOutput(filepath.Join(blocker, "events.jsonl"))
	if err == nil || !strings.Contains(err.Error(), blocker) || !strings.Contains(err.Error(), `file output "file"`) {
		t.Errorf("err = %v", err)
	}
	if _, err := NewFileOutput(filepath.Join(dir, "x"), WithMaxBytes(0)); err == nil {
		t.Error("max bytes 0: no error")
	}
}

func TestStreamOutputWritesLines(t *testing.T) {
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	o := NewStreamOutput("stdout", bw)
	if n := otDeliver(t, o, otEvents(0, 3)); n != 3 {
		t.Errorf("delivered %d", n)
	}
	// Flushed by Deliver, no de-duplication on a stream.
	otDeliver(t, o, otEvents(2, 3))
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines: %q", len(lines), buf.String())
	}
	var ev Event
	if err := json.Unmarshal([]byte(lines[3]), &ev); err != nil || ev.ID != "ev-00002" {
		t.Errorf("last line %q: %v", lines[3], err)
	}
	if o.Name() != "stdout" || o.Close() != nil {
		t.Error("name or close")
	}
}

// otNaiveTail is readJSONLTail's specification: every line of the file
// in memory.
func otNaiveTail(data []byte, maxLines int, maxBytes int64) jsonlTail {
	var t jsonlTail
	t.end = int64(bytes.LastIndexByte(data, '\n') + 1)
	if t.end == 0 {
		t.whole = true
		return t
	}
	if maxLines <= 0 || maxBytes <= 0 {
		return t
	}
	lines := bytes.SplitAfter(data[:t.end], []byte("\n"))
	lines = lines[:len(lines)-1] // the empty string after the last "\n"
	i := len(lines)
	var ids []string
	for i > 0 && t.lines < maxLines && t.bytes+int64(len(lines[i-1])) <= maxBytes {
		l := lines[i-1]
		if id := jsonlLineID(l[:len(l)-1]); id != "" {
			ids = append([]string{id}, ids...)
		}
		t.lines++
		t.bytes += int64(len(l))
		i--
	}
	t.ids = ids
	t.whole = i == 0
	return t
}

func otTailSeeds(t testing.TB) [][]byte {
	var file bytes.Buffer
	for _, ev := range otEvents(0, 6) {
		file.Write(otLine(t, ev))
	}
	whole := file.Bytes()
	return [][]byte{
		nil,
		[]byte("\n"),
		whole,
		append(slices.Clone(whole), otLine(t, otEvent(6))[:40]...),
		append(slices.Clone(whole), make([]byte, 100)...),
		[]byte(`{"id":"a"}` + "\n\n" + `{"id":7}` + "\n" + `{"x":{"id":"inner"},"id":"outer"}` + "\r\n" + `not json` + "\n" + `{"id":"b"`),
		[]byte(`{"id":"\u00e9\"q"}` + "\n" + `{"id":"dup"}` + "\n" + `{"id":"dup"}` + "\n"),
	}
}

func TestJSONLTailMatchesItsSpecification(t *testing.T) {
	for si, data := range otTailSeeds(t) {
		for _, ml := range []int{0, 1, 2, 3, 100} {
			for _, mb := range []int64{0, 1, 10, 50, 200, 1 << 20} {
				got, err := readJSONLTail(bytes.NewReader(data), int64(len(data)), ml, mb)
				if err != nil {
					t.Fatal(err)
				}
				want := otNaiveTail(data, ml, mb)
				if diff := cmp.Diff(want, got, cmp.AllowUnexported(jsonlTail{}), cmp.Comparer(func(a, b []string) bool {
					return slices.Equal(a, b)
				})); diff != "" {
					t.Errorf("seed %d, %d lines, %d bytes (-want +got):\n%s", si, ml, mb, diff)
				}
			}
		}
	}
	// A torn tail longer than the scan chunk.
	data := append(otLine(t, otEvent(0)), bytes.Repeat([]byte{0}, 300<<10)...)
	got, err := readJSONLTail(bytes.NewReader(data), int64(len(data)), 10, 1<<20)
	if err != nil || got.end != int64(len(otLine(t, otEvent(0)))) || !slices.Equal(got.ids, []string{"ev-00000"}) || !got.whole {
		t.Errorf("%+v, %v", got, err)
	}
}

func FuzzJSONLTail(f *testing.F) {
	for _, s := range otTailSeeds(f) {
		f.Add(s, uint16(3), uint32(1<<20))
		f.Add(s, uint16(100), uint32(60))
	}
	f.Fuzz(func(t *testing.T, data []byte, maxLines uint16, maxBytes uint32) {
		ml, mb := int(maxLines), int64(maxBytes%(1<<22))
		got, err := readJSONLTail(bytes.NewReader(data), int64(len(data)), ml, mb)
		if err != nil {
			t.Fatal(err)
		}
		want := otNaiveTail(data, ml, mb)
		if got.end != want.end || got.lines != want.lines || got.bytes != want.bytes || got.whole != want.whole ||
			!slices.Equal(got.ids, want.ids) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
		// Invariants, whatever the specification says.
		if got.end > int64(len(data)) || (got.end > 0 && data[got.end-1] != '\n') ||
			bytes.IndexByte(data[got.end:], '\n') >= 0 || got.lines > ml || got.bytes > mb && got.lines > 0 {
			t.Fatalf("invariant broken: %+v", got)
		}
	})
}
