package web_test

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"example.com/example-function/internal/auth"
	"example.com/example-function/internal/buildinfo"
	"example.com/example-function/internal/database"
	"example.com/example-function/internal/database/dbtest"
	"example.com/example-function/internal/items"
	"example.com/example-function/internal/telemetry"
	"example.com/example-function/internal/web"
)

const chainSecret = "0123456789abcdef0123456789abcdef-chain"

// newProductionChain assembles the handler as internal/app does: a proxy
// sign-in with roles, and the telemetry middleware (recovery, request log)
// outermost. items may be nil to make handlers that need it panic.
func newProductionChain(t *testing.T, store *items.Store) http.Handler {
	t.Helper()
	authn, err := auth.NewProxy(auth.ProxyOptions{SecretHeader: "X-Auth-Proxy-Secret", UserHeader: "X-Forwarded-User", GroupsHeader: "X-Forwarded-Groups", Secret: []byte(chainSecret)})
	if err != nil {
		t.Fatal(err)
	}
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{Exporter: "none"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	logger := slog.New(slog.DiscardHandler)
	mw, err := tel.Middleware(telemetry.HTTPOptions{Logger: logger, InternalError: web.InternalError})
	if err != nil {
		t.Fatal(err)
	}
	checker := database.NewChecker(nil, time.Second, logger)
	h, err := web.NewHandler(web.Deps{
		Items: store, Health: checker, Authn: authn, Logger: logger,
		Policy:  &auth.Policy{ViewerGroups: []string{"viewers"}, EditorGroups: []string{"editors"}},
		Observe: mw,
		Build:   buildinfo.Info{Version: "v1", Commit: "c"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return checked(t, h)
}

type caller struct {
	name   string
	header []string
}

var (
	anonymous = caller{"anonymous", nil}
	forged    = caller{"forged headers, no secret", []string{"X-Forwarded-User", "mallory", "X-Forwarded-Groups", "editors"}}
	viewer    = caller{"viewer", []string{"X-Auth-Proxy-Secret", chainSecret, "X-Forwarded-User", "vera", "X-Forwarded-Groups", "staff:viewers"}}
	editor    = caller{"editor", []string{"X-Auth-Proxy-Secret", chainSecret, "X-Forwarded-User", "ed", "X-Forwarded-Groups", "editors"}}
	nobody    = caller{"signed in, no role", []string{"X-Auth-Proxy-Secret", chainSecret, "X-Forwarded-User", "nora", "X-Forwarded-Groups", "staff"}}
)

// Every real route, for every kind of caller, through the production
// middleware chain: who gets in, and every answer carries the security
// headers.
func TestRolesOnEveryRoute(t *testing.T) {
	t.Parallel()
	store := items.NewStore(dbtest.NewPool(t))
	it, err := store.Create(context.Background(), items.Input{Name: "existing"}, "seed")
	if err != nil {
		t.Fatal(err)
	}
	a := &testApp{t: t, handler: newProductionChain(t, store)}
	id := "/" + strconv.FormatInt(it.ID, 10)
	type route struct{ method, path, contentType, body string }
	reads := []route{
		{"GET", "/", "", ""},
		{"GET", "/items" + id, "", ""},
		{"GET", "/items/new", "", ""},
		{"GET", "/items" + id + "/edit", "", ""},
		{"GET", "/items" + id + "/delete", "", ""},
		{"GET", "/api/items", "", ""},
		{"GET", "/api/items" + id, "", ""},
	}
	writes := []route{
		{"POST", "/items", formType, form("name", "new")},
		{"POST", "/items" + id, formType, form("name", "renamed", "version", "1")},
		{"POST", "/items" + id + "/delete", formType, form("version", "99")},
		{"POST", "/api/items", "application/json", `{"name":"new"}`},
		{"PUT", "/api/items" + id, "application/json", `{"name":"renamed"}`},
		{"PATCH", "/api/items" + id, "application/json", `{"name":"patched"}`},
		{"DELETE", "/api/items" + id, "", ""},
	}
	public := []route{{"GET", "/healthz", "", ""}, {"GET", "/readyz", "", ""}}

	check := func(c caller, r route, ok func(int) bool, want string) {
		t.Helper()
		res := a.do(r.method, r.path, r.contentType, r.body, append(c.header, "If-Match", `"99"`)...)
		if !ok(res.StatusCode) {
			t.Errorf("%s: %s %s = %d, want %s", c.name, r.method, r.path, res.StatusCode, want)
		}
		wantHeaders(t, res, c.name+": "+r.method+" "+r.path)
	}
	is := func(code int) func(int) bool { return func(s int) bool { return s == code } }
	allowed := func(s int) bool { return s != 401 && s != 403 && s < 500 }
	for _, c := range []caller{anonymous, forged} {
		for _, r := range append(reads, writes...) {
			check(c, r, is(401), "401")
		}
	}
	for _, r := range append(reads, writes...) {
		check(nobody, r, is(403), "403")
	}
	for _, r := range reads {
		check(viewer, r, is(200), "200")
		check(editor, r, is(200), "200")
	}
	for _, r := range writes {
		check(viewer, r, is(403), "403")
		check(editor, r, allowed, "not refused")
	}
	for _, c := range []caller{anonymous, forged, viewer} {
		for _, r := range public {
			check(c, r, func(s int) bool { return s == 200 || (r.path == "/readyz" && s == 503) }, "200 (or 503 for /readyz)")
		}
	}
	// Paths that only look public need sign-in like the rest.
	for _, p := range []string{"/healthz/", "/healthzx", "/static/../api/items", "/api/items/../../healthz"} {
		if res := a.do("GET", p, "", ""); res.StatusCode == http.StatusOK {
			t.Errorf("anonymous GET %s = 200", p)
		}
	}
}

// A panicking handler becomes a generic 500 that still carries the
// security headers and reveals nothing.
func TestPanicBecomesCleanError(t *testing.T) {
	t.Parallel()
	a := &testApp{t: t, handler: newProductionChain(t, nil)} // nil store: handlers panic
	res := a.do("GET", "/api/items", "", "", viewer.header...)
	p := wantProblem(t, res, http.StatusInternalServerError, "internal")
	if strings.Contains(res.body, "nil pointer") || strings.Contains(res.body, "goroutine") || p.Detail == "" {
		t.Fatalf("panic leaked: %s", res.body)
	}
	page := a.do("GET", "/", "", "", viewer.header...)
	if page.StatusCode != 500 || !strings.Contains(page.body, "Internal error") {
		t.Fatalf("page panic: %d %s", page.StatusCode, page.body)
	}
	for _, r := range []response{res, page} {
		wantHeaders(t, r, "500 after a panic")
	}
}

// wantHeaders checks the security headers of every answer, and the
// document policies on HTML pages (error pages included).
func wantHeaders(t *testing.T, r response, what string) {
	t.Helper()
	if r.Header.Get("Content-Security-Policy") == "" || r.Header.Get("X-Content-Type-Options") != "nosniff" ||
		r.Header.Get("X-Frame-Options") != "DENY" || r.Header.Get("Referrer-Policy") == "" ||
		r.Header.Get("Cross-Origin-Resource-Policy") != "same-origin" {
		t.Errorf("%s: lacks security headers: %v", what, r.Header)
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") &&
		(r.Header.Get("Cross-Origin-Opener-Policy") != "same-origin" || r.Header.Get("Permissions-Policy") == "") {
		t.Errorf("%s: HTML page lacks the document policies: %v", what, r.Header)
	}
}
