package agent

import (
	"bufio"
	"bytes"
	"context"
	_ "embed" // the sample configuration
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/internal/yamldoc"
)

// The agent's configuration file (docs/agent.md, "Configuration file").
// It is YAML, decoded by walking yaml.v3's node tree so that every error,
// of syntax or of meaning, names FILE:LINE:COLUMN and the key. Unknown
// keys are errors; passwords are never inline.

//go:embed sample-config.yaml
var sampleConfig string

// SampleConfig returns the commented sample configuration (what
// `prefail agent --print-sample-config` prints). It parses as is.
func SampleConfig() []byte { return []byte(sampleConfig) }

// Config is the agent's configuration: the file as read, its relative
// paths resolved against the file's directory and the defaults
// (DefaultConfig) filled in for every key it leaves out.
type Config struct {
	// File is the name the configuration was read under (used in
	// messages); Dir the absolute directory its relative paths were
	// resolved against.
	File string
	Dir  string

	// Interval is the default time between two scans of a target.
	Interval time.Duration
	// Intervals overrides Interval per kind of target: "redfish", "ipmi",
	// "smart" (Target.Kind). A target's own interval overrides both.
	Intervals map[string]time.Duration
	// Timeout bounds each scan of a target.
	Timeout time.Duration
	// Concurrency is how many targets are scanned at the same time.
	Concurrency int
	// Jitter spreads the targets' scans: each target's scans are offset
	// by up to Jitter x its interval (a fraction, 0 to 1; 0: no spread).
	Jitter float64

	// Credentials are the defaults of every BMC target.
	Credentials CredentialsConfig
	// TLS is the default certificate verification of https:// targets.
	TLS TLSConfig
	// IPMI is the default session setup of ipmi:// targets.
	IPMI IPMIConfig
	// Disks configures disk targets (smart:, smartctl:).
	Disks DisksConfig

	// Targets are the targets given inline (targets:), then those of
	// TargetsFile, in order.
	Targets []TargetConfig
	// TargetsFile is the targets file read (resolved path; "" if none).
	TargetsFile string

	// MaxLogEntries is how many of the newest log entries (Redfish logs,
	// IPMI SEL) each scan reads; 0 skips logs.
	MaxLogEntries int
	// MemoryLimit bounds the BMC responses all scans hold at once, bytes.
	MemoryLimit int64
	// SDRCache is the directory of the IPMI SDR caches ("": no cache).
	SDRCache string

	// Detector is the detector's configuration: the defaults, with the
	// file DetectorFile or the inline mapping decoded over them.
	Detector     detector.Config
	DetectorFile string

	Store   StoreConfig
	Outputs OutputsConfig

	// Listen is the address of the HTTP server for /metrics, /healthz and
	// /readyz ("": no server).
	Listen string
	// LogLevel is trace, debug, info, warn or error.
	LogLevel string

	// pos is where each key was read (key path -> FILE:LINE:COLUMN), so
	// that Validate names the line of what it refuses.
	pos map[string]configPos
}

// CredentialsConfig is how a BMC target logs in. The username is either
// given (Username) or read from an environment variable (UsernameEnv);
// the password is read from an environment variable (PasswordEnv) or
// from the first line of a file (PasswordFile), never given inline.
type CredentialsConfig struct {
	Username     string
	UsernameEnv  string
	PasswordEnv  string
	PasswordFile string
	// BasicAuth sends HTTP Basic credentials on every Redfish request
	// instead of opening a session.
	BasicAuth bool
}

// TLSConfig is how a BMC's (or a webhook's) certificate is verified:
// against CAFile's certificates (PEM) instead of the system roots, or not
// at all (Insecure, an explicit opt-out). Both at once are refused.
type TLSConfig struct {
	CAFile   string
	Insecure bool
}

// IPMIConfig is how an IPMI session is set up.
type IPMIConfig struct {
	// Interface is lanplus (IPMI 2.0), lan (IPMI 1.5) or open (this
	// machine's BMC through /dev/ipmi0).
	Interface string
	// CipherSuite is the RMCP+ cipher suite: 3, 8, 12 or 17.
	CipherSuite int
}

// DisksConfig configures the disk targets.
type DisksConfig struct {
	// SmartctlPath is the smartctl program smartctl: targets run (looked
	// up in PATH when it has no slash).
	SmartctlPath string
	// WakeStandby reads disks in standby too (spinning them up).
	WakeStandby bool
}

// TargetConfig is one target: an entry of targets: or a line of the
// targets file. Exactly one of URL, Local and Smartctl is set. The
// per-target settings override the defaults when set (an empty string, a
// nil pointer, a zero: not set here); Config.Target applies them.
type TargetConfig struct {
	// URL is a BMC: https://HOST[:PORT], http://HOST[:PORT] (Redfish) or
	// ipmi://HOST[:PORT], normalized to scheme://host[:port].
	URL string
	// Local reads this machine's disks (smart:): Devices only, or every
	// disk when Devices is empty.
	Local   bool
	Devices []string
	// Smartctl runs smartctl --json -x with these arguments at each scan
	// (spaces normalized): "-d megaraid,0 /dev/sda".
	Smartctl string

	// Where is where the target was named: "prefail.yaml:23", "bmcs.txt:4".
	Where string

	// Credentials (BMC targets). Giving either of Username/UsernameEnv
	// replaces both defaults; likewise PasswordEnv/PasswordFile.
	Username     string
	UsernameEnv  string
	PasswordEnv  string
	PasswordFile string
	// TLS (https:// targets). A CAFile here overrides a default Insecure,
	// an Insecure here a default CAFile.
	CAFile   string
	Insecure *bool
	// BasicAuth (Redfish targets).
	BasicAuth *bool
	// IPMI (ipmi:// targets).
	IPMIInterface string
	CipherSuite   int

	// Interval overrides the interval of the target's kind (0: not set).
	Interval time.Duration
}

// StoreConfig is the embedded store: the detector's state, the readings
// kept for history, the events' outbox.
type StoreConfig struct {
	// Path is the directory of the store.
	Path      string
	Retention RetentionConfig
}

// RetentionConfig is how long the readings are kept at each resolution.
type RetentionConfig struct {
	Raw     time.Duration // every scan's readings
	Minute5 time.Duration // 5-minute aggregates
	Hourly  time.Duration // hourly aggregates
}

// OutputsConfig is where events go. A nil output is disabled. When the
// file has no outputs: section, events go to standard output.
type OutputsConfig struct {
	Stdout  bool
	File    *FileOutputConfig
	Webhook *WebhookOutputConfig
	NATS    *NATSOutputConfig
}

// FileOutputConfig writes events as JSON Lines to a file rotated by size
// (NewFileOutput with WithMaxBytes and WithMaxFiles).
type FileOutputConfig struct {
	Path     string
	MaxSize  int64 // bytes; the file is rotated before it grows past it
	MaxFiles int   // rotated files kept beside it (0: none)
}

// WebhookOutputConfig POSTs events to an HTTP endpoint.
type WebhookOutputConfig struct {
	// URL is the endpoint, or URLEnv the environment variable holding it
	// (for URLs whose path is a secret). Exactly one is set.
	URL    string
	URLEnv string
	// Headers are sent as given (never credentials: Authorization and
	// the like are refused here); HeadersEnv maps a header to the
	// environment variable holding its value. Names are canonical
	// (http.CanonicalHeaderKey).
	Headers    map[string]string
	HeadersEnv map[string]string
	// Timeout bounds each request.
	Timeout time.Duration
	TLS     TLSConfig
}

// NATSOutputConfig publishes events to a NATS JetStream subject.
type NATSOutputConfig struct {
	// URL is the server, or a comma-separated list of servers
	// (nats://, tls://, ws://, wss://).
	URL     string
	Subject string
	// Stream is the JetStream stream holding Subject; CreateStream
	// creates it if missing.
	Stream       string
	CreateStream bool
	// CredsFile is a NATS credentials file (JWT and NKey seed).
	CredsFile string
	// CAFile verifies the server's certificate.
	CAFile string
}

// Config limits and defaults.
const (
	// MinMemoryLimit is the smallest memory_limit: one scan's own budget.
	MinMemoryLimit int64 = 32 << 20

	maxConfigBytes       = 4 << 20  // the configuration file
	maxConfigSideBytes   = 16 << 20 // a targets file, a detector file
	maxConfigErrors      = 20       // errors reported at once
	configNodeBudget     = 1_000_000
	configMaxDepth       = 64
	minFileOutputMaxSize = 64 << 10
)

// DefaultConfig is the configuration of a file that sets nothing but its
// targets.
func DefaultConfig() Config {
	day := 24 * time.Hour
	return Config{
		Interval:      60 * time.Second,
		Timeout:       60 * time.Second,
		Concurrency:   8,
		Credentials:   CredentialsConfig{UsernameEnv: "PREFAIL_USERNAME", PasswordEnv: "PREFAIL_PASSWORD"},
		IPMI:          IPMIConfig{Interface: "lanplus", CipherSuite: 3},
		Disks:         DisksConfig{SmartctlPath: "smartctl"},
		MaxLogEntries: 100,
		MemoryLimit:   48 << 20,
		SDRCache:      "/var/cache/prefail/sdr",
		Detector:      detector.DefaultConfig(),
		Store: StoreConfig{Path: "/var/lib/prefail",
			Retention: RetentionConfig{Raw: 48 * time.Hour, Minute5: 14 * day, Hourly: 400 * day}},
		Outputs:  OutputsConfig{Stdout: true},
		Listen:   "127.0.0.1:9464",
		LogLevel: "info",
	}
}

