package redfish

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// sessionsURI is fixed by DSP0266 ("The URI for the Sessions collection
// shall be /redfish/v1/SessionService/Sessions").
const sessionsURI = "/redfish/v1/SessionService/Sessions"

// logoutTimeout bounds the DELETE of a session on the way out. It runs on
// a context detached from the caller's, so a scan that timed out or was
// cancelled still closes its session (a BMC has few session slots: leaked
// ones lock out people and other tools).
const logoutTimeout = 3 * time.Second

// connect reads the service root (anonymously, as DSP0266 allows) for the
// protocol features it advertises.
func (c *Client) connect(ctx context.Context) error {
	if c.hc == nil {
		hc, gt, err := newHTTPClient(&c.cfg, c.origin)
		if err != nil {
			return err
		}
		c.hc, c.guard = hc, gt
	}
	b := newBudget(c.cfg.maxResponseBytes, c.cfg.pool)
	defer b.release()
	resp, err := c.request(ctx, http.MethodGet, "/redfish/v1/", nil, nil, b)
	if err != nil {
		return fmt.Errorf("service root: %w", err)
	}
	m, err := parseResource(resp.body)
	if err != nil {
		return fmt.Errorf("service root: %w", err)
	}
	root := node{m: m, url: "/redfish/v1"}
	pf := root.obj("ProtocolFeaturesSupported")
	eq := pf.obj("ExpandQuery")
	has := func(n node, k string) bool { b := n.boolean(k); return b != nil && *b }
	c.features = features{
		expandAll: has(eq, "ExpandAll"), noLinks: has(eq, "NoLinks"), levels: has(eq, "Levels"),
		topSkip: has(pf, "TopSkipQuery"),
	}
	if ml := eq.num("MaxLevels"); ml != nil && *ml > 0 && *ml < 100 {
		c.features.maxLevels = int(*ml)
	}
	c.connected = true
	return nil
}

type features struct {
	expandAll, noLinks, levels bool
	maxLevels                  int
	topSkip                    bool
}

// login opens a Redfish session. The password goes in the body of one
// POST to the origin's Sessions collection, never redirected (see
// checkRedirect), and is never sent as HTTP Basic unless WithBasicAuth
// asked for it: a service without sessions is an error naming that
// option, not a silent fallback.
func (c *Client) login(ctx context.Context) error {
	payload, err := json.Marshal(map[string]string{"UserName": c.cfg.username, "Password": c.cfg.password})
	if err != nil {
		return err
	}
	resp, err := c.request(ctx, http.MethodPost, sessionsURI, payload, nil, nil)
	if err != nil {
		if errors.Is(err, ErrNotFound) || isStatus(err, http.StatusMethodNotAllowed) {
			return fmt.Errorf("%w: %v; if this BMC takes only HTTP Basic auth, say so for this target (basic-auth=true, or redfish.WithBasicAuth)", ErrNoSessionService, err)
		}
		return fmt.Errorf("login: %w", err)
	}
	token := resp.header.Get("X-Auth-Token")
	c.authMu.Lock()
	defer c.authMu.Unlock()
	sessionURL := c.sessionURI(resp)
	c.token, c.sessionURL, c.session = token, sessionURL, true
	if token == "" {
		// DMTF's Redfish-Mockup-Server answers 204 with a Location and no
		// token: read what the service serves without credentials.
		c.pending = append(c.pending, "login: the session service returned no X-Auth-Token; reading without authentication")
	}
	return nil
}

// sessionURI picks the URI to DELETE on logout: the Location header when
// it is on the origin, else the session's own @odata.id; else none, with
// a warning (a session the BMC says lives elsewhere is not ours to chase).
func (c *Client) sessionURI(resp *response) string {
	loc := resp.header.Get("Location")
	if loc != "" {
		u, err := c.origin.resolve(loc)
		if err == nil {
			return u.RequestURI()
		}
		c.pending = append(c.pending, "login: session Location header "+err.Error())
	}
	if m, err := parseResource(resp.body); err == nil {
		if id, ok := m["@odata.id"].(string); ok {
			if u, err := c.origin.resolve(id); err == nil {
				return u.RequestURI()
			}
		}
	}
	if resp.status != http.StatusNoContent || loc != "" {
		c.pending = append(c.pending, "login: the BMC gave no usable session URI: the session cannot be deleted and will expire on the BMC")
	}
	return ""
}

func isStatus(err error, code int) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == code
}

// usesSessions says whether the client authenticates with a session
// (credentials, and not HTTP Basic).
func (c *Client) usesSessions() bool { return c.cfg.username != "" && !c.cfg.basicAuth }

// authHeaders returns the headers that authenticate a request, and the
// session token they carry ("" for none).
func (c *Client) authHeaders() (map[string]string, string) {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	switch {
	case c.token != "":
		return map[string]string{"X-Auth-Token": c.token}, c.token
	case c.cfg.username != "" && c.cfg.basicAuth:
		cred := base64.StdEncoding.EncodeToString([]byte(c.cfg.username + ":" + c.cfg.password))
		return map[string]string{"Authorization": "Basic " + cred}, ""
	}
	return nil, ""
}

// loggedIn reports whether requests are authenticated or need no login.
func (c *Client) loggedIn() bool {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	return c.cfg.username == "" || c.cfg.basicAuth || c.session
}

// logout deletes the session, if any, on a context detached from ctx and
// bounded by logoutTimeout.
func (c *Client) logout(ctx context.Context) error {
	c.authMu.Lock()
	url := c.sessionURL
	c.authMu.Unlock()
	if c.hc == nil || url == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), logoutTimeout)
	defer cancel()
	hdrs, _ := c.authHeaders()
	_, err := c.request(ctx, http.MethodDelete, url, nil, hdrs, nil)
	c.authMu.Lock()
	c.token, c.sessionURL, c.session = "", "", false
	c.authMu.Unlock()
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}
