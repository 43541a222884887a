package auth

import (
	"context"
	"log/slog"
	"net/http"
)

// Middleware authenticates every request that is not public, then checks
// the caller's role for the method: 401 when there is no acceptable
// identity, 403 when the role does not allow the method, and 503 with
// Retry-After when the identity cannot be checked (the issuer's keys are
// unavailable).
type Middleware struct {
	// Authn identifies callers; None when nil.
	Authn Authenticator
	// Policy grants roles. When nil, any authenticated caller may do
	// anything (tests, and dev mode without role lists); the service always
	// sets it.
	Policy *Policy
	// Public reports requests that need no identity (health checks, assets).
	Public func(*http.Request) bool
	// Deny writes the refusal in the right format (HTML sign-in hint or
	// problem JSON) for status 401, 403 or 503. Plain text when nil.
	Deny   func(w http.ResponseWriter, r *http.Request, status int)
	Logger *slog.Logger
	// OnRefusal, when set, is called once per refusal with its reason, so
	// telemetry can count refusals by reason.
	OnRefusal func(ctx context.Context, reason Reason)
}

// Challenger is implemented by authenticators whose 401 should carry a
// WWW-Authenticate challenge (Bearer for Cloud Run IAM).
type Challenger interface {
	Challenge() string
}

// Wrap returns next behind authentication and roles.
func (m Middleware) Wrap(next http.Handler) http.Handler {
	authn := m.Authn
	if authn == nil {
		authn = None{}
	}
	var secrets []string
	if s, ok := authn.(SecretHeaders); ok {
		secrets = s.SecretHeaders()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.Public != nil && m.Public(r) {
			next.ServeHTTP(w, withoutHeaders(r, secrets))
			return
		}
		u, err := authn.Authenticate(r)
		if err != nil {
			reason, status := ReasonOf(err), http.StatusUnauthorized
			if reason == ReasonKeysUnavailable {
				// Our outage (the issuer's keys cannot be had), not a
				// missing sign-in: ask the caller to come back shortly.
				status = http.StatusServiceUnavailable
				w.Header().Set("Retry-After", KeysRetryAfter)
			} else if c, ok := authn.(Challenger); ok {
				w.Header().Set("WWW-Authenticate", c.Challenge())
			}
			refusal{m.Logger, m.OnRefusal, m.Deny}.write(w, r, status, reason, err, "")
			return
		}
		ctx := NewContext(r.Context(), u)
		if m.Policy != nil {
			role := m.Policy.RoleOf(u)
			if !role.Allows(r.Method) {
				refusal{m.Logger, m.OnRefusal, m.Deny}.write(w, r, http.StatusForbidden, ReasonForbiddenRole, nil, u.Name,
					slog.String("role", role.String()))
				return
			}
			ctx = WithRole(ctx, role)
		}
		next.ServeHTTP(w, withoutHeaders(r.WithContext(ctx), secrets))
	})
}

// SecretHeaders is implemented by authenticators that read a shared secret
// from request headers (Proxy). Middleware passes the request on without
// them, so no handler, log line or outgoing call can copy the secret.
type SecretHeaders interface {
	SecretHeaders() []string
}

// withoutHeaders returns r with the named headers removed, on a copy of
// the header map: the caller's request is left as it came.
func withoutHeaders(r *http.Request, names []string) *http.Request {
	var found bool
	for _, n := range names {
		_, ok := r.Header[n]
		found = found || ok
	}
	if !found {
		return r
	}
	h := r.Header.Clone()
	for _, n := range names {
		delete(h, n)
	}
	r2 := *r
	r2.Header = h
	return &r2
}

// refusal logs, counts and writes one refused request.
type refusal struct {
	logger    *slog.Logger
	onRefusal func(context.Context, Reason)
	deny      func(http.ResponseWriter, *http.Request, int)
}

func (f refusal) write(w http.ResponseWriter, r *http.Request, status int, reason Reason, err error, user string, extra ...slog.Attr) {
	LogRefusal(f.logger, r, status, reason, err, user, extra...)
	if f.onRefusal != nil {
		f.onRefusal(r.Context(), reason)
	}
	if f.deny != nil {
		f.deny(w, r, status)
		return
	}
	http.Error(w, http.StatusText(status), status)
}

// LogRefusal writes the one log line of a refused request (msg "auth
// refused", its reason, status, method, path, the user when known, and the
// refusal's detail, which never holds the credential), at the level the
// reason calls for. logger may be nil. The site's cross-origin check uses it
// too, so every refusal is logged alike.
func LogRefusal(logger *slog.Logger, r *http.Request, status int, reason Reason, err error, user string, extra ...slog.Attr) {
	if logger == nil {
		return
	}
	attrs := append([]slog.Attr{
		slog.String("reason", string(reason)),
		slog.Int("status", status),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
	}, extra...)
	if user != "" {
		attrs = append(attrs, slog.String("user", user))
	}
	if err != nil {
		attrs = append(attrs, slog.String("detail", err.Error()))
	}
	logger.LogAttrs(r.Context(), levelFor(reason), "auth refused", attrs...)
}

// levelFor logs ordinary refusals (no sign-in yet, an expired token) at
// Info, signs of tampering at Warn and our own failures at Error, so alerts
// can key on the level.
func levelFor(reason Reason) slog.Level {
	switch reason {
	case ReasonMissing, ReasonExpired, ReasonForbiddenRole:
		return slog.LevelInfo
	case ReasonKeysUnavailable, ReasonInternal:
		return slog.LevelError
	}
	return slog.LevelWarn
}