// ConfigError is one thing wrong with a configuration, and where.
type ConfigError struct {
	File   string // "" for a Config built in Go
	Line   int    // 0 when unknown
	Column int
	// Key is the key path ("targets[2].interval"), or a label naming
	// the target ("https://bmc1.example.com") for a targets file line.
	Key string
	Msg string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
	} else {
		b.WriteString("config")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// LoadConfig reads the configuration file at path (at most 4 MiB), with
// its targets file and detector file if it names them, and validates it.
// Relative paths in it are relative to its directory. The error lists
// every problem found (up to 20), each as FILE:LINE:COLUMN: KEY: what.
func LoadConfig(path string) (*Config, error) {
	data, err := readConfigFile(path, maxConfigBytes)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return parseConfig(path, configDir(path), data, readConfigFile)
}

// ParseConfig parses a configuration read elsewhere; name is used in
// messages and its directory resolves relative paths (the targets file
// and detector file it names are read from there).
func ParseConfig(name string, data []byte) (*Config, error) {
	if name == "" {
		name = "config"
	}
	return parseConfig(name, configDir(name), data, readConfigFile)
}

func configDir(name string) string {
	dir := filepath.Dir(name)
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

// sizeLimitText says a size bound in the unit it was given in.
func sizeLimitText(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// readConfigFile reads a regular file of at most limit bytes (never a
// FIFO or a device, whose read could block or never end).
func readConfigFile(path string, limit int64) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %s", path, sizeLimitText(limit))
	}
	return data, nil
}

// parseConfig decodes data; readFile reads the files the configuration
// names (the targets file, the detector file).
func parseConfig(name, dir string, data []byte, readFile func(string, int64) ([]byte, error)) (cfg *Config, err error) {
	c := DefaultConfig()
	c.File, c.Dir = name, dir
	c.pos = map[string]configPos{}
	d := &configDecoder{file: name, dir: dir, data: data, c: &c, readFile: readFile}

	root, perr := d.parseYAML(data)
	if perr != nil {
		return nil, perr
	}
	d.top(root)
	if d.failed() {
		return nil, d.err()
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// configPos is where a key was read.
type configPos struct {
	file      string
	line, col int
	// label replaces the key path in messages; "-" drops it (a targets
	// file line is named by its line, not by its index in Config.Targets).
	label string
}

// configDecoder walks the YAML node tree into a Config.
type configDecoder struct {
	file, dir string
	data      []byte
	c         *Config
	readFile  func(string, int64) ([]byte, error)

	errs      []error
	dropped   int
	nodes     int
	exhausted bool
}

func (d *configDecoder) failed() bool { return len(d.errs) > 0 }

func (d *configDecoder) err() error {
	errs := d.errs
	if d.dropped > 0 {
		errs = append(errs, &ConfigError{File: d.file, Msg: fmt.Sprintf("%d more errors not shown", d.dropped)})
	}
	return errors.Join(errs...)
}

func (d *configDecoder) add(e error) {
	if len(d.errs) >= maxConfigErrors {
		d.dropped++
		return
	}
	d.errs = append(d.errs, e)
}

// errorf reports a problem at node n (nil: no position) under key.
func (d *configDecoder) errorf(n *yaml.Node, key, format string, args ...any) {
	e := &ConfigError{File: d.file, Key: key, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	d.add(e)
}

// setPos records where key was read.
func (d *configDecoder) setPos(key string, n *yaml.Node) {
	d.c.pos[key] = configPos{file: d.file, line: n.Line, col: n.Column}
}

// spend counts a visited node; past the budget (an alias bomb, a huge
// file) decoding stops with one error.
func (d *configDecoder) spend(n *yaml.Node) bool {
	d.nodes++
	if d.nodes <= configNodeBudget {
		return true
	}
	if !d.exhausted {
		d.exhausted = true
		d.errorf(n, "", "too many values once aliases are expanded (more than %d)", configNodeBudget)
	}
	return false
}

// parseYAML parses data as one YAML document and returns its root.
func (d *configDecoder) parseYAML(data []byte) (*yaml.Node, error) {
	root, err := yamldoc.Root(data, "configuration", "prefail agent --print-sample-config prints a commented one")
	if err != nil {
		return nil, &ConfigError{File: d.file, Line: err.Line, Column: err.Column, Msg: err.Msg}
	}
	return root, nil
}

// deref follows aliases.
func (d *configDecoder) deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if n.Alias == nil || i > configMaxDepth {
			return nil
		}
		n = n.Alias
	}
	return n
}

func isNullNode(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// describeNode names what a node is, for "want X, got Y" (never its value).
func describeNode(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch tag := n.ShortTag(); tag {
		case "!!null":
			return "nothing (null)"
		case "!!bool":
			return "true/false"
		case "!!int", "!!float":
			return "a number"
		case "!!str":
			return "a string"
		default:
			return "a value tagged " + tag
		}
	}
	return "an unexpected node"
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// configPair is a key and its value in a mapping.
type configPair struct{ k, v *yaml.Node }

// pairs returns the key/value pairs of mapping n, merge keys (<<)
// expanded: keys of n itself win over merged ones, earlier merged
// mappings over later ones. Duplicate keys are reported when report.
func (d *configDecoder) pairs(n *yaml.Node, path string, report bool, depth int) []configPair {
	var own []configPair
	var merged [][]configPair
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !d.spend(k) {
			return nil
		}
		kd := d.deref(k)
		if kd != nil && kd.Kind == yaml.ScalarNode && kd.ShortTag() == "!!merge" {
			if depth >= 8 {
				if report {
					d.errorf(kd, path, "merge keys (<<) nested too deeply")
				}
				continue
			}
			vd := d.deref(v)
			var srcs []*yaml.Node
			switch {
			case vd != nil && vd.Kind == yaml.MappingNode:
				srcs = []*yaml.Node{vd}
			case vd != nil && vd.Kind == yaml.SequenceNode:
				for _, e := range vd.Content {
					srcs = append(srcs, d.deref(e))
				}
			}
			for _, s := range srcs {
				if s == nil || s.Kind != yaml.MappingNode {
					if report {
						d.errorf(kd, path, "<< merges a mapping or a list of mappings, got %s", describeNode(s))
					}
					continue
				}
				merged = append(merged, d.pairs(s, path, report, depth+1))
			}
			if len(srcs) == 0 && report {
				d.errorf(kd, path, "<< merges a mapping or a list of mappings, got %s", describeNode(vd))
			}
			continue
		}
		if kd == nil || kd.Kind != yaml.ScalarNode || isNullNode(kd) {
			if report {
				d.errorf(k, path, "keys must be plain strings, got %s", describeNode(kd))
			}
			continue
		}
		if prev, dup := seen[kd.Value]; dup {
			if report {
				d.errorf(kd, path, "key %q given twice (also at line %d)", kd.Value, prev.Line)
			}
			continue
		}
		seen[kd.Value] = kd
		own = append(own, configPair{kd, v})
	}
	for _, m := range merged {
		for _, p := range m {
			if _, ok := seen[p.k.Value]; !ok {
				seen[p.k.Value] = p.k
				own = append(own, p)
			}
		}
	}
	return own
}

// configField is a key of a mapping and what to do with its value.
type configField struct {
	name string
	set  func(v *yaml.Node, key string)
}

func fieldNames(fs []configField) []string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.name
	}
	return names
}

// mapping decodes mapping n (at key path) with fields; other, when not
// nil, gets the keys fields do not know first (it returns false to have
// them refused as unknown). It returns false when n is null or not a
// mapping.
func (d *configDecoder) mapping(n *yaml.Node, path string, fields []configField, other func(k, v *yaml.Node, key string) bool) bool {
	n = d.deref(n)
	if isNullNode(n) {
		return false
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want a mapping (key: value lines), got %s", describeNode(n))
		return false
	}
	if path != "" {
		d.setPos(path, n)
	}
	for _, p := range d.pairs(n, path, true, 0) {
		key := p.k.Value
		kp := joinKey(path, key)
		i := slices.IndexFunc(fields, func(f configField) bool { return f.name == key })
		if i >= 0 {
			fields[i].set(p.v, kp)
			continue
		}
		if other != nil && other(p.k, p.v, kp) {
			continue
		}
		d.unknownKey(p.k, path, key, fieldNames(fields))
	}
	return true
}

func (d *configDecoder) unknownKey(k *yaml.Node, path, key string, known []string) {
	where := "at the top level"
	if path != "" {
		where = "in " + path
	}
	hint := ""
	if s := closestKey(key, known); s != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", s)
	}
	d.errorf(k, "", "unknown key %q %s%s; known keys: %s", key, where, hint, strings.Join(known, ", "))
}

// closestKey returns the known key within a small edit distance of key.
func closestKey(key string, known []string) string {
	best, bestD := "", 3
	if len(key) <= 3 {
		bestD = 2
	}
	for _, k := range known {
		if dist := editDistance(strings.ToLower(key), k); dist < bestD {
			best, bestD = k, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// scalar returns n as a scalar, or false (null: silently; anything else:
// an error wanting want).
func (d *configDecoder) scalar(n *yaml.Node, key, want string) (*yaml.Node, bool) {
	n = d.deref(n)
	if isNullNode(n) {
		return nil, false
	}
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, key, "want %s, got %s", want, describeNode(n))
		return nil, false
	}
	d.setPos(key, n)
	return n, true
}

// str decodes a string. Numbers are taken as written; true/false are
// refused (quote them).
func (d *configDecoder) str(n *yaml.Node, key string, dst *string) bool {
	s, ok := d.scalar(n, key, "a string")
	if !ok {
		return false
	}
	switch s.ShortTag() {
	case "!!str", "!!int", "!!float", "!!timestamp":
	case "!!bool":
		d.errorf(s, key, "want a string, got true/false (quote it)")
		return false
	default:
		d.errorf(s, key, "want a string, got %s", describeNode(s))
		return false
	}
	*dst = s.Value
	return true
}

// nonEmpty decodes a string that must not be empty.
func (d *configDecoder) nonEmpty(n *yaml.Node, key string, dst *string) bool {
	var s string
	if !d.str(n, key, &s) {
		return false
	}
	if strings.TrimSpace(s) == "" {
		d.errorf(d.deref(n), key, "is empty")
		return false
	}
	*dst = s
	return true
}

// envName decodes the name of an environment variable. The value is
// never echoed: it may be the secret itself, put there by mistake.
func (d *configDecoder) envName(n *yaml.Node, key string, dst *string) bool {
	var s string
	if !d.nonEmpty(n, key, &s) {
		return false
	}
	if !isEnvName(s) {
		d.errorf(d.deref(n), key, "not an environment variable name (letters, digits and _, not starting with a digit); the value is not shown, in case it is a secret")
		return false
	}
	*dst = s
	return true
}

func isEnvName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', 'A' <= r && r <= 'Z', 'a' <= r && r <= 'z':
		case '0' <= r && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// path decodes a file or directory path, resolved against the
// configuration's directory. allowEmpty lets "" through (a feature off).
func (d *configDecoder) path(n *yaml.Node, key string, dst *string, allowEmpty bool) bool {
	var s string
	if !d.str(n, key, &s) {
		return false
	}
	if s == "" {
		if !allowEmpty {
			d.errorf(d.deref(n), key, "is empty")
			return false
		}
		*dst = ""
		return true
	}
	if strings.HasPrefix(s, "~") {
		d.errorf(d.deref(n), key, "~ is not expanded: give an absolute path, or one relative to the configuration file")
		return false
	}
	if strings.ContainsRune(s, 0) {
		d.errorf(d.deref(n), key, "a path cannot hold a NUL byte")
		return false
	}
	*dst = resolveConfigPath(d.dir, s)
	return true
}

func resolveConfigPath(dir, p string) string {
	if p == "" || filepath.IsAbs(p) || dir == "" {
		return p
	}
	return filepath.Join(dir, p)
}

func (d *configDecoder) boolean(n *yaml.Node, key string, dst *bool) bool {
	s, ok := d.scalar(n, key, "true or false")
	if !ok {
		return false
	}
	var b bool
	if s.ShortTag() != "!!bool" || s.Decode(&b) != nil {
		d.errorf(s, key, "want true or false, got %s", describeNode(s))
		return false
	}
	*dst = b
	return true
}

func (d *configDecoder) integer(n *yaml.Node, key string, dst *int) bool {
	s, ok := d.scalar(n, key, "a whole number")
	if !ok {
		return false
	}
	var i int
	if s.ShortTag() != "!!int" || s.Decode(&i) != nil {
		d.errorf(s, key, "want a whole number, got %s", describeNode(s))
		return false
	}
	*dst = i
	return true
}

func (d *configDecoder) duration(n *yaml.Node, key string, dst *time.Duration) bool {
	s, ok := d.scalar(n, key, "a duration")
	if !ok {
		return false
	}
	switch s.ShortTag() {
	case "!!str":
	case "!!int", "!!float":
		d.errorf(s, key, "want a duration with a unit, such as 60s, 5m, 1h or 14d; a bare number is ambiguous")
		return false
	default:
		d.errorf(s, key, "want a duration such as 60s, 5m, 1h or 14d, got %s", describeNode(s))
		return false
	}
	v, err := parseConfigDuration(s.Value)
	if err != nil {
		d.errorf(s, key, "%v", err)
		return false
	}
	*dst = v
	return true
}

// positiveDuration decodes a duration that, when given, must be > 0
// (for optional overrides, whose zero means "not set").
func (d *configDecoder) positiveDuration(n *yaml.Node, key string, dst *time.Duration) {
	var v time.Duration
	if d.duration(n, key, &v) {
		if v <= 0 {
			d.errorf(d.deref(n), key, "must be positive, got %s", v)
			return
		}
		*dst = v
	}
}

func (d *configDecoder) size(n *yaml.Node, key string, dst *int64) bool {
	s, ok := d.scalar(n, key, "a size")
	if !ok {
		return false
	}
	switch s.ShortTag() {
	case "!!int":
		var v int64
		if err := s.Decode(&v); err != nil {
			d.errorf(s, key, "size out of range")
			return false
		}
		if v < 0 {
			d.errorf(s, key, "must not be negative, got %d", v)
			return false
		}
		*dst = v
		return true
	case "!!str":
		v, err := parseConfigSize(s.Value)
		if err != nil {
			d.errorf(s, key, "%v", err)
			return false
		}
		*dst = v
		return true
	default:
		d.errorf(s, key, "want a size such as 100MiB, 1GB or a number of bytes, got %s", describeNode(s))
		return false
	}
}

// fraction decodes "10%" or a number from 0 to 1.
func (d *configDecoder) fraction(n *yaml.Node, key string, dst *float64) bool {
	s, ok := d.scalar(n, key, "a percentage")
	if !ok {
		return false
	}
	var v float64
	switch s.ShortTag() {
	case "!!str":
		num, ok := strings.CutSuffix(strings.TrimSpace(s.Value), "%")
		f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if !ok || err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			d.errorf(s, key, "want a percentage such as 10%%, got %q", s.Value)
			return false
		}
		v = f / 100
	case "!!int", "!!float":
		if err := s.Decode(&v); err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			d.errorf(s, key, "want a percentage such as 10%%")
			return false
		}
		if v > 1 {
			d.errorf(s, key, "%s is more than the whole interval: write a percentage such as 10%%", s.Value)
			return false
		}
	default:
		d.errorf(s, key, "want a percentage such as 10%%, got %s", describeNode(s))
		return false
	}
	*dst = v
	return true
}

