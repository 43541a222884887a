package telemetry

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"
)

// logRequest writes the one line per request. Its httpRequest group has the
// field names of Cloud Logging's HttpRequest, so the Logs Explorer shows it
// like a load balancer's request log, and the line carries the trace.
// https://cloud.google.com/logging/docs/reference/v2/rest/v2/LogEntry#HttpRequest
func (m *httpMiddleware) logRequest(ctx context.Context, r *http.Request, status int, size int64, elapsed time.Duration) {
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	if !m.o.Logger.Enabled(ctx, level) {
		return // before the attributes are built (LOG_LEVEL=warn and above)
	}
	m.o.Logger.LogAttrs(ctx, level, r.Method+" "+r.URL.Path+" "+strconv.Itoa(status),
		slog.GroupAttrs("httpRequest", httpRequestAttrs(r, status, size, elapsed)...))
}

func httpRequestAttrs(r *http.Request, status int, size int64, elapsed time.Duration) []slog.Attr {
	attrs := make([]slog.Attr, 0, 10)
	attrs = append(attrs,
		slog.String("requestMethod", r.Method),
		slog.String("requestUrl", r.URL.RequestURI()),
		slog.Int("status", status),
		slog.String("responseSize", strconv.FormatInt(size, 10)),
		slog.String("latency", strconv.FormatFloat(elapsed.Seconds(), 'f', 9, 64)+"s"),
		slog.String("protocol", r.Proto),
	)
	if r.ContentLength > 0 {
		attrs = append(attrs, slog.String("requestSize", strconv.FormatInt(r.ContentLength, 10)))
	}
	if ua := r.UserAgent(); ua != "" {
		attrs = append(attrs, slog.String("userAgent", ua))
	}
	if ref := r.Referer(); ref != "" {
		attrs = append(attrs, slog.String("referer", ref))
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		attrs = append(attrs, slog.String("remoteIp", host))
	}
	return attrs
}
