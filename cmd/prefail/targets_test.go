package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func ptr[T any](v T) *T { return &v }

func TestParseTarget(t *testing.T) {
	good := map[string]string{
		"https://bmc1.example.com":       "https://bmc1.example.com",
		"https://bmc1.example.com/":      "https://bmc1.example.com",
		"HTTPS://bmc1.example.com:8443":  "https://bmc1.example.com:8443",
		"http://127.0.0.1:8000":          "http://127.0.0.1:8000",
		"https://[fe80::1]:443":          "https://[fe80::1]:443",
		"https://10.0.0.5":               "https://10.0.0.5",
		"http://localhost:8000/":         "http://localhost:8000",
		"https://bmc-rack3-u12.dc1.corp": "https://bmc-rack3-u12.dc1.corp",
	}
	for in, want := range good {
		got, err := parseTarget(in)
		if err != nil || got != want {
			t.Errorf("parseTarget(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := map[string]string{
		"smart://x":                       "smart://x: scheme not supported yet; supported: https, http, ipmi",
		"file:///dev/sda":                 "file:///dev/sda: scheme not supported yet; supported: https, http",
		"bmc1.example.com":                "missing scheme: use https://bmc1.example.com",
		"https://":                        "no host",
		"https://bmc:99999":               `bad port "99999"`,
		"https://bmc/redfish/v1":          "give only scheme://host[:port]",
		"https://admin:s3cr3t@bmc1":       "credentials in the URL are not accepted",
		"":                                "empty target",
		"https://admin:s3cr3t@bmc1:x:y:z": "REDACTED",
	}
	for in, want := range bad {
		_, err := parseTarget(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseTarget(%q) error = %v; want it to contain %q", in, err, want)
			continue
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("parseTarget(%q) error echoes the password: %v", in, err)
		}
	}
}

func TestParseTargetsFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bmcs.txt")
	content := "\ufeff# rack 3\n" +
		"\n" +
		"https://bmc1.example.com\n" +
		"   https://bmc2.example.com:8443   username=ops password-file=pass/bmc2 # trailing comment\n" +
		"https://bmc3.example.com ca-file=/etc/prefail/ca.pem basic-auth=true insecure=false\n" +
		"http://127.0.0.1:8000 basic-auth=true\t# a mock\n" +
		"#https://commented.out\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := parseTargetsFile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	want := []*target{
		{Endpoint: "https://bmc1.example.com", Where: path + ":3"},
		{Endpoint: "https://bmc2.example.com:8443", Where: path + ":4", Username: "ops", PasswordFile: filepath.Join(dir, "pass/bmc2")},
		{Endpoint: "https://bmc3.example.com", Where: path + ":5", CAFile: "/etc/prefail/ca.pem", BasicAuth: ptr(true), Insecure: ptr(false)},
		{Endpoint: "http://127.0.0.1:8000", Where: path + ":6", BasicAuth: ptr(true)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
}

func TestParseTargetsFileErrors(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"bad scheme", "https://ok\n\nsmart://bmc2\n", `t.txt:3: scheme "smart" not supported: use https, http or ipmi`},
		{"inline password", "# x\nhttps://bmc1 username=a password=hunter2\n", "t.txt:2: passwords are never given inline; use password-file=PATH or PREFAIL_PASSWORD"},
		{"empty inline password", "https://bmc1 password=\n", "t.txt:1: passwords are never given inline"},
		{"unknown key", "https://bmc1 user=a\n", `t.txt:1: unknown setting "user" (keys: username, password-file, ca-file, insecure, basic-auth, interface, cipher-suite)`},
		{"not key=value", "https://bmc1 hunter2\n", "t.txt:1: field 1 after the URL: want key=value"},
		{"bad bool", "https://bmc1 insecure=yes-please\n", "t.txt:1: insecure=yes-please: want true or false"},
		{"empty value", "https://bmc1 ca-file=\n", "t.txt:1: ca-file= has no value"},
		{"twice", "https://bmc1 username=a username=b\n", "t.txt:1: username given twice"},
		{"missing scheme", "\n\n\nbmc4.example.com\n", "t.txt:4: missing scheme: use https://HOST"},
		{"insecure on plain http", "http://127.0.0.1:8000 insecure=true\n", "t.txt:1: insecure= applies to https:// targets only"},
		{"insecure and a CA", "https://bmc1 insecure=true ca-file=ca.pem\n", "t.txt:1: insecure=true and ca-file= contradict each other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseTargets(context.Background(), strings.NewReader(tt.content), "t.txt", "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v; want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error echoes the password: %v", err)
			}
		})
	}
}

func TestCollectTargets(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.txt")
	if err := os.WriteFile(path, []byte("https://bmc2\nhttps://bmc1:443\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ts, err := collectTargets(context.Background(), []string{"https://bmc0"}, path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range ts {
		got = append(got, x.Endpoint)
	}
	if diff := cmp.Diff([]string{"https://bmc0", "https://bmc2", "https://bmc1:443"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	_, err = collectTargets(context.Background(), []string{"https://bmc2"}, path)
	if err == nil || !strings.Contains(err.Error(), path+":1: https://bmc2 named twice (also at command line)") {
		t.Errorf("duplicate: error = %v", err)
	}
	_, err = collectTargets(context.Background(), nil, filepath.Join(dir, "missing.txt"))
	if err == nil || !strings.Contains(err.Error(), "missing.txt") {
		t.Errorf("missing file: error = %v", err)
	}
}

func TestParseSimDuration(t *testing.T) {
	good := map[string]string{"": "0s", "13d": "312h0m0s", "1d12h": "36h0m0s", "36h": "36h0m0s", "90m": "1h30m0s", "0.5d": "12h0m0s"}
	for in, want := range good {
		d, err := parseSimDuration(in)
		if err != nil || d.String() != want {
			t.Errorf("parseSimDuration(%q) = %v, %v; want %s", in, d, err, want)
		}
	}
	for _, in := range []string{"13", "d", "-1h", "1dx", "soon"} {
		if _, err := parseSimDuration(in); err == nil {
			t.Errorf("parseSimDuration(%q): no error", in)
		}
	}
}

func TestIsLoopbackEndpoint(t *testing.T) {
	for ep, want := range map[string]bool{
		"http://127.0.0.1:8000": true, "http://localhost:8000": true, "http://[::1]:80": true,
		"http://10.0.0.1:8000": false, "http://bmc1:80": false,
	} {
		if got := isLoopbackEndpoint(ep); got != want {
			t.Errorf("isLoopbackEndpoint(%q) = %v", ep, got)
		}
	}
}
