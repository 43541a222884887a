package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// fakeIssuer plays IAP or Google: it holds real private keys generated for
// the test and serves their public halves as a JWK set from a local HTTP
// server, counting every fetch.
type fakeIssuer struct {
	t       testing.TB
	alg     jose.SignatureAlgorithm
	srv     *httptest.Server
	fetches atomic.Int64
	failing atomic.Bool

	mu        sync.Mutex
	published []jose.JSONWebKey
	private   map[string]crypto.Signer
}

func newFakeIssuer(t testing.TB, alg jose.SignatureAlgorithm) *fakeIssuer {
	t.Helper()
	f := &fakeIssuer{t: t, alg: alg, private: map[string]crypto.Signer{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.fetches.Add(1)
		if f.failing.Load() {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		f.mu.Lock()
		set := jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey(nil), f.published...)}
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(set); err != nil {
			t.Errorf("encode key set: %v", err)
		}
	}))
	t.Cleanup(f.srv.Close)
	f.addKey("key-1", true)
	return f
}

// newKey generates a key of the issuer's algorithm.
func (f *fakeIssuer) newKey() crypto.Signer {
	f.t.Helper()
	var (
		k   crypto.Signer
		err error
	)
	switch f.alg {
	case jose.ES256:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.RS256:
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		f.t.Fatalf("no key type for %s", f.alg)
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return k
}

// addKey creates a key under kid, published or kept private (to sign
// tokens the issuer's set does not vouch for).
func (f *fakeIssuer) addKey(kid string, publish bool) crypto.Signer {
	k := f.newKey()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.private[kid] = k
	if publish {
		f.published = append(f.published, jose.JSONWebKey{Key: k.Public(), KeyID: kid, Algorithm: string(f.alg), Use: "sig"})
	}
	return k
}

func (f *fakeIssuer) url() string { return f.srv.URL + "/keys" }

// sign signs claims with the private key registered under kid.
func (f *fakeIssuer) sign(kid string, claims any) string {
	f.t.Helper()
	f.mu.Lock()
	k := f.private[kid]
	f.mu.Unlock()
	if k == nil {
		f.t.Fatalf("no key %q", kid)
	}
	return signWith(f.t, f.alg, k, kid, claims)
}

func signWith(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, claims any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// testNow is the fixed clock of the token tests.
var testNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func fixedClock() time.Time { return testNow }

// claims builds a claim set valid at testNow.
func claims(iss string, aud any, email string) map[string]any {
	return map[string]any{
		"iss":   iss,
		"aud":   aud,
		"sub":   "accounts.google.com:1234567890",
		"email": email,
		"iat":   testNow.Add(-time.Minute).Unix(),
		"exp":   testNow.Add(8 * time.Minute).Unix(),
	}
}