// parseConfigDuration reads Go's duration syntax (90s, 1h30m) and days:
// "14d", "1.5d", "1d12h".
func parseConfigDuration(s string) (time.Duration, error) {
	bad := func() (time.Duration, error) {
		return 0, fmt.Errorf("bad duration %q: want Go syntax such as 90s, 5m or 1h30m, or days such as 14d or 1d12h", s)
	}
	rest := strings.TrimSpace(s)
	neg := false
	if r, ok := strings.CutPrefix(rest, "-"); ok {
		neg, rest = true, r
	} else {
		rest = strings.TrimPrefix(rest, "+")
	}
	if rest == "" {
		return bad()
	}
	var total time.Duration
	if i := strings.IndexByte(rest, 'd'); i >= 0 {
		num := rest[:i]
		if num == "" || strings.Trim(num, "0123456789.") != "" {
			return bad()
		}
		days, err := strconv.ParseFloat(num, 64)
		if err != nil || days*float64(24*time.Hour) >= math.MaxInt64 {
			return bad()
		}
		total = time.Duration(days * float64(24*time.Hour))
		rest = rest[i+1:]
		if rest == "" {
			if neg {
				total = -total
			}
			return total, nil
		}
		if rest[0] == '-' || rest[0] == '+' {
			return bad()
		}
	}
	v, err := time.ParseDuration(rest)
	if err != nil || v < 0 || total > math.MaxInt64-v {
		return bad()
	}
	total += v
	if neg {
		total = -total
	}
	return total, nil
}

// formatConfigDuration writes whole days as days ("14d"), the rest as Go
// does.
func formatConfigDuration(d time.Duration) string {
	if day := 24 * time.Hour; d != 0 && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return d.String()
}

// parseConfigSize reads "100MiB", "1GB", "1.5 GiB", "4096" (bytes).
func parseConfigSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Errorf("size %q: must not be negative", s)
	}
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	var mult float64
	switch unit {
	case "", "B":
		mult = 1
	case "kB", "KB":
		mult = 1e3
	case "MB":
		mult = 1e6
	case "GB":
		mult = 1e9
	case "TB":
		mult = 1e12
	case "KiB":
		mult = 1 << 10
	case "MiB":
		mult = 1 << 20
	case "GiB":
		mult = 1 << 30
	case "TiB":
		mult = 1 << 40
	case "k", "K", "M", "G", "T":
		return 0, fmt.Errorf("size %q: unit %q is ambiguous: write %siB (powers of 1024) or %sB (powers of 1000)", s, unit, strings.ToUpper(unit), strings.ToUpper(unit))
	default:
		return 0, fmt.Errorf("size %q: want a number of bytes, or a number with a unit: B, kB, MB, GB, TB (powers of 1000), KiB, MiB, GiB, TiB (powers of 1024)", s)
	}
	if num == "" {
		return 0, fmt.Errorf("size %q: no number", s)
	}
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseUint(num, 10, 63)
		if err != nil || float64(n)*mult >= math.MaxInt64 {
			return 0, fmt.Errorf("size %q: too large", s)
		}
		return int64(n) * int64(mult), nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: bad number", s)
	}
	if f*mult >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return int64(f * mult), nil
}

