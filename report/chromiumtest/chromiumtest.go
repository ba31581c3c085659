// Package chromiumtest loads a local HTML file in a real headless
// Chromium, through chromedp, and returns what a test needs to judge the
// page: the console messages and uncaught exceptions, the JavaScript
// dialogs opened, every network request the page made, the text of
// chosen elements and a screenshot.
//
// Chromium runs headless with --no-sandbox (the tests run as root in CI)
// and a temporary profile removed on Close. It is found at
// DefaultExecPath unless WithExecPath says otherwise; when it is missing,
// Start fails with ErrNoChromium: a test must not pass without the
// browser. Test helper: never imported by production code.
package chromiumtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/rs/zerolog"
)

// DefaultExecPath is where CI installs Chromium (Debian's chromium package).
const DefaultExecPath = "/usr/bin/chromium"

// ErrNoChromium means the Chromium executable is missing or not runnable.
var ErrNoChromium = errors.New("chromium not found")

// Option configures Start.
type Option func(*config)

type config struct {
	execPath string
	log      zerolog.Logger
}

// WithExecPath runs the Chromium (or Chrome) at path.
func WithExecPath(path string) Option { return func(c *config) { c.execPath = path } }

// WithLogger logs chromedp's own errors (undecodable protocol messages)
// and Chromium's start; nothing is logged without it.
func WithLogger(l zerolog.Logger) Option { return func(c *config) { c.log = l } }

// Browser is a running headless Chromium.
type Browser struct {
	ctx         context.Context // the browser's chromedp context
	cancelAlloc context.CancelFunc
	cancelCtx   context.CancelFunc
	profileDir  string
}

// Start runs Chromium headless with a fresh temporary profile. Close it
// when done. The browser lives until Close, whatever ctx does after
// Start returned; ctx bounds the start.
func Start(ctx context.Context, opts ...Option) (*Browser, error) {
	cfg := config{execPath: DefaultExecPath, log: zerolog.Nop()}
	for _, o := range opts {
		o(&cfg)
	}
	path, err := exec.LookPath(cfg.execPath)
	if err != nil {
		return nil, fmt.Errorf("chromiumtest: %w at %s (install the chromium package, or pass WithExecPath): %w", ErrNoChromium, cfg.execPath, err)
	}
	dir, err := os.MkdirTemp("", "chromiumtest-profile-")
	if err != nil {
		return nil, fmt.Errorf("chromiumtest: temporary profile: %w", err)
	}
	allocOpts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(dir),
		chromedp.NoSandbox, // CI runs the tests as root
		chromedp.DisableGPU,
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("font-render-hinting", "none"),
	)
	// The browser outlives ctx (a test's context for the start may be
	// short); Close ends it.
	base := context.WithoutCancel(ctx)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(base, allocOpts...)
	logf := func(format string, args ...any) { cfg.log.Debug().Msgf(format, args...) }
	errf := func(format string, args ...any) { cfg.log.Error().Msgf(format, args...) }
	bctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithLogf(logf), chromedp.WithErrorf(errf), chromedp.WithDebugf(func(string, ...any) {}))
	b := &Browser{ctx: bctx, cancelAlloc: cancelAlloc, cancelCtx: cancelCtx, profileDir: dir}

	started := make(chan error, 1)
	go func() { started <- chromedp.Do(bctx) }() // starts the browser
	select {
	case err = <-started:
	case <-ctx.Done():
		err = context.Cause(ctx)
	}
	if err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("chromiumtest: starting %s: %w", path, err)
	}
	return b, nil
}

// Close ends the browser and removes its profile.
func (b *Browser) Close() error {
	b.cancelCtx()
	b.cancelAlloc() // waits for the process to exit
	if err := os.RemoveAll(b.profileDir); err != nil {
		return fmt.Errorf("chromiumtest: removing the profile %s: %w", b.profileDir, err)
	}
	return nil
}

// LoadOption configures Load.
type LoadOption func(*loadConfig)

