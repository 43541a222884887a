package web

import (
	"net/http"

	"example.com/example-function/internal/telemetry"
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

// browserPolicy sets the site's browser safety headers on every response
// before next runs, so errors and refusals carry them too.
//
// Strict-Transport-Security is only sent when the request came over HTTPS
// (telemetry.Scheme: directly, or through Cloud Run's or a load balancer's
// TLS termination). A forged X-Forwarded-Proto on plain HTTP is harmless:
// browsers ignore HSTS received over HTTP.
func browserPolicy(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header(), r)
		next.ServeHTTP(w, r)
	})
}

// setDocumentHeaders adds the policies that only mean something on an HTML
// document: Cross-Origin-Opener-Policy (a page opened from another site
// gets no handle on ours) and Permissions-Policy (no camera, microphone,
// location or payment APIs). Writers of HTML pages call it; JSON and asset
// answers go without, as a browser applies neither to them (the OWASP REST
// cheat sheet's API header list has neither).
func setDocumentHeaders(h http.Header) {
	for _, kv := range documentHeaders {
		h[kv.key] = kv.value
	}
}

// setSecurityHeaders sets the headers of browserPolicy on h. Error writers
// that start from a cleared header map (the answer to a recovered panic)
// call it so their response carries the headers too.
func setSecurityHeaders(h http.Header, r *http.Request) {
	// Canonical keys and shared, never-written value slices: no allocation
	// per call, and an Add by a later writer copies them (capacity = length).
	for _, kv := range securityHeaders {
		h[kv.key] = kv.value
	}
	if telemetry.Scheme(r) == "https" {
		h["Strict-Transport-Security"] = hstsValue
	}
}

type headerValue struct {
	key   string
	value []string
}

// securityHeaders, documentHeaders and hstsValue are constants in all but
// syntax.
var (
	securityHeaders = []headerValue{
		{"Content-Security-Policy", []string{ContentSecurityPolicy}},
		{"X-Content-Type-Options", []string{"nosniff"}},
		{"Referrer-Policy", []string{"strict-origin-when-cross-origin"}},
		{"X-Frame-Options", []string{"DENY"}},
		// Other sites cannot load any response as a subresource (an <img>,
		// <script> or no-cors fetch), so none can be read through a
		// side channel such as Spectre; navigations are not affected.
		{"Cross-Origin-Resource-Policy", []string{"same-origin"}},
	}
	documentHeaders = []headerValue{
		{"Cross-Origin-Opener-Policy", []string{"same-origin"}},
		{"Permissions-Policy", []string{"camera=(), microphone=(), geolocation=(), payment=()"}},
	}
	hstsValue = []string{HSTS}
)
