package auth

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
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

// TestBrowserSafetyOverHTTP drives the whole chain through a real server,
// as a browser would: cross-site POSTs are refused, same-origin form posts
// work, and every response carries the security headers.
func TestBrowserSafetyOverHTTP(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, newTestProxy(t), &testPolicy)
	srv := httptest.NewServer(app.handler)
	t.Cleanup(srv.Close)
	editor := http.Header{}
	editor.Set("X-Auth-Proxy-Secret", testSecret)
	editor.Set("X-Forwarded-User", "eddie")
	editor.Set("X-Forwarded-Groups", "writers")

	tests := []struct {
		name    string
		method  string
		path    string
		headers map[string]string
		as      http.Header
		status  int
		reason  Reason
	}{
		{"cross-site form POST", "POST", "/items", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, editor, 403, ReasonCrossOrigin},
		{"cross-site DELETE", "DELETE", "/api/items/1", map[string]string{"Sec-Fetch-Site": "same-site"}, editor, 403, ReasonCrossOrigin},
		{"old browser foreign Origin", "POST", "/items", map[string]string{"Origin": "https://evil.example"}, editor, 403, ReasonCrossOrigin},
		{"cross-site POST anonymous", "POST", "/items", map[string]string{"Sec-Fetch-Site": "cross-site"}, nil, 403, ReasonCrossOrigin},
		{"same-origin form POST", "POST", "/items", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": srv.URL}, editor, 200, ""},
		{"old browser same Origin", "POST", "/items", map[string]string{"Origin": srv.URL}, editor, 200, ""},
		{"API client without browser headers", "POST", "/api/items", nil, editor, 200, ""},
		{"cross-site GET is a navigation", "GET", "/", map[string]string{"Sec-Fetch-Site": "cross-site"}, editor, 200, ""},
		{"anonymous page", "GET", "/", nil, nil, 401, ReasonMissing},
		{"anonymous API", "GET", "/api/items", nil, nil, 401, ReasonMissing},
		{"health", "GET", "/healthz", nil, nil, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := strings.NewReader(url.Values{"name": {"x"}}.Encode())
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, form)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range tt.as {
				req.Header[k] = v
			}
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			before := app.lastRefusal()
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.reason != "" && app.lastRefusal() != tt.reason {
				t.Errorf("refusal %q (before %q), want %q", app.lastRefusal(), before, tt.reason)
			}
			wantSecurityHeaders(t, resp.Header, false)
		})
	}
}

func TestHSTSOnlyOverHTTPS(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	h := SecurityHeaders(ok)

	// Over real TLS.
	tlsSrv := httptest.NewTLSServer(h)
	t.Cleanup(tlsSrv.Close)
	resp, err := tlsSrv.Client().Get(tlsSrv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wantSecurityHeaders(t, resp.Header, true)

	// Behind Cloud Run's TLS termination, and on plain HTTP.
	for _, tt := range []struct {
		proto string
		hsts  bool
	}{{"https", true}, {"HTTPS", true}, {"https, http", true}, {"http", false}, {"", false}} {
		r := httptest.NewRequest("GET", "/", nil)
		if tt.proto != "" {
			r.Header.Set("X-Forwarded-Proto", tt.proto)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		t.Run("X-Forwarded-Proto "+tt.proto, func(t *testing.T) { wantSecurityHeaders(t, w.Header(), tt.hsts) })
	}
}

func TestCrossOriginTrustedOrigins(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	h, err := CrossOrigin{TrustedOrigins: []string{"https://admin.example.edu"}}.Wrap(ok)
	if err != nil {
		t.Fatal(err)
	}
	for origin, want := range map[string]int{"https://admin.example.edu": 204, "https://evil.example": 403} {
		r := httptest.NewRequest("POST", "http://items.example.edu/items", nil)
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		r.Header.Set("Origin", origin)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("Origin %s: %d, want %d", origin, w.Code, want)
		}
	}
	if _, err := (CrossOrigin{TrustedOrigins: []string{"not a url"}}).Middleware(); err == nil {
		t.Error("malformed trusted origin accepted")
	}
}