// formatConfigSize writes a size in the largest binary unit that divides it.
func formatConfigSize(n int64) string {
	for _, u := range []struct {
		name  string
		shift uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if n != 0 && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// The keys of the configuration, by section. The decoder and the tests
// (every key documented in the sample and in docs/agent.md) share them.

func (d *configDecoder) topFields() []configField {
	c := d.c
	return []configField{
		{"interval", func(v *yaml.Node, k string) { d.duration(v, k, &c.Interval) }},
		{"intervals", func(v *yaml.Node, k string) { d.mapping(v, k, d.intervalFields(), nil) }},
		{"timeout", func(v *yaml.Node, k string) { d.duration(v, k, &c.Timeout) }},
		{"concurrency", func(v *yaml.Node, k string) { d.integer(v, k, &c.Concurrency) }},
		{"jitter", func(v *yaml.Node, k string) { d.fraction(v, k, &c.Jitter) }},
		{"credentials", func(v *yaml.Node, k string) { d.credentials(v, k) }},
		{"tls", func(v *yaml.Node, k string) { d.mapping(v, k, d.tlsFields(&c.TLS), nil) }},
		{"ipmi", func(v *yaml.Node, k string) { d.mapping(v, k, d.ipmiFields(), nil) }},
		{"disks", func(v *yaml.Node, k string) { d.mapping(v, k, d.diskFields(), nil) }},
		{"targets", func(v *yaml.Node, k string) { d.targets(v, k) }},
		{"targets_file", func(v *yaml.Node, k string) { d.path(v, k, &c.TargetsFile, true) }},
		{"max_log_entries", func(v *yaml.Node, k string) { d.integer(v, k, &c.MaxLogEntries) }},
		{"memory_limit", func(v *yaml.Node, k string) { d.size(v, k, &c.MemoryLimit) }},
		{"sdr_cache", func(v *yaml.Node, k string) { d.path(v, k, &c.SDRCache, true) }},
		{"detector", func(v *yaml.Node, k string) { d.detector(v, k) }},
		{"store", func(v *yaml.Node, k string) { d.mapping(v, k, d.storeFields(), nil) }},
		{"outputs", func(v *yaml.Node, k string) { d.outputs(v, k) }},
		{"listen", func(v *yaml.Node, k string) {
			if isNullNode(d.deref(v)) {
				d.errorf(d.deref(v), k, "give an address (host:port), or \"\" to serve nothing")
				return
			}
			d.str(v, k, &c.Listen)
		}},
		{"log_level", func(v *yaml.Node, k string) { d.str(v, k, &c.LogLevel) }},
	}
}

// top decodes the root mapping, then reads the targets file.
func (d *configDecoder) top(root *yaml.Node) {
	root = d.deref(root)
	if root == nil || root.Kind != yaml.MappingNode {
		d.errorf(root, "", "want a mapping of keys (interval:, targets:, ...) at the top level, got %s", describeNode(root))
		return
	}
	// Top-level keys starting with x- are ignored: a place for YAML
	// anchors (x-bmc-defaults: &bmc {...}) merged into targets with <<.
	d.mapping(root, "", d.topFields(), func(k, _ *yaml.Node, _ string) bool { return strings.HasPrefix(k.Value, "x-") })
	if d.c.TargetsFile != "" && !d.failed() {
		d.targetsFile()
	}
}

// targetKinds are the kinds of target, as Target.Kind names them.
func targetKinds() []string { return []string{"redfish", "ipmi", "smart"} }

func (d *configDecoder) intervalFields() []configField {
	var fs []configField
	for _, kind := range targetKinds() {
		fs = append(fs, configField{kind, func(v *yaml.Node, k string) {
			var iv time.Duration
			if d.duration(v, k, &iv) {
				if d.c.Intervals == nil {
					d.c.Intervals = map[string]time.Duration{}
				}
				d.c.Intervals[kind] = iv
			}
		}})
	}
	return fs
}

// credentialFields decode the credential keys into cr (a block's own
// values, not yet merged over any default).
func (d *configDecoder) credentialFields(cr *CredentialsConfig) []configField {
	return []configField{
		{"username", func(v *yaml.Node, k string) { d.nonEmpty(v, k, &cr.Username) }},
		{"username_env", func(v *yaml.Node, k string) { d.envName(v, k, &cr.UsernameEnv) }},
		{"password_env", func(v *yaml.Node, k string) { d.envName(v, k, &cr.PasswordEnv) }},
		{"password_file", func(v *yaml.Node, k string) { d.path(v, k, &cr.PasswordFile, false) }},
	}
}

// refusePassword refuses an inline password (the value is never echoed).
func (d *configDecoder) refusePassword(k, _ *yaml.Node, key string) bool {
	switch strings.ToLower(k.Value) {
	case "password", "pass", "passwd", "pwd":
		d.errorf(k, key, "an inline password is refused: put the password in a file (password_file) or an environment variable (password_env)")
		return true
	}
	return false
}

// bothCredentials refuses a block giving both forms of one half.
func (d *configDecoder) bothCredentials(path string, cr *CredentialsConfig) {
	if cr.Username != "" && cr.UsernameEnv != "" {
		d.errorAtKey(joinKey(path, "username_env"), "give username or username_env, not both")
	}
	if cr.PasswordEnv != "" && cr.PasswordFile != "" {
		d.errorAtKey(joinKey(path, "password_file"), "give password_env or password_file, not both")
	}
}

// errorAtKey reports a problem at where key was read.
func (d *configDecoder) errorAtKey(key, format string, args ...any) {
	e := &ConfigError{File: d.file, Key: key, Msg: fmt.Sprintf(format, args...)}
	if p, ok := d.c.pos[key]; ok {
		e.Line, e.Column = p.line, p.col
	}
	d.add(e)
}

func (d *configDecoder) credentials(v *yaml.Node, key string) {
	var cr CredentialsConfig
	fs := append(d.credentialFields(&cr),
		configField{"basic_auth", func(v *yaml.Node, k string) { d.boolean(v, k, &d.c.Credentials.BasicAuth) }})
	if !d.mapping(v, key, fs, d.refusePassword) {
		return
	}
	d.bothCredentials(key, &cr)
	def := &d.c.Credentials
	if cr.Username != "" || cr.UsernameEnv != "" {
		def.Username, def.UsernameEnv = cr.Username, cr.UsernameEnv
	}
	if cr.PasswordEnv != "" || cr.PasswordFile != "" {
		def.PasswordEnv, def.PasswordFile = cr.PasswordEnv, cr.PasswordFile
	}
}

func (d *configDecoder) tlsFields(t *TLSConfig) []configField {
	return []configField{
		{"ca_file", func(v *yaml.Node, k string) { d.path(v, k, &t.CAFile, false) }},
		{"insecure", func(v *yaml.Node, k string) { d.boolean(v, k, &t.Insecure) }},
	}
}

func (d *configDecoder) ipmiFields() []configField {
	return []configField{
		{"interface", func(v *yaml.Node, k string) { d.str(v, k, &d.c.IPMI.Interface) }},
		{"cipher_suite", func(v *yaml.Node, k string) { d.integer(v, k, &d.c.IPMI.CipherSuite) }},
	}
}

func (d *configDecoder) diskFields() []configField {
	return []configField{
		{"smartctl_path", func(v *yaml.Node, k string) {
			var s string
			if d.nonEmpty(v, k, &s) {
				if strings.ContainsRune(s, '/') {
					s = resolveConfigPath(d.dir, s)
				}
				d.c.Disks.SmartctlPath = s
			}
		}},
		{"wake_standby", func(v *yaml.Node, k string) { d.boolean(v, k, &d.c.Disks.WakeStandby) }},
	}
}

func (d *configDecoder) storeFields() []configField {
	s := &d.c.Store
	return []configField{
		{"path", func(v *yaml.Node, k string) { d.path(v, k, &s.Path, false) }},
		{"retention", func(v *yaml.Node, k string) { d.mapping(v, k, d.retentionFields(&s.Retention), nil) }},
	}
}

func (d *configDecoder) retentionFields(r *RetentionConfig) []configField {
	return []configField{
		{"raw", func(v *yaml.Node, k string) { d.duration(v, k, &r.Raw) }},
		{"minute5", func(v *yaml.Node, k string) { d.duration(v, k, &r.Minute5) }},
		{"hourly", func(v *yaml.Node, k string) { d.duration(v, k, &r.Hourly) }},
	}
}

func (d *configDecoder) outputs(v *yaml.Node, key string) {
	vd := d.deref(v)
	if vd != nil && vd.Kind == yaml.MappingNode {
		d.c.Outputs = OutputsConfig{} // given: only what it enables
		d.setPos(key, vd)
	}
	d.mapping(v, key, d.outputFields(), nil)
}

func (d *configDecoder) outputFields() []configField {
	o := &d.c.Outputs
	return []configField{
		{"stdout", func(v *yaml.Node, k string) { d.boolean(v, k, &o.Stdout) }},
		{"file", func(v *yaml.Node, k string) {
			f := &FileOutputConfig{MaxSize: DefaultFileMaxBytes, MaxFiles: DefaultFileMaxFiles}
			if d.mapping(v, k, d.fileFields(f), nil) {
				d.setPos(k, d.deref(v))
				o.File = f
			}
		}},
		{"webhook", func(v *yaml.Node, k string) {
			w := &WebhookOutputConfig{Timeout: 10 * time.Second}
			if d.mapping(v, k, d.webhookFields(w), nil) {
				d.setPos(k, d.deref(v))
				o.Webhook = w
			}
		}},
		{"nats", func(v *yaml.Node, k string) {
			n := &NATSOutputConfig{Subject: "prefail.events", Stream: "PREFAIL"}
			if d.mapping(v, k, d.natsFields(n), nil) {
				d.setPos(k, d.deref(v))
				o.NATS = n
			}
		}},
	}
}

func (d *configDecoder) fileFields(f *FileOutputConfig) []configField {
	return []configField{
		{"path", func(v *yaml.Node, k string) { d.path(v, k, &f.Path, false) }},
		{"max_size", func(v *yaml.Node, k string) { d.size(v, k, &f.MaxSize) }},
		{"max_files", func(v *yaml.Node, k string) { d.integer(v, k, &f.MaxFiles) }},
	}
}

func (d *configDecoder) webhookFields(w *WebhookOutputConfig) []configField {
	return []configField{
		{"url", func(v *yaml.Node, k string) { d.nonEmpty(v, k, &w.URL) }},
		{"url_env", func(v *yaml.Node, k string) { d.envName(v, k, &w.URLEnv) }},
		{"headers", func(v *yaml.Node, k string) { d.headers(v, k, &w.Headers, false) }},
		{"headers_env", func(v *yaml.Node, k string) { d.headers(v, k, &w.HeadersEnv, true) }},
		{"timeout", func(v *yaml.Node, k string) { d.duration(v, k, &w.Timeout) }},
		{"ca_file", func(v *yaml.Node, k string) { d.path(v, k, &w.TLS.CAFile, false) }},
		{"insecure", func(v *yaml.Node, k string) { d.boolean(v, k, &w.TLS.Insecure) }},
	}
}

// headers decodes a mapping of header names to values (env: to the
// names of the environment variables holding them).
func (d *configDecoder) headers(v *yaml.Node, key string, dst *map[string]string, env bool) {
	n := d.deref(v)
	if isNullNode(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		what := "values"
		if env {
			what = "environment variable names"
		}
		d.errorf(n, key, "want a mapping of header names to %s, got %s", what, describeNode(n))
		return
	}
	d.setPos(key, n)
	for _, p := range d.pairs(n, key, true, 0) {
		name := p.k.Value
		hk := key + "." + name
		if !validHeaderName(name) {
			d.errorf(p.k, key, "%q is not a valid header name", name)
			continue
		}
		var val string
		if env {
			if !d.envName(p.v, hk, &val) {
				continue
			}
		} else if !d.str(p.v, hk, &val) {
			continue
		}
		if *dst == nil {
			*dst = map[string]string{}
		}
		canon := http.CanonicalHeaderKey(name)
		if _, dup := (*dst)[canon]; dup {
			d.errorf(p.k, key, "header %s given twice", canon)
			continue
		}
		(*dst)[canon] = val
		d.c.pos[key+"."+canon] = configPos{file: d.file, line: p.k.Line, col: p.k.Column}
	}
}

// validHeaderName reports whether s is an HTTP token (RFC 9110 5.6.2).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		case strings.ContainsRune("!#$%&'*+-.^_`|~", r):
		default:
			return false
		}
	}
	return true
}

