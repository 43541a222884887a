package auth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A proxy whose sign-on did not run for a path still sends its secret and a
// placeholder user ("(null)" from Apache's %{REMOTE_USER}s). With a viewer
// grant of "*" that would sign anonymous visitors in; it is refused with
// 401 and its own reason instead.
func TestProxyRefusesPlaceholderUsers(t *testing.T) {
	t.Parallel()
	p, err := NewProxy(ProxyOptions{SecretHeader: "X-Auth-Proxy-Secret", UserHeader: "X-Forwarded-User", GroupsHeader: "X-Forwarded-Groups", Secret: []byte(testSecret), UserDomain: "@example.edu", PlaceholderUsers: []string{"anonymous"}})
	if err != nil {
		t.Fatal(err)
	}
	sec := "X-Auth-Proxy-Secret: " + testSecret
	for _, user := range []string{"(null)", "-", "(none)", " (NULL) ", "(None)", "anonymous", "ANONYMOUS"} {
		u, err := p.Authenticate(proxyRequest(sec, "X-Forwarded-User: "+user, "X-Forwarded-Groups: staff"))
		if err == nil || ReasonOf(err) != ReasonPlaceholderUser {
			t.Errorf("user %q: %+v, %v; want refusal %s", user, u, err, ReasonPlaceholderUser)
		}
	}
	// Names that merely contain a placeholder are people.
	for _, user := range []string{"null", "(null)x", "a-b", "-alice", "none"} {
		if u, err := p.Authenticate(proxyRequest(sec, "X-Forwarded-User: "+user)); err != nil || u.Name != user {
			t.Errorf("user %q: %+v, %v; want signed in", user, u, err)
		}
	}
	// The built-in list cannot be switched off by configuring others.
	if _, err := newTestProxy(t).Authenticate(proxyRequest(sec, "X-Forwarded-User: (null)")); ReasonOf(err) != ReasonPlaceholderUser {
		t.Errorf("default proxy: %v, want %s", err, ReasonPlaceholderUser)
	}
}

func TestPlaceholderUserGets401WithAnyUserGrant(t *testing.T) {
	t.Parallel()
	app := newTestApp(t, newTestProxy(t), &Policy{ViewerUsers: []string{AnyUser}})
	for _, user := range []string{"(null)", "-"} {
		r := httptest.NewRequest(http.MethodGet, "/api/items", nil)
		r.Header.Set("X-Auth-Proxy-Secret", testSecret)
		r.Header.Set("X-Forwarded-User", user)
		w := httptest.NewRecorder()
		app.handler.ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized || app.lastRefusal() != ReasonPlaceholderUser {
			t.Errorf("user %q: status %d, refusal %q; want 401 %s", user, w.Code, app.lastRefusal(), ReasonPlaceholderUser)
		}
		if strings.Contains(w.Body.String(), user+" viewer") {
			t.Errorf("user %q reached the handler: %s", user, w.Body)
		}
	}
	if !strings.Contains(app.logs.String(), `"reason":"placeholder_user"`) || strings.Contains(app.logs.String(), testSecret) {
		t.Errorf("refusal log: %s", app.logs)
	}
}
