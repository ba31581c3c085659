package hostiletest

import (
	"net/http"
	"strings"
	"time"

	"github.com/prefail/prefail/redfish/redfishmock"
)

// Sentinel names the outcome a case expects of the scan's error. The
// reader's tests map each name to its error value (redfish.ErrRefused,
// ...) and check it with errors.Is.
type Sentinel string

// The outcomes.
const (
	// Either: the scan may fail or not (but returns a snapshot).
	Either Sentinel = ""
	// Success: the scan returns a nil error.
	Success Sentinel = "success"
	// The scan fails, and errors.Is(err, redfish.ErrXxx).
	Refused          Sentinel = "ErrRefused"
	TooLarge         Sentinel = "ErrTooLarge"
	Malformed        Sentinel = "ErrMalformed"
	Unauthorized     Sentinel = "ErrUnauthorized"
	NoSessionService Sentinel = "ErrNoSessionService"
	NoComponents     Sentinel = "ErrNoComponents"
	Unavailable      Sentinel = "ErrUnavailable"
	// TLSVerify: the scan fails with a certificate verification error
	// (x509 / tls.CertificateVerificationError).
	TLSVerify Sentinel = "tls-verify"
)

// TLSMode is how the hostile server speaks TLS.
type TLSMode int

// The TLS modes.
const (
	// PlainHTTP: http://127.0.0.1:PORT.
	PlainHTTP TLSMode = iota
	// TLSTrusted: a certificate for 127.0.0.1 whose CA the client trusts
	// (Target.CAFile, given with WithCAFile).
	TLSTrusted
	// TLSUnknownCA: a certificate for 127.0.0.1 from a CA the client does
	// not know (the system roots).
	TLSUnknownCA
	// TLSWrongName: a certificate for bmc.invalid from a CA the client
	// does not know.
	TLSWrongName
	// TLSWrongNameTrusted: a certificate for bmc.invalid whose CA the
	// client trusts (WithCAFile): only the name is wrong.
	TLSWrongNameTrusted
)

// Trusted reports whether the client is to be given Target.CAFile.
func (m TLSMode) Trusted() bool { return m == TLSTrusted || m == TLSWrongNameTrusted }

// Expect is what a correct reader does with a case, beyond what every case
// checks (the sinks are untouched; no secret in the snapshot, error or
// log; the call returns within its deadline plus 4 s; every session it
// opened is deleted; no Authorization header unless BasicAuth; no
// component twice; at most 2 logins).
type Expect struct {
	// Err is the outcome of the scan's error.
	Err Sentinel
	// ErrText must appear in the error's text.
	ErrText string
	// WarningText must appear in one of the snapshot's warnings (see
	// WarningMatches).
	WarningText string
	// Partial: every fan and PSU of public-rackmount1 is still reported.
	Partial bool
	// Complete: every component of a clean scan of public-rackmount1 is
	// reported.
	Complete bool
	// OpenSessions is how many sessions are left open (0 unless the
	// reader cannot know where to delete the session).
	OpenSessions int
	// MaxLogins bounds the login POSTs (0: the default bound, 2);
	// NoLogin: none at all.
	MaxLogins int
	NoLogin   bool
	// NoRequest: the hostile server gets no request at all.
	NoRequest bool
	// MinDuration and MaxDuration bound how long the scan takes (0: no
	// bound beyond the deadline).
	MinDuration, MaxDuration time.Duration
	// MustRequest are path patterns (path.Match, query ignored) the reader
	// must have asked for with GET: else the case tested nothing.
	MustRequest []string
	// NeverRequest are strings no request line ("METHOD /path?query") to
	// the hostile server may contain.
	NeverRequest []string
	// MaxGETs bounds the GETs of the paths matching each pattern.
	MaxGETs map[string]int
}