// secretHeader reports whether a header usually carries a credential
// (then its value must come from the environment).
func secretHeader(name string) bool {
	l := strings.ToLower(name)
	for _, s := range []string{"authorization", "cookie", "token", "secret", "key", "signature", "password", "auth"} {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

func (d *configDecoder) natsFields(n *NATSOutputConfig) []configField {
	return []configField{
		{"url", func(v *yaml.Node, k string) { d.nonEmpty(v, k, &n.URL) }},
		{"subject", func(v *yaml.Node, k string) { d.nonEmpty(v, k, &n.Subject) }},
		{"stream", func(v *yaml.Node, k string) { d.nonEmpty(v, k, &n.Stream) }},
		{"create_stream", func(v *yaml.Node, k string) { d.boolean(v, k, &n.CreateStream) }},
		{"creds_file", func(v *yaml.Node, k string) { d.path(v, k, &n.CredsFile, false) }},
		{"ca_file", func(v *yaml.Node, k string) { d.path(v, k, &n.CAFile, false) }},
	}
}

// The keys of a target, by what they apply to.
const (
	targetKeyURL      = "url"
	targetKeySMART    = "smart"
	targetKeySmartctl = "smartctl"
)

// targetFields are every key a target may have; targetKeysFor says
// which apply to which targets.
func (d *configDecoder) targetFields(t *TargetConfig) []configField {
	return []configField{
		{targetKeyURL, func(v *yaml.Node, k string) {
			var s string
			if d.nonEmpty(v, k, &s) {
				ep, err := parseConfigURL(s)
				if err != nil {
					d.errorf(d.deref(v), k, "%v", err)
					return
				}
				t.URL = ep
			}
		}},
		{targetKeySMART, func(v *yaml.Node, k string) { d.smartTarget(v, k, t) }},
		{targetKeySmartctl, func(v *yaml.Node, k string) {
			var s string
			if d.nonEmpty(v, k, &s) {
				args := strings.Fields(s)
				if msg := smartctlArgsProblem(args); msg != "" {
					d.errorf(d.deref(v), k, "%s", msg)
					return
				}
				t.Smartctl = strings.Join(args, " ")
			}
		}},
		{"username", func(v *yaml.Node, k string) { d.nonEmpty(v, k, &t.Username) }},
		{"username_env", func(v *yaml.Node, k string) { d.envName(v, k, &t.UsernameEnv) }},
		{"password_env", func(v *yaml.Node, k string) { d.envName(v, k, &t.PasswordEnv) }},
		{"password_file", func(v *yaml.Node, k string) { d.path(v, k, &t.PasswordFile, false) }},
		{"ca_file", func(v *yaml.Node, k string) { d.path(v, k, &t.CAFile, false) }},
		{"insecure", func(v *yaml.Node, k string) { d.optBool(v, k, &t.Insecure) }},
		{"basic_auth", func(v *yaml.Node, k string) { d.optBool(v, k, &t.BasicAuth) }},
		{"ipmi_interface", func(v *yaml.Node, k string) { d.str(v, k, &t.IPMIInterface) }},
		{"cipher_suite", func(v *yaml.Node, k string) { d.integer(v, k, &t.CipherSuite) }},
		{"interval", func(v *yaml.Node, k string) { d.positiveDuration(v, k, &t.Interval) }},
	}
}

func (d *configDecoder) optBool(v *yaml.Node, key string, dst **bool) {
	var b bool
	if d.boolean(v, key, &b) {
		*dst = &b
	}
}

// targetKeysFor returns the keys that apply to a target of the given
// scheme ("https", "http", "ipmi", "" for an unparsable URL) or kind key
// (smart, smartctl); targetKeyScope says why the others do not.
func targetKeysFor(kind string) []string {
	creds := []string{"username", "username_env", "password_env", "password_file"}
	switch kind {
	case targetKeySMART, targetKeySmartctl:
		return []string{kind, "interval"}
	case "https":
		return slices.Concat([]string{targetKeyURL}, creds, []string{"ca_file", "insecure", "basic_auth", "interval"})
	case "http":
		return slices.Concat([]string{targetKeyURL}, creds, []string{"basic_auth", "interval"})
	case "ipmi":
		return slices.Concat([]string{targetKeyURL}, creds, []string{"ipmi_interface", "cipher_suite", "interval"})
	default:
		return slices.Concat([]string{targetKeyURL}, creds, []string{"ca_file", "insecure", "basic_auth", "ipmi_interface", "cipher_suite", "interval"})
	}
}

// targetKeyScope says which targets a key applies to.
func targetKeyScope(key string) string {
	switch key {
	case "ca_file", "insecure":
		return "applies to https:// targets only"
	case "basic_auth":
		return "applies to Redfish targets (https://, http://) only"
	case "ipmi_interface", "cipher_suite":
		return "applies to ipmi:// targets only"
	case "username", "username_env", "password_env", "password_file":
		return "applies to BMC targets (url:) only: disks need no credentials"
	}
	return "does not apply to this target"
}

func (d *configDecoder) targets(v *yaml.Node, key string) {
	n := d.deref(v)
	if isNullNode(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, key, "want a list of targets (- url: https://...), got %s", describeNode(n))
		return
	}
	d.setPos(key, n)
	for i, item := range n.Content {
		if !d.spend(item) {
			return
		}
		// Validate runs only when every entry decoded, so that then i is
		// also the index in Config.Targets its positions are kept under.
		path := fmt.Sprintf("%s[%d]", key, i)
		if t := d.target(item, path); t != nil {
			d.c.Targets = append(d.c.Targets, *t)
		} else if !d.failed() {
			d.errorf(d.deref(item), path, "not a target")
		}
	}
}

// target decodes one entry of targets: a URL, or a mapping.
func (d *configDecoder) target(item *yaml.Node, path string) *TargetConfig {
	n := d.deref(item)
	if n == nil {
		d.errorf(item, path, "not a target")
		return nil
	}
	t := &TargetConfig{Where: fmt.Sprintf("%s:%d", d.file, n.Line)}
	before := len(d.errs) + d.dropped
	d.setPos(path, n)
	switch n.Kind {
	case yaml.ScalarNode:
		if isNullNode(n) {
			d.errorf(n, path, "empty target: give a URL, or url:, smart: or smartctl:")
			return nil
		}
		var s string
		if !d.str(n, path, &s) {
			return nil
		}
		ep, err := parseConfigURL(s)
		if err != nil {
			d.errorf(n, path, "%v", err)
			return nil
		}
		t.URL = ep
		return t
	case yaml.MappingNode:
	default:
		d.errorf(n, path, "want a target (a URL, or a mapping with url:, smart: or smartctl:), got %s", describeNode(n))
		return nil
	}
	// Which kind of target: decides the keys that apply.
	var kindKeys []*yaml.Node
	scheme := ""
	for _, p := range d.pairs(n, path, false, 0) {
		switch p.k.Value {
		case targetKeyURL:
			kindKeys = append(kindKeys, p.k)
			if s := d.deref(p.v); s != nil && s.Kind == yaml.ScalarNode {
				if sc, _, ok := strings.Cut(s.Value, "://"); ok {
					switch sc = strings.ToLower(strings.TrimSpace(sc)); sc {
					case "https", "http", "ipmi":
						scheme = sc
					}
				}
			}
		case targetKeySMART, targetKeySmartctl:
			kindKeys = append(kindKeys, p.k)
			scheme = p.k.Value
		}
	}
	switch len(kindKeys) {
	case 0:
		d.errorf(n, path, "give url: (a BMC), smart: (this machine's disks) or smartctl: (smartctl arguments)")
		return nil
	case 1:
	default:
		d.errorf(kindKeys[1], path, "give one of url:, smart: or smartctl: per target (also %s: at line %d)", kindKeys[0].Value, kindKeys[0].Line)
		return nil
	}
	all := d.targetFields(t)
	keys := targetKeysFor(scheme)
	var fs []configField
	for _, f := range all {
		if slices.Contains(keys, f.name) {
			fs = append(fs, f)
		}
	}
	other := func(k, v *yaml.Node, key string) bool {
		if d.refusePassword(k, v, key) {
			return true
		}
		if slices.ContainsFunc(all, func(f configField) bool { return f.name == k.Value }) {
			d.errorf(k, key, "%s", targetKeyScope(k.Value))
			return true
		}
		return false
	}
	d.mapping(n, path, fs, other)
	if len(d.errs)+d.dropped > before {
		return nil
	}
	cr := CredentialsConfig{Username: t.Username, UsernameEnv: t.UsernameEnv, PasswordEnv: t.PasswordEnv, PasswordFile: t.PasswordFile}
	d.bothCredentials(path, &cr)
	if t.CAFile != "" && t.Insecure != nil && *t.Insecure {
		d.errorAtKey(path+".insecure", "insecure: true and ca_file contradict each other: pick one")
	}
	if len(d.errs)+d.dropped > before {
		return nil
	}
	return t
}

// smartTarget decodes smart: local, smart: /dev/sda, or a list of devices.
func (d *configDecoder) smartTarget(v *yaml.Node, key string, t *TargetConfig) {
	n := d.deref(v)
	if isNullNode(n) {
		d.errorf(n, key, "give local (every disk of this machine), a device such as /dev/sda, or a list of devices")
		return
	}
	d.setPos(key, n)
	var devs []*yaml.Node
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Value == "local" {
			t.Local = true
			return
		}
		devs = []*yaml.Node{n}
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			d.errorf(n, key, "an empty list of devices: give local for every disk")
			return
		}
		devs = n.Content
	default:
		d.errorf(n, key, "want local, a device path or a list of device paths, got %s", describeNode(n))
		return
	}
	t.Local = true
	for i, dn := range devs {
		dk := key
		if n.Kind == yaml.SequenceNode {
			dk = fmt.Sprintf("%s[%d]", key, i)
		}
		var s string
		if !d.nonEmpty(dn, dk, &s) {
			continue
		}
		if !strings.HasPrefix(s, "/") {
			d.errorf(d.deref(dn), dk, "want local or an absolute device path such as /dev/sda or /dev/disk/by-id/...")
			continue
		}
		s = filepath.Clean(s)
		if slices.Contains(t.Devices, s) {
			d.errorf(d.deref(dn), dk, "device %s listed twice", s)
			continue
		}
		t.Devices = append(t.Devices, s)
	}
}

// smartctlArgsProblem refuses the smartctl options that change a drive
// (self-tests, SMART and offline settings, power modes): the agent only
// reads.
func smartctlArgsProblem(args []string) string {
	if len(args) == 0 {
		return "no arguments: give at least the device, such as \"-d megaraid,0 /dev/sda\""
	}
	for _, a := range args {
		var bad bool
		switch {
		case strings.HasPrefix(a, "--"):
			name, _, _ := strings.Cut(a[2:], "=")
			bad = slices.Contains([]string{"test", "abort", "smart", "offlineauto", "saveauto", "set", "captive"}, name)
		case len(a) > 1 && a[0] == '-':
			bad = strings.ContainsRune("tXsoSC", rune(a[1]))
		}
		if bad {
			return fmt.Sprintf("option %s changes the drive (a self-test, SMART or power settings); the agent only reads: remove it", a)
		}
	}
	return ""
}

// parseConfigURL checks a BMC URL and returns it normalized to
// scheme://host[:port]. Its errors never echo user info (a password).
func parseConfigURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("empty URL")
	}
	if strings.ContainsAny(s, " \t") {
		return "", errors.New("a URL has no spaces: give the settings as keys (url:, username:, password_file:, ...)")
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return "", errors.New("missing scheme: use https://HOST, ipmi://HOST or http://HOST:PORT")
	}
	scheme = strings.ToLower(scheme)
	switch scheme {
	case "https", "http", "ipmi":
	default:
		return "", fmt.Errorf("scheme %q not supported: use https, http or ipmi", scheme)
	}
	auth := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		auth = rest[:i]
	}
	if strings.Contains(auth, "@") {
		return "", errors.New("credentials in the URL are refused: give username (or username_env) and password_file (or password_env) as keys")
	}
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", fmt.Errorf("not a URL: %v", err)
	}
	if u.Hostname() == "" {
		return "", errors.New("no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("bad port %q", p)
		}
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		if scheme == "ipmi" {
			return "", errors.New("give only ipmi://host[:port]")
		}
		return "", errors.New("give only scheme://host[:port]: the Redfish service is found at /redfish/v1")
	}
	return scheme + "://" + u.Host, nil
}

// targetIdentity is what makes two targets the same: the BMC's scheme,
// host (case-folded) and port (defaulted).
func targetIdentity(t *TargetConfig) string {
	switch {
	case t.URL != "":
		u, err := url.Parse(t.URL)
		if err != nil {
			return t.URL
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"https": "443", "http": "80", "ipmi": "623"}[u.Scheme]
		}
		return u.Scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
	case t.Local:
		return LocalDisks
	default:
		return SmartctlExecPrefix + t.Smartctl
	}
}

// targetsFile reads the targets file named by targets_file (the format of
// `prefail scan --targets`) and appends its targets.
func (d *configDecoder) targetsFile() {
	path := d.c.TargetsFile
	data, err := d.readFile(path, maxConfigSideBytes)
	if err != nil {
		d.errorAtKey("targets_file", "%v", err)
		return
	}
	ts, errs := parseConfigTargets(data, path, filepath.Dir(path))
	for _, e := range errs {
		d.add(e)
	}
	for _, t := range ts {
		key := fmt.Sprintf("targets[%d]", len(d.c.Targets))
		line, _ := strconv.Atoi(t.Where[strings.LastIndexByte(t.Where, ':')+1:])
		d.c.pos[key] = configPos{file: path, line: line, label: "-"}
		d.c.Targets = append(d.c.Targets, t)
	}
}

// targetsFileKeys are the per-target settings a targets file may give.
const targetsFileKeys = "username, password-file, ca-file, insecure, basic-auth, interface, cipher-suite"

// ParseTargetsFile parses a targets file's content (the format `prefail
// scan --targets` and targets_file: read); name is used in errors, dir
// resolves relative paths. Every error names its line (at most 20).
func ParseTargetsFile(data []byte, name, dir string) ([]TargetConfig, error) {
	ts, errs := parseConfigTargets(data, name, dir)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return ts, nil
}

