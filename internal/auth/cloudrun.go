package auth

import (
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Google ID token constants.
const (
	// Google ID tokens live one hour.
	googleLeeway      = 30 * time.Second
	googleMaxLifetime = time.Hour + 2*googleLeeway
)

// CloudRunIAMOptions configures CloudRunIAM.
type CloudRunIAMOptions struct {
	// Audiences are the values the ID token's aud must match: the service
	// URL(s) such as https://example-function-abc123-ew.a.run.app, or a
	// custom audience configured on the service.
	Audiences []string
	// CertsURL is Google's JWK set (required; config.DefaultGoogleCertsURL).
	CertsURL string
	KeySet   KeySetOptions
	// UserDomain is a suffix such as "@example.edu" stripped from emails.
	UserDomain string
	Now        func() time.Time
}

// CloudRunIAM authenticates callers of a private Cloud Run service
// (--no-allow-unauthenticated). Cloud Run's front end has already checked
// the caller's Google-signed ID token and the run.invoker permission; this
// verifies the same token again from the Authorization header (RS256,
// Google's keys, issuer accounts.google.com, our audience) so the identity
// the app uses never rests on an unchecked header, and takes the caller's
// email from it.
type CloudRunIAM struct {
	v          *tokenVerifier
	userDomain string
}

// NewCloudRunIAM checks the options and returns a CloudRunIAM.
func NewCloudRunIAM(o CloudRunIAMOptions) (*CloudRunIAM, error) {
	if len(o.Audiences) == 0 {
		return nil, errorf("cloudrun-iam needs at least one audience (the service URL)")
	}
	for _, a := range o.Audiences {
		if a == "" {
			return nil, errorf("cloudrun-iam audience must not be empty")
		}
	}
	url := o.CertsURL
	if url == "" {
		return nil, errorf("Cloud Run IAM needs the URL of Google's key set (https://www.googleapis.com/oauth2/v3/certs)")
	}
	return &CloudRunIAM{
		v: &tokenVerifier{
			keys: NewKeySet(url, o.KeySet),
			alg:  jose.RS256,
			// The two spellings of the issuer Google puts in ID tokens.
			issuers:     []string{"https://accounts.google.com", "accounts.google.com"},
			audiences:   o.Audiences,
			leeway:      googleLeeway,
			maxLifetime: googleMaxLifetime,
			now:         clock(o.Now),
		},
		userDomain: o.UserDomain,
	}, nil
}

// KeySet returns the key set in use, for metrics and tests.
func (a *CloudRunIAM) KeySet() *KeySet { return a.v.keys }

// Challenge is sent in WWW-Authenticate with a 401.
func (a *CloudRunIAM) Challenge() string { return `Bearer` }

// Authenticate implements Authenticator.
func (a *CloudRunIAM) Authenticate(r *http.Request) (User, error) {
	h, err := singleHeader(r, "Authorization")
	if err != nil {
		return User{}, err
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return User{}, refuse(ReasonMalformed, "Authorization is not a Bearer token")
	}
	c, err := a.v.verify(r.Context(), strings.TrimSpace(token))
	if err != nil {
		return User{}, err
	}
	name, err := userName(c.Email, a.userDomain)
	if err != nil {
		return User{}, err
	}
	return User{Name: name}, nil
}
