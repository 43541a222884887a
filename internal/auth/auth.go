// Package auth says who is calling (Authenticator) and what they may do, and
// puts the answer on the request context for the handlers below.
//
// The core only ships the "dev" identity; issue #3 adds IAP, a trusted
// single-sign-on proxy and Cloud Run IAM behind the same seam.
package auth

import (
	"context"
	"errors"
	"log/slog"
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

// ErrNoIdentity means the request carries no identity at all.
var ErrNoIdentity = errors.New("no identity")

// Authenticator identifies the caller of a request. It returns ErrNoIdentity
// (possibly wrapped) when the request carries no credentials.
type Authenticator interface {
	Authenticate(r *http.Request) (User, error)
}

// Dev gives every request the same identity. For local runs only; config
// refuses it on Cloud Run.
type Dev struct{ User User }

// Authenticate implements Authenticator.
func (d Dev) Authenticate(*http.Request) (User, error) { return d.User, nil }

// None authenticates nobody: with no sign-in configured every protected
// request gets 401, which is the safe default.
type None struct{}

// Authenticate implements Authenticator.
func (None) Authenticate(*http.Request) (User, error) { return User{}, ErrNoIdentity }

// Middleware authenticates every request that is not public.
type Middleware struct {
	Authn Authenticator
	// Public reports requests that need no identity (health checks, assets).
	Public func(*http.Request) bool
	// Deny writes the refusal in the right format (HTML page or problem JSON).
	Deny   func(w http.ResponseWriter, r *http.Request, status int)
	Logger *slog.Logger
}

// Wrap returns next behind authentication.
func (m Middleware) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.Public != nil && m.Public(r) {
			next.ServeHTTP(w, r)
			return
		}
		u, err := m.Authn.Authenticate(r)
		if err != nil {
			m.Logger.LogAttrs(r.Context(), slog.LevelInfo, "auth refused",
				slog.String("reason", "missing"), slog.String("path", r.URL.Path))
			m.Deny(w, r, http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), u)))
	})
}
