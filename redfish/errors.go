package redfish

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/stmcginnis/gofish/schemas"
)

// Error categories, checked with errors.Is on any error the reader returns
// or wraps.
var (
	// ErrUnauthorized: the service refused the credentials (401/403), also
	// after one fresh login.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrNotFound: the resource does not exist (404).
	ErrNotFound = errors.New("not found")
	// ErrUnavailable: the service is busy or starting (503).
	ErrUnavailable = errors.New("service unavailable")
	// ErrSessionLimit: the BMC has no free session (Base SessionLimitExceeded).
	ErrSessionLimit = errors.New("session limit reached")
	// ErrMalformed: a response body is not the JSON it should be
	// (invalid JSON, truncated, not an object).
	ErrMalformed = errors.New("malformed response")
	// ErrRefused: the reader refused a request the service asked for: a
	// link, Location header or redirect outside the target's own origin
	// (another scheme, host or port, userinfo, https to http). Credentials
	// only ever go to the origin.
	ErrRefused = errors.New("refused: outside the target's origin")
	// ErrTooLarge: a response body, a collection or the scan's memory
	// budget went over its bound (WithMaxResponseBytes, WithMaxMembers,
	// WithMemoryBudget).
	ErrTooLarge = errors.New("too large")
	// ErrNoSessionService: the service has no session service (POST to the
	// Sessions collection answered 404 or 405) and Basic auth was not
	// configured (WithBasicAuth): the password is never sent as Basic auth
	// unless asked for.
	ErrNoSessionService = errors.New("no session service")
	// ErrNoComponents: the service answered but reported no component at
	// all (an empty tree): the server's health is unknown, not ok.
	ErrNoComponents = errors.New("no components")
)

// ExtendedInfo is one Redfish @Message.ExtendedInfo message.
type ExtendedInfo struct {
	MessageID  string
	Message    string
	Severity   string
	Resolution string
}

// Error is an HTTP error answered by a Redfish service.
type Error struct {
	Method string
	// URL is the path (and query) asked for, on the target's origin.
	URL        string
	StatusCode int
	// Code and Message are the Redfish error object's code and message.
	Code         string
	Message      string
	ExtendedInfo []ExtendedInfo
	// RetryAfter is the Retry-After header of a 503, if any.
	RetryAfter string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: HTTP %d", e.Method, e.URL, e.StatusCode)
	msg := e.Message
	for _, x := range e.ExtendedInfo {
		if x.Message != "" || x.MessageID != "" {
			msg = strings.TrimSpace(x.MessageID + " " + x.Message)
			break
		}
	}
	if msg == strconv.Itoa(e.StatusCode) || msg == http.StatusText(e.StatusCode) {
		msg = "" // "HTTP 401: 401" says nothing twice
	}
	switch e.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		b.WriteString(": the BMC refused the credentials")
	case http.StatusServiceUnavailable:
		b.WriteString(": the service is unavailable (busy or starting)")
	}
	if msg != "" {
		if len(msg) > 300 {
			msg = msg[:300] + "..."
		}
		fmt.Fprintf(&b, ": %s", msg)
	}
	if e.RetryAfter != "" {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Is matches the error categories above.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.StatusCode == 401 || e.StatusCode == 403
	case ErrNotFound:
		return e.StatusCode == 404
	case ErrUnavailable:
		return e.StatusCode == 503
	case ErrSessionLimit:
		for _, x := range e.ExtendedInfo {
			if strings.HasSuffix(x.MessageID, "SessionLimitExceeded") {
				return true
			}
		}
		return strings.HasSuffix(e.Code, "SessionLimitExceeded")
	}
	return false
}

// fromGofish converts gofish's error (which carries the status and the
// decoded Redfish error object) into ours, adding what was asked.
func fromGofish(method, url string, err error) error {
	var ge *schemas.Error
	if !errors.As(err, &ge) || ge.HTTPReturnedStatusCode == 0 {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	e := &Error{Method: method, URL: url, StatusCode: ge.HTTPReturnedStatusCode, Code: ge.Code, Message: ge.Message}
	for _, x := range ge.ExtendedInfos {
		e.ExtendedInfo = append(e.ExtendedInfo, ExtendedInfo{
			MessageID: x.MessageID, Message: x.Message, Severity: string(x.MessageSeverity), Resolution: x.Resolution,
		})
	}
	// gofish puts the whole body in Message when it is not a Redfish error
	// object; keep it short and single-line.
	if len(e.ExtendedInfo) == 0 && e.Code == "" {
		e.Message = strings.Join(strings.Fields(e.Message), " ")
	}
	return e
}
