package hostiletest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Sizes of the generated bodies.
const (
	MB = 1 << 20
	// HugeBody is the size of the 200 MB bodies.
	HugeBody = 200 * MB
	// BigCollection is the size of each of the three 60 MB collections.
	BigCollection = 60 * MB
	// BombBytes is the size of the JSON value bomb: within the reader's
	// default 16 MiB body cap, but about 7.5 million JSON values.
	BombBytes = 15_000_000
	// LazyMembers is the member count of the huge collection.
	LazyMembers = 100_000
	// slowLorisMax bounds a trickled body even if the client never leaves.
	slowLorisMax = 2 * time.Minute
	// writeTimeout bounds one write of a generated body to a client that
	// stopped reading but kept the connection.
	writeTimeout = 5 * time.Second
)

// chunk is what generated bodies are written in; the bytes are shared and
// never modified.
const chunkSize = 64 << 10

var (
	padChunk  = bytes.Repeat([]byte("A"), chunkSize)
	zeroChunk = bytes.Repeat([]byte("0,"), chunkSize/2)
)

// streamPadded writes a valid JSON object of exactly size bytes: prefix
// (which must open an object and end after a member, e.g.
// `{"@odata.id":"/x",`), then "Padding":"AAAA...". With contentLength the
// size is announced up front; else it is sent chunked. The body is
// generated as it is written, never held in memory, and stops when the
// client goes away, the target closes, or a write blocks for writeTimeout.
func (t *Target) streamPadded(w http.ResponseWriter, r *http.Request, prefix string, size int64, contentLength bool) {
	head := prefix + `"Padding":"`
	const tail = `"}`
	n := size - int64(len(head)) - int64(len(tail))
	if n < 0 {
		n = 0
	}
	t.stream(w, r, head, padChunk, n, tail, contentLength)
}

// streamBomb writes {prefix "Oem":{"Bomb":[0,0,0,...,0]}} of about size
// bytes: one JSON value every two bytes.
func (t *Target) streamBomb(w http.ResponseWriter, r *http.Request, prefix string, size int64) {
	head := prefix + `"Oem":{"Bomb":[`
	const tail = `0]}}`
	n := size - int64(len(head)) - int64(len(tail))
	n -= n % 2 // whole "0," pairs
	if n < 0 {
		n = 0
	}
	t.stream(w, r, head, zeroChunk, n, tail, true)
}

// stream writes head, n bytes cycled from fill, then tail.
func (t *Target) stream(w http.ResponseWriter, r *http.Request, head string, fill []byte, n int64, tail string, contentLength bool) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if contentLength {
		h.Set("Content-Length", strconv.FormatInt(int64(len(head))+n+int64(len(tail)), 10))
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	rc := http.NewResponseController(w)
	write := func(b []byte) bool {
		select {
		case <-r.Context().Done():
			return false
		case <-t.stopped():
			return false
		default:
		}
		_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		_, err := w.Write(b)
		return err == nil
	}
	if !write([]byte(head)) {
		return
	}
	for n > 0 {
		b := fill
		if int64(len(b)) > n {
			b = b[:n]
		}
		if !write(b) {
			return
		}
		n -= int64(len(b))
	}
	write([]byte(tail))
}

// slowLoris sends the start of a JSON object, then one space a second,
// until the client leaves or the target closes (at most slowLorisMax).
func (t *Target) slowLoris(w http.ResponseWriter, r *http.Request, prefix string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_, _ = io.WriteString(w, prefix)
	_ = rc.Flush()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	end := time.NewTimer(slowLorisMax)
	defer end.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-t.stopped():
			return
		case <-end.C:
			return
		case <-tick.C:
		}
		_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := w.Write([]byte(" ")); err != nil {
			return
		}
		if rc.Flush() != nil {
			return
		}
	}
}

// truncated announces the whole of body in Content-Length, sends its first
// half and closes the connection.
func truncated(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body[:len(body)/2])
	_ = http.NewResponseController(w).Flush()
	// net/http closes the connection (an HTTP/2 stream is reset) without
	// logging.
	panic(http.ErrAbortHandler)
}

// lazyCollection streams a collection of first followed by LazyMembers-1
// references to /redfish/v1/Chassis/LazyN, generated as they are written.
func (t *Target) lazyCollection(w http.ResponseWriter, r *http.Request, id, first string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(4 * writeTimeout))
	bw := bufio.NewWriterSize(w, chunkSize)
	fmt.Fprintf(bw, `{"@odata.id":%q,"@odata.type":"#ChassisCollection.ChassisCollection","Name":"Chassis Collection","Members@odata.count":%d,"Members":[{"@odata.id":%q}`, id, LazyMembers, first)
	for i := 1; i < LazyMembers; i++ {
		if i%4096 == 0 {
			select {
			case <-r.Context().Done():
				return
			case <-t.stopped():
				return
			default:
			}
		}
		fmt.Fprintf(bw, `,{"@odata.id":"%s/Lazy%d"}`, id, i)
	}
	bw.WriteString("]}")
	_ = bw.Flush()
}

// lazyChassis is the small chassis every LazyN reference resolves to.
func lazyChassis(id, name string) map[string]any {
	return map[string]any{
		"@odata.id":   id,
		"@odata.type": "#Chassis.v1_25_0.Chassis",
		"Id":          name,
		"Name":        "Lazy chassis " + name,
		"ChassisType": "Other",
		"Status":      map[string]any{"State": "Enabled", "Health": "OK"},
	}
}

// mustJSON encodes v (maps of the tree decode back without error).
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(`{}`)
	}
	return b
}
