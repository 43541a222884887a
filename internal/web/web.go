// Package web is the HTTP surface of the service: HTML pages, the JSON API,
// health endpoints and static assets, behind the middleware chain.
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
	"example.com/example-function/internal/health"
	"example.com/example-function/internal/items"
	"example.com/example-function/internal/telemetry"
)

// Deps is everything the handlers need. internal/app builds it from the
// environment; tests build it by hand.
type Deps struct {
	Items  *items.Store
	Health *health.Checker
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
	// Middleware wraps the whole app, outermost first (recovery, telemetry,
	// request log). Security headers, cross-origin protection and
	// authentication are added by NewApp, inside these.
	Middleware []func(http.Handler) http.Handler
}

// Events receives the business events the handlers see;
// *telemetry.AppMetrics implements it.
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

// server holds the dependencies and the page templates.
type server struct {
	Deps
	// pages parses the templates and loads the assets once, on the first
	// page or asset request: off the start-up path, so a new instance
	// answers its start-up probe sooner. (Not warmed in the background
	// either: on Cloud Run's single CPU that would delay the probe just the
	// same.) Every template is rendered by the tests.
	pages func() (*pages, error)
	// lastHealth is the last /healthz answer, reused while it is current.
	lastHealth atomic.Pointer[healthEntry]
	// buffers holds *bytes.Buffer for writeJSON.
	buffers sync.Pool
}

// NewApp returns the complete application handler: every route, /healthz
// and /readyz included.
func NewApp(d Deps) (http.Handler, error) {
	s := newServer(d)
	mux := http.NewServeMux()
	s.routes(mux)
	// RecordRoute tells the telemetry middleware, further out, which route
	// matched, so spans and metrics are named by pattern, not raw path.
	var h http.Handler = telemetry.RecordRoute(routeErrors{mux: mux, s: s})
	h = withDeadline(d.DatabaseTimeout, h)
	h = auth.Middleware{Authn: s.Authn, Policy: d.Policy, Public: isPublic, Deny: s.deny,
		Logger: s.Logger, OnRefusal: d.OnAuthRefusal}.Wrap(h)
	// A forged cross-site write is refused before any identity is looked at.
	h, err := auth.CrossOrigin{TrustedOrigins: d.TrustedOrigins, Deny: s.denyCrossOrigin,
		Logger: s.Logger, OnRefusal: d.OnAuthRefusal}.Wrap(h)
	if err != nil {
		return nil, err
	}
	// Outside the refusals, so 401/403/404 pages carry the headers too.
	h = auth.SecurityHeaders(h)
	for i := len(d.Middleware) - 1; i >= 0; i-- {
		h = d.Middleware[i](h)
	}
	return healthzFirst{next: h, s: s}, nil
}

// healthzFirst answers GET /healthz before the middleware chain. Probes
// come every few seconds from Cloud Run and uptime checks; they are public,
// untraced and need no identity, so they skip the chain's cost (and are not
// counted in the request metrics, which then show users' traffic only).
type healthzFirst struct {
	next http.Handler
	s    *server
}

func (h healthzFirst) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		auth.SetSecurityHeaders(w.Header(), r)
		h.s.healthz(w, r)
		return
	}
	h.next.ServeHTTP(w, r)
}

// NewHealthz returns the handler of the "healthz" function: the health
// check on any path.
func NewHealthz(d Deps) (http.Handler, error) {
	return http.HandlerFunc(newServer(d).healthz), nil
}

func newServer(d Deps) *server {
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
	return &server{Deps: d, pages: sync.OnceValues(parsePages)}
}

func (s *server) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /static/", s.static)

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

// isPublic lists what needs no identity: probes and assets.
func isPublic(r *http.Request) bool {
	p := r.URL.Path
	return p == "/healthz" || p == "/readyz" || strings.HasPrefix(p, "/static/")
}

func isAPI(r *http.Request) bool {
	return r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/")
}

// deny answers an authentication or authorisation refusal in the format
// the caller expects.
func (s *server) deny(w http.ResponseWriter, r *http.Request, status int) {
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
func (s *server) denyCrossOrigin(w http.ResponseWriter, r *http.Request, status int) {
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
	s   *server
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