// Case is one hostile or broken BMC.
type Case struct {
	// Name is the case's stable name (a subtest name).
	Name string
	// Doc says what the BMC does and what the reader must do.
	Doc string
	// TLS is how the server speaks TLS.
	TLS TLSMode
	// BasicAuth: the client is configured for Basic auth
	// (redfish.WithBasicAuth) and the server accepts it.
	BasicAuth bool
	// Deadline is the scan's context deadline (default 3 s);
	// RaceDeadline replaces it under the race detector (for the cases
	// that make the reader decode megabytes, which -race slows several
	// times over).
	Deadline, RaceDeadline time.Duration
	// Heavy marks the cases that stress memory (the RSS benchmark's mix).
	Heavy bool
	// Handle answers the requests the case overrides and returns true;
	// false lets the well-behaved server answer.
	Handle func(t *Target, w http.ResponseWriter, r *http.Request) bool
	// Want is what a correct reader does.
	Want Expect
}

// DefaultDeadline is a case's deadline when it sets none.
const DefaultDeadline = 3 * time.Second

// Timeout returns the case's deadline.
func (c Case) Timeout() time.Duration {
	if RaceEnabled && c.RaceDeadline > 0 {
		return c.RaceDeadline
	}
	if c.Deadline > 0 {
		return c.Deadline
	}
	return DefaultDeadline
}

// LoginBound is the most logins a case allows.
func (c Case) LoginBound() int {
	switch {
	case c.Want.NoLogin:
		return 0
	case c.Want.MaxLogins > 0:
		return c.Want.MaxLogins
	}
	return 2
}

// WarningMatches reports whether a warning message carries text. For
// "refused", a "connection refused" does not count: the reader's own
// refusal must be named.
func WarningMatches(msg, text string) bool {
	if text == "refused" {
		msg = strings.ReplaceAll(msg, "connection refused", "")
	}
	return strings.Contains(msg, text)
}

// Paths the cases attack. Each is one the reader asks for while scanning
// public-rackmount1 (the three top collections with $expand, then the
// system log's entries, the PSU metrics and the BMC log's entries).
const (
	Chassis       = "/redfish/v1/Chassis"
	Systems       = "/redfish/v1/Systems"
	Managers      = "/redfish/v1/Managers"
	PSUMetrics    = "/redfish/v1/Chassis/1U/PowerSubsystem/PowerSupplies/Bay1/Metrics"
	SystemLog     = "/redfish/v1/Systems/437XR1138R2/LogServices/Log1/Entries"
	BMCLog        = "/redfish/v1/Managers/BMC/LogServices/Log/Entries"
	LoopPage      = "/redfish/v1/Chassis/Page2"
	UserinfoPath  = "/redfish/v1/Chassis/Userinfo"
	canarySession = "/canary/sessions/"
)