// parseConfigTargets parses a targets file: one target per line, '#'
// starts a comment, settings after the URL as key=value; relative paths
// are relative to dir. Passwords are never inline.
func parseConfigTargets(data []byte, name, dir string) ([]TargetConfig, []error) {
	var out []TargetConfig
	var errs []error
	fail := func(line int, format string, args ...any) {
		if len(errs) < maxConfigErrors {
			errs = append(errs, &ConfigError{File: name, Line: line, Msg: fmt.Sprintf(format, args...)})
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if line == 1 {
			text = strings.TrimPrefix(text, "\ufeff")
		}
		fields := strings.Fields(text)
		for i, f := range fields {
			if strings.HasPrefix(f, "#") {
				fields = fields[:i]
				break
			}
		}
		if len(fields) == 0 {
			continue
		}
		ep, err := parseConfigURL(fields[0])
		if err != nil {
			fail(line, "%v", err)
			continue
		}
		t := TargetConfig{URL: ep, Where: fmt.Sprintf("%s:%d", name, line)}
		scheme, _, _ := strings.Cut(ep, "://")
		seen := map[string]bool{}
		ok := true
		for i, kv := range fields[1:] {
			key, val, found := strings.Cut(kv, "=")
			if !found {
				// Not echoed: it might be a stray password.
				fail(line, "field %d after the URL: want key=value (keys: %s)", i+1, targetsFileKeys)
				ok = false
				continue
			}
			if seen[key] {
				fail(line, "%s given twice", key)
				ok = false
				continue
			}
			seen[key] = true
			if key == "password" || key == "pass" || key == "passwd" {
				fail(line, "passwords are never given inline; use password-file=PATH or PREFAIL_PASSWORD (password_env in the configuration)")
				ok = false
				continue
			}
			if val == "" {
				fail(line, "%s= has no value", key)
				ok = false
				continue
			}
			switch key {
			case "username":
				t.Username = val
			case "password-file":
				t.PasswordFile = resolveConfigPath(dir, val)
			case "ca-file":
				t.CAFile = resolveConfigPath(dir, val)
			case "insecure", "basic-auth":
				b, err := strconv.ParseBool(val)
				if err != nil {
					fail(line, "%s=%s: want true or false", key, val)
					ok = false
					continue
				}
				if key == "insecure" {
					t.Insecure = &b
				} else {
					t.BasicAuth = &b
				}
			case "interface":
				if !validIPMIInterface(val) {
					fail(line, "interface=%s: want lanplus, lan or open", val)
					ok = false
					continue
				}
				t.IPMIInterface = val
			case "cipher-suite":
				n, err := strconv.Atoi(val)
				if err != nil || !validCipherSuite(n) {
					fail(line, "cipher-suite=%s: want 3, 8, 12 or 17", val)
					ok = false
					continue
				}
				t.CipherSuite = n
			default:
				fail(line, "unknown setting %q (keys: %s)", key, targetsFileKeys)
				ok = false
				continue
			}
			if msg := fileKeyMisapplied(key, scheme); msg != "" {
				fail(line, "%s", msg)
				ok = false
			}
		}
		if t.CAFile != "" && t.Insecure != nil && *t.Insecure {
			fail(line, "insecure=true and ca-file= contradict each other: pick one")
			ok = false
		}
		if ok {
			out = append(out, t)
		}
	}
	if err := sc.Err(); err != nil {
		fail(line+1, "%v", err)
	}
	return out, errs
}

// fileKeyMisapplied refuses a targets file setting on a target it does
// not apply to.
func fileKeyMisapplied(key, scheme string) string {
	switch {
	case (key == "ca-file" || key == "insecure") && scheme != "https":
		return key + "= applies to https:// targets only"
	case key == "basic-auth" && scheme == "ipmi":
		return key + "= applies to Redfish targets (https://, http://) only"
	case (key == "interface" || key == "cipher-suite") && scheme != "ipmi":
		return key + "= applies to ipmi:// targets only"
	}
	return ""
}

func validIPMIInterface(s string) bool { return s == "lanplus" || s == "lan" || s == "open" }

func validCipherSuite(n int) bool { return n == 3 || n == 8 || n == 12 || n == 17 }

// detector decodes detector: a path to a JSON file, or an inline mapping.
// Either is decoded strictly over detector.DefaultConfig().
func (d *configDecoder) detector(v *yaml.Node, key string) {
	n := d.deref(v)
	if isNullNode(n) {
		return
	}
	d.setPos(key, n)
	switch n.Kind {
	case yaml.ScalarNode:
		var path string
		if !d.path(n, key, &path, false) {
			return
		}
		data, err := d.readFile(path, maxConfigSideBytes)
		if err != nil {
			d.errorf(n, key, "%v", err)
			return
		}
		cfg, err := detector.LoadConfig(bytes.NewReader(data))
		if err != nil {
			d.errorf(n, key, "%s: %v", path, err)
			return
		}
		d.c.Detector, d.c.DetectorFile = cfg, path
	case yaml.MappingNode:
		before := len(d.errs) + d.dropped
		d.checkJSONShape(n, reflect.TypeFor[detector.Config](), key, 0)
		if len(d.errs)+d.dropped > before {
			return
		}
		var buf bytes.Buffer
		if !d.toJSON(n, &buf, key, 0) {
			return
		}
		cfg := detector.DefaultConfig()
		dec := json.NewDecoder(&buf)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg); err != nil {
			d.errorf(n, key, "%v", err)
			return
		}
		if err := cfg.Validate(); err != nil {
			d.errorf(n, key, "%v", err)
			return
		}
		d.c.Detector = cfg
	default:
		d.errorf(n, key, "want the path of a JSON file or a mapping, got %s", describeNode(n))
	}
}

// jsonFieldNames returns the JSON names of a struct type's fields.
func jsonFieldNames(t reflect.Type) ([]string, map[string]reflect.Type) {
	var names []string
	types := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
		types[name] = f.Type
	}
	return names, types
}

// checkJSONShape checks a YAML tree against the Go type its JSON will be
// decoded into, so that an unknown key or a bad value is named with its
// line (encoding/json's errors have none).
func (d *configDecoder) checkJSONShape(n *yaml.Node, t reflect.Type, key string, depth int) {
	n = d.deref(n)
	if n == nil || !d.spend(n) || isNullNode(n) {
		return
	}
	if depth > configMaxDepth {
		d.errorf(n, key, "nested too deeply")
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) || t.Kind() <= reflect.Complex128 || t.Kind() == reflect.String {
		if n.Kind != yaml.ScalarNode {
			d.errorf(n, key, "want a single value, got %s", describeNode(n))
			return
		}
		js, err := scalarJSON(n)
		if err != nil {
			d.errorf(n, key, "%v", err)
			return
		}
		if err := json.Unmarshal(js, reflect.New(t).Interface()); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				d.errorf(n, key, "want %s, got %s", jsonKindName(t), describeNode(n))
			} else {
				d.errorf(n, key, "%v", err)
			}
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.errorf(n, key, "want a mapping, got %s", describeNode(n))
			return
		}
		names, types := jsonFieldNames(t)
		for _, p := range d.pairs(n, key, true, 0) {
			ft, ok := types[p.k.Value]
			if !ok {
				d.unknownKey(p.k, key, p.k.Value, names)
				continue
			}
			d.checkJSONShape(p.v, ft, joinKey(key, p.k.Value), depth+1)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.errorf(n, key, "want a mapping, got %s", describeNode(n))
			return
		}
		for _, p := range d.pairs(n, key, true, 0) {
			d.checkJSONShape(p.v, t.Elem(), joinKey(key, p.k.Value), depth+1)
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, key, "want a list, got %s", describeNode(n))
			return
		}
		for i, e := range n.Content {
			d.checkJSONShape(e, t.Elem(), fmt.Sprintf("%s[%d]", key, i), depth+1)
		}
	case reflect.Interface:
	default:
		d.errorf(n, key, "cannot be set here")
	}
}

func jsonKindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Float32, reflect.Float64:
		return "a number"
	default:
		if t.Kind() <= reflect.Uint64 {
			return "a whole number"
		}
	}
	return "a value of type " + t.String()
}

// toJSON writes the YAML tree as JSON.
func (d *configDecoder) toJSON(n *yaml.Node, buf *bytes.Buffer, key string, depth int) bool {
	n = d.deref(n)
	if n == nil || !d.spend(n) {
		return false
	}
	if depth > configMaxDepth {
		d.errorf(n, key, "nested too deeply")
		return false
	}
	switch n.Kind {
	case yaml.MappingNode:
		buf.WriteByte('{')
		for i, p := range d.pairs(n, key, false, 0) {
			if i > 0 {
				buf.WriteByte(',')
			}
			kb, _ := json.Marshal(p.k.Value)
			buf.Write(kb)
			buf.WriteByte(':')
			if !d.toJSON(p.v, buf, joinKey(key, p.k.Value), depth+1) {
				return false
			}
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, e := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if !d.toJSON(e, buf, fmt.Sprintf("%s[%d]", key, i), depth+1) {
				return false
			}
		}
		buf.WriteByte(']')
	case yaml.ScalarNode:
		js, err := scalarJSON(n)
		if err != nil {
			d.errorf(n, key, "%v", err)
			return false
		}
		buf.Write(js)
	default:
		d.errorf(n, key, "unexpected %s", describeNode(n))
		return false
	}
	return true
}

// scalarJSON converts a YAML scalar to JSON by its resolved tag.
func scalarJSON(n *yaml.Node) ([]byte, error) {
	switch n.ShortTag() {
	case "!!null":
		return []byte("null"), nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, errors.New("not true or false")
		}
		return strconv.AppendBool(nil, b), nil
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return strconv.AppendInt(nil, i, 10), nil
		}
		var u uint64
		if err := n.Decode(&u); err == nil {
			return strconv.AppendUint(nil, u, 10), nil
		}
		return nil, errors.New("integer out of range")
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, errors.New("not a finite number")
		}
		return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
	default:
		return json.Marshal(n.Value)
	}
}

// configValidator collects Validate's errors at the positions the
// decoder recorded.
type configValidator struct {
	c       *Config
	errs    []error
	dropped int
}

func (v *configValidator) errorf(key, format string, args ...any) {
	if len(v.errs) >= maxConfigErrors {
		v.dropped++
		return
	}
	e := &ConfigError{File: v.c.File, Key: key, Msg: fmt.Sprintf(format, args...)}
	// The key's own position, else the nearest enclosing key's.
	for k := key; k != ""; k = parentKey(k) {
		if p, ok := v.c.pos[k]; ok {
			e.File, e.Line, e.Column = p.file, p.line, p.col
			switch p.label {
			case "":
			case "-":
				e.Key = strings.TrimPrefix(strings.TrimPrefix(key, k), ".")
			default:
				e.Key = p.label + strings.TrimPrefix(key, k)
			}
			break
		}
	}
	v.errs = append(v.errs, e)
}

// parentKey strips the last element of a key path: "a.b[2]" -> "a.b",
// "a.b" -> "a".
func parentKey(k string) string {
	if strings.HasSuffix(k, "]") {
		if i := strings.LastIndexByte(k, '['); i > 0 {
			return k[:i]
		}
	}
	if i := strings.LastIndexByte(k, '.'); i >= 0 {
		return k[:i]
	}
	return ""
}

