package redfish

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestResolveStaysOnOrigin(t *testing.T) {
	o, err := parseOrigin("https://BMC.example:8443/")
	if err != nil {
		t.Fatal(err)
	}
	ok := map[string]string{
		"/redfish/v1/Chassis/1":                      "https://BMC.example:8443/redfish/v1/Chassis/1",
		"/redfish/v1/Systems?$top=5":                 "https://BMC.example:8443/redfish/v1/Systems?$top=5",
		"/redfish/v1/Chassis/1/Thermal#/Fans/0":      "https://BMC.example:8443/redfish/v1/Chassis/1/Thermal",
		"https://bmc.example:8443/redfish/v1/":       "https://BMC.example:8443/redfish/v1/",
		"//bmc.EXAMPLE:8443/redfish/v1/Managers":     "https://BMC.example:8443/redfish/v1/Managers",
		"/redfish/v1/Chassis/a%2Fb":                  "https://BMC.example:8443/redfish/v1/Chassis/a%2Fb",
		"/redfish/v1/Chassis/@127.0.0.2:28199/x":     "https://BMC.example:8443/redfish/v1/Chassis/@127.0.0.2:28199/x",
		"/redfish/v1/Chassis/..%2F..%2Fetc%2Fpasswd": "https://BMC.example:8443/redfish/v1/Chassis/..%2F..%2Fetc%2Fpasswd",
	}
	for ref, want := range ok {
		u, err := o.resolve(ref)
		if err != nil {
			t.Errorf("resolve(%q): %v", ref, err)
			continue
		}
		if u.String() != want {
			t.Errorf("resolve(%q) = %s, want %s", ref, u, want)
		}
	}
	refused := map[string]string{
		"@127.0.0.2:28199/x":                       "refused",
		"@evil/x":                                  "not an absolute path",
		"redfish/v1/Chassis":                       "not an absolute path",
		"https://127.0.0.2:8443/redfish/v1/":       "another origin",
		"http://bmc.example:8443/redfish/v1/":      "another origin", // https -> http
		"https://bmc.example/redfish/v1/":          "another origin", // port 443, not 8443
		"//evil.example/redfish/v1/":               "another origin",
		"https://u:p@bmc.example:8443/redfish/v1/": "user info",
		"//u@bmc.example:8443/x":                   "user info",
		"mailto:admin@bmc.example":                 "not a URL of this service",
		"javascript:alert(1)":                      "not a URL of this service",
		"https://bmc.example:8443\x00@evil/":       "not a valid URL",
		"ftp://bmc.example:8443/x":                 "another origin",
	}
	for ref, why := range refused {
		u, err := o.resolve(ref)
		if err == nil {
			t.Errorf("resolve(%q) = %s, want refused", ref, u)
			continue
		}
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), why) {
			t.Errorf("resolve(%q): %v, want ErrRefused saying %q", ref, err, why)
		}
	}
}

func TestParseOriginRefusesPathsAndUserinfo(t *testing.T) {
	for _, ep := range []string{"ftp://bmc", "https://", "https://u:p@bmc", "https://bmc/redfish/v1", "https://bmc/?x=1", "bmc:443"} {
		if _, err := parseOrigin(ep); err == nil {
			t.Errorf("parseOrigin(%q): want an error", ep)
		}
	}
	for ep, key := range map[string]string{"https://bmc": "https://bmc:443", "http://BMC:80/": "http://bmc:80", "https://[::1]:8000": "https://[::1]:8000"} {
		o, err := parseOrigin(ep)
		if err != nil || o.key != key {
			t.Errorf("parseOrigin(%q) = %+v, %v; want key %s", ep, o, err, key)
		}
	}
}

func TestCheckRedirect(t *testing.T) {
	o, _ := parseOrigin("https://127.0.0.1:8000")
	req := func(method, u string) *http.Request {
		r, _ := http.NewRequest(method, u, nil)
		return r
	}
	get := req("GET", "https://127.0.0.1:8000/redfish/v1/Chassis")
	if err := o.checkRedirect(req("GET", "https://127.0.0.1:8000/redfish/v1/Chassis/"), []*http.Request{get}); err != nil {
		t.Errorf("same-origin redirect of a GET refused: %v", err)
	}
	for name, c := range map[string]struct {
		next string
		via  []*http.Request
	}{
		"other host":    {"https://127.0.0.2:8000/x", []*http.Request{get}},
		"downgrade":     {"http://127.0.0.1:8000/x", []*http.Request{get}},
		"other port":    {"https://127.0.0.1:8001/x", []*http.Request{get}},
		"POST (307)":    {"https://127.0.0.1:8000/x", []*http.Request{req("POST", "https://127.0.0.1:8000/redfish/v1/SessionService/Sessions")}},
		"too many hops": {"https://127.0.0.1:8000/x", []*http.Request{get, get, get, get}},
	} {
		if err := o.checkRedirect(req("GET", c.next), c.via); !errors.Is(err, ErrRefused) {
			t.Errorf("%s: %v, want ErrRefused", name, err)
		}
	}
}

// FuzzResolve: whatever a BMC puts in a link, the URL requested is on the
// target's origin, without user info.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{
		"/redfish/v1/Chassis/1", "@127.0.0.2:28199/x", "https://127.0.0.2/x", "//127.0.0.2/x",
		"https://u:p@127.0.0.1:8000/x", "http://127.0.0.1:8000/x", "/redfish/v1/x?$expand=*", "\\\\evil/x",
		"/%2e%2e/%2e%2e/x", "https://127.0.0.1:8000@127.0.0.2/x", "HTTPS://127.0.0.1:8000/x", "/x#@evil",
	} {
		f.Add(s)
	}
	o, err := parseOrigin("https://127.0.0.1:8000")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		u, err := o.resolve(ref)
		if err != nil {
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("resolve(%q): %v is not ErrRefused", ref, err)
			}
			return
		}
		// What goes on the wire: the string form, parsed again as net/http does.
		back, err := url.Parse(u.String())
		if err != nil {
			t.Fatalf("resolve(%q) = %q, which does not parse: %v", ref, u, err)
		}
		if back.User != nil || back.Scheme != "https" || back.Host != "127.0.0.1:8000" || !o.allows(back) {
			t.Fatalf("resolve(%q) = %q: leaves the origin (scheme %q host %q user %v)", ref, u, back.Scheme, back.Host, back.User)
		}
	})
}
