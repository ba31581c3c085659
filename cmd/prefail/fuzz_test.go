package main

import (
	"context"
	"strings"
	"testing"
	"unicode"
)

// FuzzParseTargets: any input parses or fails cleanly, and every endpoint
// it yields is already normalized.
func FuzzParseTargets(f *testing.F) {
	f.Add("https://bmc1\n# c\nhttp://127.0.0.1:8000 insecure=true basic-auth=false\n")
	f.Add("https://bmc2:8443 username=ops password-file=p ca-file=/x.pem # t\n")
	f.Add("ipmi://x\n")
	f.Add("https://u:p@h\n")
	f.Add("https://[::1]:443 password=x\n")
	f.Fuzz(func(t *testing.T, in string) {
		ts, err := parseTargets(context.Background(), strings.NewReader(in), "f", "/d")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f:") {
				t.Errorf("error does not name file:line: %v", err)
			}
			return
		}
		for _, tg := range ts {
			again, err := parseTarget(tg.Endpoint)
			if err != nil || again != tg.Endpoint {
				t.Errorf("endpoint %q re-parses as %q, %v", tg.Endpoint, again, err)
			}
		}
	})
}

// FuzzClean: nothing from a BMC reaches the terminal as a control
// character or a tab (which would break the table).
func FuzzClean(f *testing.F) {
	f.Add("Fan\x1b[31m 1\tbay\n")
	f.Add("\u202eevil")
	f.Fuzz(func(t *testing.T, in string) {
		out := clean(in)
		for _, r := range out {
			if unicode.IsControl(r) || r == '\t' || r == '\n' {
				t.Fatalf("clean(%q) = %q keeps %U", in, out, r)
			}
		}
	})
}
