// Package auth says who is calling and what they may do, and puts the
// answer on the request context for the handlers below. Nothing rests on a
// header an internet client could forge.
//
// Authenticators, chosen by configuration (see New):
//   - IAP: verifies Identity-Aware Proxy's signed ES256 assertion.
//   - Proxy: trusts a single-sign-on proxy's X-Forwarded-User/-Groups only
//     with the proxy's shared secret.
//   - CloudRunIAM: verifies the caller's Google ID token (RS256) on a
//     private Cloud Run service.
//   - Dev: a fixed identity for local runs; None: nobody.
//
// Middleware turns an Authenticator and a Policy into 401/403 decisions,
// logging a stable Reason for every refusal and never the credential.
// SecurityHeaders and CrossOrigin add the browser-side protections.
//
// The package depends only on the standard library and go-jose, and knows
// nothing of this application, so it can be lifted into its own module.
package auth

import (
	"context"
	"errors"
	"net/http"
	"slices"
)

// User is an authenticated caller.
type User struct {
	Name   string
	Groups []string
}

// InGroup reports whether the user belongs to group.
func (u User) InGroup(group string) bool { return slices.Contains(u.Groups, group) }

type ctxKey struct{}

// NewContext returns ctx carrying u.
func NewContext(ctx context.Context, u User) context.Context {
	return context.WithValue(ctx, ctxKey{}, u)
}

// FromContext returns the user set by the middleware, if any.
func FromContext(ctx context.Context) (User, bool) {
	u, ok := ctx.Value(ctxKey{}).(User)
	return u, ok
}

// ErrNoIdentity means the request carries no identity at all. Every
// authenticator's "missing" refusal matches it with errors.Is.
var ErrNoIdentity = errors.New("no identity")

// Authenticator identifies the caller of a request. It returns ErrNoIdentity
// (possibly wrapped) when the request carries no credentials, and a
// *Refusal naming the Reason when the credentials are not acceptable.
type Authenticator interface {
	Authenticate(r *http.Request) (User, error)
}

// Dev gives every request the same identity. For local runs only; config
// refuses it on Cloud Run unless explicitly overridden.
type Dev struct{ User User }

// Authenticate implements Authenticator.
func (d Dev) Authenticate(*http.Request) (User, error) { return d.User, nil }

// None authenticates nobody: with no sign-in configured every protected
// request gets 401, which is the safe default.
type None struct{}

// Authenticate implements Authenticator.
func (None) Authenticate(*http.Request) (User, error) {
	return User{}, errMissing("no sign-in configured")
}
