package web

import (
	"context"
	"log/slog"
	"net/http"

	"example.com/example-function/internal/items"
)

// deadline runs every request of the app's chain but the assets under a
// deadline of DatabaseTimeout (none when it is not positive). The handlers
// pass the request's context to the store, so the wait for a pool
// connection and every statement end by then, and the request is answered
// 503 database-timeout instead of hanging on a stalled database. /readyz, on
// the probes' chain, bounds its own check.
func (s *site) deadline(next http.Handler) http.Handler {
	d := s.DatabaseTimeout
	if d <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isPublic(r) {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// databaseTimeoutRetry is the Retry-After of a database-timeout answer.
const databaseTimeoutRetry = "5"

// databaseTimedOut answers a request whose database work ran out of time:
// logged with the reason, counted, and 503 with Retry-After as problem
// JSON (API) or the 503 page. It reports false, writing nothing, when err
// is no timeout.
func (s *site) databaseTimedOut(w http.ResponseWriter, r *http.Request, err error) bool {
	reason := items.TimeoutReason(err)
	if reason == "" {
		return false
	}
	s.Logger.WarnContext(r.Context(), "database timeout",
		slog.String("reason", reason), slog.String("deadline", s.DatabaseTimeout.String()), slog.String("error", err.Error()))
	s.Events.DatabaseTimeout(r.Context(), reason)
	if !isAPI(r) {
		s.errorPage(w, r, http.StatusServiceUnavailable)
		return true
	}
	w.Header().Set("Retry-After", databaseTimeoutRetry)
	writeProblem(w, problem{Status: http.StatusServiceUnavailable, Type: "database-timeout",
		Title: "Service temporarily unavailable",
		Detail: "The database did not answer in time; try again shortly. A create (POST) may have been applied: " +
			"check before repeating it. Updates and deletes sent with If-Match are safe to repeat."})
	return true
}
