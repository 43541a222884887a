package web_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"example.com/example-function/internal/auth"
	"example.com/example-function/internal/buildinfo"
	"example.com/example-function/internal/database"
	"example.com/example-function/internal/database/dbtest"
	"example.com/example-function/internal/items"
	"example.com/example-function/internal/web"
)

// wantSecurityHeaders asserts the headers every response must carry.
func wantSecurityHeaders(t *testing.T, h http.Header, hsts bool) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'",
		"base-uri 'none'", "form-action 'self'", "object-src 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("CSP %q lacks %q", csp, d)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP allows inline code: %q", csp)
	}
	for name, want := range map[string]string{
		"X-Content-Type-Options":       "nosniff",
		"Referrer-Policy":              "strict-origin-when-cross-origin",
		"X-Frame-Options":              "DENY",
		"Cross-Origin-Resource-Policy": "same-origin",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if got := h.Get("Strict-Transport-Security"); (got != "") != hsts {
		t.Errorf("Strict-Transport-Security = %q, want present=%v", got, hsts)
	}
}

const proxySecret = "0123456789abcdef0123456789abcdef-proxy"

// proxySite is the real handler behind a sign-on proxy's identity, editors
// in group "writers", recording the refusals it counts.
type proxySite struct {
	handler  http.Handler
	mu       sync.Mutex
	refusals []auth.Reason
}

func newProxySite(t *testing.T, trusted ...string) *proxySite {
	t.Helper()
	pool := dbtest.NewPool(t)
	proxy, err := auth.NewProxy(auth.ProxyOptions{SecretHeader: "X-Auth-Proxy-Secret", UserHeader: "X-Forwarded-User", GroupsHeader: "X-Forwarded-Groups", Secret: []byte(proxySecret), UserDomain: "@example.edu"})
	if err != nil {
		t.Fatal(err)
	}
	checker := database.NewChecker(pool.Ping, 2*time.Second, slog.New(slog.DiscardHandler))
	checker.SetMigrated()
	ps := &proxySite{}
	ps.handler, err = web.NewHandler(web.Deps{
		Items: items.NewStore(pool), Health: checker, Authn: proxy,
		Policy:         &auth.Policy{ViewerGroups: []string{"readers"}, EditorGroups: []string{"writers"}},
		TrustedOrigins: trusted,
		OnAuthRefusal: func(_ context.Context, r auth.Reason) {
			ps.mu.Lock()
			ps.refusals = append(ps.refusals, r)
			ps.mu.Unlock()
		},
		Build: buildinfo.Info{Version: "v1", Commit: "c"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func (ps *proxySite) lastRefusal() auth.Reason {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if len(ps.refusals) == 0 {
		return ""
	}
	return ps.refusals[len(ps.refusals)-1]
}

// TestBrowserSafetyOverHTTP drives the whole chain through a real server,
// as a browser would: cross-site writes are refused before any identity is
// looked at, same-origin form posts work, and every response carries the
// security headers.
func TestBrowserSafetyOverHTTP(t *testing.T) {
	t.Parallel()
	ps := newProxySite(t)
	srv := httptest.NewServer(ps.handler)
	t.Cleanup(srv.Close)
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	editor := http.Header{}
	editor.Set("X-Auth-Proxy-Secret", proxySecret)
	editor.Set("X-Forwarded-User", "eddie")
	editor.Set("X-Forwarded-Groups", "writers")
	form := "application/x-www-form-urlencoded"

	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		headers     map[string]string
		as          http.Header
		status      int
		reason      auth.Reason
	}{
		{"cross-site form POST", "POST", "/items", form, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, editor, 403, auth.ReasonCrossOrigin},
		{"cross-site DELETE", "DELETE", "/api/items/1", "", map[string]string{"Sec-Fetch-Site": "same-site"}, editor, 403, auth.ReasonCrossOrigin},
		{"old browser foreign Origin", "POST", "/items", form, map[string]string{"Origin": "https://evil.example"}, editor, 403, auth.ReasonCrossOrigin},
		{"cross-site POST anonymous", "POST", "/items", form, map[string]string{"Sec-Fetch-Site": "cross-site"}, nil, 403, auth.ReasonCrossOrigin},
		{"same-origin form POST", "POST", "/items", form, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": srv.URL}, editor, http.StatusSeeOther, ""},
		{"old browser same Origin", "POST", "/items", form, map[string]string{"Origin": srv.URL}, editor, http.StatusSeeOther, ""},
		{"API client without browser headers", "POST", "/api/items", "application/json", nil, editor, http.StatusCreated, ""},
		{"cross-site GET is a navigation", "GET", "/", "", map[string]string{"Sec-Fetch-Site": "cross-site"}, editor, 200, ""},
		{"anonymous page", "GET", "/", "", nil, nil, 401, auth.ReasonMissing},
		{"anonymous API", "GET", "/api/items", "", nil, nil, 401, auth.ReasonMissing},
		{"health", "GET", "/healthz", "", nil, nil, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := url.Values{"name": {"x"}}.Encode()
			if tt.contentType == "application/json" {
				body = `{"name":"x"}`
			}
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			for k, v := range tt.as {
				req.Header[k] = v
			}
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			before := ps.lastRefusal()
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.reason != "" && ps.lastRefusal() != tt.reason {
				t.Errorf("refusal %q (before %q), want %q", ps.lastRefusal(), before, tt.reason)
			}
			wantSecurityHeaders(t, resp.Header, false)
		})
	}
}

func TestHSTSOnlyOverHTTPS(t *testing.T) {
	t.Parallel()
	h := newProxySite(t).handler

	// Over real TLS.
	tlsSrv := httptest.NewTLSServer(h)
	t.Cleanup(tlsSrv.Close)
	resp, err := tlsSrv.Client().Get(tlsSrv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wantSecurityHeaders(t, resp.Header, true)

	// Behind Cloud Run's TLS termination, and on plain HTTP; a probe and a
	// refused page alike.
	for _, path := range []string{"/healthz", "/"} {
		for _, tt := range []struct {
			proto string
			hsts  bool
		}{{"https", true}, {"HTTPS", true}, {"https, http", true}, {"http", false}, {"", false}} {
			r := httptest.NewRequest("GET", path, nil)
			if tt.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tt.proto)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			t.Run(path+" X-Forwarded-Proto "+tt.proto, func(t *testing.T) { wantSecurityHeaders(t, w.Header(), tt.hsts) })
		}
	}
}

func TestCrossOriginTrustedOrigins(t *testing.T) {
	t.Parallel()
	h := newProxySite(t, "https://admin.example.edu").handler
	for origin, want := range map[string]int{"https://admin.example.edu": http.StatusSeeOther, "https://evil.example": 403} {
		r := httptest.NewRequest("POST", "http://items.example.edu/items", strings.NewReader("name=x"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		r.Header.Set("Origin", origin)
		r.Header.Set("X-Auth-Proxy-Secret", proxySecret)
		r.Header.Set("X-Forwarded-User", "eddie")
		r.Header.Set("X-Forwarded-Groups", "writers")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("Origin %s: %d, want %d", origin, w.Code, want)
		}
	}
	if _, err := web.NewHandler(web.Deps{TrustedOrigins: []string{"not a url"}}); err == nil {
		t.Error("malformed trusted origin accepted")
	}
}
