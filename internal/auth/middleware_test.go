package auth

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"time"

	"github.com/go-jose/go-jose/v4"
)

// testApp stands in for the web package: a few pages and API routes, the
// public health and asset paths, and a Deny that renders a sign-in hint.
type testApp struct {
	handler  http.Handler
	logs     *bytes.Buffer
	mu       sync.Mutex
	refusals []Reason
}

func isPublic(r *http.Request) bool {
	p := r.URL.Path
	return p == "/healthz" || p == "/readyz" || strings.HasPrefix(p, "/static/")
}

func newTestApp(t *testing.T, authn Authenticator, policy *Policy) *testApp {
	t.Helper()
	app := &testApp{logs: &bytes.Buffer{}}
	logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: app.logs}, nil))
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	mux.HandleFunc("/static/app.css", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "body{}") })
	echo := func(w http.ResponseWriter, r *http.Request) {
		u, _ := FromContext(r.Context())
		role, _ := RoleFromContext(r.Context())
		fmt.Fprintf(w, "%s %s", u.Name, role)
	}
	mux.HandleFunc("/", echo)
	mux.HandleFunc("/api/items", echo)
	mux.HandleFunc("/api/items/{id}", echo)
	mux.HandleFunc("/items", echo)
	onRefusal := func(_ context.Context, r Reason) {
		app.mu.Lock()
		app.refusals = append(app.refusals, r)
		app.mu.Unlock()
	}
	deny := func(w http.ResponseWriter, r *http.Request, status int) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		if status == http.StatusUnauthorized {
			fmt.Fprint(w, "<p>Please sign in.</p>")
		} else {
			fmt.Fprint(w, "<p>Not allowed.</p>")
		}
	}
	m := Middleware{Authn: authn, Policy: policy, Public: isPublic, Deny: deny, Logger: logger, OnRefusal: onRefusal}
	app.handler = m.Wrap(mux)
	return app
}

func (a *testApp) lastRefusal() Reason {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.refusals) == 0 {
		return ""
	}
	return a.refusals[len(a.refusals)-1]
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

var testPolicy = Policy{
	ViewerGroups: []string{"readers"},
	EditorGroups: []string{"writers"},
	EditorUsers:  []string{"Boss"},
}

func TestRolesMatrix(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, newTestProxy(t), &testPolicy)
	identities := map[string][]string{
		"anonymous":   nil,
		"forged":      {"X-Forwarded-User: boss"},
		"no role":     {"X-Auth-Proxy-Secret: " + testSecret, "X-Forwarded-User: nobody", "X-Forwarded-Groups: other"},
		"viewer":      {"X-Auth-Proxy-Secret: " + testSecret, "X-Forwarded-User: vera", "X-Forwarded-Groups: readers"},
		"editor":      {"X-Auth-Proxy-Secret: " + testSecret, "X-Forwarded-User: eddie", "X-Forwarded-Groups: readers:writers"},
		"editor user": {"X-Auth-Proxy-Secret: " + testSecret, "X-Forwarded-User: boss@example.edu"},
	}
	type want struct {
		status int
		reason Reason
	}
	read, write := want{200, ""}, want{200, ""}
	unauth := want{401, ReasonMissing}
	forged := want{401, ReasonUntrustedProxy}
	forbidden := want{403, ReasonForbiddenRole}
	matrix := map[string]struct{ read, write want }{
		"anonymous":   {unauth, unauth},
		"forged":      {forged, forged},
		"no role":     {forbidden, forbidden},
		"viewer":      {read, forbidden},
		"editor":      {read, write},
		"editor user": {read, write},
	}
	requests := []struct {
		method, path string
		write        bool
	}{
		{"GET", "/", false},
		{"HEAD", "/", false},
		{"GET", "/api/items", false},
		{"GET", "/api/items/7", false},
		{"POST", "/api/items", true},
		{"PUT", "/api/items/7", true},
		{"PATCH", "/api/items/7", true},
		{"DELETE", "/api/items/7", true},
		{"POST", "/items", true},
		{"OPTIONS", "/api/items", true},
	}
	for who, lines := range identities {
		for _, rq := range requests {
			t.Run(who+" "+rq.method+" "+rq.path, func(t *testing.T) {
				r := proxyRequest(lines...)
				r.Method, r.URL.Path = rq.method, rq.path
				w := httptest.NewRecorder()
				app.handler.ServeHTTP(w, r)
				exp := matrix[who].read
				if rq.write {
					exp = matrix[who].write
				}
				if w.Code != exp.status {
					t.Fatalf("status %d, want %d (%s)", w.Code, exp.status, w.Body)
				}
				if exp.status == 401 && !strings.Contains(w.Body.String(), "sign in") {
					t.Errorf("401 without sign-in hint: %q", w.Body)
				}
			})
		}
	}
	// Public paths need no identity.
	for _, p := range []string{"/healthz", "/static/app.css"} {
		w := httptest.NewRecorder()
		app.handler.ServeHTTP(w, httptest.NewRequest("GET", p, nil))
		if w.Code != 200 {
			t.Errorf("anonymous GET %s = %d, want 200", p, w.Code)
		}
	}
	// The handler sees the user and the role.
	w := httptest.NewRecorder()
	app.handler.ServeHTTP(w, proxyRequest(identities["editor user"]...))
	if got := w.Body.String(); got != "boss editor" {
		t.Errorf("handler saw %q, want %q", got, "boss editor")
	}
}