// Cases returns every hostile case, in a stable order.
func Cases() []Case {
	return []Case{
		{
			Name: "redirect-302-to-canary",
			Doc:  "GET of the Managers collection answers 302 to the same path on the canary: the redirect is refused (a warning), the rest is read.",
			Handle: func(t *Target, w http.ResponseWriter, r *http.Request) bool {
				if !isGet(r, Managers) {
					return false
				}
				redirect(w, t.Canary.URL+r.URL.RequestURI(), http.StatusFound)
				return true
			},
			Want: Expect{Err: Success, WarningText: "refused", Partial: true, MustRequest: []string{Managers}},
		},
		{
			Name: "redirect-https-to-http",
			Doc:  "Over HTTPS, GET of the Managers collection answers 302 to plain http:// (the downgrade listener): refused.",
			TLS:  TLSTrusted,
			Handle: func(t *Target, w http.ResponseWriter, r *http.Request) bool {
				if !isGet(r, Managers) {
					return false
				}
				redirect(w, t.Downgrade.URL+r.URL.RequestURI(), http.StatusFound)
				return true
			},
			Want: Expect{Err: Success, WarningText: "refused", Partial: true, MustRequest: []string{Managers}},
		},
		{
			Name: "login-307-to-canary",
			Doc:  "The login POST answers 307 to the canary: a redirect of a POST is never followed; the login fails with ErrRefused.",
			Handle: func(t *Target, w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodPost || redfishmock.NormalizePath(r.URL.Path) != Sessions {
					return false
				}
				redirect(w, t.Canary.URL+Sessions, http.StatusTemporaryRedirect)
				return true
			},
			Want: Expect{Err: Refused, MaxLogins: 1},
		},
		{
			Name: "login-405",
			Doc:  "The Sessions collection answers 405 to the login POST: without WithBasicAuth the password is never sent as Basic; the scan fails with ErrNoSessionService.",
			Handle: func(t *Target, w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodPost || redfishmock.NormalizePath(r.URL.Path) != Sessions {
					return false
				}
				w.Header().Set("Allow", "GET, HEAD")
				writeJSON(w, http.StatusMethodNotAllowed, redfishError("Base.1.0.OperationNotAllowed", "The HTTP method is not allowed on this resource."))
				return true
			},
			Want: Expect{Err: NoSessionService, MaxLogins: 1},
		},
		{
			Name: "member-at-sign",
			Doc:  `A chassis member's @odata.id is "@127.0.0.2:PORT/..." (endpoint+id would make the BMC's address the userinfo of a URL to the canary): never sent to the canary; the member is a warning, the rest is read.`,
			Handle: func(t *Target, w http.ResponseWriter, r *http.Request) bool {
				return t.addMembers(w, r, Chassis, "@"+t.Canary.Host+"/redfish/v1/Chassis/Evil")
			},
			Want: Expect{Err: Success, WarningText: CanaryAddr, Partial: true},
		},
		{
			Name: "member-absolute-canary",
			Doc:  "Two chassis members are absolute links to the canary (http:// and https://): refused (warnings), the rest is read.",
			Handle: func(t *Target, w http.ResponseWriter, r *http.Request) bool {
				return t.addMembers(w, r, Chassis,
					"http://"+t.Canary.Host+"/redfish/v1/Chassis/EvilHTTP",
					"https://"+t.Canary.Host+"/redfish/v1/Chassis/EvilHTTPS")
			},
			Want: Expect{Err: Success, WarningText: "refused", Partial: true},
		},
		{
			Name: "member-scheme-relative",
			Doc:  `A chassis member is the scheme-relative link "//127.0.0.2:PORT/...", another host: refused.`,
			Handle: func(t *Target, w http.ResponseWriter, r *http.Request) bool {
				return t.addMembers(w, r, Chassis, "//"+t.Canary.Host+"/redfish/v1/Chassis/Evil")
			},
			Want: Expect{Err: Success, WarningText: "refused", Partial: true},
		},
		{
			Name: "member-userinfo",
			Doc:  `Over HTTPS, a chassis member is "https://u:p@127.0.0.1:PORT/..." (the target's own origin, plus userinfo): refused; no Authorization header is ever sent.`,
			TLS:  TLSTrusted,
			Handle: func(t *Target, w http.ResponseWriter, r *http.Request) bool {
				return t.addMembers(w, r, Chassis, "https://u:p@"+t.Host+UserinfoPath)
			},
			Want: Expect{Err: Success, WarningText: "refused", Partial: true, NeverRequest: []string{UserinfoPath}},
		},
		{
			Name: "nextlink-to-canary",
			Doc:  "The Chassis collection's Members@odata.nextLink points to the canary: refused, the first page is read.",
			Handle: func(t *Target, w http.ResponseWriter, r *http.Request) bool {
				return t.editDoc(w, r, Chassis, func(m map[string]any) {
					m["Members@odata.nextLink"] = t.Canary.URL + Chassis + "?$skiptoken=2"
				})
			},
			Want: Expect{Err: Success, WarningText: "refused", Partial: true},
		},
		{
			Name: "nextlink-loop",
			Doc:  "The Chassis collection's next page links to itself: the loop is detected (a page already read is not read again), the scan ends, no component twice.",
			Handle: func(t *Target, w http.ResponseWriter, r *http.Request) bool {
				if isGet(r, LoopPage) {
					if !t.gate(w, r) {
						return true
					}
					writeJSON(w, http.StatusOK, map[string]any{
						"@odata.id": Chassis, "@odata.type": "#ChassisCollection.ChassisCollection", "Name": "Chassis Collection",
						"Members":                []any{map[string]any{"@odata.id": Chassis + "/1U"}},
						"Members@odata.nextLink": LoopPage,
					})
					return true
				}
				return t.editDoc(w, r, Chassis, func(m map[string]any) {
					m["Members@odata.nextLink"] = LoopPage
				})
			},
			Want: Expect{Err: Success, Partial: true, MustRequest: []string{LoopPage}, MaxGETs: map[string]int{LoopPage: 1}},
		},
		{
			Name: "login-location-canary",
			Doc:  "The login answer's Location header points to the canary, the body's @odata.id is the real session: the session is deleted through the body's @odata.id, never through the canary's URL.",
			Handle: func(t *Target, w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodPost || redfishmock.NormalizePath(r.URL.Path) != Sessions {
					return false
				}
				if s, ok := t.newSession(w, r); ok {
					t.writeSession(w, s, t.Canary.URL+canarySession+s.id, s.uri())
				}
				return true
			},
			Want: Expect{Err: Success, Complete: true, NeverRequest: []string{canarySession}},
		},
		{
			Name: "login-location-and-body-canary",
			Doc:  "The login answer's Location header and body @odata.id both point to the canary: no DELETE at all (the session stays open on the BMC) and a warning.",
			Handle: func(t *Target, w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodPost || redfishmock.NormalizePath(r.URL.Path) != Sessions {
					return false
				}
				if s, ok := t.newSession(w, r); ok {
					t.writeSession(w, s, t.Canary.URL+canarySession+s.id, t.Canary.URL+canarySession+s.id)
				}
				return true
			},
			Want: Expect{Err: Success, Complete: true, OpenSessions: 1, WarningText: "refused", NeverRequest: []string{canarySession}},
		},
		{
			Name:         "body-200MB-subresource",
			Doc:          "A PSU's Metrics resource is a 200 MB JSON object sent chunked (no Content-Length): reading stops at the body cap (ErrTooLarge warning), the rest is read.",
			Heavy:        true,
			Deadline:     5 * time.Second,
			RaceDeadline: 12 * time.Second,
			Handle: func(t *Target, w http.ResponseWriter, r *http.Request) bool {
				if !isGet(r, PSUMetrics) {
					return false
				}
				if t.gate(w, r) {
					t.streamPadded(w, r, `{"@odata.id":"`+PSUMetrics+`","@odata.type":"#PowerSupplyMetrics.v1_1_0.PowerSupplyMetrics","Id":"Metrics","Name":"Metrics",`, HugeBody, false)
				}
				return true
			},
			Want: Expect{Err: Success, WarningText: "too large", Partial: true, MustRequest: []string{PSUMetrics}},
		},
		{
			Name:  "body-200MB-root",
			Doc:   "The service root is a 200 MB JSON object with its Content-Length: the scan fails with ErrTooLarge without reading it.",
			Heavy: true,
			Handle: func(t *Target, w http.ResponseWriter, r *http.Request) bool {
				if !isGet(r, ServiceRoot) {
					return false
				}
				t.streamPadded(w, r, `{"@odata.id":"/redfish/v1/","@odata.type":"#ServiceRoot.v1_20_0.ServiceRoot","Id":"RootService","Name":"Root Service","RedfishVersion":"1.15.0",`, HugeBody, true)
				return true
			},
			Want: Expect{Err: TooLarge, NoLogin: true},
		},
		{
			Name:         "three-60MB-collections",
			Doc:          "The Systems, Chassis and Managers collections (asked for at once) are 60 MB each, chunked: each is cut at the body cap; nothing could be read, the scan fails with ErrTooLarge.",
			Heavy:        true,
			Deadline:     5 * time.Second,
			RaceDeadline: 12 * time.Second,
			Handle: func(t *Target, w http.ResponseWriter, r *http.Request) bool {
				for _, top := range []string{Systems, Chassis, Managers} {
					if isGet(r, top) {
						if t.gate(w, r) {
							typ := collectionType(top)
							t.streamPadded(w, r, `{"@odata.id":"`+top+`","@odata.type":"#`+typ+`.`+typ+`","Name":"Collection","Members@odata.count":1,"Members":[{"@odata.id":"`+top+`/X"}],`, BigCollection, false)
						}
						return true
					}
				}
				return false
			},
			Want: Expect{Err: TooLarge, MustRequest: []string{Systems, Chassis, Managers}},
		},
		{
			Name:         "members-100k",
			Doc:          "The Chassis collection lists 100,000 members (the real 1U first, then small chassis generated on request): at most 2000 are read (an ErrTooLarge warning), the 1U's fans and PSUs are reported. Reading 2000 members may outlast the deadline on a slow machine (-race), so the scan may end with an error.",
			Heavy:        true,
			Deadline:     5 * time.Second,
			RaceDeadline: 12 * time.Second,
			Handle: func(t *Target, w http.ResponseWriter, r *http.Request) bool {
				p := redfishmock.NormalizePath(r.URL.Path)
				switch {
				case isGet(r, Chassis):
					if t.gate(w, r) {
						t.lazyCollection(w, r, Chassis, Chassis+"/1U")
					}
					return true
				case r.Method == http.MethodGet && matchPath(Chassis+"/Lazy*", p):
					if t.gate(w, r) {
						writeJSON(w, http.StatusOK, lazyChassis(p, strings.TrimPrefix(p, Chassis+"/")))
					}
					return true
				}
				return false
			},
			Want: Expect{Err: Either, WarningText: "too large", Partial: true, MaxGETs: map[string]int{Chassis + "/Lazy*": 2000}},
		},
		{
			Name:  "slow-loris",
			Doc:   "The BMC log's entries trickle one byte a second, forever: the scan returns at its deadline with what it had read (fans and PSUs) and deletes its session.",
			Heavy: true,
			Handle: func(t *Target, w http.ResponseWriter, r *http.Request) bool {
				if !isGet(r, BMCLog) {
					return false
				}
				if t.gate(w, r) {
					t.slowLoris(w, r, `{"@odata.id":"`+BMCLog+`","Members":[`)
				}
				return true
			},
			Want: Expect{Err: Either, Partial: true, MustRequest: []string{BMCLog}},
		},
		{
			Name: "truncated-body",
			Doc:  "The BMC log's entries announce their full Content-Length, send half and close: a warning that says truncated (ErrMalformed), the rest is read.",
			Handle: func(t *Target, w http.ResponseWriter, r *http.Request) bool {
				if !isGet(r, BMCLog) {
					return false
				}
				if t.gate(w, r) {
					doc := t.treeDoc(r)
					if doc == nil {
						doc = map[string]any{"@odata.id": BMCLog, "Members": []any{}}
					}
					truncated(w, mustJSON(doc))
				}
				return true
			},
			Want: Expect{Err: Success, WarningText: "truncated", Partial: true, MustRequest: []string{BMCLog}},
		},
		{
			Name: "invalid-json",
			Doc:  "The system log's entries are not JSON (cut off, then HTML): a warning that says invalid JSON (ErrMalformed), the rest is read.",
			Handle: func(t *Target, w http.ResponseWriter, r *http.Request) bool {
				if !isGet(r, SystemLog) {
					return false
				}
				if t.gate(w, r) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusOK)
					_, _ = w.Write([]byte(`{"@odata.id":"` + SystemLog + `","Members":[{"Id":"1",,]}<html><body>Internal error</body>`))
				}
				return true
			},
			Want: Expect{Err: Success, WarningText: "invalid JSON", Partial: true, MustRequest: []string{SystemLog}},
		},
		{
			Name:         "json-value-bomb",
			Doc:          "The system log's entries carry 15 MB of [0,0,0,...] (within the 16 MiB body cap, ~7.5 million values): the scan's memory budget stops it (an ErrTooLarge warning), the rest is read.",
			Heavy:        true,
			Deadline:     5 * time.Second,
			RaceDeadline: 12 * time.Second,
			Handle: func(t *Target, w http.ResponseWriter, r *http.Request) bool {
				if !isGet(r, SystemLog) {
					return false
				}
				if t.gate(w, r) {
					t.streamBomb(w, r, `{"@odata.id":"`+SystemLog+`","@odata.type":"#LogEntryCollection.LogEntryCollection","Name":"Log","Members":[],`, BombBytes)
				}
				return true
			},
			Want: Expect{Err: Success, WarningText: "too large", Partial: true, MustRequest: []string{SystemLog}},
		},
		{
			Name: "unauthorized-after-login",
			Doc:  "Login works and DELETE works, but every GET past the service root answers 401: at most 2 logins, the scan fails with ErrUnauthorized (refused the credentials), every session it opened is deleted.",
			Handle: func(t *Target, w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodGet || isOpen(redfishmock.NormalizePath(r.URL.Path)) {
					return false
				}
				unauthorized(w)
				return true
			},
			Want: Expect{Err: Unauthorized, ErrText: "refused the credentials", MaxLogins: 2},
		},
		{
			Name:     "unavailable-then-ok",
			Doc:      "The service root answers 503 with Retry-After: 1 twice, then 200: the reader waits and retries, and the scan succeeds (taking at least 1 s).",
			Deadline: 5 * time.Second,
			Handle: func(t *Target, w http.ResponseWriter, r *http.Request) bool {
				if !isGet(r, ServiceRoot) || t.bump("root") > 2 {
					return false
				}
				unavailable(w, "1")
				return true
			},
			Want: Expect{Err: Success, Complete: true, MinDuration: time.Second, MaxGETs: map[string]int{ServiceRoot: 3}},
		},
		{
			Name:     "unavailable-forever",
			Doc:      "Every request answers 503 with Retry-After: 3600: the reader does not wait an hour (nor its whole deadline); the scan fails fast with ErrUnavailable.",
			Deadline: 5 * time.Second,
			Handle: func(t *Target, w http.ResponseWriter, r *http.Request) bool {
				unavailable(w, "3600")
				return true
			},
			Want: Expect{Err: Unavailable, MaxDuration: 2 * time.Second, MaxGETs: map[string]int{ServiceRoot: 3}},
		},
		{
			Name: "empty-service-root",
			Doc:  "The service root links no Chassis, Systems or Managers (and those collections are 404): the health is unknown, the scan fails with ErrNoComponents.",
			Handle: func(t *Target, w http.ResponseWriter, r *http.Request) bool {
				switch {
				case isGet(r, ServiceRoot):
					doc := t.treeDoc(r)
					for _, k := range []string{"Chassis", "Systems", "Managers"} {
						delete(doc, k)
					}
					writeJSON(w, http.StatusOK, doc)
					return true
				case isGet(r, Chassis) || isGet(r, Systems) || isGet(r, Managers):
					if t.gate(w, r) {
						writeJSON(w, http.StatusNotFound, redfishError("Base.1.0.ResourceMissingAtURI", "The resource at the URI '"+r.URL.Path+"' was not found."))
					}
					return true
				}
				return false
			},
			Want: Expect{Err: NoComponents},
		},
		{
			Name: "empty-collections",
			Doc:  "The Chassis, Systems and Managers collections have no members: the scan fails with ErrNoComponents.",
			Handle: func(t *Target, w http.ResponseWriter, r *http.Request) bool {
				for _, top := range []string{Systems, Chassis, Managers} {
					if isGet(r, top) {
						if t.gate(w, r) {
							writeJSON(w, http.StatusOK, map[string]any{"@odata.id": top, "Name": "Empty", "Members": []any{}, "Members@odata.count": 0})
						}
						return true
					}
				}
				return false
			},
			Want: Expect{Err: NoComponents},
		},
		{
			Name: "tls-unknown-ca",
			Doc:  "HTTPS with a certificate for 127.0.0.1 from a CA the client does not trust: verification fails, the server receives no request.",
			TLS:  TLSUnknownCA,
			Want: Expect{Err: TLSVerify, NoRequest: true, NoLogin: true},
		},
		{
			Name: "tls-wrong-name",
			Doc:  "HTTPS with a certificate for bmc.invalid from an unknown CA: verification fails, the server receives no request.",
			TLS:  TLSWrongName,
			Want: Expect{Err: TLSVerify, NoRequest: true, NoLogin: true},
		},
		{
			Name: "tls-wrong-name-trusted-ca",
			Doc:  "HTTPS with a certificate for bmc.invalid; the client trusts its CA (WithCAFile) but the name is wrong: verification fails, the server receives no request.",
			TLS:  TLSWrongNameTrusted,
			Want: Expect{Err: TLSVerify, NoRequest: true, NoLogin: true},
		},
		{
			Name:      "basic-auth-redirect-to-canary",
			Doc:       "With WithBasicAuth, GET of the Managers collection answers 302 to the canary: the redirect is refused, so the Basic credentials never reach the canary.",
			BasicAuth: true,
			Handle: func(t *Target, w http.ResponseWriter, r *http.Request) bool {
				if !isGet(r, Managers) {
					return false
				}
				redirect(w, t.Canary.URL+r.URL.RequestURI(), http.StatusFound)
				return true
			},
			Want: Expect{Err: Success, WarningText: "refused", Partial: true, NoLogin: true, MustRequest: []string{Managers}},
		},
	}
}

