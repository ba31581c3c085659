package redfishmock

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"sort"
	"strings"
)

// ServiceRoot is the path of the Redfish service root.
const ServiceRoot = "/redfish/v1"

// Tree is a Redfish resource tree: URL path -> JSON body. Paths are stored
// normalized (no trailing slash, URL-decoded). A Tree is read-only once
// loaded and safe for concurrent use.
type Tree struct {
	bodies map[string][]byte
	// contentTypes holds the few non-JSON documents ($metadata XML).
	contentTypes map[string]string
	paths        []string
}

// LoadDir loads a tree from dir, detecting its layout: DMTF mockup
// (dir/index.json is /redfish/v1), tall mockup (dir/redfish/v1/index.json)
// or flat capture files (_redfish_v1_Chassis_1.json).
func LoadDir(dir string) (*Tree, error) {
	t, err := LoadFS(os.DirFS(dir), ".")
	if err != nil {
		return nil, fmt.Errorf("redfishmock: load %s: %w", dir, err)
	}
	return t, nil
}

// LoadFS is LoadDir on a file system; dir is a slash-separated path in fsys.
func LoadFS(fsys fs.FS, dir string) (*Tree, error) {
	dir = path.Clean(dir)
	t := &Tree{bodies: map[string][]byte{}, contentTypes: map[string]string{}}
	var err error
	switch {
	case fileExists(fsys, path.Join(dir, "redfish/v1/index.json")):
		err = t.loadMockup(fsys, path.Join(dir, "redfish/v1"))
	case fileExists(fsys, path.Join(dir, "index.json")):
		err = t.loadMockup(fsys, dir)
	default:
		err = t.loadFlat(fsys, dir)
	}
	if err != nil {
		return nil, err
	}
	if err := t.index(); err != nil {
		return nil, err
	}
	return t, nil
}

// NewTree builds a tree from URL path -> body, for tests that assemble
// one (say, a service root plus a malformed capture). Bodies are not
// copied. It fails without a service root.
func NewTree(bodies map[string][]byte) (*Tree, error) {
	t := &Tree{bodies: make(map[string][]byte, len(bodies)), contentTypes: map[string]string{}}
	for p, b := range bodies {
		t.bodies[NormalizePath(p)] = b
	}
	if err := t.index(); err != nil {
		return nil, fmt.Errorf("redfishmock: %w", err)
	}
	return t, nil
}

// With returns a copy of t with the resource at p replaced or added; t is
// unchanged.
func (t *Tree) With(p string, body []byte) *Tree {
	c := &Tree{bodies: make(map[string][]byte, len(t.bodies)+1), contentTypes: map[string]string{}}
	for k, v := range t.bodies {
		c.bodies[k] = v
	}
	for k, v := range t.contentTypes {
		c.contentTypes[k] = v
	}
	p = NormalizePath(p)
	c.bodies[p] = body
	delete(c.contentTypes, p)
	_ = c.index() // t had a service root, so c has one
	return c
}

// index checks for the service root and sorts the paths.
func (t *Tree) index() error {
	if _, ok := t.bodies[ServiceRoot]; !ok {
		return errors.New("no service root (/redfish/v1) found")
	}
	t.paths = make([]string, 0, len(t.bodies))
	for p := range t.bodies {
		t.paths = append(t.paths, p)
	}
	sort.Strings(t.paths)
	return nil
}

func fileExists(fsys fs.FS, name string) bool {
	st, err := fs.Stat(fsys, name)
	return err == nil && !st.IsDir()
}

// loadMockup reads the DMTF layout: every index.json is the resource named
// by its directory.
func (t *Tree) loadMockup(fsys fs.FS, root string) error {
	return fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(path.Dir(p), root), "/")
		if root == "." {
			rel = path.Dir(p)
			if rel == "." {
				rel = ""
			}
		}
		urlPath := ServiceRoot
		if rel != "" {
			urlPath += "/" + rel
		}
		switch d.Name() {
		case "index.json":
		case "index.xml":
			// $metadata is the only XML document clients ask for.
			if path.Base(urlPath) != "$metadata" {
				return nil
			}
			t.contentTypes[NormalizePath(urlPath)] = "application/xml"
		default:
			return nil
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		t.bodies[NormalizePath(urlPath)] = body
		return nil
	})
}

// loadFlat reads capture files named after their URL with "/" replaced by
// "_". Ids may contain underscores, so the @odata.id inside wins.
func (t *Tree) loadFlat(fsys fs.FS, dir string) error {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".json") {
			continue
		}
		stem := strings.TrimSuffix(name, ".json")
		if !strings.HasPrefix(strings.TrimPrefix(stem, "_"), "redfish_v1") {
			continue
		}
		body, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return err
		}
		p := odataID(body)
		if !strings.HasPrefix(p, "/redfish") {
			p = "/" + strings.ReplaceAll(strings.TrimPrefix(stem, "_"), "_", "/")
		}
		t.bodies[NormalizePath(p)] = body
	}
	return nil
}

// odataID returns the top-level @odata.id of a JSON body, or "".
func odataID(body []byte) string {
	var doc struct {
		ID string `json:"@odata.id"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return ""
	}
	return doc.ID
}

// NormalizePath maps the spellings of one resource to the tree's key:
// fragment and trailing slash dropped, percent-escapes decoded.
func NormalizePath(p string) string {
	if i := strings.IndexByte(p, '#'); i >= 0 {
		p = p[:i]
	}
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if strings.Contains(p, "%") {
		if u, err := url.PathUnescape(p); err == nil {
			p = u
		}
	}
	for len(p) > 1 && strings.HasSuffix(p, "/") {
		p = p[:len(p)-1]
	}
	return p
}

// Paths returns every resource path, sorted.
func (t *Tree) Paths() []string {
	return append([]string(nil), t.paths...)
}

// Get returns the body stored for path (any spelling NormalizePath accepts).
// The slice is shared: do not modify it.
func (t *Tree) Get(p string) ([]byte, bool) {
	b, ok := t.bodies[NormalizePath(p)]
	return b, ok
}

// contentType is the Content-Type a stored document is served with.
func (t *Tree) contentType(p string) string {
	if ct, ok := t.contentTypes[p]; ok {
		return ct
	}
	return "application/json"
}

// Len returns the number of resources.
func (t *Tree) Len() int { return len(t.bodies) }

// decodeJSON parses a body keeping numbers exact, so re-encoding does not
// turn 12.06 into 12.059999.
func decodeJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after JSON value")
	}
	return v, nil
}

func encodeJSON(v any) ([]byte, error) {
	if b, ok := appendDoc(make([]byte, 0, 4096), v, 0); ok {
		return append(b, '\n'), nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode JSON: %w", err)
	}
	return buf.Bytes(), nil
}