func TestRefusalsAreLoggedAndCountedWithoutCredentials(t *testing.T) {
	t.Parallel()
	f := newFakeIssuer(t, jose.ES256)
	app := newTestApp(t, newTestIAP(t, f, ""), &Policy{ViewerUsers: []string{AnyUser}})
	expired := claims(IAPIssuer, testIAPAudience, "alice@example.com")
	expired["exp"] = testNow.Add(-time.Hour).Unix()
	expired["iat"] = testNow.Add(-time.Hour - time.Minute).Unix()
	tok := f.sign("key-1", expired)

	w := httptest.NewRecorder()
	app.handler.ServeHTTP(w, iapRequest(tok))
	if w.Code != 401 || app.lastRefusal() != ReasonExpired {
		t.Fatalf("expired token: %d %s", w.Code, app.lastRefusal())
	}
	logs := app.logs.String()
	if !strings.Contains(logs, `"reason":"expired"`) || !strings.Contains(logs, `"msg":"auth refused"`) {
		t.Errorf("refusal not logged with reason: %s", logs)
	}
	for _, part := range strings.Split(tok, ".") {
		if strings.Contains(logs, part) {
			t.Fatalf("log contains part of the token: %s", logs)
		}
	}

	// A viewer (AnyUser) may read but not write.
	good := f.sign("key-1", claims(IAPIssuer, testIAPAudience, "alice@example.com"))
	r := iapRequest(good)
	r.Method = http.MethodDelete
	w = httptest.NewRecorder()
	app.handler.ServeHTTP(w, r)
	if w.Code != 403 || app.lastRefusal() != ReasonForbiddenRole {
		t.Fatalf("viewer DELETE: %d %s", w.Code, app.lastRefusal())
	}
	if !strings.Contains(app.logs.String(), `"user":"alice@example.com"`) {
		t.Errorf("403 not logged with the user: %s", app.logs)
	}
	w = httptest.NewRecorder()
	app.handler.ServeHTTP(w, iapRequest(good))
	if w.Code != 200 || w.Body.String() != "alice@example.com viewer" {
		t.Fatalf("viewer GET: %d %q", w.Code, w.Body)
	}
}

func TestCloudRunIAM401CarriesChallenge(t *testing.T) {
	t.Parallel()
	f := newFakeIssuer(t, jose.RS256)
	app := newTestApp(t, newTestCloudRun(t, f), &Policy{EditorUsers: []string{"alice"}})
	w := httptest.NewRecorder()
	app.handler.ServeHTTP(w, bearer(""))
	if w.Code != 401 || w.Header().Get("WWW-Authenticate") != "Bearer" {
		t.Fatalf("got %d, WWW-Authenticate %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	c := claims("https://accounts.google.com", testServiceURL, "alice@example.edu")
	r := bearer("Bearer " + f.sign("key-1", c))
	r.Method = http.MethodPost
	w = httptest.NewRecorder()
	app.handler.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Fatalf("editor POST with ID token: %d %s", w.Code, w.Body)
	}
}

func TestMiddlewareDefaults(t *testing.T) {
	t.Parallel()
	// Zero Middleware: None authenticator, plain-text 401, no logger needed.
	h := Middleware{}.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("handler reached without identity")
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 401 {
		t.Fatalf("status %d", w.Code)
	}
	// No policy: any authenticated user passes (the original seam).
	h = Middleware{Authn: Dev{User: User{Name: "dev"}}}.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := RoleFromContext(r.Context()); ok {
			t.Error("role set without a policy")
		}
		w.WriteHeader(204)
	}))
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/", nil))
	if w.Code != 204 {
		t.Fatalf("dev POST without policy: %d", w.Code)
	}
}

func TestPolicy(t *testing.T) {
	t.Parallel()
	p := Policy{ViewerUsers: []string{"Vera"}, EditorGroups: []string{"Writers"}}
	tests := []struct {
		u    User
		want Role
	}{
		{User{Name: "vera"}, RoleViewer},
		{User{Name: "VERA"}, RoleViewer},
		{User{Name: "vera", Groups: []string{"Writers"}}, RoleEditor},
		{User{Name: "x", Groups: []string{"writers"}}, RoleNone}, // groups are exact
		{User{Name: "\u212Aate"}, RoleNone},                      // no Unicode folding
		{User{}, RoleNone},
	}
	for _, tt := range tests {
		if got := p.RoleOf(tt.u); got != tt.want {
			t.Errorf("RoleOf(%+v) = %s, want %s", tt.u, got, tt.want)
		}
	}
	if !(Policy{}).Empty() || p.Empty() {
		t.Error("Empty wrong")
	}
	if (Policy{}).RoleOf(User{Name: "anyone"}) != RoleNone {
		t.Error("empty policy grants a role")
	}
	if (Policy{EditorUsers: []string{AnyUser}}).RoleOf(User{Name: "x"}) != RoleEditor {
		t.Error("AnyUser does not match")
	}
}
