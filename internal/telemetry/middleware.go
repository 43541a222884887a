package telemetry

import (
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/felixge/httpsnoop"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// Instrument names follow the OpenTelemetry HTTP semantic conventions where
// they exist; http.server.request.count is ours, because Cloud Monitoring
// charts and ratio alerts need a plain counter rather than a histogram count.
const (
	MetricHTTPDuration = "http.server.request.duration"
	MetricHTTPRequests = "http.server.request.count"
	MetricHTTPActive   = "http.server.active_requests"
)

// instrumentationName is this package's import path, the scope of its
// spans and metrics; read from the code so a renamed copy names itself.
// A constant in all but syntax.
var instrumentationName = reflect.TypeFor[Telemetry]().PkgPath()

// durationBuckets are the semantic conventions' advised boundaries (seconds).
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// HTTPOptions configures Middleware.
type HTTPOptions struct {
	// Logger receives the request lines and recovered panics (required).
	Logger *slog.Logger
	// Untraced requests get no span and no request log line; they are
	// still measured, and panics still recovered. For probes, which come
	// every few seconds and would drown the users' traffic.
	Untraced bool
	// InternalError writes the 500 answer after a recovered panic, e.g. a
	// problem+json body; nil writes a plain "Internal Server Error". It must
	// not reveal the panic.
	InternalError func(http.ResponseWriter, *http.Request)
}

// Middleware returns the outermost middleware: it extracts the incoming
// trace context, runs the request in a server span named by its route,
// records the HTTP metrics, logs one line per request with Cloud Logging's
// httpRequest fields, and recovers panics (logged for Error Reporting,
// answered with 500).
func (t *Telemetry) Middleware(o HTTPOptions) (func(http.Handler) http.Handler, error) {
	meter := t.MeterProvider.Meter(instrumentationName)
	duration, err := meter.Float64Histogram(MetricHTTPDuration,
		metric.WithUnit("s"),
		metric.WithDescription("Duration of HTTP server requests."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	if err != nil {
		return nil, err
	}
	count, err := meter.Int64Counter(MetricHTTPRequests,
		metric.WithUnit("{request}"),
		metric.WithDescription("Number of HTTP server requests, by route and status."))
	if err != nil {
		return nil, err
	}
	active, err := meter.Int64UpDownCounter(MetricHTTPActive,
		metric.WithUnit("{request}"),
		metric.WithDescription("Number of HTTP server requests in flight."))
	if err != nil {
		return nil, err
	}
	if o.InternalError == nil {
		o.InternalError = plainInternalError
	}
	m := &httpMiddleware{
		o:        o,
		tracer:   t.TracerProvider.Tracer(instrumentationName),
		prop:     t.Propagator,
		duration: duration,
		count:    count,
		active:   active,
		service:  t.Options.ServiceName,
		version:  t.Options.ServiceVersion,
	}
	return m.wrap, nil
}

type httpMiddleware struct {
	o        HTTPOptions
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
	duration metric.Float64Histogram
	count    metric.Int64Counter
	active   metric.Int64UpDownCounter
	service  string
	version  string
	// sets holds one metric attribute set per combination of (bounded)
	// values, so a request does not build and hash its sets again.
	sets sync.Map // metricKey -> metric.MeasurementOption
}

// metricKey holds the values of one metric attribute set. status 0 marks
// the in-flight counter's set, which has no status or route.
type metricKey struct {
	method, scheme, route string
	status                int
}

func (m *httpMiddleware) attributes(k metricKey) metric.MeasurementOption {
	if v, ok := m.sets.Load(k); ok {
		return v.(metric.MeasurementOption)
	}
	attrs := []attribute.KeyValue{semconv.HTTPRequestMethodKey.String(k.method), semconv.URLScheme(k.scheme)}
	if k.status != 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(k.status))
		if k.route != "" {
			attrs = append(attrs, semconv.HTTPRoute(k.route))
		}
		if k.status >= 500 {
			attrs = append(attrs, semconv.ErrorTypeKey.String(strconv.Itoa(k.status)))
		}
	}
	v, _ := m.sets.LoadOrStore(k, metric.WithAttributeSet(attribute.NewSet(attrs...)))
	return v.(metric.MeasurementOption)
}

// exchange is what the middleware learns while the handler runs.
type exchange struct {
	status       int
	bytesWritten int64
	wroteHeader  bool
}

func (m *httpMiddleware) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx := m.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		method := normalizeMethod(r.Method)
		route := "" // learnt after the handler: from RecordRoute, or Request.Pattern
		traced := !m.o.Untraced
		span := trace.SpanFromContext(ctx) // the remote parent, or a no-op span
		if traced {
			ctx, span = m.tracer.Start(ctx, spanName(method, route),
				trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(requestAttrs(r, method)...))
		}
		inFlight := m.attributes(metricKey{method: method, scheme: Scheme(r)})
		m.active.Add(ctx, 1, inFlight.(metric.AddOption))

		var ex exchange
		ww := httpsnoop.Wrap(w, httpsnoop.Hooks{
			WriteHeader: func(next httpsnoop.WriteHeaderFunc) httpsnoop.WriteHeaderFunc {
				return func(code int) {
					if !ex.wroteHeader && code >= 200 {
						ex.status, ex.wroteHeader = code, true
					}
					next(code)
				}
			},
			Write: func(next httpsnoop.WriteFunc) httpsnoop.WriteFunc {
				return func(b []byte) (int, error) {
					if !ex.wroteHeader {
						ex.status, ex.wroteHeader = http.StatusOK, true
					}
					n, err := next(b)
					ex.bytesWritten += int64(n)
					return n, err
				}
			},
			ReadFrom: func(next httpsnoop.ReadFromFunc) httpsnoop.ReadFromFunc {
				return func(src io.Reader) (int64, error) {
					if !ex.wroteHeader {
						ex.status, ex.wroteHeader = http.StatusOK, true
					}
					n, err := next(src)
					ex.bytesWritten += n
					return n, err
				}
			},
		})
		ctx, slot := withRouteSlot(ctx)
		r2 := r.WithContext(ctx)

		defer func() {
			p := recover()
			if p != nil && p != http.ErrAbortHandler { //nolint:errorlint // net/http compares it the same way
				m.recovered(ctx, ww, r2, &ex, p, span)
			}
			if route == "" {
				route = routePath(slot.pattern)
			}
			if route == "" {
				route = routePath(r2.Pattern)
			}
			status := ex.status
			if status == 0 {
				status = http.StatusOK // net/http answers 200 for a handler that wrote nothing
			}
			if p == http.ErrAbortHandler { //nolint:errorlint
				status = 499 // the connection is dropped; nothing reaches the client
			}
			elapsed := time.Since(start)

			set := m.attributes(metricKey{method: method, scheme: Scheme(r), route: route, status: status})
			m.duration.Record(ctx, elapsed.Seconds(), set.(metric.RecordOption))
			m.count.Add(ctx, 1, set.(metric.AddOption))
			m.active.Add(ctx, -1, inFlight.(metric.AddOption))

			if traced {
				span.SetAttributes(semconv.HTTPResponseStatusCode(status))
				if route != "" {
					span.SetName(spanName(method, route))
					span.SetAttributes(semconv.HTTPRoute(route))
				}
				if status >= 500 {
					span.SetStatus(codes.Error, http.StatusText(status))
					span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(status)))
				}
				m.logRequest(ctx, r2, status, ex.bytesWritten, elapsed)
				span.End()
			}
			if p == http.ErrAbortHandler { //nolint:errorlint
				panic(p)
			}
		}()
		next.ServeHTTP(ww, r2)
	})
}

