package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"

	"example.com/example-function/internal/formatchar"
)

// FuzzParseGroups checks that any groups header either is refused or
// yields clean, unique, non-empty groups that appear in the input.
func FuzzParseGroups(f *testing.F) {
	for _, s := range []string{"", ":", "::a::b:", "staff:admins", " a : b ", "a:a", "équipe:数据", "a\tb", "a\x00", "\xff", strings.Repeat("g:", 4096)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		groups, err := ParseGroups(s)
		if err != nil {
			if r := ReasonOf(err); r != ReasonMalformed && r != ReasonOversized {
				t.Fatalf("reason %s", r)
			}
			return
		}
		if !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
			t.Fatalf("accepted %q", s)
		}
		seen := map[string]bool{}
		for _, g := range groups {
			if g == "" || strings.Contains(g, ":") || g != strings.TrimSpace(g) || seen[g] || !strings.Contains(s, g) {
				t.Fatalf("bad group %q from %q", g, s)
			}
			seen[g] = true
		}
	})
}

// FuzzProxyHeaders feeds arbitrary secret, user and groups values: the
// proxy must never accept a wrong secret, a placeholder user, or return a
// user with control or invisible format characters.
func FuzzProxyHeaders(f *testing.F) {
	f.Add(testSecret, "alice@example.edu", "staff:admins", false)
	f.Add(testSecret, "alice", "", true)
	f.Add("wrong", "alice", "staff", false)
	f.Add(testSecret, "ali\x7fce", "x", false)
	f.Add(testSecret, "@example.edu", "::", false)
	f.Add(testSecret[:32], "bob", "a", false)
	f.Add(testSecret, "(null)", "", false)
	f.Add(testSecret, "bob\u202e", "", false)
	p, err := NewProxy(ProxyOptions{SecretHeader: "X-Auth-Proxy-Secret", UserHeader: "X-Forwarded-User", GroupsHeader: "X-Forwarded-Groups", Secret: []byte(testSecret), UserDomain: "@example.edu"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, secret, user, groups string, twice bool) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["X-Auth-Proxy-Secret"] = []string{secret}
		r.Header["X-Forwarded-User"] = []string{user}
		r.Header["X-Forwarded-Groups"] = []string{groups}
		if twice {
			r.Header["X-Forwarded-User"] = append(r.Header["X-Forwarded-User"], user)
		}
		u, err := p.Authenticate(r)
		if err != nil {
			if ReasonOf(err) == ReasonInternal {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if secret != testSecret || twice {
			t.Fatalf("accepted secret %q twice=%v", secret, twice)
		}
		if u.Name == "" || strings.ContainsFunc(u.Name, unicode.IsControl) || !utf8.ValidString(u.Name) {
			t.Fatalf("bad user %q", u.Name)
		}
		if r, _, found := formatchar.Find(u.Name); found {
			t.Fatalf("user %q with format character U+%04X", u.Name, r)
		}
		if p.isPlaceholder(user) {
			t.Fatalf("placeholder user %q accepted", user)
		}
	})
}

// FuzzVerifyToken feeds arbitrary strings as IAP assertions. Only tokens
// signed by the published key may pass; nothing may panic or fetch keys
// for malformed input more than the rate limit allows.
func FuzzVerifyToken(f *testing.F) {
	iss := newFakeIssuer(f, jose.ES256)
	good := iss.sign("key-1", claims(IAPIssuer, testIAPAudience, "alice@example.com"))
	parts := strings.Split(good, ".")
	for _, s := range []string{good, "", ".", "..", "a.b.c", parts[0] + "." + parts[1] + ".", parts[0] + ".e30." + parts[2],
		`{"protected":"e30","payload":"e30","signature":""}`, "eyJhbGciOiJub25lIn0.e30.", strings.Repeat("A", 9000)} {
		f.Add(s)
	}
	a, err := NewIAP(IAPOptions{Audience: testIAPAudience, KeysURL: iss.url(), Now: fixedClock, KeySet: KeySetOptions{Now: fixedClock}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := a.v.verify(context.Background(), tok)
		if err != nil {
			if ReasonOf(err) == ReasonInternal {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if c.Email != "alice@example.com" {
			t.Fatalf("accepted a token that was not issued: %+v", c)
		}
	})
}
