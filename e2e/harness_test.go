//go:build browser

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"example.com/example-function/internal/buildinfo"
	"example.com/example-function/internal/pgtest"
	"example.com/example-function/internal/proctest"
	"example.com/example-function/internal/web"
	"example.com/example-function/internal/web/contract"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// proxySecret proves requests come from the (simulated) sign-on proxy:
// each tab sends it with its user's X-Forwarded-User, as the proxy would.
const proxySecret = "e2e-proxy-secret-0123456789abcdef-0123456789"

const signOutURL = "https://sso.example.edu/logout"

// server is the real service binary on a fresh database, in proxy mode,
// behind a proxy that checks every /api answer against the API's OpenAPI
// document (internal/web/contract): the browser and apiAs talk to front.
type server struct {
	proc    *proctest.Proc
	front   *httptest.Server
	checker *contract.Checker
}

func startServer(t *testing.T) *server {
	t.Helper()
	bin := proctest.Build(t, "./cmd/server", buildinfo.LinkFlag("Version", "e2e"))
	p := proctest.Start(t, bin,
		"DATABASE_URL="+pgtest.NewDatabase(t),
		"AUTH_MODE=proxy",
		"AUTH_PROXY_SECRET="+proxySecret,
		"EDITOR_USERS=ana,ben,cleo,dan,eve",
		"SIGN_OUT_URL="+signOutURL,
		"LOG_FORMAT=text",
	)
	p.WaitHTTP(t, "/readyz", http.StatusOK, 30*time.Second)
	checker, err := contract.New(web.OpenAPIDocument(), web.ProblemTypeBase)
	if err != nil {
		t.Fatal(err)
	}
	target, err := url.Parse(p.URL(""))
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(checker.Proxy(t, target))
	t.Cleanup(front.Close)
	return &server{proc: p, front: front, checker: checker}
}

func (s *server) url(path string) string { return s.front.URL + path }

// apiAs calls the JSON API as user (for setting up and changing data
// behind a browser's back).
func (s *server) apiAs(t *testing.T, user, method, path, body string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, s.url(path), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Auth-Proxy-Secret", proxySecret)
	req.Header.Set("X-Forwarded-User", user)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func (s *server) createItem(t *testing.T, user, name, description string) int64 {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"name": name, "description": description})
	res := s.apiAs(t, user, "POST", "/api/items", string(b))
	var it struct{ ID int64 }
	if res.StatusCode != http.StatusCreated || json.NewDecoder(res.Body).Decode(&it) != nil {
		t.Fatalf("create %q: %s", name, res.Status)
	}
	return it.ID
}

// chromiumPath finds the browser; the tests fail (never skip) without it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless_shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium found: install it (apt-get install chromium) or set CHROMIUM to its path")
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile, closed
// when the test ends.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("font-render-hinting", "none"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	// Start the browser now, so a missing or broken Chromium fails here.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start Chromium: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return ctx
}

// tab is one browser tab in its own browser context (its own cookies and
// cache, like a second person), signed in as user through the proxy
// headers. It records every console error, uncaught exception, failed
// request and CSP violation; check() fails the test on any not expected.
type tab struct {
	t    *testing.T
	ctx  context.Context
	srv  *server
	user string

	mu       sync.Mutex
	problems []string
	// expected lists HTTP statuses a request may fail with (the browser
	// logs those as errors): e.g. 412 while testing a conflict.
	expected []int
}

type tabOption struct {
	noJS   bool
	width  int64
	height int64
	mobile bool
}