// spanName follows the HTTP semantic conventions: "{method} {route}", or the
// method alone when no route matched (never the raw path: unbounded names).
func spanName(method, route string) string {
	if route == "" {
		return method
	}
	return method + " " + route
}

// routePath turns a ServeMux pattern ("GET example.com/items/{id}") into
// the route path ("/items/{id}") used by http.route and the span name.
func routePath(pattern string) string {
	if pattern == "" {
		return ""
	}
	if _, rest, ok := strings.Cut(pattern, " "); ok {
		pattern = strings.TrimLeft(rest, " \t")
	}
	if i := strings.IndexByte(pattern, '/'); i > 0 {
		pattern = pattern[i:] // drop a host
	}
	return pattern
}

var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodConnect: true,
	http.MethodOptions: true, http.MethodTrace: true,
}

// normalizeMethod keeps attribute cardinality bounded, as the conventions ask.
func normalizeMethod(m string) string {
	if knownMethods[m] {
		return m
	}
	return "_OTHER"
}

// Scheme is the scheme the client used: "https" when the request came over
// TLS, directly or through Cloud Run's or a load balancer's TLS termination
// (the first X-Forwarded-Proto entry is the client's side), else "http".
// Bounded to these two values, so metric cardinality stays fixed.
func Scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	if strings.EqualFold(strings.TrimSpace(proto), "https") {
		return "https"
	}
	return "http"
}

// requestAttrs are the server span's request attributes. Every attribute
// is copied, converted and sent with every span, so the span carries the
// conventions' required and useful ones only: not client.address (behind
// Cloud Run's front end the peer is the front end) and not the opt-in
// http.response.body.size (the request log line has responseSize).
func requestAttrs(r *http.Request, method string) []attribute.KeyValue {
	attrs := []attribute.KeyValue{
		semconv.HTTPRequestMethodKey.String(method),
		semconv.URLPath(r.URL.Path),
		semconv.URLScheme(Scheme(r)),
		semconv.NetworkProtocolVersion(protocolVersion(r)),
	}
	if r.Method != method {
		attrs = append(attrs, semconv.HTTPRequestMethodOriginal(r.Method))
	}
	if ua := r.UserAgent(); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginal(ua))
	}
	return attrs
}

func protocolVersion(r *http.Request) string {
	switch r.ProtoMajor {
	case 2:
		return "2"
	case 3:
		return "3"
	}
	return "1." + strconv.Itoa(r.ProtoMinor)
}
