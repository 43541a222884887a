// Package web is the HTTP surface of the service: HTML pages, the JSON API,
// the probes and static assets, behind one middleware chain.
package web

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"example.com/example-function/internal/auth"
	"example.com/example-function/internal/buildinfo"
	"example.com/example-function/internal/database"
	"example.com/example-function/internal/items"
	"example.com/example-function/internal/telemetry"
)

// Deps is everything the handlers need. The composition root
// (internal/service) builds it from the environment; tests build it by hand.
type Deps struct {
	Items  *items.Store
	Health *database.Checker
	Authn  auth.Authenticator
	// Policy grants roles (viewer, editor); nil lets any signed-in caller
	// do anything, which only tests and dev mode without role lists use.
	Policy *auth.Policy
	// TrustedOrigins may send cross-origin unsafe requests (e.g. an IAP
	// sign-in origin); everything else cross-site is refused with 403.
	TrustedOrigins []string
	// Events counts business events (telemetry); nil counts nothing.
	Events Events
	// DatabaseTimeout is the deadline of every request but the probes and
	// assets, the wait for a pool connection included; 0 sets none.
	DatabaseTimeout time.Duration
	// OnAuthRefusal counts refusals by reason (telemetry); may be nil.
	OnAuthRefusal func(context.Context, auth.Reason)
	Logger        *slog.Logger
	Build         buildinfo.Info
	Started       time.Time
	// SignOutURL is linked from every page next to the signed-in user;
	// empty shows no link (config.Auth.SignOutURL has the per-mode default).
	SignOutURL string
	// Observe is the outermost link of the chain: it recovers panics,
	// traces, measures and logs each request (telemetry). ObserveProbes
	// does the same for probes without a span or a log line. nil: none.
	Observe, ObserveProbes func(http.Handler) http.Handler
}

// Events receives the business events the handlers see;
// *items.Metrics implements it.
type Events interface {
	ItemCreated(context.Context)
	ItemUpdated(context.Context)
	ItemDeleted(context.Context)
	EditConflict(context.Context)
	// DatabaseTimeout counts a request answered 503 database-timeout;
	// reason is one of internal/items' Timeout constants.
	DatabaseTimeout(ctx context.Context, reason string)
}

type noEvents struct{}

func (noEvents) ItemCreated(context.Context)             {}
func (noEvents) ItemUpdated(context.Context)             {}
func (noEvents) ItemDeleted(context.Context)             {}
func (noEvents) EditConflict(context.Context)            {}
func (noEvents) DatabaseTimeout(context.Context, string) {}

// site holds the dependencies and what the handlers build from them once.
type site struct {
	Deps
	// pages parses the templates and loads the assets once, on the first
	// page or asset request: off the start-up path, so a new instance
	// answers its start-up probe sooner. Every template is rendered by the
	// tests.
	pages func() (*pages, error)
	// lastHealth is the last /healthz answer, reused while it is current.
	lastHealth atomic.Pointer[healthEntry]
	// buffers holds *bytes.Buffer for writeJSON.
	buffers sync.Pool
	// openAPI is the served OpenAPI document, built on first request: off
	// the start-up path, like pages.
	openAPI func() ([]byte, error)
}

// NewHandler returns the "app" function: every route, the probes included.
func NewHandler(d Deps) (http.Handler, error) {
	s := newSite(d)
	mux := http.NewServeMux()
	s.routes(mux)
	routes := routeErrors{mux: mux, s: s}
	app, err := s.chain(routes)
	if err != nil {
		return nil, err
	}
	return probeSplit{probes: s.probeChain(routes), app: app}, nil
}

// chain is the one middleware chain every request but a probe passes,
// outermost first.
func (s *site) chain(routes http.Handler) (http.Handler, error) {
	crossOrigin, err := s.crossOrigin()
	if err != nil {
		return nil, err
	}
	return wrap(routes,
		// Recover panics; trace, measure and log the request.
		s.Observe,
		// The site's browser policy, on every answer, refusals included.
		browserPolicy,
		// Refuse a forged cross-site write before any identity is looked at.
		crossOrigin,
		// Who is calling, and may they (401, 403).
		auth.Middleware{Authn: s.Authn, Policy: s.Policy, Public: isPublic, Deny: s.deny,
			Logger: s.Logger, OnRefusal: s.OnAuthRefusal}.Wrap,
		// The request's deadline for database work (503 database-timeout).
		s.deadline,
		// Tell Observe which route matched, so spans and metrics are named
		// by pattern, not raw path.
		telemetry.RecordRoute,
	), nil
}

// probeChain is the thin chain of the probes: measured but not traced or
// logged, no identity (Cloud Run and uptime checks call every few seconds).
func (s *site) probeChain(routes http.Handler) http.Handler {
	return wrap(routes, s.ObserveProbes, browserPolicy, telemetry.RecordRoute)
}

// wrap puts h behind the middleware, the first outermost; nil links are
// left out.
func wrap(h http.Handler, mw ...func(http.Handler) http.Handler) http.Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		if mw[i] != nil {
			h = mw[i](h)
		}
	}
	return h
}

// isProbe is what a probe is: /healthz or /readyz, any method.
func isProbe(r *http.Request) bool {
	return r.URL.Path == "/healthz" || r.URL.Path == "/readyz"
}

// probeSplit sends probes down their thin chain, everything else down the
// app's.
type probeSplit struct{ probes, app http.Handler }

