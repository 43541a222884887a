package web_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"

	"example.com/example-function/internal/auth"
)

// When the sign-in keys cannot be fetched, signed-in requests are told the
// service is briefly unavailable (503, Retry-After), not to sign in again:
// as problem JSON on the API, as the 503 page otherwise.
func TestSignInUnavailableIs503(t *testing.T) {
	t.Parallel()
	down := httptest.NewServer(http.NotFoundHandler())
	keysURL := down.URL + "/keys"
	down.Close() // nothing listens there any more
	iap, err := auth.NewIAP(auth.IAPOptions{Audience: "/projects/1/global/backendServices/2", KeysURL: keysURL})
	if err != nil {
		t.Fatal(err)
	}
	a := newApp(t, iap)
	// Well-formed, naming a key: the key set is asked before any signature
	// or claim is looked at.
	token := b64(`{"alg":"ES256","kid":"k1","typ":"JWT"}`) + "." + b64(`{"iss":"x"}`) + "." + b64("signature")

	r := a.json("GET", "/api/items", "", auth.IAPHeader, token)
	wantProblem(t, r, http.StatusServiceUnavailable, "sign-in-unavailable")
	if got := r.Header.Get("Retry-After"); got != auth.KeysRetryAfter {
		t.Errorf("API Retry-After = %q, want %s", got, auth.KeysRetryAfter)
	}
	page := a.do("GET", "/", "", "", auth.IAPHeader, token)
	wantHTML(t, page, http.StatusServiceUnavailable, "Signing in is briefly unavailable")
	if got := page.Header.Get("Retry-After"); got != auth.KeysRetryAfter {
		t.Errorf("page Retry-After = %q, want %s", got, auth.KeysRetryAfter)
	}
	// Without any token it is still the caller's to sign in.
	wantProblem(t, a.json("GET", "/api/items", ""), http.StatusUnauthorized, "unauthenticated")
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
