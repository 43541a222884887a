package web

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"example.com/example-function/internal/auth"
)

// crossOrigin refuses unsafe requests (POST, PUT, PATCH, DELETE, ...) that a
// browser sends on behalf of another site: the cross-site request forgery a
// cookie- or proxy-authenticated form would otherwise be open to. It uses
// Go's http.CrossOriginProtection, which relies on the Sec-Fetch-Site header
// of modern browsers and falls back to comparing Origin with Host; requests
// from non-browser clients (no such headers) pass, as they carry no ambient
// credentials a third site could borrow. The chain puts it before sign-in,
// so a forged request is refused before any identity is looked at. It fails
// only for a malformed trusted origin.
func (s *site) crossOrigin() (func(http.Handler) http.Handler, error) {
	cop := http.NewCrossOriginProtection()
	for _, o := range s.TrustedOrigins {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("web: trusted origin: %w", err)
		}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := cop.Check(r); err != nil {
				auth.LogRefusal(s.Logger, r, http.StatusForbidden, auth.ReasonCrossOrigin, err, "",
					slog.String("origin", logSafe(r.Header.Get("Origin"))),
					slog.String("sec_fetch_site", logSafe(r.Header.Get("Sec-Fetch-Site"))))
				if s.OnAuthRefusal != nil {
					s.OnAuthRefusal(r.Context(), auth.ReasonCrossOrigin)
				}
				s.denyCrossOrigin(w, r, http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
		})
	}, nil
}

// logSafe keeps an attacker-chosen header short and printable in logs.
func logSafe(v string) string {
	if !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl) {
		return "(invalid)"
	}
	if len(v) > 200 {
		return v[:200] + "..."
	}
	return v
}
