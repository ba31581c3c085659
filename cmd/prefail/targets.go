package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/prefail/prefail/agent"
)

// target is one thing to scan, as named on the command line or in a
// targets file, with the per-target settings the file gave.
type target struct {
	// Endpoint is the normalized URL the reader is given ("https://bmc1:443"
	// keeps the port it was given; no path, no user info).
	Endpoint string
	// Where says where the target was named ("argv", "bmcs.txt:3").
	Where string

	// Per-target settings from the targets file. A nil pointer / empty
	// string means "not set here: use the command-line default".
	Username     string
	PasswordFile string
	CAFile       string
	Insecure     *bool
	BasicAuth    *bool
	// IPMI settings (ipmi:// targets only).
	Interface   string
	CipherSuite *int
}

// supportedSchemes are the target URL schemes the scan command reads today.
const supportedSchemes = "https, http, ipmi"

// redactUserinfo hides anything between "://" and "@" in the authority of
// s, so that an error about a malformed URL never echoes a password.
func redactUserinfo(s string) string {
	_, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	auth := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		auth = rest[:i]
	}
	at := strings.LastIndex(auth, "@")
	if at < 0 {
		return s
	}
	scheme := s[:len(s)-len(rest)]
	return scheme + "REDACTED@" + rest[at+1:]
}

// parseTarget checks a target URL and returns its normalized endpoint.
func parseTarget(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty target")
	}
	orig := s
	s = redactUserinfo(s)
	if !strings.Contains(s, "://") {
		return "", fmt.Errorf("%s: missing scheme: use https://%s (or http://HOST:PORT for a plain-HTTP mock)", s, s)
	}
	u, err := url.Parse(orig)
	if err != nil {
		return "", fmt.Errorf("%s: not a URL: %v", s, unwrapURLError(err))
	}
	scheme := strings.ToLower(u.Scheme)
	switch scheme {
	case "https", "http", "ipmi":
	default:
		return "", fmt.Errorf("%s: scheme not supported yet; supported: %s", s, supportedSchemes)
	}
	if u.User != nil {
		// Never let a password travel on argv or in a file's URL.
		return "", fmt.Errorf("%s://%s: credentials in the URL are not accepted; use PREFAIL_USERNAME/PREFAIL_PASSWORD, --password-file, or username=/password-file= in a targets file", scheme, u.Host)
	}
	if u.Hostname() == "" {
		return "", fmt.Errorf("%s: no host", s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%s: bad port %q", s, p)
		}
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		if scheme == "ipmi" {
			return "", fmt.Errorf("%s: give only ipmi://host[:port]", s)
		}
		return "", fmt.Errorf("%s: give only scheme://host[:port]; the Redfish service is found at /redfish/v1", s)
	}
	return scheme + "://" + u.Host, nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// parseTargetsFile reads a targets file. Format, one target per line:
//
//	# comment; blank lines are ignored
//	https://bmc1.example.com
//	https://bmc2.example.com:8443 username=ops password-file=/etc/prefail/bmc2.pass
//	https://bmc3.example.com ca-file=bmc-ca.pem basic-auth=true   # trailing comment
//	http://127.0.0.1:8000 insecure=true
//	ipmi://10.0.0.7 username=admin password-file=ipmi.pass cipher-suite=17
//	ipmi://10.0.0.8:623 interface=lan
//
// Relative password-file and ca-file paths are relative to the targets
// file's directory. Passwords are never inline: password= is an error.
// Errors name file:line.
func parseTargetsFile(ctx context.Context, path string) ([]*target, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("targets file: %w", err)
	}
	defer f.Close()
	return parseTargets(ctx, f, path, filepath.Dir(path))
}

// maxTargetsFile bounds a targets file (a hundred thousand BMCs fit).
const maxTargetsFile = 16 << 20

// parseTargets parses targets file content read from r (agent's parser:
// the same format as the agent's targets_file); name is used in errors,
// dir resolves relative paths.
func parseTargets(ctx context.Context, r io.Reader, name, dir string) ([]*target, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, maxTargetsFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(data) > maxTargetsFile {
		return nil, fmt.Errorf("%s: larger than %d MiB", name, maxTargetsFile>>20)
	}
	tcs, err := agent.ParseTargetsFile(data, name, dir)
	if err != nil {
		return nil, err
	}
	out := make([]*target, 0, len(tcs))
	for _, tc := range tcs {
		t := &target{Endpoint: tc.URL, Where: tc.Where, Username: tc.Username, PasswordFile: tc.PasswordFile,
			CAFile: tc.CAFile, Insecure: tc.Insecure, BasicAuth: tc.BasicAuth, Interface: tc.IPMIInterface}
		if tc.CipherSuite != 0 {
			n := tc.CipherSuite
			t.CipherSuite = &n
		}
		out = append(out, t)
	}
	return out, nil
}

// collectTargets merges the command-line targets and the targets file,
// rejecting duplicates.
func collectTargets(ctx context.Context, args []string, file string) ([]*target, error) {
	var ts []*target
	for _, a := range args {
		ep, err := parseTarget(a)
		if err != nil {
			return nil, err
		}
		ts = append(ts, &target{Endpoint: ep, Where: "command line"})
	}
	if file != "" {
		ft, err := parseTargetsFile(ctx, file)
		if err != nil {
			return nil, err
		}
		ts = append(ts, ft...)
	}
	seen := map[string]*target{}
	for _, t := range ts {
		if prev, ok := seen[t.Endpoint]; ok {
			return nil, fmt.Errorf("%s: %s named twice (also at %s)", t.Where, t.Endpoint, prev.Where)
		}
		seen[t.Endpoint] = t
	}
	return ts, nil
}

// checkIPMIInterface accepts ipmitool's -I names the reader supports.
func checkIPMIInterface(s string) error {
	switch s {
	case "lanplus", "lan", "open":
		return nil
	}
	return fmt.Errorf("interface=%s: want lanplus, lan or open", s)
}
