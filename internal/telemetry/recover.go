package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// reportedErrorEvent marks a log entry for Error Reporting even when its
// severity or shape would not otherwise be picked up.
// https://cloud.google.com/error-reporting/docs/formatting-error-messages
const reportedErrorEvent = "type.googleapis.com/google.devtools.clouderrorreporting.v1beta1.ReportedErrorEvent"

// recovered logs a panic in the Error Reporting format: the message is the
// panic value followed by the goroutine's stack in Go's own panic layout,
// which Error Reporting parses; then it answers 500 if nothing was sent yet.
// The client sees no detail of the failure.
func (m *httpMiddleware) recovered(ctx context.Context, w http.ResponseWriter, r *http.Request, ex *exchange, p any, span trace.Span) {
	msg := fmt.Sprintf("panic: %v\n\n%s", p, debug.Stack())
	req := []any{
		slog.String("method", r.Method),
		slog.String("url", r.URL.RequestURI()),
		slog.Int("responseStatusCode", http.StatusInternalServerError),
	}
	if ua := r.UserAgent(); ua != "" {
		req = append(req, slog.String("userAgent", ua))
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		req = append(req, slog.String("remoteIp", host))
	}
	m.o.Logger.LogAttrs(ctx, LevelCritical, msg,
		slog.String("@type", reportedErrorEvent),
		slog.Group("serviceContext", slog.String("service", m.service), slog.String("version", m.version)),
		slog.Group("context", slog.Group("httpRequest", req...)),
	)
	span.RecordError(errors.New(fmt.Sprint(p)), trace.WithStackTrace(true))
	span.SetStatus(codes.Error, "panic")

	if ex.wroteHeader {
		// Headers are gone; the client gets a truncated body. Nothing better
		// can be done than to stop writing.
		return
	}
	h := w.Header()
	for k := range h {
		delete(h, k)
	}
	m.o.InternalError(w, r)
	if !ex.wroteHeader {
		ex.status, ex.wroteHeader = http.StatusInternalServerError, true
	}
}

func plainInternalError(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}
