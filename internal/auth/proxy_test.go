package auth

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

const testSecret = "0123456789abcdef0123456789abcdef-proxy"

func newTestProxy(t *testing.T) *Proxy {
	t.Helper()
	p, err := NewProxy(ProxyOptions{SecretHeader: "X-Auth-Proxy-Secret", UserHeader: "X-Forwarded-User", GroupsHeader: "X-Forwarded-Groups", Secret: []byte(testSecret), UserDomain: "@example.edu"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// proxyRequest builds a request with the given header lines, each
// "Name: value", added in order so that repeated names repeat.
func proxyRequest(lines ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, l := range lines {
		name, value, _ := strings.Cut(l, ": ")
		r.Header.Add(name, value)
	}
	return r
}

func TestProxyAcceptsTrustedHeaders(t *testing.T) {
	t.Parallel()
	p := newTestProxy(t)
	long := strings.Repeat("g", 100)
	var many []string
	for len(strings.Join(many, ":")) < 8<<10 {
		many = append(many, long[:90]+strings.Repeat("x", len(many)%10)+string(rune('a'+len(many)%26)))
	}
	big := strings.Join(many, ":")
	tests := []struct {
		name   string
		user   string
		groups *string
		want   User
	}{
		{"user and groups", "alice@example.edu", ptr("staff:admins"), User{Name: "alice", Groups: []string{"staff", "admins"}}},
		{"domain case-insensitive", "alice@EXAMPLE.edu", ptr("staff"), User{Name: "alice", Groups: []string{"staff"}}},
		{"other domain kept", "bob@other.org", ptr(""), User{Name: "bob@other.org"}},
		{"no groups header", "carol", nil, User{Name: "carol"}},
		{"empty groups", "carol", ptr(""), User{Name: "carol"}},
		{"stray colons", "carol", ptr("::staff:::admins::"), User{Name: "carol", Groups: []string{"staff", "admins"}}},
		{"spaces and duplicates", "carol", ptr(" staff : admins:staff "), User{Name: "carol", Groups: []string{"staff", "admins"}}},
		{"unicode", "José@example.edu", ptr("équipe:数据:Ωmega"), User{Name: "José", Groups: []string{"équipe", "数据", "Ωmega"}}},
		{"8 KiB groups header", "dave", &big, User{Name: "dave", Groups: many}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := []string{"X-Auth-Proxy-Secret: " + testSecret, "X-Forwarded-User: " + tt.user}
			if tt.groups != nil {
				lines = append(lines, "X-Forwarded-Groups: "+*tt.groups)
			}
			u, err := p.Authenticate(proxyRequest(lines...))
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if u.Name != tt.want.Name || !slices.Equal(u.Groups, tt.want.Groups) {
				t.Errorf("got %q %q, want %q %q", u.Name, u.Groups, tt.want.Name, tt.want.Groups)
			}
		})
	}
	if len(big) < 8<<10 {
		t.Fatalf("big header only %d bytes", len(big))
	}
}

func TestProxyRefusals(t *testing.T) {
	t.Parallel()
	p := newTestProxy(t)
	sec := "X-Auth-Proxy-Secret: " + testSecret
	user := "X-Forwarded-User: alice@example.edu"
	groups := "X-Forwarded-Groups: staff"
	tests := []struct {
		name   string
		lines  []string
		reason Reason
	}{
		{"nothing", nil, ReasonMissing},
		{"headers without secret", []string{user, groups}, ReasonUntrustedProxy},
		{"groups only without secret", []string{groups}, ReasonUntrustedProxy},
		{"wrong secret same length", []string{"X-Auth-Proxy-Secret: " + strings.Repeat("z", len(testSecret)), user}, ReasonUntrustedProxy},
		{"secret prefix", []string{"X-Auth-Proxy-Secret: " + testSecret[:32], user}, ReasonUntrustedProxy},
		{"secret longer", []string{"X-Auth-Proxy-Secret: " + testSecret + "x", user}, ReasonUntrustedProxy},
		{"empty secret", []string{"X-Auth-Proxy-Secret: ", user}, ReasonUntrustedProxy},
		{"secret twice", []string{sec, sec, user}, ReasonAmbiguous},
		{"secret twice one wrong", []string{"X-Auth-Proxy-Secret: nope", sec, user}, ReasonAmbiguous},
		{"user twice", []string{sec, user, "X-Forwarded-User: mallory"}, ReasonAmbiguous},
		{"groups twice", []string{sec, user, groups, "X-Forwarded-Groups: admins"}, ReasonAmbiguous},
		{"secret but no user", []string{sec, groups}, ReasonMissing},
		{"empty user", []string{sec, "X-Forwarded-User:  "}, ReasonMissing},
		{"only the domain", []string{sec, "X-Forwarded-User: @example.edu"}, ReasonMissing},
		{"user with tab", []string{sec, "X-Forwarded-User: ali\tce"}, ReasonMalformed},
		{"user with newline", []string{sec, "X-Forwarded-User: alice\nX-Admin: 1"}, ReasonMalformed},
		{"user with NUL", []string{sec, "X-Forwarded-User: alice\x00"}, ReasonMalformed},
		{"user with DEL", []string{sec, "X-Forwarded-User: alice\x7f"}, ReasonMalformed},
		{"user with C1 control", []string{sec, "X-Forwarded-User: alice\u0085"}, ReasonMalformed},
		{"user invalid UTF-8", []string{sec, "X-Forwarded-User: alice\xff"}, ReasonMalformed},
		{"groups with control", []string{sec, user, "X-Forwarded-Groups: staff\x1b[31m:admins"}, ReasonMalformed},
		{"groups oversized", []string{sec, user, "X-Forwarded-Groups: " + strings.Repeat("a:", 9<<10)}, ReasonOversized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := p.Authenticate(proxyRequest(tt.lines...))
			if err == nil {
				t.Fatalf("accepted as %+v, want %s", u, tt.reason)
			}
			if got := ReasonOf(err); got != tt.reason {
				t.Errorf("reason = %s (%v), want %s", got, err, tt.reason)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("error leaks the secret: %v", err)
			}
		})
	}
}

func TestProxyCustomHeaders(t *testing.T) {
	t.Parallel()
	p, err := NewProxy(ProxyOptions{Secret: []byte(testSecret), SecretHeader: "x-weblogin-key", UserHeader: "X-Remote-User", GroupsHeader: "X-Remote-Groups"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := p.Authenticate(proxyRequest("X-Weblogin-Key: "+testSecret, "X-Remote-User: erin", "X-Remote-Groups: a:b"))
	if err != nil || u.Name != "erin" || !slices.Equal(u.Groups, []string{"a", "b"}) {
		t.Fatalf("got %+v, %v", u, err)
	}
	// The default header names mean nothing now.
	if _, err := p.Authenticate(proxyRequest("X-Auth-Proxy-Secret: "+testSecret, "X-Forwarded-User: erin")); ReasonOf(err) != ReasonMissing {
		t.Fatalf("default headers with custom config: %v", err)
	}
}

func TestNewProxyChecksOptions(t *testing.T) {
	t.Parallel()
	if _, err := NewProxy(ProxyOptions{SecretHeader: "X-Auth-Proxy-Secret", UserHeader: "X-Forwarded-User", GroupsHeader: "X-Forwarded-Groups", Secret: []byte(strings.Repeat("s", 31))}); err == nil {
		t.Error("31-byte secret accepted")
	}
	if _, err := NewProxy(ProxyOptions{SecretHeader: "X-Auth-Proxy-Secret", GroupsHeader: "X-Forwarded-Groups", Secret: []byte(testSecret), UserHeader: "x-auth-proxy-secret"}); err == nil {
		t.Error("user header equal to secret header accepted")
	}
}

func ptr[T any](v T) *T { return &v }

// Behind Middleware, handlers (and whatever they log or call) never see
// the proxy secret, on signed-in and public routes alike; the identity
// headers stay, and the caller's request is not modified. (In the app,
// GET /healthz is answered before Middleware; that handler reads no
// header.)
func TestProxySecretNeverReachesHandlers(t *testing.T) {
	for _, path := range []string{"/api/items", "/healthz"} {
		t.Run(path, func(t *testing.T) {
			var seen http.Header
			h := Middleware{Authn: newTestProxy(t), Public: isPublic}.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = r.Header.Clone()
			}))
			r := proxyRequest("X-Auth-Proxy-Secret: "+testSecret, "X-Forwarded-User: alice@example.edu")
			r.URL.Path = path
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK || seen == nil {
				t.Fatalf("status %d, handler ran: %v", w.Code, seen != nil)
			}
			if v := seen.Values("X-Auth-Proxy-Secret"); len(v) > 0 {
				t.Errorf("handler saw the proxy secret %q", v)
			}
			if seen.Get("X-Forwarded-User") != "alice@example.edu" {
				t.Errorf("identity header lost: %v", seen)
			}
			if r.Header.Get("X-Auth-Proxy-Secret") != testSecret {
				t.Errorf("the caller's request was modified")
			}
		})
	}
}