func (v *configValidator) err() error {
	errs := v.errs
	if v.dropped > 0 {
		errs = append(errs, &ConfigError{File: v.c.File, Msg: fmt.Sprintf("%d more errors not shown", v.dropped)})
	}
	return errors.Join(errs...)
}

// Validate checks the configuration's values and their combinations
// (ParseConfig and LoadConfig call it; a Config built in Go should be
// checked with it too). Each error names the key and, for a Config read
// from a file, FILE:LINE:COLUMN.
func (c *Config) Validate() error {
	v := &configValidator{c: c}
	if c.Interval <= 0 {
		v.errorf("interval", "must be positive, got %s", c.Interval)
	}
	for _, kind := range slices.Sorted(maps.Keys(c.Intervals)) {
		if !slices.Contains(targetKinds(), kind) {
			v.errorf("intervals", "unknown kind %q: want %s", kind, strings.Join(targetKinds(), ", "))
		} else if iv := c.Intervals[kind]; iv <= 0 {
			v.errorf("intervals."+kind, "must be positive, got %s", iv)
		}
	}
	if c.Timeout <= 0 {
		v.errorf("timeout", "must be positive, got %s", c.Timeout)
	}
	if c.Concurrency < 1 {
		v.errorf("concurrency", "must be at least 1, got %d", c.Concurrency)
	}
	if !(c.Jitter >= 0 && c.Jitter <= 1) {
		v.errorf("jitter", "must be from 0%% to 100%% of the interval, got %g%%", c.Jitter*100)
	}
	v.credentials("credentials", c.Credentials.Username, c.Credentials.UsernameEnv, c.Credentials.PasswordEnv, c.Credentials.PasswordFile)
	if c.TLS.Insecure && c.TLS.CAFile != "" {
		v.errorf("tls.insecure", "insecure: true and ca_file contradict each other: pick one")
	}
	if !validIPMIInterface(c.IPMI.Interface) {
		v.errorf("ipmi.interface", "want lanplus, lan or open, got %q", c.IPMI.Interface)
	}
	if !validCipherSuite(c.IPMI.CipherSuite) {
		v.errorf("ipmi.cipher_suite", "want 3, 8, 12 or 17, got %d", c.IPMI.CipherSuite)
	}
	if c.Disks.SmartctlPath == "" {
		v.errorf("disks.smartctl_path", "is empty")
	}
	v.targets()
	if c.MaxLogEntries < 0 {
		v.errorf("max_log_entries", "must be 0 (skip logs) or more, got %d", c.MaxLogEntries)
	}
	if c.MemoryLimit < MinMemoryLimit {
		v.errorf("memory_limit", "must be at least 32MiB (one scan's budget), got %s", formatConfigSize(c.MemoryLimit))
	}
	if err := c.Detector.Validate(); err != nil {
		v.errorf("detector", "%v", err)
	}
	v.store()
	v.outputs()
	if c.Listen != "" {
		host, port, err := net.SplitHostPort(c.Listen)
		n, perr := strconv.Atoi(port)
		switch {
		case err != nil:
			v.errorf("listen", "want host:port (127.0.0.1:9464, [::1]:9464, :9464), or \"\" to serve nothing: %v", unwrapAddrError(err))
		case perr != nil || n < 0 || n > 65535:
			v.errorf("listen", "bad port %q", port)
		case strings.ContainsAny(host, " /"):
			v.errorf("listen", "bad host %q", host)
		}
	}
	switch c.LogLevel {
	case "trace", "debug", "info", "warn", "error":
	default:
		v.errorf("log_level", "want trace, debug, info, warn or error, got %q", c.LogLevel)
	}
	return v.err()
}

func unwrapAddrError(err error) string {
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return ae.Err
	}
	return err.Error()
}

// credentials checks one set of credential settings.
func (v *configValidator) credentials(key, username, usernameEnv, passwordEnv, passwordFile string) {
	if username != "" && usernameEnv != "" {
		v.errorf(joinKey(key, "username_env"), "give username or username_env, not both")
	}
	if passwordEnv != "" && passwordFile != "" {
		v.errorf(joinKey(key, "password_file"), "give password_env or password_file, not both")
	}
	if usernameEnv != "" && !isEnvName(usernameEnv) {
		v.errorf(joinKey(key, "username_env"), "not an environment variable name")
	}
	if passwordEnv != "" && !isEnvName(passwordEnv) {
		v.errorf(joinKey(key, "password_env"), "not an environment variable name (the value is not shown)")
	}
}

func (v *configValidator) targets() {
	c := v.c
	if len(c.Targets) == 0 {
		key := "targets"
		if c.TargetsFile != "" {
			key = "targets_file"
		}
		v.errorf(key, "no targets: list them under targets: (url:, smart:, smartctl:) or in targets_file")
		return
	}
	seen := map[string]string{}
	for i := range c.Targets {
		t := &c.Targets[i]
		key := fmt.Sprintf("targets[%d]", i)
		where := t.Where
		if where == "" {
			where = key
		}
		n := 0
		for _, set := range []bool{t.URL != "", t.Local, t.Smartctl != ""} {
			if set {
				n++
			}
		}
		if n != 1 {
			v.errorf(key, "give exactly one of url, smart and smartctl")
			continue
		}
		v.target(key, t)
		id := targetIdentity(t)
		if prev, dup := seen[id]; dup {
			switch {
			case t.Local:
				v.errorf(key, "a second smart: target: one reads this machine's disks (also at %s); list the devices in it: smart: [/dev/sda, /dev/sdb]", prev)
			default:
				v.errorf(key, "%s named twice (also at %s)", t.Endpoint(), prev)
			}
			continue
		}
		seen[id] = where
	}
}

// target checks one target's own settings.
func (v *configValidator) target(key string, t *TargetConfig) {
	if t.Interval < 0 {
		v.errorf(key+".interval", "must be positive, got %s", t.Interval)
	}
	switch {
	case t.Local:
		for i, dev := range t.Devices {
			if !filepath.IsAbs(dev) {
				v.errorf(fmt.Sprintf("%s.smart[%d]", key, i), "want an absolute device path such as /dev/sda")
			}
		}
	case t.Smartctl != "":
		if msg := smartctlArgsProblem(strings.Fields(t.Smartctl)); msg != "" {
			v.errorf(key+".smartctl", "%s", msg)
		}
	}
	if t.URL == "" {
		for name, set := range map[string]bool{"username": t.Username != "", "username_env": t.UsernameEnv != "",
			"password_env": t.PasswordEnv != "", "password_file": t.PasswordFile != "", "ca_file": t.CAFile != "",
			"insecure": t.Insecure != nil, "basic_auth": t.BasicAuth != nil, "ipmi_interface": t.IPMIInterface != "",
			"cipher_suite": t.CipherSuite != 0} {
			if set {
				v.errorf(key+"."+name, "applies to BMC targets (url:) only")
			}
		}
		if len(t.Devices) > 0 && !t.Local {
			v.errorf(key, "devices apply to smart: targets only")
		}
		return
	}
	if _, err := parseConfigURL(t.URL); err != nil {
		v.errorf(key+".url", "%v", err)
		return
	}
	scheme := t.Kind()
	if strings.HasPrefix(t.URL, "http://") {
		scheme = "http"
	} else if strings.HasPrefix(t.URL, "https://") {
		scheme = "https"
	}
	v.credentials(key, t.Username, t.UsernameEnv, t.PasswordEnv, t.PasswordFile)
	if scheme != "https" && (t.CAFile != "" || t.Insecure != nil) {
		v.errorf(key+".ca_file", "ca_file and insecure apply to https:// targets only")
	}
	if t.CAFile != "" && t.Insecure != nil && *t.Insecure {
		v.errorf(key+".insecure", "insecure: true and ca_file contradict each other: pick one")
	}
	if scheme == "ipmi" {
		if t.BasicAuth != nil {
			v.errorf(key+".basic_auth", "applies to Redfish targets (https://, http://) only")
		}
		if t.IPMIInterface != "" && !validIPMIInterface(t.IPMIInterface) {
			v.errorf(key+".ipmi_interface", "want lanplus, lan or open, got %q", t.IPMIInterface)
		}
		if t.CipherSuite != 0 && !validCipherSuite(t.CipherSuite) {
			v.errorf(key+".cipher_suite", "want 3, 8, 12 or 17, got %d", t.CipherSuite)
		}
	} else if t.IPMIInterface != "" || t.CipherSuite != 0 {
		v.errorf(key+".ipmi_interface", "ipmi_interface and cipher_suite apply to ipmi:// targets only")
	}
}

func (v *configValidator) store() {
	s := &v.c.Store
	if s.Path == "" {
		v.errorf("store.path", "is empty: give the store's directory")
	}
	r := s.Retention
	for _, x := range []struct {
		key string
		d   time.Duration
	}{{"raw", r.Raw}, {"minute5", r.Minute5}, {"hourly", r.Hourly}} {
		if x.d <= 0 {
			v.errorf("store.retention."+x.key, "must be positive, got %s", x.d)
		}
	}
	if r.Raw > 0 && r.Minute5 > 0 && r.Raw > r.Minute5 {
		v.errorf("store.retention.minute5", "keeps 5-minute aggregates (%s) shorter than the raw readings (%s): a coarser resolution is kept longer", formatConfigDuration(r.Minute5), formatConfigDuration(r.Raw))
	}
	if r.Minute5 > 0 && r.Hourly > 0 && r.Minute5 > r.Hourly {
		v.errorf("store.retention.hourly", "keeps hourly aggregates (%s) shorter than the 5-minute ones (%s): a coarser resolution is kept longer", formatConfigDuration(r.Hourly), formatConfigDuration(r.Minute5))
	}
}

func (v *configValidator) outputs() {
	o := &v.c.Outputs
	if !o.Stdout && o.File == nil && o.Webhook == nil && o.NATS == nil {
		v.errorf("outputs", "no output: enable stdout: true, file:, webhook: or nats:")
	}
	if f := o.File; f != nil {
		if f.Path == "" {
			v.errorf("outputs.file", "no path: give path:")
		}
		if f.MaxSize < minFileOutputMaxSize {
			v.errorf("outputs.file.max_size", "must be at least 64KiB, got %s", formatConfigSize(f.MaxSize))
		}
		if f.MaxFiles < 0 {
			v.errorf("outputs.file.max_files", "must be 0 (keep no rotated file) or more, got %d", f.MaxFiles)
		}
	}
	if w := o.Webhook; w != nil {
		v.webhook(w)
	}
	if n := o.NATS; n != nil {
		v.nats(n)
	}
}

