package auth

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

const testIAPAudience = "/projects/123456789/global/backendServices/987654321"

func newTestIAP(t *testing.T, f *fakeIssuer, domain string) *IAP {
	t.Helper()
	a, err := NewIAP(IAPOptions{Audience: testIAPAudience, KeysURL: f.url(), UserDomain: domain, Now: fixedClock,
		KeySet: KeySetOptions{Now: fixedClock}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func iapRequest(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if token != "" {
		r.Header.Set(IAPHeader, token)
	}
	return r
}

func TestIAPAcceptsValidToken(t *testing.T) {
	t.Parallel()
	f := newFakeIssuer(t, jose.ES256)
	a := newTestIAP(t, f, "@example.edu")
	tok := f.sign("key-1", claims(IAPIssuer, testIAPAudience, "alice@example.edu"))
	u, err := a.Authenticate(iapRequest(tok))
	if err != nil {
		t.Fatalf("valid token refused: %v", err)
	}
	if u.Name != "alice" || len(u.Groups) != 0 {
		t.Errorf("user = %+v, want alice without groups", u)
	}
	// Other domains keep their full address.
	tok = f.sign("key-1", claims(IAPIssuer, testIAPAudience, "bob@elsewhere.org"))
	if u, err = a.Authenticate(iapRequest(tok)); err != nil || u.Name != "bob@elsewhere.org" {
		t.Errorf("got %+v, %v; want bob@elsewhere.org", u, err)
	}
	// The set was fetched once and then served from cache.
	if n := f.fetches.Load(); n != 1 {
		t.Errorf("key set fetched %d times, want 1", n)
	}
}

func TestIAPRefusals(t *testing.T) {
	t.Parallel()
	f := newFakeIssuer(t, jose.ES256)
	f.addKey("unpublished", false)
	a := newTestIAP(t, f, "")
	valid := func() map[string]any { return claims(IAPIssuer, testIAPAudience, "alice@example.com") }
	with := func(k string, v any) map[string]any {
		c := valid()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}

	// A key that is not in the set but signs under a published kid.
	impostor := f.newKey()
	// HS256 with the public key as HMAC secret: the classic key confusion.
	pub, err := x509.MarshalPKIXPublicKey(f.private["key-1"].Public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	// An RS256 key published under the IAP set must not verify ES256.
	good := f.sign("key-1", valid())
	parts := strings.Split(good, ".")

	tests := []struct {
		name   string
		token  string
		reason Reason
	}{
		{"missing", "", ReasonMissing},
		{"wrong key", signWith(t, jose.ES256, impostor, "key-1", valid()), ReasonBadSignature},
		{"unpublished key", f.sign("unpublished", valid()), ReasonUnknownKey},
		{"alg none", unsignedToken(t, "none", "key-1", valid()), ReasonBadAlgorithm},
		{"HS256 with public key", signWith(t, jose.HS256, pubPEM, "key-1", valid()), ReasonBadAlgorithm},
		{"RS256", unsignedToken(t, "RS256", "key-1", valid()) + "c2lnbmF0dXJl", ReasonBadAlgorithm},
		{"expired", f.sign("key-1", with("exp", testNow.Add(-31*time.Second).Unix())), ReasonExpired},
		{"expired within skew is fine", "", ""},
		{"not yet valid iat", f.sign("key-1", with("iat", testNow.Add(2*time.Minute).Unix())), ReasonNotYetValid},
		{"not yet valid nbf", f.sign("key-1", with("nbf", testNow.Add(2*time.Minute).Unix())), ReasonNotYetValid},
		{"wrong audience", f.sign("key-1", with("aud", "/projects/1/global/backendServices/2")), ReasonWrongAudience},
		{"no audience", f.sign("key-1", with("aud", nil)), ReasonWrongAudience},
		{"wrong issuer", f.sign("key-1", with("iss", "https://accounts.google.com")), ReasonWrongIssuer},
		{"no exp", f.sign("key-1", with("exp", nil)), ReasonMissingClaim},
		{"no iat", f.sign("key-1", with("iat", nil)), ReasonMissingClaim},
		{"no email", f.sign("key-1", with("email", nil)), ReasonMissingClaim},
		{"lifetime too long", f.sign("key-1", with("exp", testNow.Add(time.Hour).Unix())), ReasonMalformed},
		{"email with control char", f.sign("key-1", with("email", "alice\u0085@example.com")), ReasonMalformed},
		{"malformed one part", "garbage", ReasonMalformed},
		{"malformed bad base64", "a.b.c", ReasonMalformed},
		{"malformed four parts", good + ".x", ReasonMalformed},
		{"malformed JSON serialization", `{"payload":"e30","signatures":[]}`, ReasonMalformed},
		{"malformed payload not JSON", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("nope")) + "." + parts[2], ReasonBadSignature},
		{"tampered payload", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"email":"mallory@example.com"}`)) + "." + parts[2], ReasonBadSignature},
		{"no kid", signWith(t, jose.ES256, f.private["key-1"], "", valid()), ReasonMalformed},
		{"oversized", f.sign("key-1", with("pad", strings.Repeat("x", maxTokenBytes))), ReasonOversized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "expired within skew is fine" {
				tok := f.sign("key-1", with("exp", testNow.Add(-29*time.Second).Unix()))
				if _, err := a.Authenticate(iapRequest(tok)); err != nil {
					t.Fatalf("token expired 29 s ago refused (30 s skew): %v", err)
				}
				return
			}
			u, err := a.Authenticate(iapRequest(tt.token))
			if err == nil {
				t.Fatalf("accepted as %+v, want refusal %s", u, tt.reason)
			}
			if got := ReasonOf(err); got != tt.reason {
				t.Errorf("reason = %s (%v), want %s", got, err, tt.reason)
			}
			if tt.token != "" && len(tt.token) > 20 && strings.Contains(err.Error(), tt.token) {
				t.Errorf("error message contains the token")
			}
			if tt.reason == ReasonMissing && !errors.Is(err, ErrNoIdentity) {
				t.Errorf("missing refusal does not match ErrNoIdentity")
			}
		})
	}
}

func TestIAPHeaderSentTwiceIsAmbiguous(t *testing.T) {
	t.Parallel()
	f := newFakeIssuer(t, jose.ES256)
	a := newTestIAP(t, f, "")
	tok := f.sign("key-1", claims(IAPIssuer, testIAPAudience, "alice@example.com"))
	r := iapRequest(tok)
	r.Header.Add(IAPHeader, tok)
	if _, err := a.Authenticate(r); ReasonOf(err) != ReasonAmbiguous {
		t.Fatalf("got %v, want ambiguous", err)
	}
}

// unsignedToken builds header.payload. with an arbitrary alg, as an
// attacker would by hand.
func unsignedToken(t *testing.T, alg, kid string, claims any) string {
	t.Helper()
	h, err := json.Marshal(map[string]string{"alg": alg, "kid": kid, "typ": "JWT"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

func TestKeyRotationRefetchesOnUnknownKid(t *testing.T) {
	t.Parallel()
	f := newFakeIssuer(t, jose.ES256)
	a, now := newIAPWithKeyClock(t, f, false, KeySetOptions{})
	if _, err := a.Authenticate(iapRequest(f.sign("key-1", claims(IAPIssuer, testIAPAudience, "a@example.com")))); err != nil {
		t.Fatal(err)
	}
	if f.fetches.Load() != 1 || a.KeySet().Fetches() != 1 {
		t.Fatalf("fetches = %d/%d before rotation, want 1", f.fetches.Load(), a.KeySet().Fetches())
	}
	f.addKey("key-2", true) // IAP rotates, some time later
	now.Add(int64(time.Minute))
	u, err := a.Authenticate(iapRequest(f.sign("key-2", claims(IAPIssuer, testIAPAudience, "b@example.com"))))
	if err != nil || u.Name != "b@example.com" {
		t.Fatalf("token with rotated key: %+v, %v", u, err)
	}
	if n := f.fetches.Load(); n != 2 {
		t.Errorf("fetches = %d, want 2 (initial + one refetch for the new kid)", n)
	}
}

func TestUnknownKidStormDoesNotHammerEndpoint(t *testing.T) {
	t.Parallel()
	f := newFakeIssuer(t, jose.ES256)
	a, now := newIAPWithKeyClock(t, f, true, KeySetOptions{MinRefresh: time.Minute})
	attacker := f.newKey()
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			tok := signWith(t, jose.ES256, attacker, fmt.Sprintf("invented-%d", i), claims(IAPIssuer, testIAPAudience, "m@example.com"))
			if _, err := a.Authenticate(iapRequest(tok)); ReasonOf(err) != ReasonUnknownKey {
				t.Errorf("invented kid: %v, want unknown_key", err)
			}
		})
	}
	wg.Wait()
	if n := f.fetches.Load(); n != 1 {
		t.Errorf("200 invented kids caused %d fetches, want 1", n)
	}
	// Once MinRefresh has passed, one more unknown kid may ask again, once.
	now.Add(int64(61 * time.Second))
	for i := range 50 {
		tok := signWith(t, jose.ES256, attacker, fmt.Sprintf("later-%d", i), claims(IAPIssuer, testIAPAudience, "m@example.com"))
		_, _ = a.Authenticate(iapRequest(tok))
	}
	if n := f.fetches.Load(); n != 2 {
		t.Errorf("after MinRefresh: %d fetches, want 2", n)
	}
	// Valid tokens still pass throughout.
	if _, err := a.Authenticate(iapRequest(f.sign("key-1", claims(IAPIssuer, testIAPAudience, "a@example.com")))); err != nil {
		t.Errorf("valid token after storm: %v", err)
	}
}

func TestKeySetUnavailable(t *testing.T) {
	t.Parallel()
	f := newFakeIssuer(t, jose.ES256)
	f.failing.Store(true)
	a, now := newIAPWithKeyClock(t, f, false, KeySetOptions{MinRefresh: time.Second, MaxAge: time.Minute})
	tok := f.sign("key-1", claims(IAPIssuer, testIAPAudience, "a@example.com"))
	if _, err := a.Authenticate(iapRequest(tok)); ReasonOf(err) != ReasonKeysUnavailable {
		t.Fatalf("endpoint down, no keys: %v, want keys_unavailable", err)
	}
	// Endpoint back: keys load (after the rate limit interval).
	f.failing.Store(false)
	now.Add(int64(2 * time.Second))
	if _, err := a.Authenticate(iapRequest(tok)); err != nil {
		t.Fatalf("endpoint back: %v", err)
	}
	// Endpoint down again and cache stale: known keys keep working.
	f.failing.Store(true)
	now.Add(int64(2 * time.Minute))
	if _, err := a.Authenticate(iapRequest(tok)); err != nil {
		t.Fatalf("stale cache while endpoint down: %v", err)
	}
	waitIdle(t, a.KeySet()) // the stale set is refreshed in the background
	if n := f.fetches.Load(); n != 3 {
		t.Errorf("fetches = %d, want 3", n)
	}
}

func TestKeyRemovedFromSetIsRefusedAfterRefresh(t *testing.T) {
	t.Parallel()
	f := newFakeIssuer(t, jose.ES256)
	a, now := newIAPWithKeyClock(t, f, false, KeySetOptions{MaxAge: time.Minute})
	tok := f.sign("key-1", claims(IAPIssuer, testIAPAudience, "a@example.com"))
	if _, err := a.Authenticate(iapRequest(tok)); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.published = nil
	f.mu.Unlock()
	f.addKey("key-2", true)
	now.Add(int64(2 * time.Minute))
	// The stale set serves while it is refreshed in the background...
	if _, err := a.Authenticate(iapRequest(tok)); err != nil {
		t.Fatalf("stale set during its refresh: %v", err)
	}
	waitIdle(t, a.KeySet())
	// ...and once the refresh is in, the withdrawn key is refused.
	if _, err := a.Authenticate(iapRequest(tok)); ReasonOf(err) != ReasonUnknownKey {
		t.Fatalf("withdrawn key: %v, want unknown_key", err)
	}
}

// waitIdle waits until no fetch of ks is running.
func waitIdle(t *testing.T, ks *KeySet) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		ks.mu.Lock()
		idle := ks.inflight == nil
		ks.mu.Unlock()
		if idle {
			return
		}
	}
	t.Fatal("key set fetch still running after 10 s")
}

func TestKeySetIgnoresUnusableKeys(t *testing.T) {
	t.Parallel()
	f := newFakeIssuer(t, jose.ES256)
	// An RSA key published under the IAP set must not verify an ES256
	// token, and one key type the library cannot parse must not break the set.
	rsaIssuer := newFakeIssuer(t, jose.RS256)
	f.mu.Lock()
	f.published = append(f.published, jose.JSONWebKey{Key: rsaIssuer.private["key-1"].Public(), KeyID: "rsa", Algorithm: "RS256"})
	f.mu.Unlock()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		set := jose.JSONWebKeySet{Keys: f.published}
		b, _ := json.Marshal(set)
		f.mu.Unlock()
		// Splice in a key of an unknown type.
		s := strings.Replace(string(b), `"keys":[`, `"keys":[{"kty":"XYZ","kid":"odd"},`, 1)
		fmt.Fprint(w, s)
	}))
	t.Cleanup(srv.Close)
	a, err := NewIAP(IAPOptions{Audience: testIAPAudience, KeysURL: srv.URL, Now: fixedClock, KeySet: KeySetOptions{Now: fixedClock}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(iapRequest(f.sign("key-1", claims(IAPIssuer, testIAPAudience, "a@example.com")))); err != nil {
		t.Fatalf("valid token with odd key in set: %v", err)
	}
	tok := signWith(t, jose.RS256, rsaIssuer.private["key-1"], "rsa", claims(IAPIssuer, testIAPAudience, "a@example.com"))
	if _, err := a.Authenticate(iapRequest(tok)); ReasonOf(err) != ReasonBadAlgorithm {
		t.Fatalf("RS256 token: %v, want bad_algorithm", err)
	}
}

func TestKeySetWarm(t *testing.T) {
	t.Parallel()
	f := newFakeIssuer(t, jose.ES256)
	a := newTestIAP(t, f, "")
	if err := a.KeySet().Warm(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(iapRequest(f.sign("key-1", claims(IAPIssuer, testIAPAudience, "a@example.com")))); err != nil {
		t.Fatal(err)
	}
	if n := f.fetches.Load(); n != 1 {
		t.Errorf("fetches = %d, want 1 (warm only)", n)
	}
}

// Warm runs at start-up in the background; shutdown cancels it and must not
// wait for a key endpoint that never answers.
func TestKeySetWarmStopsWithItsContext(t *testing.T) {
	t.Parallel()
	hang := make(chan struct{})
	defer close(hang)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	ks := NewKeySet(srv.URL, KeySetOptions{Client: srv.Client()})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- ks.Warm(ctx) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Warm against a hanging endpoint returned no error")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Warm kept running after its context was cancelled")
	}
}

func TestNewIAPRejectsBadAudience(t *testing.T) {
	t.Parallel()
	if _, err := NewIAP(IAPOptions{Audience: "123"}); err == nil {
		t.Fatal("audience without /projects/ accepted")
	}
}

// newIAPWithKeyClock returns an IAP authenticator whose key set runs on a
// clock the test moves (now, in Unix nanoseconds, from testNow). Token
// checks use that clock too when tokensFollow, else the fixed testNow.
func newIAPWithKeyClock(t *testing.T, f *fakeIssuer, tokensFollow bool, ks KeySetOptions) (*IAP, *atomic.Int64) {
	t.Helper()
	now := new(atomic.Int64)
	now.Store(testNow.UnixNano())
	clockFn := func() time.Time { return time.Unix(0, now.Load()) }
	ks.Now = clockFn
	tokenClock := fixedClock
	if tokensFollow {
		tokenClock = clockFn
	}
	a, err := NewIAP(IAPOptions{Audience: testIAPAudience, KeysURL: f.url(), Now: tokenClock, KeySet: ks})
	if err != nil {
		t.Fatal(err)
	}
	return a, now
}