func (p probeSplit) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if isProbe(r) {
		p.probes.ServeHTTP(w, r)
		return
	}
	p.app.ServeHTTP(w, r)
}

// NewHealthz returns the "healthz" function: the health check on any path,
// behind the probes' chain.
func NewHealthz(d Deps) (http.Handler, error) {
	s := newSite(d)
	return s.probeChain(http.HandlerFunc(s.healthz)), nil
}

func newSite(d Deps) *site {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Authn == nil {
		d.Authn = auth.None{}
	}
	if d.Events == nil {
		d.Events = noEvents{}
	}
	if d.Started.IsZero() {
		d.Started = time.Now()
	}
	return &site{Deps: d, pages: sync.OnceValues(parsePages),
		openAPI: sync.OnceValues(func() ([]byte, error) { return servedDocument(d.Build.Version) })}
}

func (s *site) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /static/", s.static)

	mux.HandleFunc("GET "+OpenAPIPath, s.apiDocument)
	mux.HandleFunc("GET /api/items", s.apiList)
	mux.HandleFunc("POST /api/items", s.apiCreate)
	mux.HandleFunc("GET /api/items/{id}", s.apiGet)
	mux.HandleFunc("PUT /api/items/{id}", s.apiPut)
	mux.HandleFunc("PATCH /api/items/{id}", s.apiPatch)
	mux.HandleFunc("DELETE /api/items/{id}", s.apiDelete)

	mux.HandleFunc("GET /{$}", s.pageList)
	mux.HandleFunc("GET /items/new", s.pageNew)
	mux.HandleFunc("POST /items", s.pageCreate)
	mux.HandleFunc("GET /items/{id}", s.pageItem)
	mux.HandleFunc("GET /items/{id}/edit", s.pageEdit)
	mux.HandleFunc("POST /items/{id}", s.pageUpdate)
	mux.HandleFunc("GET /items/{id}/delete", s.pageConfirmDelete)
	mux.HandleFunc("POST /items/{id}/delete", s.pageDelete)
}

// isPublic lists what needs no identity besides the probes: the assets
// and the API's OpenAPI document.
func isPublic(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/static/") || isOpenAPIDocument(r)
}

func isAPI(r *http.Request) bool {
	return r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/")
}

// deny answers an authentication or authorisation refusal in the format
// the caller expects.
func (s *site) deny(w http.ResponseWriter, r *http.Request, status int) {
	if isAPI(r) {
		switch status {
		case http.StatusUnauthorized:
			writeProblem(w, problem{Status: status, Type: "unauthenticated", Title: "Sign-in required",
				Detail: "This request carries no accepted identity."})
		case http.StatusServiceUnavailable:
			writeProblem(w, problem{Status: status, Type: "sign-in-unavailable", Title: "Sign-in temporarily unavailable",
				Detail: "Identities cannot be checked right now; try again shortly."})
		default:
			writeProblem(w, problem{Status: status, Type: "forbidden", Title: "Forbidden",
				Detail: "Your account may not do this."})
		}
		return
	}
	if status == http.StatusServiceUnavailable {
		s.errorPageWith(w, r, status, "Signing in is briefly unavailable. Please try again in a moment.")
		return
	}
	s.errorPage(w, r, status)
}

// denyCrossOrigin answers an unsafe request from another site: a page or
// script on another origin, not the caller's role, is the problem.
func (s *site) denyCrossOrigin(w http.ResponseWriter, r *http.Request, status int) {
	if isAPI(r) {
		writeProblem(w, problem{Status: status, Type: "cross-origin", Title: "Cross-origin request refused",
			Detail: "Unsafe requests from another site are refused; if that origin is yours, add it to CSRF_TRUSTED_ORIGINS."})
		return
	}
	s.errorPage(w, r, status)
}

// routeErrors renders the mux's own 404 and 405 answers as problem JSON or
// an HTML page, keeping the Allow header of a 405.
type routeErrors struct {
	mux *http.ServeMux
	s   *site
}

func (re routeErrors) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := re.mux.Handler(r)
	if pattern != "" {
		re.mux.ServeHTTP(w, r)
		return
	}
	rec := &statusRecorder{header: http.Header{}}
	h.ServeHTTP(rec, r)
	if allow := rec.header.Get("Allow"); allow != "" {
		w.Header().Set("Allow", allow)
	}
	switch {
	case rec.status == http.StatusMethodNotAllowed && isAPI(r):
		writeProblem(w, problem{Status: rec.status, Type: "method-not-allowed", Title: "Method not allowed",
			Detail: r.Method + " is not allowed here; allowed: " + rec.header.Get("Allow") + "."})
	case rec.status == http.StatusNotFound && isAPI(r):
		writeProblem(w, problem{Status: rec.status, Type: "not-found", Title: "Not found",
			Detail: "No such resource."})
	case rec.status == http.StatusNotFound || rec.status == http.StatusMethodNotAllowed:
		re.s.errorPage(w, r, rec.status)
	default:
		// Redirects and anything else the mux decides: pass through as is.
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.status)
	}
}

// statusRecorder captures the status and headers of the mux's error
// handlers, discarding their plain-text bodies.
type statusRecorder struct {
	header http.Header
	status int
}

func (r *statusRecorder) Header() http.Header         { return r.header }
func (r *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *statusRecorder) WriteHeader(status int)      { r.status = status }
