package auth

import (
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// IAP constants from Google's "Securing your app with signed headers".
const (
	IAPHeader = "X-Goog-Iap-Jwt-Assertion"
	IAPIssuer = "https://cloud.google.com/iap"
	// IAP allows 30 s of clock skew and issues tokens for at most 10
	// minutes.
	iapLeeway      = 30 * time.Second
	iapMaxLifetime = 10*time.Minute + 2*iapLeeway
)

// IAPOptions configures IAP.
type IAPOptions struct {
	// Audience is the signed header audience:
	// /projects/NUMBER/global/backendServices/ID (load balancer) or
	// /projects/NUMBER/apps/PROJECT_ID (App Engine).
	Audience string
	// KeysURL is IAP's JWK set (required; config.DefaultIAPJWKSURL). Tests
	// point it at their own server.
	KeysURL string
	KeySet  KeySetOptions
	// UserDomain is a suffix such as "@example.edu" stripped from emails.
	UserDomain string
	// Now is the clock for exp/iat checks; time.Now when nil.
	Now func() time.Time
}

// IAP authenticates requests that passed Google Cloud's Identity-Aware
// Proxy by verifying the signed X-Goog-IAP-JWT-Assertion header: ES256 only,
// a key from IAP's published set, issuer https://cloud.google.com/iap, our
// audience, and exp/iat within 30 s of skew. The unsigned
// X-Goog-Authenticated-User-* headers are never read: anyone who reaches the
// service around IAP could forge them.
type IAP struct {
	v          *tokenVerifier
	userDomain string
}

// NewIAP checks the options and returns an IAP authenticator.
func NewIAP(o IAPOptions) (*IAP, error) {
	if !strings.HasPrefix(o.Audience, "/projects/") {
		return nil, errorf("IAP audience must look like /projects/NUMBER/global/backendServices/ID, got %q", o.Audience)
	}
	url := o.KeysURL
	if url == "" {
		return nil, errorf("IAP needs the URL of its key set (https://www.gstatic.com/iap/verify/public_key-jwk)")
	}
	return &IAP{
		v: &tokenVerifier{
			keys:        NewKeySet(url, o.KeySet),
			alg:         jose.ES256,
			issuers:     []string{IAPIssuer},
			audiences:   []string{o.Audience},
			leeway:      iapLeeway,
			maxLifetime: iapMaxLifetime,
			now:         clock(o.Now),
		},
		userDomain: o.UserDomain,
	}, nil
}

// KeySet returns the key set in use, for metrics and tests.
func (a *IAP) KeySet() *KeySet { return a.v.keys }

// Authenticate implements Authenticator.
func (a *IAP) Authenticate(r *http.Request) (User, error) {
	raw, err := singleHeader(r, IAPHeader)
	if err != nil {
		return User{}, err
	}
	c, err := a.v.verify(r.Context(), raw)
	if err != nil {
		return User{}, err
	}
	name, err := userName(c.Email, a.userDomain)
	if err != nil {
		return User{}, err
	}
	return User{Name: name}, nil
}

// singleHeader returns the one value of a credential header: missing when
// absent or empty, ambiguous when sent more than once.
func singleHeader(r *http.Request, name string) (string, error) {
	vals := r.Header.Values(name)
	switch {
	case len(vals) == 0 || (len(vals) == 1 && strings.TrimSpace(vals[0]) == ""):
		return "", errMissing("no " + name + " header")
	case len(vals) > 1:
		return "", refuse(ReasonAmbiguous, "%s header sent %d times", name, len(vals))
	}
	return strings.TrimSpace(vals[0]), nil
}

func clock(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}
