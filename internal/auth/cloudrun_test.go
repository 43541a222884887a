package auth

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

const testServiceURL = "https://example-function-abc123-ew.a.run.app"

func newTestCloudRun(t *testing.T, f *fakeIssuer) *CloudRunIAM {
	t.Helper()
	a, err := NewCloudRunIAM(CloudRunIAMOptions{
		Audiences: []string{testServiceURL, "https://items.example.edu"},
		CertsURL:  f.url(), UserDomain: "@example.edu", Now: fixedClock,
		KeySet: KeySetOptions{Now: fixedClock},
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func bearer(v string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/api/items", nil)
	if v != "" {
		r.Header.Set("Authorization", v)
	}
	return r
}

func TestCloudRunIAMAcceptsGoogleIDToken(t *testing.T) {
	t.Parallel()
	f := newFakeIssuer(t, jose.RS256)
	a := newTestCloudRun(t, f)
	for _, iss := range []string{"https://accounts.google.com", "accounts.google.com"} {
		for _, aud := range []any{testServiceURL, []string{"other", "https://items.example.edu"}} {
			c := claims(iss, aud, "alice@example.edu")
			c["email_verified"] = true
			u, err := a.Authenticate(bearer("Bearer " + f.sign("key-1", c)))
			if err != nil || u.Name != "alice" {
				t.Errorf("iss %s aud %v: %+v, %v", iss, aud, u, err)
			}
		}
	}
	sa := claims("https://accounts.google.com", testServiceURL, "caller@project.iam.gserviceaccount.com")
	if u, err := a.Authenticate(bearer("bearer " + f.sign("key-1", sa))); err != nil || u.Name != "caller@project.iam.gserviceaccount.com" {
		t.Errorf("service account token: %+v, %v", u, err)
	}
}

func TestCloudRunIAMRefusals(t *testing.T) {
	t.Parallel()
	f := newFakeIssuer(t, jose.RS256)
	es := newFakeIssuer(t, jose.ES256)
	a := newTestCloudRun(t, f)
	valid := func() map[string]any {
		return claims("https://accounts.google.com", testServiceURL, "alice@example.edu")
	}
	with := func(k string, v any) map[string]any { c := valid(); c[k] = v; return c }
	tests := []struct {
		name   string
		header string
		reason Reason
	}{
		{"no header", "", ReasonMissing},
		{"basic auth", "Basic YWxpY2U6c2VjcmV0", ReasonMalformed},
		{"bearer without token", "Bearer", ReasonMalformed},
		{"wrong audience", "Bearer " + f.sign("key-1", with("aud", "https://other-service.a.run.app")), ReasonWrongAudience},
		{"IAP issuer", "Bearer " + f.sign("key-1", with("iss", IAPIssuer)), ReasonWrongIssuer},
		{"unverified email", "Bearer " + f.sign("key-1", with("email_verified", false)), ReasonMissingClaim},
		{"ES256 token", "Bearer " + es.sign("key-1", valid()), ReasonBadAlgorithm},
		{"alg none", "Bearer " + unsignedToken(t, "none", "key-1", valid()), ReasonBadAlgorithm},
		{"expired", "Bearer " + f.sign("key-1", with("exp", testNow.Add(-2*googleLeeway).Unix())), ReasonExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.Authenticate(bearer(tt.header))
			if got := ReasonOf(err); got != tt.reason {
				t.Errorf("reason = %s (%v), want %s", got, err, tt.reason)
			}
		})
	}
	if c := a.Challenge(); c != "Bearer" {
		t.Errorf("challenge = %q", c)
	}
}

func TestNewCloudRunIAMNeedsAudience(t *testing.T) {
	t.Parallel()
	if _, err := NewCloudRunIAM(CloudRunIAMOptions{}); err == nil {
		t.Fatal("no audience accepted")
	}
	if _, err := NewCloudRunIAM(CloudRunIAMOptions{Audiences: []string{""}}); err == nil {
		t.Fatal("empty audience accepted")
	}
}