type loadConfig struct {
	width, height int64
	selectors     []string
	screenshot    bool
	fullPage      bool
}

// Viewport sets the window's size in CSS pixels (default 1280x900).
func Viewport(width, height int) LoadOption {
	return func(c *loadConfig) { c.width, c.height = int64(width), int64(height) }
}

// Texts asks for the text of every element each CSS selector matches
// (Page.Texts; the element count is the length of its list): its
// textContent, runs of white space made one space. textContent, not
// innerText: a page may leave off-screen parts unrendered
// (content-visibility), and their text is still the page's.
func Texts(selectors ...string) LoadOption {
	return func(c *loadConfig) { c.selectors = append(c.selectors, selectors...) }
}

// Screenshot asks for a PNG of the viewport once the page has loaded.
func Screenshot() LoadOption { return func(c *loadConfig) { c.screenshot = true } }

// FullPageScreenshot asks for a PNG of the whole page.
func FullPageScreenshot() LoadOption {
	return func(c *loadConfig) { c.screenshot, c.fullPage = true, true }
}

// ConsoleMessage is what the page or the browser wrote to the console: a
// console API call (Source "console-api"), or a browser log entry (a
// refused load, a CSP violation: Source "network", "security", ...).
type ConsoleMessage struct {
	Level  string // log, info, warning, error, debug, ...
	Source string
	Text   string
	URL    string
}

func (m ConsoleMessage) String() string {
	s := m.Level + " (" + m.Source + "): " + m.Text
	if m.URL != "" {
		s += " [" + m.URL + "]"
	}
	return s
}

// Page is what loading a file showed.
type Page struct {
	// URL is the file:// URL loaded.
	URL string
	// Console holds console calls and browser log entries, in order.
	Console []ConsoleMessage
	// Exceptions are the uncaught exceptions (and unhandled rejections).
	Exceptions []string
	// Dialogs are the messages of the alert/confirm/prompt dialogs the
	// page opened (each was dismissed).
	Dialogs []string
	// Requests are the URLs of every request the page made, the page
	// itself included, in order.
	Requests []string
	// Texts holds, per selector asked for, the text of each element it
	// matched (see Texts).
	Texts map[string][]string
	// Screenshot is the PNG asked for.
	Screenshot []byte
}

// ExternalRequests are the requests to anything but the page's own file
// and data: URLs.
func (p *Page) ExternalRequests() []string {
	var out []string
	for _, u := range p.Requests {
		if u == p.URL || strings.HasPrefix(u, "data:") {
			continue
		}
		out = append(out, u)
	}
	return out
}

// Errors are the console messages at level error, and the exceptions.
func (p *Page) Errors() []string {
	var out []string
	for _, m := range p.Console {
		if m.Level == "error" {
			out = append(out, m.String())
		}
	}
	for _, e := range p.Exceptions {
		out = append(out, "exception: "+e)
	}
	return out
}

