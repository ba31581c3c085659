package agent

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/prefail/prefail/detector"
	"github.com/prefail/prefail/model"
)

// cfgParse parses a configuration named prefail.yaml in /etc/prefail;
// files are the only files it can read.
func cfgParse(data string, files map[string]string) (*Config, error) {
	return parseConfig("prefail.yaml", "/etc/prefail", []byte(data), func(p string, _ int64) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	})
}

func TestConfigSample(t *testing.T) {
	c, err := ParseConfig("/etc/prefail/prefail.yaml", SampleConfig())
	if err != nil {
		t.Fatalf("the sample does not parse:\n%v", err)
	}
	day := 24 * time.Hour
	checks := []struct {
		name      string
		got, want any
	}{
		{"interval", c.Interval, 60 * time.Second},
		{"intervals", c.Intervals, map[string]time.Duration{"redfish": time.Minute, "ipmi": time.Minute, "smart": time.Hour}},
		{"timeout", c.Timeout, 60 * time.Second},
		{"concurrency", c.Concurrency, 16},
		{"jitter", c.Jitter, 0.1},
		{"credentials", c.Credentials, CredentialsConfig{UsernameEnv: "PREFAIL_USERNAME", PasswordEnv: "PREFAIL_PASSWORD"}},
		{"ipmi", c.IPMI, IPMIConfig{Interface: "lanplus", CipherSuite: 3}},
		{"memory_limit", c.MemoryLimit, int64(48 << 20)},
		{"store", c.Store, StoreConfig{Path: "/var/lib/prefail", Retention: RetentionConfig{48 * time.Hour, 14 * day, 400 * day}}},
		{"outputs.file", *c.Outputs.File, FileOutputConfig{Path: "/var/log/prefail/events.jsonl", MaxSize: 100 << 20, MaxFiles: 5}},
		{"outputs.stdout", c.Outputs.Stdout, false},
		{"listen", c.Listen, "127.0.0.1:9464"},
		{"detector", c.Detector.Watch, detector.DefaultConfig().Watch},
	}
	for _, ch := range checks {
		if diff := cmp.Diff(ch.want, ch.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", ch.name, diff)
		}
	}
	var eps []string
	for i := range c.Targets {
		eps = append(eps, c.Targets[i].Endpoint())
	}
	wantEps := []string{"https://bmc1.example.com", "https://bmc2.example.com:8443", "ipmi://10.0.0.7", "local", "smartctl-exec:-d megaraid,0 /dev/sda"}
	if diff := cmp.Diff(wantEps, eps); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
	bmc2 := &c.Targets[1]
	if bmc2.PasswordFile != "/etc/prefail/secrets/bmc2.pass" || bmc2.CAFile != "/etc/prefail/rack2-ca.pem" {
		t.Errorf("bmc2 paths not resolved against the file's directory: %q %q", bmc2.PasswordFile, bmc2.CAFile)
	}
	line := 1 + slices.IndexFunc(strings.Split(string(SampleConfig()), "\n"), func(l string) bool { return strings.Contains(l, "url: https://bmc2") })
	if bmc2.Where != "/etc/prefail/prefail.yaml:"+strconv.Itoa(line) {
		t.Errorf("bmc2 named at %s", bmc2.Where)
	}
	if got := c.IntervalOf(bmc2); got != 30*time.Second {
		t.Errorf("bmc2 interval %s, want its own 30s", got)
	}
	if got := c.IntervalOf(&c.Targets[3]); got != time.Hour {
		t.Errorf("smart interval %s, want intervals.smart 1h", got)
	}
	// LoadConfig reads the same thing from a file.
	dir := t.TempDir()
	path := filepath.Join(dir, "prefail.yaml")
	if err := os.WriteFile(path, SampleConfig(), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(path); err != nil {
		t.Fatalf("LoadConfig(sample): %v", err)
	}
	// The copy is the caller's.
	s := SampleConfig()
	s[0] = 'X'
	if SampleConfig()[0] == 'X' {
		t.Error("SampleConfig returns the package's own bytes")
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := cfgParse("targets: [https://bmc1.example.com]\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.File, want.Dir = "prefail.yaml", "/etc/prefail"
	want.Targets = []TargetConfig{{URL: "https://bmc1.example.com", Where: "prefail.yaml:1"}}
	if diff := cmp.Diff(&want, c, cmp.AllowUnexported(Config{}, configPos{}), cmp.FilterPath(func(p cmp.Path) bool {
		return p.Last().String() == ".pos"
	}, cmp.Ignore())); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	if !c.Outputs.Stdout {
		t.Error("without outputs:, events should go to stdout")
	}
}

// cfgErrorCase is a configuration and the error it must give.
type cfgErrorCase struct {
	name string
	yaml string
	at   string // "prefail.yaml:LINE:COLUMN" or "prefail.yaml:LINE" (then any column)
	msg  string // a substring of the message
	// secret must not appear in the error.
	secret string
	files  map[string]string
}

// cfgErrorCases is one case per class of error (also the fuzz seeds).
func cfgErrorCases() []cfgErrorCase {
	const tg = "targets: [https://bmc1.example.com]\n"
	return []cfgErrorCase{
		{name: "unknown top-level key", yaml: "intervall: 30s\n" + tg,
			at: "prefail.yaml:1:1", msg: `unknown key "intervall" at the top level (did you mean "interval"?); known keys: interval, intervals, timeout`},
		{name: "unknown key in a target", yaml: "targets:\n  - url: https://bmc1\n  - url: https://bmc2\n  - url: https://bmc3\n    intervall: 30s\n",
			at: "prefail.yaml:5:5", msg: `unknown key "intervall" in targets[2] (did you mean "interval"?); known keys: url, username, username_env, password_env, password_file, ca_file, insecure, basic_auth, interval`},
		{name: "unknown key in a section", yaml: tg + "store:\n  pth: /x\n",
			at: "prefail.yaml:3:3", msg: `unknown key "pth" in store (did you mean "path"?); known keys: path, retention`},
		{name: "unknown kind in intervals", yaml: tg + "intervals:\n  bmc: 30s\n",
			at: "prefail.yaml:3:3", msg: `unknown key "bmc" in intervals; known keys: redfish, ipmi, smart`},
		{name: "key given twice", yaml: "interval: 30s\n" + tg + "interval: 60s\n",
			at: "prefail.yaml:3:1", msg: `key "interval" given twice (also at line 1)`},
		{name: "wrong type: string for a number", yaml: tg + "concurrency: many\n",
			at: "prefail.yaml:2:14", msg: "concurrency: want a whole number, got a string"},
		{name: "wrong type: list for a mapping", yaml: tg + "store: [a, b]\n",
			at: "prefail.yaml:2:8", msg: "store: want a mapping (key: value lines), got a list"},
		{name: "wrong type: mapping for a list", yaml: "targets:\n  url: https://bmc1\n",
			at: "prefail.yaml:2:3", msg: "targets: want a list of targets"},
		{name: "wrong type: string for a bool", yaml: tg + "tls:\n  insecure: yes\n",
			at: "prefail.yaml:3:13", msg: "tls.insecure: want true or false, got a string"},
		{name: "bad duration", yaml: tg + "interval: 5 minutes\n",
			at: "prefail.yaml:2:11", msg: `interval: bad duration "5 minutes"`},
		{name: "bare number duration", yaml: tg + "timeout: 60\n",
			at: "prefail.yaml:2:10", msg: "timeout: want a duration with a unit"},
		{name: "negative interval", yaml: tg + "interval: -5s\n",
			at: "prefail.yaml:2:11", msg: "interval: must be positive, got -5s"},
		{name: "zero timeout", yaml: tg + "timeout: 0s\n",
			at: "prefail.yaml:2:10", msg: "timeout: must be positive, got 0s"},
		{name: "zero target interval", yaml: "targets:\n  - url: https://bmc1\n    interval: 0s\n",
			at: "prefail.yaml:3:15", msg: "targets[0].interval: must be positive, got 0s"},
		{name: "zero concurrency", yaml: tg + "concurrency: 0\n",
			at: "prefail.yaml:2:14", msg: "concurrency: must be at least 1, got 0"},
		{name: "negative max_log_entries", yaml: tg + "max_log_entries: -1\n",
			at: "prefail.yaml:2:18", msg: "max_log_entries: must be 0 (skip logs) or more"},
		{name: "memory_limit below 32MiB", yaml: tg + "memory_limit: 16MiB\n",
			at: "prefail.yaml:2:15", msg: "memory_limit: must be at least 32MiB (one scan's budget), got 16MiB"},
		{name: "ambiguous size unit", yaml: tg + "memory_limit: 512M\n",
			at: "prefail.yaml:2:15", msg: `unit "M" is ambiguous: write MiB (powers of 1024) or MB`},
		{name: "negative size", yaml: tg + "memory_limit: -1\n",
			at: "prefail.yaml:2:15", msg: "must not be negative"},
		{name: "URL scheme", yaml: "targets:\n  - ftp://bmc1.example.com\n",
			at: "prefail.yaml:2:5", msg: `targets[0]: scheme "ftp" not supported: use https, http or ipmi`},
		{name: "URL without scheme", yaml: "targets:\n  - url: bmc1.example.com\n",
			at: "prefail.yaml:2:10", msg: "targets[0].url: missing scheme"},
		{name: "URL with a path", yaml: "targets:\n  - https://bmc1.example.com/redfish/v1\n",
			at: "prefail.yaml:2:5", msg: "give only scheme://host[:port]"},
		{name: "URL with credentials", yaml: "targets:\n  - https://admin:hunter2@bmc1.example.com\n",
			at: "prefail.yaml:2:5", msg: "credentials in the URL are refused", secret: "hunter2"},
		{name: "URL with settings after it", yaml: "targets:\n  - https://bmc1 username=admin password=hunter2\n",
			at: "prefail.yaml:2:5", msg: "a URL has no spaces", secret: "hunter2"},
		{name: "bad port", yaml: "targets:\n  - https://bmc1:99999\n",
			at: "prefail.yaml:2:5", msg: `bad port "99999"`},
		{name: "duplicate targets", yaml: "targets:\n  - https://bmc1.example.com\n  - url: https://BMC1.example.com:443\n",
			at: "prefail.yaml:3:5", msg: "targets[1]: https://BMC1.example.com:443 named twice (also at prefail.yaml:2)"},
		{name: "duplicate smartctl targets", yaml: "targets:\n  - smartctl: -d sat /dev/sda\n  - smartctl: \"-d  sat   /dev/sda\"\n",
			at: "prefail.yaml:3:5", msg: "named twice"},
		{name: "two smart targets", yaml: "targets:\n  - smart: local\n  - smart: /dev/sda\n",
			at: "prefail.yaml:3:5", msg: "a second smart: target"},
		{name: "relative device", yaml: "targets:\n  - smart: sda\n",
			at: "prefail.yaml:2:12", msg: "want local or an absolute device path"},
		{name: "no target kind", yaml: "targets:\n  - username: admin\n",
			at: "prefail.yaml:2:5", msg: "give url: (a BMC), smart: (this machine's disks) or smartctl:"},
		{name: "two target kinds", yaml: "targets:\n  - url: https://bmc1\n    smart: local\n",
			at: "prefail.yaml:3:5", msg: "give one of url:, smart: or smartctl: per target (also url: at line 2)"},
		{name: "inline password in credentials", yaml: tg + "credentials:\n  username: admin\n  password: hunter2\n",
			at: "prefail.yaml:4:3", secret: "hunter2",
			msg: "credentials.password: an inline password is refused: put the password in a file (password_file) or an environment variable (password_env)"},
		{name: "inline password in a target", yaml: "targets:\n  - url: https://bmc1\n    username: admin\n    password: hunter2\n",
			at: "prefail.yaml:4:5", secret: "hunter2", msg: "targets[0].password: an inline password is refused"},
		{name: "password_env holding a password", yaml: tg + "credentials:\n  password_env: \"s3cr3t!pw\"\n",
			at: "prefail.yaml:3:17", secret: "s3cr3t", msg: "credentials.password_env: not an environment variable name"},
		{name: "username and username_env", yaml: tg + "credentials:\n  username: admin\n  username_env: BMC_USER\n",
			at: "prefail.yaml:4:17", msg: "credentials.username_env: give username or username_env, not both"},
		{name: "password_env and password_file", yaml: "targets:\n  - url: https://bmc1\n    password_env: P\n    password_file: p.pass\n",
			at: "prefail.yaml:4:20", msg: "targets[0].password_file: give password_env or password_file, not both"},
		{name: "insecure with ca_file", yaml: tg + "tls:\n  ca_file: ca.pem\n  insecure: true\n",
			at: "prefail.yaml:4:13", msg: "tls.insecure: insecure: true and ca_file contradict each other"},
		{name: "insecure with ca_file in a target", yaml: "targets:\n  - url: https://bmc1\n    insecure: true\n    ca_file: ca.pem\n",
			at: "prefail.yaml:3:15", msg: "targets[0].insecure: insecure: true and ca_file contradict each other"},
		{name: "IPMI key on a Redfish target", yaml: "targets:\n  - url: https://bmc1\n    cipher_suite: 17\n",
			at: "prefail.yaml:3:5", msg: "targets[0].cipher_suite: applies to ipmi:// targets only"},
		{name: "TLS key on an IPMI target", yaml: "targets:\n  - url: ipmi://10.0.0.7\n    ca_file: ca.pem\n",
			at: "prefail.yaml:3:5", msg: "targets[0].ca_file: applies to https:// targets only"},
		{name: "credentials on a disk target", yaml: "targets:\n  - smart: local\n    username: root\n",
			at: "prefail.yaml:3:5", msg: "targets[0].username: applies to BMC targets (url:) only: disks need no credentials"},
		{name: "cipher suite", yaml: "targets:\n  - url: ipmi://10.0.0.7\n    cipher_suite: 5\n",
			at: "prefail.yaml:3:19", msg: "targets[0].cipher_suite: want 3, 8, 12 or 17, got 5"},
		{name: "IPMI interface", yaml: tg + "ipmi:\n  interface: lanplus2\n",
			at: "prefail.yaml:3:14", msg: `ipmi.interface: want lanplus, lan or open, got "lanplus2"`},
		{name: "jitter over 100%", yaml: tg + "jitter: 150%\n",
			at: "prefail.yaml:2:9", msg: "jitter: must be from 0% to 100% of the interval, got 150%"},
		{name: "jitter as a bare number", yaml: tg + "jitter: 10\n",
			at: "prefail.yaml:2:9", msg: "jitter: 10 is more than the whole interval: write a percentage such as 10%"},
		{name: "smartctl changing the drive", yaml: "targets:\n  - smartctl: \"-t long /dev/sda\"\n",
			at: "prefail.yaml:2:15", msg: "option -t changes the drive"},
		{name: "listen", yaml: tg + "listen: 9464\n",
			at: "prefail.yaml:2:9", msg: "listen: want host:port"},
		{name: "listen null", yaml: tg + "listen:\n",
			at: "prefail.yaml:2", msg: `listen: give an address (host:port), or "" to serve nothing`},
		{name: "log level", yaml: tg + "log_level: verbose\n",
			at: "prefail.yaml:2:12", msg: `log_level: want trace, debug, info, warn or error, got "verbose"`},
		{name: "retention out of order", yaml: tg + "store:\n  retention:\n    raw: 30d\n    minute5: 14d\n",
			at: "prefail.yaml:5:14", msg: "store.retention.minute5: keeps 5-minute aggregates (14d) shorter than the raw readings (30d)"},
		{name: "zero retention", yaml: tg + "store:\n  retention:\n    hourly: 0s\n",
			at: "prefail.yaml:4:13", msg: "store.retention.hourly: must be positive"},
		{name: "no output", yaml: tg + "outputs:\n  stdout: false\n",
			at: "prefail.yaml:3:3", msg: "outputs: no output: enable stdout: true, file:, webhook: or nats:"},
		{name: "file output without path", yaml: tg + "outputs:\n  file:\n    max_files: 3\n",
			at: "prefail.yaml:4:5", msg: "outputs.file: no path: give path:"},
		{name: "file output too small", yaml: tg + "outputs:\n  file:\n    path: events.jsonl\n    max_size: 0\n",
			at: "prefail.yaml:5:15", msg: "outputs.file.max_size: must be at least 64KiB, got 0 bytes"},
		{name: "file output negative max_files", yaml: tg + "outputs:\n  file:\n    path: events.jsonl\n    max_files: -1\n",
			at: "prefail.yaml:5:16", msg: "outputs.file.max_files: must be 0 (keep no rotated file) or more, got -1"},
		{name: "webhook credential header", yaml: tg + "outputs:\n  webhook:\n    url: https://hooks.example.com/x\n    headers:\n      Authorization: Bearer hunter2\n",
			at: "prefail.yaml:6:7", secret: "hunter2", msg: "outputs.webhook.headers.Authorization: Authorization carries a credential: give it under headers_env"},
		{name: "webhook URL credentials", yaml: tg + "outputs:\n  webhook:\n    url: https://me:hunter2@hooks.example.com/x\n",
			at: "prefail.yaml:4:10", secret: "hunter2", msg: "outputs.webhook.url: credentials in the URL are refused"},
		{name: "webhook URL scheme", yaml: tg + "outputs:\n  webhook:\n    url: ftp://hooks.example.com/T0/B0/secretpath\n",
			at: "prefail.yaml:4:10", secret: "secretpath", msg: "outputs.webhook.url: want an https:// (or http://) URL"},
		{name: "webhook without URL", yaml: tg + "outputs:\n  webhook:\n    timeout: 5s\n",
			at: "prefail.yaml:4:5", msg: "outputs.webhook: no url: give url: or url_env:"},
		{name: "webhook zero timeout", yaml: tg + "outputs:\n  webhook:\n    url: https://hooks.example.com\n    timeout: 0s\n",
			at: "prefail.yaml:5:14", msg: "outputs.webhook.timeout: must be positive, got 0s"},
		{name: "webhook insecure with ca_file", yaml: tg + "outputs:\n  webhook:\n    url: https://hooks.example.com\n    ca_file: ca.pem\n    insecure: true\n",
			at: "prefail.yaml:6:15", msg: "outputs.webhook.insecure: insecure: true and ca_file contradict each other"},
		{name: "webhook header env name", yaml: tg + "outputs:\n  webhook:\n    url: https://hooks.example.com\n    headers_env:\n      Authorization: Bearer xyz\n",
			at: "prefail.yaml:6:22", secret: "xyz", msg: "not an environment variable name"},
		{name: "nats subject", yaml: tg + "outputs:\n  nats:\n    url: nats://127.0.0.1:4222\n    subject: prefail.>\n",
			at: "prefail.yaml:5:14", msg: "outputs.nats.subject: want a subject such as prefail.events"},
		{name: "nats URL", yaml: tg + "outputs:\n  nats:\n    url: http://127.0.0.1:4222\n",
			at: "prefail.yaml:4:10", msg: "outputs.nats.url: want nats://, tls://, ws:// or wss:// URLs"},
		{name: "no targets", yaml: "interval: 60s\n",
			at: "prefail.yaml", msg: "targets: no targets: list them under targets:"},
		{name: "empty targets", yaml: "targets: []\n",
			at: "prefail.yaml:1:10", msg: "targets: no targets"},
		{name: "home-relative path", yaml: tg + "sdr_cache: ~/sdr\n",
			at: "prefail.yaml:2:12", msg: "sdr_cache: ~ is not expanded"},
		{name: "YAML syntax", yaml: "interval: [60s\n" + tg,
			at: "prefail.yaml:1", msg: "did not find expected ',' or ']'"},
		{name: "YAML tab indentation", yaml: "targets:\n\t- https://bmc1\n",
			at: "prefail.yaml:2", msg: "(a tab in the indentation: YAML indents with spaces only)"},
		{name: "top level not a mapping", yaml: "- https://bmc1\n",
			at: "prefail.yaml:1:1", msg: "want a mapping of keys (interval:, targets:, ...) at the top level, got a list"},
		{name: "two documents", yaml: tg + "---\n" + tg,
			at: "prefail.yaml:2:1", msg: "a second YAML document (after ---): the configuration is one document"},
		{name: "empty file", yaml: "# nothing\n",
			at: "prefail.yaml", msg: "empty configuration"},
		{name: "detector: unknown key inline", yaml: tg + "detector:\n  fan:\n    decline_wach: 0.1\n",
			at: "prefail.yaml:4:5", msg: `unknown key "decline_wach" in detector.fan (did you mean "decline_watch"?); known keys: decline_watch, decline_degrading`},
		{name: "detector: unknown section inline", yaml: tg + "detector:\n  fans: {}\n",
			at: "prefail.yaml:3:3", msg: `unknown key "fans" in detector (did you mean "fan"?)`},
		{name: "detector: bad duration inline", yaml: tg + "detector:\n  event_log:\n    half_life: 3x\n",
			at: "prefail.yaml:4:16", msg: "detector.event_log.half_life: duration \"3x\""},
		{name: "detector: wrong type inline", yaml: tg + "detector:\n  watch: high\n",
			at: "prefail.yaml:3:10", msg: "detector.watch: want a number, got a string"},
		{name: "detector: list for a mapping", yaml: tg + "detector:\n  kinds: [fan]\n",
			at: "prefail.yaml:3:10", msg: "detector.kinds: want a mapping, got a list"},
		{name: "detector: invalid levels inline", yaml: tg + "detector:\n  watch: 0.9\n",
			at: "prefail.yaml:3:3", msg: "detector: detector config: want 0 < watch < degrading < failing <= 1"},
		{name: "detector: missing file", yaml: tg + "detector: detector.json\n",
			at: "prefail.yaml:2:11", msg: "detector: open /etc/prefail/detector.json: file does not exist"},
		{name: "detector: unknown key in the file", yaml: tg + "detector: detector.json\n",
			files: map[string]string{"/etc/prefail/detector.json": `{"fann": {}}`},
			at:    "prefail.yaml:2:11", msg: `detector: /etc/prefail/detector.json: detector config: json: unknown field "fann"`},
		{name: "targets file missing", yaml: "targets_file: bmcs.txt\n",
			at: "prefail.yaml:1:15", msg: "targets_file: open /etc/prefail/bmcs.txt: file does not exist"},
		{name: "targets file: inline password", yaml: "targets_file: bmcs.txt\n",
			files: map[string]string{"/etc/prefail/bmcs.txt": "# BMCs\nhttps://bmc1 username=a password=hunter2\n"},
			at:    "/etc/prefail/bmcs.txt:2", secret: "hunter2", msg: "passwords are never given inline"},
		{name: "targets file: bad scheme", yaml: "targets_file: bmcs.txt\n",
			files: map[string]string{"/etc/prefail/bmcs.txt": "https://bmc1\n\nftp://bmc2\n"},
			at:    "/etc/prefail/bmcs.txt:3", msg: `scheme "ftp" not supported`},
		{name: "targets file: duplicate of an inline target", yaml: "targets: [https://bmc1.example.com]\ntargets_file: bmcs.txt\n",
			files: map[string]string{"/etc/prefail/bmcs.txt": "# BMCs\n\nhttps://bmc1.example.com:443 username=ops\n"},
			at:    "/etc/prefail/bmcs.txt:3", msg: ": https://bmc1.example.com:443 named twice (also at prefail.yaml:1)"},
		{name: "targets file: empty", yaml: "targets_file: bmcs.txt\n",
			files: map[string]string{"/etc/prefail/bmcs.txt": "# none yet\n"},
			at:    "prefail.yaml:1:15", msg: "targets_file: no targets"},
		{name: "merge of a non-mapping", yaml: tg + "store:\n  <<: 3\n",
			at: "prefail.yaml:3:3", msg: "<< merges a mapping or a list of mappings"},
		{name: "alias bomb", yaml: cfgAliasBomb(),
			at: "prefail.yaml", msg: "too many values once aliases are expanded"},
	}
}

// cfgAliasBomb is a "billion laughs" of merge keys: each level merges
// the one below ten times.
func cfgAliasBomb() string {
	var b strings.Builder
	b.WriteString("x-a0: &a0 {username: lol}\n")
	for i := 1; i <= 7; i++ {
		prev := "*a" + strconv.Itoa(i-1)
		b.WriteString("x-a" + strconv.Itoa(i) + ": &a" + strconv.Itoa(i) + " {<<: [" + strings.Repeat(prev+", ", 9) + prev + "]}\n")
	}
	b.WriteString("targets:\n  - url: https://bmc1\n    <<: *a7\n")
	return b.String()
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range cfgErrorCases() {
		t.Run(tc.name, func(t *testing.T) {
			c, err := cfgParse(tc.yaml, tc.files)
			if err == nil {
				t.Fatalf("no error; config %+v", c)
			}
			if c != nil {
				t.Error("a config returned with an error")
			}
			msg := err.Error()
			found := false
			for line := range strings.SplitSeq(msg, "\n") {
				if !strings.HasPrefix(line, tc.at+":") || !strings.Contains(line, tc.msg) {
					continue
				}
				// "FILE:LINE" must not match "FILE:LINE0", and a wanted
				// "FILE:LINE" may have any column after it.
				rest := strings.TrimPrefix(line, tc.at+":")
				if !strings.HasPrefix(rest, " ") && !strings.HasPrefix(tc.msg, rest[:1]) && strings.Count(tc.at, ":") == 2 {
					continue
				}
				found = true
			}
			if !found {
				t.Errorf("want an error at %s containing\n\t%s\ngot\n\t%s", tc.at, tc.msg, strings.ReplaceAll(msg, "\n", "\n\t"))
			}
			if tc.secret != "" && strings.Contains(msg, tc.secret) {
				t.Errorf("the error shows the secret %q:\n%s", tc.secret, msg)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Errorf("not a *ConfigError: %T", err)
			}
		})
	}
}

// TestConfigErrorsAll checks that several problems are reported at once.
func TestConfigErrorsAll(t *testing.T) {
	_, err := cfgParse("interval: 5 minutes\nconcurrency: many\ntargets:\n  - ftp://x\n  - url: https://b\n    intervall: 1s\n", nil)
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{"prefail.yaml:1:11: interval:", "prefail.yaml:2:14: concurrency:", "prefail.yaml:4:5: targets[0]:", "prefail.yaml:6:5: unknown key"}
	if len(lines) != len(want) {
		t.Fatalf("want %d errors, got:\n%s", len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("error %d: want %q..., got %q", i, w, lines[i])
		}
	}
	// Many errors are capped.
	var b strings.Builder
	b.WriteString("targets:\n")
	for range 50 {
		b.WriteString("  - ftp://x\n")
	}
	_, err = cfgParse(b.String(), nil)
	if n := strings.Count(err.Error(), "\n") + 1; n != maxConfigErrors+1 || !strings.Contains(err.Error(), "30 more errors not shown") {
		t.Errorf("want %d errors and a count of the rest, got %d:\n%s", maxConfigErrors, n, err)
	}
}

func TestConfigRelativePaths(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/lists/bmcs.txt", "https://bmc3.example.com password-file=../secrets/bmc3.pass ca-file=/abs/ca.pem\n")
	write("etc/detector.json", `{"watch": 0.3}`)
	write("etc/prefail.yaml", `
credentials:
  username: admin
  password_file: secrets/bmc.pass
tls:
  ca_file: ./pki/ca.pem
disks:
  smartctl_path: bin/smartctl
targets:
  - url: https://bmc1.example.com
    password_file: ../other/bmc1.pass
  - url: https://bmc2.example.com
    ca_file: /etc/ssl/bmc2.pem
  - smartctl: /dev/sda
targets_file: lists/bmcs.txt
sdr_cache: cache/sdr
detector: detector.json
store:
  path: state
outputs:
  file: {path: log/events.jsonl}
  webhook: {url: "https://hooks.example.com", ca_file: hooks-ca.pem}
  nats: {url: "nats://127.0.0.1:4222", creds_file: nats.creds, ca_file: /abs/nats-ca.pem}
`)
	// A relative name: the directory is made absolute.
	t.Chdir(dir)
	c, err := LoadConfig("etc/prefail.yaml")
	if err != nil {
		t.Fatal(err)
	}
	etc := filepath.Join(dir, "etc")
	checks := []struct{ name, got, want string }{
		{"dir", c.Dir, etc},
		{"credentials.password_file", c.Credentials.PasswordFile, etc + "/secrets/bmc.pass"},
		{"tls.ca_file", c.TLS.CAFile, etc + "/pki/ca.pem"},
		{"disks.smartctl_path", c.Disks.SmartctlPath, etc + "/bin/smartctl"},
		{"targets[0].password_file", c.Targets[0].PasswordFile, filepath.Join(dir, "other/bmc1.pass")},
		{"targets[1].ca_file", c.Targets[1].CAFile, "/etc/ssl/bmc2.pem"},
		{"targets_file", c.TargetsFile, etc + "/lists/bmcs.txt"},
		{"targets file password-file", c.Targets[3].PasswordFile, etc + "/secrets/bmc3.pass"},
		{"targets file ca-file", c.Targets[3].CAFile, "/abs/ca.pem"},
		{"targets file where", c.Targets[3].Where, etc + "/lists/bmcs.txt:1"},
		{"sdr_cache", c.SDRCache, etc + "/cache/sdr"},
		{"detector", c.DetectorFile, etc + "/detector.json"},
		{"store.path", c.Store.Path, etc + "/state"},
		{"outputs.file.path", c.Outputs.File.Path, etc + "/log/events.jsonl"},
		{"outputs.webhook.ca_file", c.Outputs.Webhook.TLS.CAFile, etc + "/hooks-ca.pem"},
		{"outputs.nats.creds_file", c.Outputs.NATS.CredsFile, etc + "/nats.creds"},
		{"outputs.nats.ca_file", c.Outputs.NATS.CAFile, "/abs/nats-ca.pem"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.name, ch.got, ch.want)
		}
	}
	if c.Detector.Watch != 0.3 || c.Detector.Degrading != detector.DefaultConfig().Degrading {
		t.Errorf("detector file not read over the defaults: watch %g degrading %g", c.Detector.Watch, c.Detector.Degrading)
	}
	if c.Disks.SmartctlPath == "smartctl" {
		t.Error("smartctl_path with a slash not resolved")
	}
	// A bare program name stays a PATH lookup.
	c2, err := cfgParse("targets: [{smartctl: /dev/sda}]\ndisks: {smartctl_path: smartctl-7.4}\n", nil)
	if err != nil || c2.Disks.SmartctlPath != "smartctl-7.4" {
		t.Errorf("smartctl_path without a slash: %v %v", c2, err)
	}
}

func TestConfigDurations(t *testing.T) {
	day := 24 * time.Hour
	good := []struct {
		in   string
		want time.Duration
	}{
		{"90s", 90 * time.Second}, {"1h30m", 90 * time.Minute}, {"14d", 14 * day}, {"1.5d", 36 * time.Hour},
		{"1d12h", 36 * time.Hour}, {"400d", 400 * day}, {"0s", 0}, {"0", 0}, {"-5s", -5 * time.Second},
		{"-2d", -2 * day}, {" 7d ", 7 * day}, {"0d", 0}, {"250ms", 250 * time.Millisecond}, {"1d1h1m1s", day + time.Hour + time.Minute + time.Second},
	}
	for _, g := range good {
		if got, err := parseConfigDuration(g.in); err != nil || got != g.want {
			t.Errorf("parseConfigDuration(%q) = %s, %v; want %s", g.in, got, err, g.want)
		}
	}
	for _, in := range []string{"", "d", "5", "5 minutes", "1h1d", "1w", "d5", "1d-2h", "--1d", "1e3d", "106752d", "inf", "NaNd", "1.2.3d", "+"} {
		if got, err := parseConfigDuration(in); err == nil {
			t.Errorf("parseConfigDuration(%q) = %s, want an error", in, got)
		}
	}
	// Through YAML, with days.
	c, err := cfgParse("targets: [{smart: local, interval: 2d}]\ninterval: 1d\ntimeout: 30s\nstore: {retention: {raw: 3d, minute5: 30d, hourly: 730d}}\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Interval != day || c.Targets[0].Interval != 2*day || c.Store.Retention != (RetentionConfig{3 * day, 30 * day, 730 * day}) {
		t.Errorf("durations with days: %s %s %+v", c.Interval, c.Targets[0].Interval, c.Store.Retention)
	}
}

func TestConfigSizes(t *testing.T) {
	good := []struct {
		in   string
		want int64
	}{
		{"100MiB", 100 << 20}, {"1GB", 1e9}, {"1GiB", 1 << 30}, {"512 KiB", 512 << 10}, {"1.5GiB", 3 << 29},
		{"4096", 4096}, {"4096B", 4096}, {"64kB", 64000}, {"64KB", 64000}, {"2TiB", 2 << 40}, {"3TB", 3e12}, {"10MB", 1e7},
	}
	for _, g := range good {
		if got, err := parseConfigSize(g.in); err != nil || got != g.want {
			t.Errorf("parseConfigSize(%q) = %d, %v; want %d", g.in, got, err, g.want)
		}
	}
	for _, in := range []string{"", "MiB", "100M", "1G", "1k", "-1MiB", "1mib", "1 megabyte", "1..5GiB", "99999999999TiB", "1e3", "0x10"} {
		if got, err := parseConfigSize(in); err == nil {
			t.Errorf("parseConfigSize(%q) = %d, want an error", in, got)
		}
	}
	// Through YAML: a plain integer is bytes.
	c, err := cfgParse("targets: [https://bmc1]\nmemory_limit: 67108864\noutputs: {file: {path: e.jsonl, max_size: 1GB}}\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.MemoryLimit != 64<<20 || c.Outputs.File.MaxSize != 1e9 {
		t.Errorf("sizes: %d %d", c.MemoryLimit, c.Outputs.File.MaxSize)
	}
	for n, want := range map[int64]string{32 << 20: "32MiB", 0: "0 bytes", 1 << 30: "1GiB", 1000: "1000 bytes", 3 << 10: "3KiB"} {
		if got := formatConfigSize(n); got != want {
			t.Errorf("formatConfigSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestConfigDetectorInline(t *testing.T) {
	c, err := cfgParse(`targets: [https://bmc1]
detector:
  watch: 0.3
  fan:
    decline_watch: 0.1
    dip_window: 2d
  kinds:
    fan: {bucket: 30m, history: 1008, baseline: 3d, confirm: 3, clear_after: 1d}
  event_log:
    types:
      - {type: psu, label: psu trouble, match: [psu], weight: 0.5, half_life: 36h}
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	def := detector.DefaultConfig()
	d := c.Detector
	if d.Watch != 0.3 || d.Fan.DeclineWatch != 0.1 || d.Fan.DipWindow.D() != 48*time.Hour {
		t.Errorf("inline values not applied: watch %g decline %g dip window %s", d.Watch, d.Fan.DeclineWatch, d.Fan.DipWindow.D())
	}
	if d.Degrading != def.Degrading || d.Fan.DeclineDegrading != def.Fan.DeclineDegrading || d.PSU != def.PSU {
		t.Error("defaults not kept under the inline values")
	}
	if k := d.Kinds[model.KindFan]; k.Bucket.D() != 30*time.Minute || k.History != 1008 {
		t.Errorf("kinds.fan: %+v", k)
	}
	if _, ok := d.Kinds[model.KindDrive]; !ok {
		t.Error("kinds.drive lost")
	}
	if len(d.EventLog.Types) != 1 || d.EventLog.Types[0].HalfLife.D() != 36*time.Hour {
		t.Errorf("event_log.types: %+v", d.EventLog.Types)
	}
	if c.DetectorFile != "" {
		t.Errorf("DetectorFile %q for an inline mapping", c.DetectorFile)
	}
	// YAML's own forms become JSON: anchors, merge keys, ints, floats.
	c, err = cfgParse("targets: [https://bmc1]\nx: &w {watch: 0.2}\ndetector:\n  <<: *w\n  hysteresis: 0.05\n", nil)
	if err == nil {
		t.Fatalf("unknown top-level x accepted: %+v", c)
	}
	c, err = cfgParse("targets: [https://bmc1]\ndetector:\n  fan: &f {decline_watch: 0.09}\n  psu:\n    input_loss: 0.4\n", nil)
	if err != nil || c.Detector.Fan.DeclineWatch != 0.09 || c.Detector.PSU.InputLoss != 0.4 {
		t.Errorf("anchors in the detector: %v", err)
	}
}

func TestConfigTargets(t *testing.T) {
	c, err := cfgParse(`
credentials:
  username: admin
  password_env: BMC_PASS
  basic_auth: true
tls:
  ca_file: /etc/prefail/ca.pem
ipmi:
  cipher_suite: 17
disks:
  wake_standby: true
max_log_entries: 50
targets:
  - https://bmc1.example.com
  - url: HTTPS://bmc2.example.com:8443/
    username_env: BMC2_USER
    password_file: bmc2.pass
    insecure: true
    basic_auth: false
  - url: https://bmc3.example.com
    ca_file: rack3.pem
    interval: 30s
  - url: ipmi://10.0.0.7
    ipmi_interface: lan
  - url: ipmi://10.0.0.8:624
  - url: http://127.0.0.1:8000
  - smart: [/dev/sda, /dev/disk/by-id/nvme-X]
  - smartctl: "  -d   megaraid,0   /dev/sda "
timeout: 30s
intervals:
  ipmi: 2m
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	no := false
	want := []*Target{
		{Endpoint: "https://bmc1.example.com", CAFile: "/etc/prefail/ca.pem", BasicAuth: true, MaxLogEntries: 50, Interval: time.Minute},
		{Endpoint: "https://bmc2.example.com:8443", Insecure: true, MaxLogEntries: 50, Interval: time.Minute},
		{Endpoint: "https://bmc3.example.com", CAFile: "/etc/prefail/rack3.pem", BasicAuth: true, MaxLogEntries: 50, Interval: 30 * time.Second},
		{Endpoint: "ipmi://10.0.0.7", IPMIInterface: "lan", CipherSuite: 17, SDRCacheDir: "/var/cache/prefail/sdr", MaxLogEntries: 50, Interval: 2 * time.Minute},
		{Endpoint: "ipmi://10.0.0.8:624", IPMIInterface: "lanplus", CipherSuite: 17, SDRCacheDir: "/var/cache/prefail/sdr", MaxLogEntries: 50, Interval: 2 * time.Minute},
		{Endpoint: "http://127.0.0.1:8000", BasicAuth: true, MaxLogEntries: 50, Interval: time.Minute},
		{Endpoint: "local", Devices: []string{"/dev/sda", "/dev/disk/by-id/nvme-X"}, WakeStandby: true, SmartctlPath: "smartctl", MaxLogEntries: 50, Interval: time.Minute},
		{Endpoint: "smartctl-exec:-d megaraid,0 /dev/sda", WakeStandby: true, SmartctlPath: "smartctl", MaxLogEntries: 50, Interval: time.Minute},
	}
	if len(c.Targets) != len(want) {
		t.Fatalf("%d targets, want %d", len(c.Targets), len(want))
	}
	for i := range c.Targets {
		got := c.Target(&c.Targets[i])
		if diff := cmp.Diff(want[i], got, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Stdin" }, cmp.Ignore())); diff != "" {
			t.Errorf("targets[%d] (-want +got):\n%s", i, diff)
		}
	}
	kinds := []string{"redfish", "redfish", "redfish", "ipmi", "ipmi", "redfish", "smart", "smart"}
	for i, k := range kinds {
		if got := c.Targets[i].Kind(); got != k {
			t.Errorf("targets[%d].Kind() = %s, want %s", i, got, k)
		}
	}
	if got := c.CredentialsOf(&c.Targets[0]); got != (CredentialsConfig{Username: "admin", PasswordEnv: "BMC_PASS", BasicAuth: true}) {
		t.Errorf("bmc1 credentials %+v", got)
	}
	if got := c.CredentialsOf(&c.Targets[1]); got != (CredentialsConfig{UsernameEnv: "BMC2_USER", PasswordFile: "/etc/prefail/bmc2.pass", BasicAuth: no}) {
		t.Errorf("bmc2 credentials %+v", got)
	}
	if got := c.TLSOf(&c.Targets[3]); got != (TLSConfig{}) {
		t.Errorf("an ipmi target has TLS settings %+v", got)
	}
}

func TestConfigTargetsFile(t *testing.T) {
	c, err := cfgParse("targets:\n  - https://bmc1.example.com\ntargets_file: /srv/bmcs.txt\n", map[string]string{
		"/srv/bmcs.txt": "\ufeff# rack 2\nhttps://bmc2.example.com username=ops password-file=p/bmc2.pass basic-auth=true # lab\n\nipmi://10.0.0.9 interface=lan cipher-suite=17\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Targets) != 3 {
		t.Fatalf("%d targets", len(c.Targets))
	}
	yes := true
	want := []TargetConfig{
		{URL: "https://bmc1.example.com", Where: "prefail.yaml:2"},
		{URL: "https://bmc2.example.com", Where: "/srv/bmcs.txt:2", Username: "ops", PasswordFile: "/srv/p/bmc2.pass", BasicAuth: &yes},
		{URL: "ipmi://10.0.0.9", Where: "/srv/bmcs.txt:4", IPMIInterface: "lan", CipherSuite: 17},
	}
	if diff := cmp.Diff(want, c.Targets); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
	// Errors of the file name its lines; a setting that does not apply
	// is refused as in the configuration.
	_, err = cfgParse("targets_file: /srv/bmcs.txt\n", map[string]string{
		"/srv/bmcs.txt": "https://bmc1 cipher-suite=17\nipmi://h insecure=true\nhttps://bmc3 colour=blue\nhttps://bmc4 hunter2\n",
	})
	for _, w := range []string{"/srv/bmcs.txt:1: cipher-suite= applies to ipmi:// targets only", "/srv/bmcs.txt:2: insecure= applies to https:// targets only",
		`/srv/bmcs.txt:3: unknown setting "colour"`, "/srv/bmcs.txt:4: field 1 after the URL: want key=value"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("want %q in\n%v", w, err)
		}
	}
	if err != nil && strings.Contains(err.Error(), "hunter2") {
		t.Error("a stray field echoed")
	}
}

func TestConfigAliasesAndMerges(t *testing.T) {
	// x- keys at the top level hold anchors; << merges them.
	c, err := cfgParse(`
x-common: &common
  username: ops
  password_file: ops.pass
x-unused: [1, 2]
targets:
  - url: https://bmc1.example.com
    <<: *common
  - url: https://bmc2.example.com
    <<: [*common, {username: other, basic_auth: true}]
    username: admin
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	t0, t1 := c.Targets[0], c.Targets[1]
	if t0.Username != "ops" || t0.PasswordFile != "/etc/prefail/ops.pass" || t1.Username != "admin" || t1.PasswordFile != "/etc/prefail/ops.pass" ||
		t1.BasicAuth == nil || !*t1.BasicAuth {
		t.Errorf("merged targets: %+v", c.Targets)
	}
	// A merged key that does not apply is named at the anchor's line.
	_, err = cfgParse("x-ipmi: &ipmi {cipher_suite: 17}\ntargets:\n  - url: https://bmc1\n    <<: *ipmi\n", nil)
	if err == nil || !strings.Contains(err.Error(), "prefail.yaml:1:16: targets[0].cipher_suite: applies to ipmi:// targets only") {
		t.Errorf("merged key: %v", err)
	}
	// An alias as a value.
	c, err = cfgParse("interval: &i 2m\ntimeout: *i\ntargets: [https://bmc1]\n", nil)
	if err != nil || c.Timeout != 2*time.Minute {
		t.Errorf("alias value: %v %v", c, err)
	}
}

func TestConfigResolveCredentials(t *testing.T) {
	dir := t.TempDir()
	pass := filepath.Join(dir, "bmc.pass")
	if err := os.WriteFile(pass, []byte("s3cret\r\nsecond line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"U": "admin", "P": "envpass"}
	getenv := func(k string) string { return env[k] }
	ctx := context.Background()
	cases := []struct {
		cr         CredentialsConfig
		user, pass string
		err        string
	}{
		{CredentialsConfig{UsernameEnv: "U", PasswordEnv: "P"}, "admin", "envpass", ""},
		{CredentialsConfig{Username: "ops", PasswordFile: pass}, "ops", "s3cret", ""},
		{CredentialsConfig{UsernameEnv: "NONE", PasswordEnv: "NONE2"}, "", "", ""},
		{CredentialsConfig{UsernameEnv: "NONE", PasswordEnv: "P"}, "", "", "a password (from $P) but no username: $NONE is not set"},
		{CredentialsConfig{Username: "ops", PasswordEnv: "NONE"}, "", "", `username "ops" (from username) but no password: $NONE is not set`},
		{CredentialsConfig{Username: "ops", PasswordFile: filepath.Join(dir, "missing")}, "", "", "password file: stat"},
	}
	for i, tc := range cases {
		u, p, err := tc.cr.Resolve(ctx, getenv)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%d: error %v, want %q", i, err, tc.err)
			}
			if err != nil && (strings.Contains(err.Error(), "envpass") || strings.Contains(err.Error(), "s3cret")) {
				t.Errorf("%d: the error shows the password: %v", i, err)
			}
			continue
		}
		if err != nil || u != tc.user || p.Reveal() != tc.pass {
			t.Errorf("%d: got %q %q %v, want %q %q", i, u, p.Reveal(), err, tc.user, tc.pass)
		}
	}
}

func TestConfigCheckFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := "tls: {ca_file: ca.pem}\ntargets:\n  - url: https://bmc1\n    password_file: hunter2\n    username: a\n  - url: https://bmc2\n    ca_file: .\n"
	if err := os.WriteFile(filepath.Join(dir, "prefail.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(filepath.Join(dir, "prefail.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	err = c.CheckFiles()
	if err == nil {
		t.Fatal("missing files not found")
	}
	for _, w := range []string{"prefail.yaml:4:20: targets[0].password_file: the file does not exist", "prefail.yaml:7:14: targets[1].ca_file: not a regular file"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("want %q in\n%v", w, err)
		}
	}
	if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "tls.ca_file") {
		t.Errorf("CheckFiles: %v", err)
	}
}

// TestConfigValidateGo checks a Config built in Go: errors name the key
// without a file position.
func TestConfigValidateGo(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err == nil || err.Error() != "config: targets: no targets: list them under targets: (url:, smart:, smartctl:) or in targets_file" {
		t.Errorf("no targets: %v", err)
	}
	yes := true
	c.Targets = []TargetConfig{
		{URL: "https://bmc1.example.com", CAFile: "/ca.pem", Insecure: &yes},
		{URL: "ipmi://h", CipherSuite: 4},
		{Local: true, Smartctl: "/dev/sda"},
		{URL: "https://bmc1.example.com:443"},
		{Smartctl: "-d sat /dev/sdb", Username: "x"},
	}
	c.Concurrency = 0
	err := c.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{"config: concurrency: must be at least 1",
		"config: targets[0].insecure: insecure: true and ca_file contradict each other",
		"config: targets[1].cipher_suite: want 3, 8, 12 or 17, got 4",
		"config: targets[2]: give exactly one of url, smart and smartctl",
		"config: targets[3]: https://bmc1.example.com:443 named twice (also at targets[0])",
		"config: targets[4].username: applies to BMC targets (url:) only"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("want %q in\n%v", w, err)
		}
	}
}

// TestConfigDocumented checks that every key is in the sample and in
// docs/agent.md.
func TestConfigDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/agent.md")
	if err != nil {
		t.Fatal(err)
	}
	var sampleKeys []string
	var root yaml.Node
	if err := yaml.Unmarshal(SampleConfig(), &root); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.pos = map[string]configPos{}
	d := &configDecoder{c: &c}
	sections := map[string][]configField{
		"":                d.topFields(),
		"intervals":       d.intervalFields(),
		"credentials":     append(d.credentialFields(&CredentialsConfig{}), configField{name: "basic_auth"}),
		"tls":             d.tlsFields(&TLSConfig{}),
		"ipmi":            d.ipmiFields(),
		"disks":           d.diskFields(),
		"targets[]":       d.targetFields(&TargetConfig{}),
		"store":           d.storeFields(),
		"store.retention": d.retentionFields(&RetentionConfig{}),
		"outputs":         d.outputFields(),
		"outputs.file":    d.fileFields(&FileOutputConfig{}),
		"outputs.webhook": d.webhookFields(&WebhookOutputConfig{}),
		"outputs.nats":    d.natsFields(&NATSOutputConfig{}),
	}
	sample := string(SampleConfig())
	for _, sec := range slices.Sorted(func(yield func(string) bool) {
		for k := range sections {
			if !yield(k) {
				return
			}
		}
	}) {
		for _, f := range sections[sec] {
			key := f.name
			sampleKeys = append(sampleKeys, key)
			if !strings.Contains(sample, key+":") {
				t.Errorf("key %q (%s) is not in sample-config.yaml", key, sec)
			}
			if !strings.Contains(string(doc), "`"+key+"`") {
				t.Errorf("key %q (%s) is not in docs/agent.md", key, sec)
			}
		}
	}
	if len(sampleKeys) < 50 {
		t.Errorf("only %d keys found", len(sampleKeys))
	}
	for _, k := range strings.Split(targetsFileKeys, ", ") {
		if !strings.Contains(string(doc), k+"=") {
			t.Errorf("targets file key %s= is not in docs/agent.md", k)
		}
	}
}

// TestConfigFull reads a configuration that sets every section.
func TestConfigFull(t *testing.T) {
	c, err := cfgParse(`
# prefail agent configuration
interval: 60s
intervals: {redfish: 60s, ipmi: 60s, smart: 1h}
timeout: 60s
concurrency: 16
jitter: 10%
credentials:
  username_env: PREFAIL_USERNAME
  password_env: PREFAIL_PASSWORD
tls:
  ca_file: /etc/prefail/bmc-ca.pem
  insecure: false
targets:
  - url: https://bmc1.example.com
    username_env: BMC1_USER
    password_file: /etc/prefail/bmc1.pass
    insecure: true
    basic_auth: true
    interval: 30s
  - url: ipmi://10.0.0.7
    ipmi_interface: lanplus
    cipher_suite: 17
  - smart: local
  - smartctl: "-d megaraid,0 /dev/sda"
targets_file: /etc/prefail/bmcs.txt
max_log_entries: 100
memory_limit: 256MiB
sdr_cache: /var/cache/prefail/sdr
detector: /etc/prefail/detector.json
store:
  path: /var/lib/prefail
  retention: {raw: 48h, minute5: 14d, hourly: 400d}
outputs:
  stdout: false
  file: {path: /var/log/prefail/events.jsonl, max_size: 100MiB, max_files: 5}
  webhook: {url: https://hooks.example.com/prefail, headers_env: {authorization: PREFAIL_WEBHOOK_AUTH}, headers: {X-Source: prefail}, timeout: 10s, ca_file: /etc/prefail/hooks.pem, insecure: false}
  nats: {url: "nats://127.0.0.1:4222,tls://nats2:4222", subject: prefail.events, stream: PREFAIL, creds_file: /etc/prefail/nats.creds, create_stream: true}
listen: 127.0.0.1:9464
log_level: info
`, map[string]string{
		"/etc/prefail/bmcs.txt":      "https://bmc7.example.com\n",
		"/etc/prefail/detector.json": `{"failing": 0.85}`,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Targets) != 5 || c.Targets[4].URL != "https://bmc7.example.com" {
		t.Errorf("targets: %+v", c.Targets)
	}
	if c.Detector.Failing != 0.85 || c.DetectorFile != "/etc/prefail/detector.json" {
		t.Errorf("detector: %g %q", c.Detector.Failing, c.DetectorFile)
	}
	if tls := c.TLSOf(&c.Targets[0]); tls != (TLSConfig{Insecure: true}) {
		t.Errorf("a target's insecure over a default ca_file: %+v", tls)
	}
	if tls := c.TLSOf(&c.Targets[4]); tls != (TLSConfig{CAFile: "/etc/prefail/bmc-ca.pem"}) {
		t.Errorf("default TLS: %+v", tls)
	}
	w := c.Outputs.Webhook
	if w == nil || w.HeadersEnv["Authorization"] != "PREFAIL_WEBHOOK_AUTH" || w.Headers["X-Source"] != "prefail" || w.Timeout != 10*time.Second {
		t.Errorf("webhook: %+v", w)
	}
	n := c.Outputs.NATS
	if n == nil || !n.CreateStream || n.Stream != "PREFAIL" || n.CredsFile != "/etc/prefail/nats.creds" {
		t.Errorf("nats: %+v", n)
	}
	if c.Outputs.Stdout || c.Outputs.File == nil {
		t.Errorf("outputs: %+v", c.Outputs)
	}
}
