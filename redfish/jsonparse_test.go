package redfish

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/prefail/prefail/redfish/redfishmock"
)

// decodeStd is what encoding/json makes of body: the reference parseJSON
// is held to.
func decodeStd(body []byte) (any, bool) {
	if !json.Valid(body) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil, false
	}
	return v, true
}

// jsonEdgeCases are bodies where a hand-written JSON parser goes wrong:
// escapes, surrogates, bytes that are not UTF-8, number forms, white
// space, repeated keys, and near misses of each.
var jsonEdgeCases = []string{
	`{}`, `[]`, `{"a":[]}`, `{"a":{}}`, ` {"a" : 1 } `, "\t{\n\"a\"\r:\n1}\n",
	`{"a":1,"a":2}`, `{"a":"x","b":null,"c":true,"d":false}`,
	`{"n":[0,-0,1.5,-1.5e10,1E+2,1e-2,12345678901234567890123]}`,
	`{"n":01}`, `{"n":-}`, `{"n":1.}`, `{"n":.5}`, `{"n":1e}`, `{"n":+1}`, `{"n":0x10}`, `{"n":1.5e+}`,
	`{"s":"\"\\\/\b\f\n\r\t"}`, `{"s":"\u00e9\u20ac\ud83d\ude00"}`, `{"s":"\ud83d"}`, `{"s":"\ude00x"}`,
	`{"s":"\ud83d\u0041"}`, `{"s":"\ud83d\ud83d\ude00"}`, `{"s":"\u12"}`, `{"s":"\uZZZZ"}`, `{"s":"\ud83d\uZZZZ"}`,
	`{"s":"\'"}`, `{"s":"\x"}`, "{\"s\":\"a\x01b\"}", "{\"s\":\"caf\xc3\xa9\"}", "{\"s\":\"bad\xff\xfeutf8\"}",
	"{\"s\":\"\xed\xa0\x80\"}", "{\"s\":\"tail\xc3\"}", `{"s":"unterminated`, `{"s":"a\`,
	`{"\u0041":1}`, `{"k\"ey":1}`, `{a:1}`, `{"a" 1}`, `{"a":1,}`, `[1,]`, `[,1]`, `{"a":1}}`, `{"a":1} ]`,
	`{"a":1}{"b":2}`, `{"a":1} x`, `{"a":tru}`, `{"a":nul}`, `{"a":falsey}`, `{"a":true1}`, `[1 2]`,
	``, ` `, `"x"`, `1`, `null`, `{"a":[{"b":[{"c":[]}]}]}`,
	strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth),
	strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1),
	`{"a":` + strings.Repeat(`{"a":`, maxJSONDepth-1) + `1` + strings.Repeat(`}`, maxJSONDepth),
}

// TestParseJSONAgreesWithEncodingJSON: on each edge case, parseJSON
// accepts what encoding/json accepts and builds the same value.
func TestParseJSONAgreesWithEncodingJSON(t *testing.T) {
	accepted := 0
	for _, body := range jsonEdgeCases {
		want, wantOK := decodeStd([]byte(body))
		got, ok := parseJSON([]byte(body))
		if ok != wantOK {
			t.Errorf("%.60q: parseJSON ok=%v, encoding/json ok=%v", body, ok, wantOK)
			continue
		}
		if ok {
			accepted++
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%.60q: parseJSON gives %#v, encoding/json %#v", body, got, want)
			}
		}
	}
	if accepted < 15 || accepted == len(jsonEdgeCases) {
		t.Errorf("%d of %d edge cases accepted: the cases should exercise both outcomes", accepted, len(jsonEdgeCases))
	}
}

// TestParseResourceErrorsUnchanged: a body the fast decoder rejects is
// reported in encoding/json's words, the ones the golden files and the
// warnings of malformed captures pin.
func TestParseResourceErrorsUnchanged(t *testing.T) {
	for body, want := range map[string]string{
		`{"a":1,}`:    "invalid JSON at byte 8: character '}' looking for beginning of object key string",
		`{"a":`:       "the body ends at byte 5 in the middle of a value (truncated?)",
		``:            "empty body where a JSON object was expected",
		`[1]`:         "want a JSON object, got array",
		`{"a":1} x`:   "invalid JSON at byte 8: data after the JSON object",
		`{"s":"\'"}`:  `invalid JSON at byte 8: character '\'' in string escape code`,
		`{"n":01}`:    "invalid JSON at byte 7: character '1' after object key:value pair",
		`{"a":1} ]`:   "", // encoding/json's Decoder.More stops at ']': accepted, as it always was
		`{"a":[1 2]}`: "invalid JSON at byte 9: character '2' after array element",
	} {
		m, err := parseResource([]byte(body))
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v, want it accepted", body, err)
		case want == "" && m["a"] != json.Number("1"):
			t.Errorf("%q: %v", body, m)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%q: error %v, want one containing %q", body, err, want)
		}
	}
}

// FuzzParseJSON holds parseJSON to encoding/json on every input: it
// accepts exactly what json.Valid accepts, builds what Decoder.UseNumber
// builds, and never panics.
func FuzzParseJSON(f *testing.F) {
	for _, c := range jsonEdgeCases {
		if len(c) < 1000 {
			f.Add([]byte(c))
		}
	}
	n := 0
	_ = filepath.WalkDir(filepath.Join("..", "testdata", "redfish"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") || n >= 200 {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && len(b) < 32<<10 {
			f.Add(b)
			n++
		}
		return nil
	})
	f.Fuzz(func(t *testing.T, body []byte) {
		want, wantOK := decodeStd(body)
		got, ok := parseJSON(body)
		if ok != wantOK {
			t.Fatalf("parseJSON ok=%v, encoding/json ok=%v", ok, wantOK)
		}
		if ok && !reflect.DeepEqual(got, want) {
			t.Fatalf("parseJSON gives %#v, encoding/json %#v", got, want)
		}
	})
}

// BenchmarkParseResource decodes the largest response of a fleet scan of
// public-rackmount1 (its Chassis collection, expanded three levels).
//
//	go test ./redfish -run '^$' -bench ParseResource -benchmem
func BenchmarkParseResource(b *testing.B) {
	tree, err := redfishmock.Embedded("public-rackmount1")
	if err != nil {
		b.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/redfish/v1/Chassis?$expand=.($levels=3)", nil)
	req.SetBasicAuth(redfishmock.DefaultUser, redfishmock.DefaultPassword)
	redfishmock.New(tree).ServeHTTP(rec, req)
	body := rec.Body.Bytes()
	if rec.Code != http.StatusOK {
		b.Fatalf("the mock answered %d: %s", rec.Code, body)
	}
	// CPU time (GC included) is reported beside the wall time: on a
	// machine shared with other work it is the steadier figure.
	b.Run("parseJSON", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		cpu0 := processCPU()
		for b.Loop() {
			if _, ok := parseJSON(body); !ok {
				b.Fatal("rejected")
			}
		}
		b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		cpu0 := processCPU()
		for b.Loop() {
			if _, err := parseResourceSlowly(body); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	})
}

// processCPU is the process's CPU time so far, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Bodies decoded through one table share their short strings (one copy
// of "OK" for all), decode to what they decode to alone, and a body of
// ever new strings fills the table only up to its bound.
func TestInternTableShared(t *testing.T) {
	var tab internTable
	first, ok1 := parseJSONShared([]byte(`{"Status":{"Health":"OK"}}`), &tab)
	second, ok2 := parseJSONShared([]byte(`{"Health":"OK","n":1}`), &tab)
	if !ok1 || !ok2 {
		t.Fatal("rejected")
	}
	for _, body := range []string{`{"Status":{"Health":"OK"}}`, `{"Health":"OK","n":1}`} {
		alone, _ := parseJSON([]byte(body))
		shared, _ := parseJSONShared([]byte(body), &tab)
		if !reflect.DeepEqual(alone, shared) {
			t.Errorf("%s: shared %v, alone %v", body, shared, alone)
		}
	}
	a := first.(map[string]any)["Status"].(map[string]any)["Health"].(string)
	b := second.(map[string]any)["Health"].(string)
	if unsafe.StringData(a) != unsafe.StringData(b) {
		t.Error(`the two bodies' "OK" are two copies`)
	}

	var many strings.Builder
	many.WriteString("[")
	for i := range maxInternEntries + 100 {
		if i > 0 {
			many.WriteString(",")
		}
		fmt.Fprintf(&many, `"s%d"`, i)
	}
	many.WriteString("]")
	v, ok := parseJSONShared([]byte(many.String()), &tab)
	if !ok || len(v.([]any)) != maxInternEntries+100 || v.([]any)[maxInternEntries+99] != fmt.Sprintf("s%d", maxInternEntries+99) {
		t.Fatalf("a body of %d strings decoded wrong", maxInternEntries+100)
	}
	if len(tab.strs) > maxInternEntries || !tab.full() {
		t.Errorf("table holds %d strings (full: %v), bound %d", len(tab.strs), tab.full(), maxInternEntries)
	}
}
