package redfish

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// decodeOverheadByState is decodeOverhead as a byte-by-byte state
// machine: the reference the skipping version is held to.
func decodeOverheadByState(body []byte) int64 {
	values, objects := int64(1), int64(0)
	inString, escaped := false, false
	for _, c := range body {
		switch {
		case escaped:
			escaped = false
		case inString:
			switch c {
			case '\\':
				escaped = true
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == ',' || c == '[':
			values++
		case c == '{':
			values++
			objects++
		}
	}
	return values*bytesPerValue + objects*bytesPerObject
}

var overheadCases = []string{
	``, `{}`, `[0,0,0]`, `{"a":[1,2,{"b":3}]}`, `{"s":"a,b[c{d"}`, `{"s":"a\"b,c"}`, `{"s":"a\\","t":[1,2]}`,
	`{"s":"a\\\"b,c","t":{}}`, `{"s":"\\\\\\","n":[1]}`, `"unterminated,[{`, `"x\`, `\"{,`, `{"a":"b"}[,`,
}

func TestDecodeOverheadCountsOutsideStrings(t *testing.T) {
	for _, c := range overheadCases {
		if got, want := decodeOverhead([]byte(c)), decodeOverheadByState([]byte(c)); got != want {
			t.Errorf("%q: %d, want %d", c, got, want)
		}
	}
	// Separators inside strings are not values.
	if got, want := decodeOverhead([]byte(`{"s":"[,,,{"}`)), int64(2*bytesPerValue+bytesPerObject); got != want {
		t.Errorf("separators in a string counted: %d, want %d", got, want)
	}
}

// FuzzDecodeOverhead holds decodeOverhead to the state machine on any
// bytes, and it never panics.
func FuzzDecodeOverhead(f *testing.F) {
	for _, c := range overheadCases {
		f.Add([]byte(c))
	}
	n := 0
	_ = filepath.WalkDir(filepath.Join("..", "testdata", "redfish"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") || n >= 50 {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && len(b) < 32<<10 {
			f.Add(b)
			n++
		}
		return nil
	})
	f.Fuzz(func(t *testing.T, body []byte) {
		if got, want := decodeOverhead(body), decodeOverheadByState(body); got != want {
			t.Fatalf("%d, want %d", got, want)
		}
	})
}

// A decoded body stays reserved by its length (the decoded strings hold
// that much), its buffer's spare capacity is given back, and the buffer
// goes to the pool for the next response; a dropped body is given back
// whole.
func TestBudgetAfterDecode(t *testing.T) {
	pool := NewMemoryPool(1 << 20)
	b := newBudget(1<<20, pool)
	reused := false
	for range 20 { // sync.Pool may drop a buffer (always may under -race)
		body := make([]byte, 100, 4096)
		if err := b.reserve(t.Context(), int64(cap(body)), "a body"); err != nil {
			t.Fatal(err)
		}
		b.decoded(body)
		if cap(b.buffer()) == 4096 {
			reused = true
		}
	}
	if b.held != 20*100 {
		t.Errorf("%d bytes held after 20 decoded 100-byte bodies, want %d", b.held, 20*100)
	}
	if !reused {
		t.Error("no decoded body's buffer was reused in 20 tries")
	}
	body := make([]byte, 100, 4096)
	if err := b.reserve(t.Context(), 4096, "a body"); err != nil {
		t.Fatal(err)
	}
	b.dropped(body)
	if b.held != 20*100 {
		t.Errorf("%d bytes held after a dropped body, want %d", b.held, 20*100)
	}
	b.release()
	if !pool.sem.TryAcquire(1 << 20) {
		t.Error("the pool did not get everything back")
	}
}