func (v *configValidator) webhook(w *WebhookOutputConfig) {
	const key = "outputs.webhook"
	switch {
	case w.URL == "" && w.URLEnv == "":
		v.errorf(key, "no url: give url: or url_env:")
	case w.URL != "" && w.URLEnv != "":
		v.errorf(key+".url_env", "give url or url_env, not both")
	case w.URLEnv != "" && !isEnvName(w.URLEnv):
		v.errorf(key+".url_env", "not an environment variable name")
	case w.URL != "":
		if msg := webhookURLProblem(w.URL); msg != "" {
			v.errorf(key+".url", "%s", msg)
		} else if strings.HasPrefix(strings.ToLower(w.URL), "http://") && (w.TLS.CAFile != "" || w.TLS.Insecure) {
			v.errorf(key+".url", "ca_file and insecure apply to https:// URLs only")
		}
	}
	if w.TLS.CAFile != "" && w.TLS.Insecure {
		v.errorf(key+".insecure", "insecure: true and ca_file contradict each other: pick one")
	}
	if w.Timeout <= 0 {
		v.errorf(key+".timeout", "must be positive, got %s", w.Timeout)
	}
	for _, name := range slices.Sorted(maps.Keys(w.Headers)) {
		hk := key + ".headers." + name
		switch {
		case !validHeaderName(name):
			v.errorf(hk, "%q is not a valid header name", name)
		case secretHeader(name):
			v.errorf(hk, "%s carries a credential: give it under headers_env (the name of an environment variable holding its value)", name)
		case strings.ContainsAny(w.Headers[name], "\r\n"):
			v.errorf(hk, "a header value cannot hold a line break")
		}
		if _, dup := w.HeadersEnv[name]; dup {
			v.errorf(hk, "%s is under both headers and headers_env", name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(w.HeadersEnv)) {
		hk := key + ".headers_env." + name
		switch {
		case !validHeaderName(name):
			v.errorf(hk, "%q is not a valid header name", name)
		case !isEnvName(w.HeadersEnv[name]):
			v.errorf(hk, "not an environment variable name (the value is not shown)")
		}
	}
}

// webhookURLProblem checks a webhook URL. The URL is never echoed: its
// path or query may be the secret (Slack-style hooks).
func webhookURLProblem(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "not a URL (the value is not shown)"
	case u.Scheme != "https" && u.Scheme != "http":
		return "want an https:// (or http://) URL"
	case u.User != nil:
		return "credentials in the URL are refused: give them under headers_env (Authorization: ENV_VAR)"
	case u.Hostname() == "":
		return "no host"
	}
	return ""
}

func (v *configValidator) nats(n *NATSOutputConfig) {
	const key = "outputs.nats"
	if n.URL == "" {
		v.errorf(key, "no url: give url: nats://HOST:4222")
	}
	for s := range strings.SplitSeq(n.URL, ",") {
		if n.URL == "" {
			break
		}
		u, err := url.Parse(strings.TrimSpace(s))
		switch {
		case err != nil:
			v.errorf(key+".url", "not a URL (the value is not shown)")
		case u.Scheme != "nats" && u.Scheme != "tls" && u.Scheme != "ws" && u.Scheme != "wss":
			v.errorf(key+".url", "want nats://, tls://, ws:// or wss:// URLs, comma-separated")
		case u.User != nil:
			v.errorf(key+".url", "credentials in the URL are refused: use creds_file")
		case u.Hostname() == "":
			v.errorf(key+".url", "no host")
		default:
			continue
		}
		break
	}
	if !validNATSSubject(n.Subject) {
		v.errorf(key+".subject", "want a subject such as prefail.events (dot-separated tokens, no spaces or wildcards)")
	}
	if n.Stream == "" || strings.ContainsAny(n.Stream, " \t\r\n.*>/\\") {
		v.errorf(key+".stream", "want a stream name such as PREFAIL (no spaces, '.', '*', '>', '/' or '\\')")
	}
}

func validNATSSubject(s string) bool {
	if s == "" || strings.ContainsAny(s, " \t\r\n*>") {
		return false
	}
	return !slices.Contains(strings.Split(s, "."), "")
}

// Kind is the reader a target needs: "redfish", "ipmi" or "smart" (as
// Target.Kind, and the keys of intervals:).
func (t *TargetConfig) Kind() string {
	switch {
	case t.Local || t.Smartctl != "":
		return "smart"
	case strings.HasPrefix(t.URL, "ipmi://"):
		return "ipmi"
	default:
		return "redfish"
	}
}

// Endpoint is the target's name in events, metrics and the store (as
// Target.Endpoint): the URL, "local", or "smartctl-exec:ARGS".
func (t *TargetConfig) Endpoint() string {
	switch {
	case t.URL != "":
		return t.URL
	case t.Local:
		return LocalDisks
	default:
		return SmartctlExecPrefix + t.Smartctl
	}
}

// IntervalOf is the time between two scans of t: its own interval, else
// its kind's (intervals:), else interval.
func (c *Config) IntervalOf(t *TargetConfig) time.Duration {
	iv, _ := c.intervalOf(t, "")
	return iv
}

// intervalOf also returns the key the interval comes from.
func (c *Config) intervalOf(t *TargetConfig, key string) (time.Duration, string) {
	if t.Interval > 0 {
		return t.Interval, key + ".interval"
	}
	if iv, ok := c.Intervals[t.Kind()]; ok && iv > 0 {
		return iv, "intervals." + t.Kind()
	}
	return c.Interval, "interval"
}

// CredentialsOf returns the credentials t logs in with: its own username
// (or username_env) and password (password_env or password_file) where
// it gives them, else the defaults; BasicAuth likewise.
func (c *Config) CredentialsOf(t *TargetConfig) CredentialsConfig {
	cr := c.Credentials
	if t.Username != "" || t.UsernameEnv != "" {
		cr.Username, cr.UsernameEnv = t.Username, t.UsernameEnv
	}
	if t.PasswordEnv != "" || t.PasswordFile != "" {
		cr.PasswordEnv, cr.PasswordFile = t.PasswordEnv, t.PasswordFile
	}
	if t.BasicAuth != nil {
		cr.BasicAuth = *t.BasicAuth
	}
	return cr
}

// TLSOf returns how t's certificate is verified (https:// targets; the
// zero TLSConfig for others). A target's ca_file overrides a default
// insecure, its insecure a default ca_file.
func (c *Config) TLSOf(t *TargetConfig) TLSConfig {
	if !strings.HasPrefix(t.URL, "https://") {
		return TLSConfig{}
	}
	tc := c.TLS
	if t.CAFile != "" {
		tc = TLSConfig{CAFile: t.CAFile}
	}
	if t.Insecure != nil {
		tc.Insecure = *t.Insecure
	}
	if tc.Insecure {
		tc.CAFile = ""
	}
	return tc
}

// Target returns the agent's Target for t, every default applied, but
// without its credentials: resolve them with CredentialsOf(t).Resolve
// (at each connection, so that a rotated password file is read again).
func (c *Config) Target(t *TargetConfig) *Target {
	at := &Target{Endpoint: t.Endpoint(), MaxLogEntries: c.MaxLogEntries, Interval: c.IntervalOf(t)}
	switch t.Kind() {
	case "smart":
		at.Devices = slices.Clone(t.Devices)
		at.WakeStandby = c.Disks.WakeStandby
		at.SmartctlPath = c.Disks.SmartctlPath
	case "ipmi":
		at.IPMIInterface, at.CipherSuite, at.SDRCacheDir = c.IPMI.Interface, c.IPMI.CipherSuite, c.SDRCache
		if t.IPMIInterface != "" {
			at.IPMIInterface = t.IPMIInterface
		}
		if t.CipherSuite != 0 {
			at.CipherSuite = t.CipherSuite
		}
	default:
		tc := c.TLSOf(t)
		at.CAFile, at.Insecure = tc.CAFile, tc.Insecure
		at.BasicAuth = c.CredentialsOf(t).BasicAuth
	}
	return at
}

// Resolve reads the credentials: the username as given or from its
// environment variable, the password from its environment variable or
// the first line of its file. Neither set is an anonymous scan (empty
// results); only one of them is an error. Errors never hold the password.
func (cr CredentialsConfig) Resolve(ctx context.Context, getenv func(string) string) (string, Secret, error) {
	if err := ctx.Err(); err != nil {
		return "", "", err
	}
	user, userFrom := cr.Username, "username"
	if user == "" && cr.UsernameEnv != "" {
		user, userFrom = getenv(cr.UsernameEnv), "$"+cr.UsernameEnv
	}
	var pass Secret
	passFrom := ""
	switch {
	case cr.PasswordFile != "":
		p, err := ReadPasswordFile(cr.PasswordFile)
		if err != nil {
			return "", "", err
		}
		pass, passFrom = p, "password_file "+cr.PasswordFile
	case cr.PasswordEnv != "":
		pass, passFrom = Secret(getenv(cr.PasswordEnv)), "$"+cr.PasswordEnv
	}
	switch {
	case user == "" && pass == "":
		return "", "", nil
	case user == "":
		what := "username or username_env"
		if cr.UsernameEnv != "" {
			what = "$" + cr.UsernameEnv + " is not set"
		}
		return "", "", fmt.Errorf("a password (from %s) but no username: %s", passFrom, what)
	case pass == "":
		what := "give password_env or password_file"
		if cr.PasswordEnv != "" {
			what = "$" + cr.PasswordEnv + " is not set"
		}
		return "", "", fmt.Errorf("username %q (from %s) but no password: %s", user, userFrom, what)
	}
	return user, pass, nil
}

// ReadPasswordFile returns the first line of a password file,
// without its line ending. Errors never include the content.
func ReadPasswordFile(path string) (Secret, error) {
	data, err := readConfigFile(path, 64<<10)
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) == 0 {
		return "", fmt.Errorf("password file %s: first line is empty", path)
	}
	return Secret(line), nil
}

// CheckFiles checks that every file the configuration names (password
// files, CA files, the NATS credentials file, a smartctl_path with a
// slash) exists and can be read now. Parsing does not: a missing file
// fails the targets that need it, not the agent; `--check-config` wants
// to know before. Errors name the key and line, not the path (a password
// typed where a path belongs would be printed).
func (c *Config) CheckFiles() error {
	v := &configValidator{c: c}
	check := func(key, path string) {
		if path == "" {
			return
		}
		if err := canReadFile(path); err != nil {
			v.errorf(key, "%s", err)
		}
	}
	check("credentials.password_file", c.Credentials.PasswordFile)
	check("tls.ca_file", c.TLS.CAFile)
	smartctl := false
	for i := range c.Targets {
		t := &c.Targets[i]
		key := fmt.Sprintf("targets[%d]", i)
		check(key+".password_file", t.PasswordFile)
		check(key+".ca_file", t.CAFile)
		smartctl = smartctl || t.Smartctl != ""
	}
	if smartctl && strings.ContainsRune(c.Disks.SmartctlPath, '/') {
		check("disks.smartctl_path", c.Disks.SmartctlPath)
	}
	if w := c.Outputs.Webhook; w != nil {
		check("outputs.webhook.ca_file", w.TLS.CAFile)
	}
	if n := c.Outputs.NATS; n != nil {
		check("outputs.nats.creds_file", n.CredsFile)
		check("outputs.nats.ca_file", n.CAFile)
	}
	return v.err()
}

// canReadFile opens path for reading; its error names what is wrong but
// not the path.
func canReadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return errors.New("the file does not exist")
		case errors.Is(err, fs.ErrPermission):
			return errors.New("the file cannot be read: permission denied")
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return fmt.Errorf("the file cannot be read: %v", pe.Err)
		}
		return errors.New("the file cannot be read")
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	return nil
}
