package auth

import (
	"context"
	"log/slog"
	"net/http"
)

// CrossOrigin refuses unsafe requests (POST, PUT, PATCH, DELETE, ...) that a
// browser sends on behalf of another site: the cross-site request forgery
// a cookie- or proxy-authenticated form would otherwise be open to. It uses
// Go's http.CrossOriginProtection, which relies on the Sec-Fetch-Site header
// of modern browsers and falls back to comparing Origin with Host; requests
// from non-browser clients (no such headers) pass, as they carry no ambient
// credentials a third site could borrow.
//
// Put it before Middleware so a forged request is refused before any
// identity is looked at.
type CrossOrigin struct {
	// TrustedOrigins may make unsafe requests too, e.g. "https://admin.example.edu".
	TrustedOrigins []string
	// Deny writes the 403 page or problem; plain text when nil.
	Deny      func(w http.ResponseWriter, r *http.Request, status int)
	Logger    *slog.Logger
	OnRefusal func(ctx context.Context, reason Reason)
}

// Wrap returns next behind cross-origin protection. It fails only for a
// malformed trusted origin.
func (c CrossOrigin) Wrap(next http.Handler) (http.Handler, error) {
	mw, err := c.Middleware()
	if err != nil {
		return nil, err
	}
	return mw(next), nil
}

// Middleware checks the trusted origins once and returns the wrapping
// function, for middleware lists of type func(http.Handler) http.Handler.
func (c CrossOrigin) Middleware() (func(http.Handler) http.Handler, error) {
	cop := http.NewCrossOriginProtection()
	for _, o := range c.TrustedOrigins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, errorf("trusted origin: %w", err)
		}
	}
	f := refusal{c.Logger, c.OnRefusal, c.Deny}
	return func(next http.Handler) http.Handler { return crossOriginHandler(cop, f, next) }, nil
}

func crossOriginHandler(cop *http.CrossOriginProtection, f refusal, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := cop.Check(r); err != nil {
			f.write(w, r, http.StatusForbidden, ReasonCrossOrigin, err, "",
				slog.String("origin", safeOrigin(r.Header.Get("Origin"))),
				slog.String("sec_fetch_site", safeOrigin(r.Header.Get("Sec-Fetch-Site"))))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// safeOrigin keeps an attacker-chosen header short and printable in logs.
func safeOrigin(s string) string {
	if checkText("origin", s) != nil {
		return "(invalid)"
	}
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
