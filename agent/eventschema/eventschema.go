// Package eventschema is a test helper: it validates the agent's events
// (JSON Lines from watch, agent and replay, webhook bodies, NATS messages)
// against the published schema, docs/event.schema.json, with a maintained
// JSON Schema validator (santhosh-tekuri/jsonschema, draft 2020-12, formats
// asserted).
package eventschema

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Path is where the schema lives in the repository.
func Path() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "docs", "event.schema.json")
}

// Compile loads the schema.
func Compile() (*jsonschema.Schema, error) {
	f, err := os.Open(Path())
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Path(), err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("event.schema.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("event.schema.json")
}

// Validate checks one event's JSON.
func Validate(s *jsonschema.Schema, line []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(line))
	if err != nil {
		return err
	}
	return s.Validate(v)
}

// CheckLines validates every non-empty line of JSON Lines output and
// returns the events decoded as maps, failing the test on the first
// invalid one.
func CheckLines(t testing.TB, jsonl []byte) []map[string]any {
	t.Helper()
	s, err := Compile()
	if err != nil {
		t.Fatalf("event schema: %v", err)
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(jsonl))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if err := Validate(s, line); err != nil {
			t.Fatalf("line %d does not match %s: %v\n%s", n, Path(), err, line)
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}