// Load opens the local file at path in a new tab, waits for its load
// event, and returns what happened. The tab is closed on return.
func (b *Browser) Load(ctx context.Context, path string, opts ...LoadOption) (*Page, error) {
	cfg := loadConfig{width: 1280, height: 900}
	for _, o := range opts {
		o(&cfg)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("chromiumtest: %s: %w", path, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("chromiumtest: %w", err)
	}
	p := &Page{URL: (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String(), Texts: map[string][]string{}}

	var (
		mu     sync.Mutex
		tabCtx context.Context
		wg     sync.WaitGroup
	)
	// listen runs in the tab's read loop, in the order Chromium sent the
	// events: it only records (and dismisses dialogs from a goroutine, as
	// a command may not run from the loop).
	listen := func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			m := ConsoleMessage{Level: string(ev.Type), Source: "console-api", Text: consoleText(ev.Args)}
			if ev.StackTrace != nil && len(ev.StackTrace.CallFrames) > 0 {
				m.URL = ev.StackTrace.CallFrames[0].URL
			}
			p.Console = append(p.Console, m)
		case *runtime.EventExceptionThrown:
			p.Exceptions = append(p.Exceptions, exceptionText(ev.ExceptionDetails))
		case *log.EventEntryAdded:
			if e := ev.Entry; e != nil {
				p.Console = append(p.Console, ConsoleMessage{Level: string(e.Level), Source: string(e.Source), Text: e.Text, URL: e.URL})
			}
		case *network.EventRequestWillBeSent:
			if ev.Request != nil {
				p.Requests = append(p.Requests, ev.Request.URL)
			}
		case *page.EventJavascriptDialogOpening:
			p.Dialogs = append(p.Dialogs, ev.Message)
			wg.Go(func() {
				_, _ = chromedp.Call(tabCtx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
			})
		}
	}
	tabCtx, cancelTab := chromedp.NewContext(b.ctx, chromedp.WithListener(listen))
	defer func() {
		cancelTab()
		wg.Wait()
	}()
	// The tab's commands end with ctx too.
	stop := context.AfterFunc(ctx, cancelTab)
	defer stop()

	if err := chromedp.Do(tabCtx,
		chromedp.EmulateViewport(cfg.width, cfg.height),
		chromedp.Navigate(p.URL),
	); err != nil {
		return nil, fmt.Errorf("chromiumtest: loading %s: %w", p.URL, err)
	}
	// One more round trip: the listener has seen every event sent before
	// its reply.
	if _, err := chromedp.Run(tabCtx, chromedp.Evaluate[string](`document.readyState`)); err != nil {
		return nil, fmt.Errorf("chromiumtest: %s: %w", p.URL, err)
	}
	for _, sel := range cfg.selectors {
		if _, dup := p.Texts[sel]; dup {
			continue
		}
		q, err := json.Marshal(sel)
		if err != nil {
			return nil, fmt.Errorf("chromiumtest: selector %q: %w", sel, err)
		}
		js := `Array.from(document.querySelectorAll(` + string(q) + `), e => e.textContent.replace(/\s+/g, " ").trim())`
		texts, err := chromedp.Run(tabCtx, chromedp.Evaluate[[]string](js))
		if err != nil {
			return nil, fmt.Errorf("chromiumtest: %s: selector %q: %w", p.URL, sel, err)
		}
		p.Texts[sel] = texts
	}
	if cfg.screenshot {
		shot := chromedp.CaptureScreenshot()
		if cfg.fullPage {
			shot = chromedp.FullScreenshot(100)
		}
		png, err := chromedp.Run(tabCtx, shot)
		if err != nil {
			return nil, fmt.Errorf("chromiumtest: screenshot of %s: %w", p.URL, err)
		}
		p.Screenshot = png
	}
	// A last round trip, so that events caused by the queries are in.
	if _, err := chromedp.Run(tabCtx, chromedp.Evaluate[string](`document.readyState`)); err != nil {
		return nil, fmt.Errorf("chromiumtest: %s: %w", p.URL, err)
	}
	mu.Lock()
	defer mu.Unlock()
	out := *p
	out.Console, out.Exceptions = slices.Clone(p.Console), slices.Clone(p.Exceptions)
	out.Dialogs, out.Requests = slices.Clone(p.Dialogs), slices.Clone(p.Requests)
	return &out, nil
}

// consoleText joins a console call's arguments as the console shows them.
func consoleText(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		if a == nil {
			continue
		}
		switch {
		case len(a.Value) > 0:
			var s string
			if err := json.Unmarshal(a.Value, &s); err == nil {
				parts = append(parts, s)
			} else {
				parts = append(parts, string(a.Value))
			}
		case a.Description != "":
			parts = append(parts, a.Description)
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, " ")
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "exception"
	}
	t := d.Text
	if d.Exception != nil && d.Exception.Description != "" {
		t += " " + d.Exception.Description
	}
	if d.URL != "" {
		t += fmt.Sprintf(" [%s:%d]", d.URL, d.LineNumber+1)
	}
	return t
}