// Lookup returns the case called name.
func Lookup(name string) (Case, bool) {
	for _, c := range Cases() {
		if c.Name == name {
			return c, true
		}
	}
	return Case{}, false
}

// isGet reports whether r is a GET of path p (any query).
func isGet(r *http.Request, p string) bool {
	return r.Method == http.MethodGet && redfishmock.NormalizePath(r.URL.Path) == p
}

// collectionType is the schema of a top collection ("ChassisCollection").
func collectionType(top string) string {
	switch top {
	case Systems:
		return "ComputerSystemCollection"
	case Managers:
		return "ManagerCollection"
	}
	return "ChassisCollection"
}

// gate answers 401 (and returns false) unless r is authorized.
func (t *Target) gate(w http.ResponseWriter, r *http.Request) bool {
	if t.authorized(r) {
		return true
	}
	unauthorized(w)
	return false
}

func redirect(w http.ResponseWriter, loc string, code int) {
	w.Header().Set("Location", loc)
	writeJSON(w, code, map[string]any{})
}

func unavailable(w http.ResponseWriter, retryAfter string) {
	w.Header().Set("Retry-After", retryAfter)
	writeJSON(w, http.StatusServiceUnavailable, redfishError("Base.1.0.ServiceTemporarilyUnavailable", "The service is temporarily unavailable. Retry in "+retryAfter+" seconds."))
}

// editDoc answers a GET of p (any query, authorized) with the tree's
// answer changed by edit; it returns false for any other request.
func (t *Target) editDoc(w http.ResponseWriter, r *http.Request, p string, edit func(map[string]any)) bool {
	if !isGet(r, p) {
		return false
	}
	if !t.gate(w, r) {
		return true
	}
	doc := t.treeDoc(r)
	if doc == nil {
		doc = map[string]any{"@odata.id": p, "Members": []any{}}
	}
	edit(doc)
	writeJSON(w, http.StatusOK, doc)
	return true
}

// addMembers answers a GET of the collection p with the tree's members
// plus references to ids.
func (t *Target) addMembers(w http.ResponseWriter, r *http.Request, p string, ids ...string) bool {
	return t.editDoc(w, r, p, func(m map[string]any) {
		members, _ := m["Members"].([]any)
		for _, id := range ids {
			members = append(members, map[string]any{"@odata.id": id})
		}
		m["Members"] = members
		m["Members@odata.count"] = len(members)
	})
}
