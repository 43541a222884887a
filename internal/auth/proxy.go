package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
)

// MinProxySecretBytes is the shortest shared secret accepted.
const MinProxySecretBytes = 32

// ProxyOptions configures Proxy.
type ProxyOptions struct {
	// Secret is the value the proxy sends in SecretHeader. At least
	// MinProxySecretBytes long.
	Secret []byte
	// The header names of the contract, all required and distinct; the
	// configuration holds their defaults (X-Auth-Proxy-Secret,
	// X-Forwarded-User, X-Forwarded-Groups).
	SecretHeader string
	UserHeader   string
	GroupsHeader string
	// UserDomain is a suffix such as "@example.edu" stripped from names.
	UserDomain string
	// PlaceholderUsers are more user values that mean "nobody signed in"
	// at this site, refused like the built-in "(null)", "-" and "(none)".
	PlaceholderUsers []string
}

// defaultPlaceholderUsers are user values proxies send when their sign-on
// did not run: Apache's "(null)" for an unset %{REMOTE_USER}s, "-" as in
// access logs, "(none)". They are always refused (ASCII case-insensitive,
// surrounding spaces ignored), whatever the roles would grant. A constant
// in all but syntax.
var defaultPlaceholderUsers = []string{"(null)", "-", "(none)"}

// Proxy trusts identity headers set by a single-sign-on reverse proxy
// (X-Forwarded-User, colon-separated X-Forwarded-Groups) only when the request also carries the proxy's shared
// secret. On Cloud Run anyone can send any header, so headers without the
// secret are ignored and the request is unauthenticated.
//
// Ambiguous input is refused rather than resolved: a secret, user or groups
// header sent twice, or a value with control characters.
type Proxy struct {
	secretSum    [sha256.Size]byte
	secretHeader string
	userHeader   string
	groupsHeader string
	userDomain   string
	placeholders []string
}

// NewProxy checks the options and returns a Proxy.
func NewProxy(o ProxyOptions) (*Proxy, error) {
	if len(o.Secret) < MinProxySecretBytes {
		return nil, errorf("proxy secret must be at least %d bytes, got %d", MinProxySecretBytes, len(o.Secret))
	}
	p := &Proxy{
		secretSum:    sha256.Sum256(o.Secret),
		secretHeader: textproto.CanonicalMIMEHeaderKey(o.SecretHeader),
		userHeader:   textproto.CanonicalMIMEHeaderKey(o.UserHeader),
		groupsHeader: textproto.CanonicalMIMEHeaderKey(o.GroupsHeader),
		userDomain:   o.UserDomain,
		placeholders: append(slices.Clone(defaultPlaceholderUsers), o.PlaceholderUsers...),
	}
	if p.secretHeader == "" || p.userHeader == "" || p.groupsHeader == "" {
		return nil, errorf("proxy secret, user and groups header names are required")
	}
	if p.secretHeader == p.userHeader || p.secretHeader == p.groupsHeader || p.userHeader == p.groupsHeader {
		return nil, errorf("proxy secret, user and groups headers must differ")
	}
	return p, nil
}

// SecretHeaders implements SecretHeaders: handlers never see the secret.
func (p *Proxy) SecretHeaders() []string { return []string{p.secretHeader} }

// Authenticate implements Authenticator.
func (p *Proxy) Authenticate(r *http.Request) (User, error) {
	secrets := r.Header.Values(p.secretHeader)
	users := r.Header.Values(p.userHeader)
	groups := r.Header.Values(p.groupsHeader)
	switch {
	case len(secrets) == 0 && len(users)+len(groups) > 0:
		return User{}, refuse(ReasonUntrustedProxy, "identity headers without the proxy secret; ignored")
	case len(secrets) == 0:
		return User{}, errMissing("no proxy identity headers")
	case len(secrets) > 1:
		return User{}, refuse(ReasonAmbiguous, "proxy secret header sent %d times", len(secrets))
	case !p.secretMatches(secrets[0]):
		return User{}, refuse(ReasonUntrustedProxy, "proxy secret does not match; identity headers ignored")
	case len(users) > 1:
		return User{}, refuse(ReasonAmbiguous, "user header sent %d times", len(users))
	case len(groups) > 1:
		return User{}, refuse(ReasonAmbiguous, "groups header sent %d times", len(groups))
	case len(users) == 0:
		return User{}, errMissing("proxy sent no user")
	}
	if p.isPlaceholder(users[0]) {
		return User{}, refuse(ReasonPlaceholderUser, "proxy sent the placeholder user %q: its sign-on did not run for this path",
			strings.TrimSpace(users[0]))
	}
	name, err := userName(users[0], p.userDomain)
	if err != nil {
		return User{}, err
	}
	var gs []string
	if len(groups) == 1 {
		if gs, err = ParseGroups(groups[0]); err != nil {
			return User{}, err
		}
	}
	return User{Name: name, Groups: gs}, nil
}

// isPlaceholder reports a user value that means nobody signed in.
func (p *Proxy) isPlaceholder(user string) bool {
	user = strings.TrimSpace(user)
	return slices.ContainsFunc(p.placeholders, func(ph string) bool { return asciiEqualFold(user, ph) })
}

// secretMatches compares in constant time. Hashing first makes the time
// independent of the length of either value too, so a caller learns
// nothing about the secret's length.
func (p *Proxy) secretMatches(got string) bool {
	sum := sha256.Sum256([]byte(got))
	return subtle.ConstantTimeCompare(sum[:], p.secretSum[:]) == 1
}
