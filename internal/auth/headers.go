package auth

import (
	"net/http"
	"strings"
)

// ContentSecurityPolicy allows only the service's own scripts, styles and
// images (plus data: images), no inline script or style, no plugins, and
// no framing: an injected <script> cannot run and the pages cannot be
// clickjacked.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"

// HSTS is sent on HTTPS responses: browsers then refuse plain HTTP to this
// host for two years. Not includeSubDomains: the service does not own its
// parent domain's other hosts.
const HSTS = "max-age=63072000"

// SecurityHeaders sets the browser safety headers on every response before
// next runs, so errors and refusals carry them too. Handlers may override a
// header they need to (none of ours do).
//
// Strict-Transport-Security is only sent when the request came over HTTPS:
// directly (r.TLS) or through Cloud Run's or a load balancer's TLS
// termination, which sets X-Forwarded-Proto. A forged X-Forwarded-Proto on
// plain HTTP is harmless: browsers ignore HSTS received over HTTP.
func SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetSecurityHeaders(w.Header(), r)
		next.ServeHTTP(w, r)
	})
}

// SetSecurityHeaders sets the headers of SecurityHeaders on h. Error
// writers that start from a cleared header map (the answer to a recovered
// panic) call it so their response carries the headers too.
func SetSecurityHeaders(h http.Header, r *http.Request) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	if viaHTTPS(r) {
		h.Set("Strict-Transport-Security", HSTS)
	}
}

func viaHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	// Cloud Run and Google's load balancers send one value; a chain of
	// proxies may append, and the first entry is the client's side.
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}
