package redfishmock

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// embedded holds the trimmed DMTF mockups and the shipped scenarios, so the
// demo and tests need no files on disk.
//
//go:embed mockups scenarios
var embedded embed.FS

// Embedded loads the embedded tree called name (see EmbeddedNames).
func Embedded(name string) (*Tree, error) {
	if name == "" || strings.ContainsAny(name, "/\\") || !dirExists(embedded, path.Join("mockups", name)) {
		return nil, fmt.Errorf("redfishmock: no embedded tree %q (have %s)", name, strings.Join(EmbeddedNames(), ", "))
	}
	t, err := LoadFS(embedded, path.Join("mockups", name))
	if err != nil {
		return nil, fmt.Errorf("redfishmock: embedded tree %s: %w", name, err)
	}
	return t, nil
}

// EmbeddedNames lists the embedded trees, sorted.
func EmbeddedNames() []string {
	return listEmbedded("mockups", true)
}

// EmbeddedScenario parses the embedded scenario called name ("aging-server";
// a ".json" suffix is accepted).
func EmbeddedScenario(name string) (*Scenario, error) {
	name = strings.TrimSuffix(name, ".json")
	if name == "" || strings.ContainsAny(name, "/\\") {
		return nil, fmt.Errorf("redfishmock: no embedded scenario %q", name)
	}
	b, err := fs.ReadFile(embedded, path.Join("scenarios", name+".json"))
	if err != nil {
		return nil, fmt.Errorf("redfishmock: no embedded scenario %q (have %s): %w", name, strings.Join(EmbeddedScenarioNames(), ", "), err)
	}
	sc, err := ParseScenario(b)
	if err != nil {
		return nil, fmt.Errorf("redfishmock: embedded scenario %s: %w", name, err)
	}
	return sc, nil
}

// EmbeddedScenarioNames lists the embedded scenarios (without ".json"), sorted.
func EmbeddedScenarioNames() []string {
	names := listEmbedded("scenarios", false)
	out := names[:0]
	for _, n := range names {
		if strings.HasSuffix(n, ".json") {
			out = append(out, strings.TrimSuffix(n, ".json"))
		}
	}
	return out
}

func listEmbedded(dir string, dirs bool) []string {
	entries, err := fs.ReadDir(embedded, dir)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() == dirs {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

func dirExists(fsys fs.FS, name string) bool {
	st, err := fs.Stat(fsys, name)
	return err == nil && st.IsDir()
}
