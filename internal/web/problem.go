package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"example.com/example-function/internal/items"
)

// ProblemTypeBase prefixes every problem "type"; the suffixes are stable
// API: clients may switch on them.
const ProblemTypeBase = "https://example.com/problems/"

// problem is an RFC 9457 problem details object.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Errors lists invalid fields (validation problems only).
	Errors []items.FieldError `json:"errors,omitempty"`
	// CurrentVersion is the item's version now (edit conflicts only).
	CurrentVersion int64 `json:"current_version,omitempty"`
}

func writeProblem(w http.ResponseWriter, p problem) {
	p.Type = ProblemTypeBase + p.Type
	body, err := json.Marshal(p)
	if err != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	writeBody(w, p.Status, problemType, append(body, '\n'))
}

// apiError maps a store error to the problem the client sees. Only known
// errors say anything specific; everything else is logged and becomes a
// generic 500 or 503, so no SQL or driver text reaches a client.
func (s *site) apiError(w http.ResponseWriter, r *http.Request, err error) {
	if s.databaseTimedOut(w, r, err) {
		return
	}
	var (
		verr     *items.ValidationError
		conflict *items.ConflictError
	)
	switch {
	case errors.As(err, &verr):
		writeProblem(w, problem{Status: http.StatusUnprocessableEntity, Type: "validation", Title: "Invalid item",
			Detail: verr.Error(), Errors: verr.Fields})
	case errors.As(err, &conflict):
		s.Events.EditConflict(r.Context())
		w.Header().Set("ETag", etag(conflict.Current.Version))
		writeProblem(w, problem{Status: http.StatusPreconditionFailed, Type: "edit-conflict", Title: "Edit conflict",
			Detail:         "The item was changed by " + conflict.Current.UpdatedBy + " since you read it; fetch it again and reapply your change.",
			CurrentVersion: conflict.Current.Version})
	default:
		switch s.errorStatus(r.Context(), err) {
		case http.StatusNotFound:
			writeProblem(w, problem{Status: http.StatusNotFound, Type: "not-found", Title: "Item not found",
				Detail: "No item has this id."})
		case http.StatusServiceUnavailable:
			w.Header().Set("Retry-After", "5")
			writeProblem(w, problem{Status: http.StatusServiceUnavailable, Type: "database-unavailable",
				Title: "Service temporarily unavailable", Detail: "The database cannot be reached; try again shortly."})
		default:
			writeProblem(w, problem{Status: http.StatusInternalServerError, Type: "internal", Title: "Internal error",
				Detail: "Something went wrong on our side; it has been logged."})
		}
	}
}

// errorStatus is the status a store error is answered with, pages and API
// alike: 404 for a missing item, 503 (logged as a warning) when the database
// cannot be reached, 500 (logged as an error) for anything else.
func (s *site) errorStatus(ctx context.Context, err error) int {
	switch {
	case errors.Is(err, items.ErrNotFound):
		return http.StatusNotFound
	case items.IsUnavailable(err):
		s.Logger.WarnContext(ctx, "database unavailable", slog.String("error", err.Error()))
		return http.StatusServiceUnavailable
	default:
		s.Logger.ErrorContext(ctx, "request failed", slog.String("error", err.Error()))
		return http.StatusInternalServerError
	}
}

// InternalError answers a request whose handler panicked (the telemetry
// middleware recovers and logs it): a generic 500 that reveals nothing.
func InternalError(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header(), r)
	if isAPI(r) {
		writeProblem(w, problem{Status: http.StatusInternalServerError, Type: "internal", Title: "Internal error",
			Detail: "Something went wrong on our side; it has been logged."})
		return
	}
	writeHTML(w, http.StatusInternalServerError, []byte(internalErrorPage))
}

const internalErrorPage = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Internal error</title>` +
	`<link rel="stylesheet" href="/static/style.css"></head><body><main id="main"><h1>500 · Internal error</h1>` +
	`<p>Something went wrong on our side. It has been logged.</p><p><a href="/">Go to the list of items</a></p></main></body></html>`