func newTab(t *testing.T, browser context.Context, srv *server, user string, opt tabOption) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tb := &tab{t: t, ctx: ctx, srv: srv, user: user}
	if err := chromedp.Listen(ctx, tb.record); err != nil {
		t.Fatal(err)
	}
	must(t, call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{
		"X-Auth-Proxy-Secret": proxySecret, "X-Forwarded-User": user,
	}}))
	// CSP violations are also reported to the page; keep them for check().
	_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.__csp = []; document.addEventListener("securitypolicyviolation",
			e => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`,
	})
	must(t, err)
	if opt.noJS {
		must(t, call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}))
	}
	if opt.width == 0 {
		opt.width, opt.height = 1280, 800
	}
	tb.viewport(opt.width, opt.height, opt.mobile)
	return tb
}

func call[P any](ctx context.Context, cmd cdp.Command[P, cdp.Empty], p P) error {
	_, err := chromedp.Call(ctx, cmd, p)
	return err
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (tb *tab) viewport(w, h int64, mobile bool) {
	tb.t.Helper()
	scale := 1.0
	if mobile {
		scale = 2
	}
	must(tb.t, call(tb.ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: w, Height: h, DeviceScaleFactor: scale, Mobile: mobile,
	}))
}

// record runs on chromedp's event loop: it must be quick and must not
// call back into the browser.
func (tb *tab) record(ev any) {
	var p string
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			p = fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " "))
		}
	case *runtime.EventExceptionThrown:
		p = "uncaught exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			p += " " + ev.ExceptionDetails.Exception.Description
		}
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
			p = fmt.Sprintf("log %s/%s: %s %s", ev.Entry.Source, ev.Entry.Level, ev.Entry.Text, ev.Entry.URL)
		}
	}
	if p == "" {
		return
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.problems = append(tb.problems, p)
}

// expect allows requests to fail with status until check() runs.
func (tb *tab) expect(status ...int) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.expected = append(tb.expected, status...)
}

// check fails the test on console errors, exceptions, CSP violations or
// failed requests (other than expected statuses) since the last check.
func (tb *tab) check(what string) {
	tb.t.Helper()
	if csp := eval[[]string](tb, `window.__csp || []`); len(csp) > 0 {
		tb.t.Errorf("%s: CSP violations: %q", what, csp)
	}
	tb.mu.Lock()
	problems, expected := tb.problems, tb.expected
	tb.problems, tb.expected = nil, nil
	tb.mu.Unlock()
	for _, p := range problems {
		if strings.HasPrefix(p, "log network/error: Failed to load resource: the server responded with a status of ") &&
			slices.ContainsFunc(expected, func(s int) bool { return strings.Contains(p, fmt.Sprintf("status of %d ", s)) }) {
			continue
		}
		tb.t.Errorf("%s (%s): %s", what, tb.user, p)
	}
}

// open navigates and returns the HTTP status of the page.
func (tb *tab) open(path string) int64 {
	tb.t.Helper()
	res, err := chromedp.Run(tb.ctx, chromedp.NavigateResponse(tb.srv.url(path)))
	if err != nil {
		tb.t.Fatalf("open %s: %v", path, err)
	}
	return res.Status
}

// navigate runs an action that loads a new page (a click on a link or a
// submit button) and returns the page's status.
func (tb *tab) navigate(what string, a chromedp.Action[chromedp.Void]) int64 {
	tb.t.Helper()
	res, err := chromedp.RunResponse(tb.ctx, a)
	if err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
	return res.Status
}

func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
}

func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("evaluate %.80s: %v", expr, err)
	}
	return v
}

func (tb *tab) text(sel string) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		tb.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.Join(strings.Fields(s), " ")
}

func (tb *tab) wantText(sel string, want ...string) {
	tb.t.Helper()
	got := tb.text(sel)
	for _, w := range want {
		if !strings.Contains(got, w) {
			tb.t.Fatalf("%s says %q, want it to contain %q", sel, got, w)
		}
	}
}

func (tb *tab) path() string {
	tb.t.Helper()
	loc, err := chromedp.Run(tb.ctx, chromedp.Location())
	if err != nil {
		tb.t.Fatal(err)
	}
	return strings.TrimPrefix(loc, tb.srv.url(""))
}

// fill replaces a field's value as a user would: select all, type.
func fill(sel, value string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if err := chromedp.Do(ctx, chromedp.Clear(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), value)); err != nil {
			return chromedp.Void{}, err
		}
		return chromedp.Void{}, nil
	}
}
