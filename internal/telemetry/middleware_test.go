package telemetry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// serve runs one request through the middleware in front of mux.
func (m *memTelemetry) serve(t *testing.T, o HTTPOptions, h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	if o.Logger == nil {
		o.Logger = m.log
	}
	mw, err := m.Middleware(o)
	if err != nil {
		t.Fatalf("Middleware: %v", err)
	}
	rec := httptest.NewRecorder()
	mw(h).ServeHTTP(rec, req)
	return rec
}

func testMux(t *testing.T) *http.ServeMux {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !trace.SpanContextFromContext(r.Context()).IsValid() {
			t.Error("handler context carries no span")
		}
		_, _ = io.WriteString(w, `{"id":`+r.PathValue("id")+`}`)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("GET /boom", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Secret-Detail", "leak")
		panic("database password is hunter2")
	})
	return mux
}

func attrMap(kvs []attribute.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

func onlySpan(t *testing.T, m *memTelemetry) sdktrace.ReadOnlySpan {
	t.Helper()
	ended := m.spans.Ended()
	if len(ended) != 1 {
		t.Fatalf("got %d spans, want 1", len(ended))
	}
	return ended[0]
}

func TestMiddlewareNamesSpanByPatternAfterServeHTTP(t *testing.T) {
	t.Parallel()
	m := newMemTelemetry(t)
	req := httptest.NewRequest("GET", "/api/items/42", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	req.Header.Set("X-Forwarded-Proto", "https") // TLS ended at Cloud Run's front end
	rec := m.serve(t, HTTPOptions{}, testMux(t), req)
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}

	s := onlySpan(t, m)
	if s.Name() != "GET /api/items/{id}" {
		t.Errorf("span name = %q", s.Name())
	}
	if s.SpanKind() != trace.SpanKindServer {
		t.Errorf("kind = %v", s.SpanKind())
	}
	if got := s.SpanContext().TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("trace id %s does not continue the incoming traceparent", got)
	}
	if got := s.Parent().SpanID().String(); got != "00f067aa0ba902b7" || !s.Parent().IsRemote() {
		t.Errorf("parent = %s remote=%v", got, s.Parent().IsRemote())
	}
	a := attrMap(s.Attributes())
	for k, v := range map[string]string{
		"http.route": "/api/items/{id}", "http.request.method": "GET",
		"http.response.status_code": "200", "url.path": "/api/items/42", "url.scheme": "https",
	} {
		if a[k] != v {
			t.Errorf("span attribute %s = %q, want %q", k, a[k], v)
		}
	}

	// Metrics: histogram in seconds and counter, by route and status.
	ms := m.metrics(t)
	h, ok := ms[MetricHTTPDuration].Data.(metricdata.Histogram[float64])
	if !ok || ms[MetricHTTPDuration].Unit != "s" {
		t.Fatalf("%s missing or wrong: %+v", MetricHTTPDuration, ms[MetricHTTPDuration])
	}
	pa := attrMap(h.DataPoints[0].Attributes.ToSlice())
	if pa["http.route"] != "/api/items/{id}" || pa["http.response.status_code"] != "200" || pa["http.request.method"] != "GET" {
		t.Errorf("histogram attributes = %v", pa)
	}
	c, ok := ms[MetricHTTPRequests].Data.(metricdata.Sum[int64])
	if !ok || !c.IsMonotonic || c.DataPoints[0].Value != 1 {
		t.Errorf("%s = %+v", MetricHTTPRequests, ms[MetricHTTPRequests])
	}

	// The request log line: httpRequest fields and the span's trace.
	lines := m.logLines(t)
	if len(lines) != 1 {
		t.Fatalf("got %d log lines, want 1: %v", len(lines), lines)
	}
	l := lines[0]
	if l["logging.googleapis.com/trace"] != "projects/proj/traces/4bf92f3577b34da6a3ce929d0e0e4736" ||
		l["logging.googleapis.com/spanId"] != s.SpanContext().SpanID().String() {
		t.Errorf("request log not linked to the span: %v", l)
	}
	hr, _ := l["httpRequest"].(map[string]any)
	if hr["requestMethod"] != "GET" || hr["requestUrl"] != "/api/items/42" || hr["status"] != float64(200) ||
		hr["responseSize"] != "9" || !strings.HasSuffix(hr["latency"].(string), "s") {
		t.Errorf("httpRequest = %v", hr)
	}
}

func TestMiddlewareUnmatchedRouteUsesMethodOnly(t *testing.T) {
	t.Parallel()
	m := newMemTelemetry(t)
	rec := m.serve(t, HTTPOptions{}, testMux(t), httptest.NewRequest("GET", "/no/such/page/123", nil))
	if rec.Code != 404 {
		t.Fatalf("status %d", rec.Code)
	}
	s := onlySpan(t, m)
	if s.Name() != "GET" {
		t.Errorf("span name %q must not contain the raw path", s.Name())
	}
	if _, ok := attrMap(s.Attributes())["http.route"]; ok {
		t.Error("http.route set for an unmatched request")
	}
}

func TestMiddlewareProbesNotTraced(t *testing.T) {
	t.Parallel()
	m := newMemTelemetry(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		m.serve(t, HTTPOptions{Untraced: true}, testMux(t), httptest.NewRequest("GET", p, nil))
	}
	if n := len(m.spans.Ended()); n != 0 {
		t.Errorf("probes produced %d spans", n)
	}
	if lines := m.logLines(t); len(lines) != 0 {
		t.Errorf("probes logged: %v", lines)
	}
	c := m.metrics(t)[MetricHTTPRequests].Data.(metricdata.Sum[int64])
	var total int64
	for _, p := range c.DataPoints {
		total += p.Value
	}
	if total != 2 {
		t.Errorf("probes counted %d times, want 2 (untraced, still measured)", total)
	}
}

func TestMiddlewareCloudTraceHeader(t *testing.T) {
	t.Parallel()
	m := newMemTelemetry(t)
	req := httptest.NewRequest("GET", "/api/items/1", nil)
	req.Header.Set("X-Cloud-Trace-Context", "105445aa7843bc8bf206b12000100000/1;o=1")
	m.serve(t, HTTPOptions{}, testMux(t), req)
	s := onlySpan(t, m)
	if s.SpanContext().TraceID().String() != "105445aa7843bc8bf206b12000100000" {
		t.Errorf("trace id %s, want Cloud Run's", s.SpanContext().TraceID())
	}
	if s.Parent().SpanID().String() != "0000000000000001" || !s.SpanContext().IsSampled() {
		t.Errorf("parent %s sampled %v", s.Parent().SpanID(), s.SpanContext().IsSampled())
	}
}

func TestMiddlewareRecoversPanic(t *testing.T) {
	t.Parallel()
	m := newMemTelemetry(t)
	rec := m.serve(t, HTTPOptions{}, testMux(t), httptest.NewRequest("GET", "/boom", nil))

	if rec.Code != 500 {
		t.Errorf("status %d, want 500", rec.Code)
	}
	body := rec.Body.String()
	if strings.Contains(body, "hunter2") || strings.Contains(body, "goroutine") || rec.Header().Get("X-Secret-Detail") != "" {
		t.Errorf("500 leaks details: %q %v", body, rec.Header())
	}

	s := onlySpan(t, m)
	if s.Status().Code != codes.Error || attrMap(s.Attributes())["http.response.status_code"] != "500" {
		t.Errorf("span status %v attrs %v", s.Status(), attrMap(s.Attributes()))
	}

	var report map[string]any
	for _, l := range m.logLines(t) {
		if l["@type"] != nil {
			report = l
		}
	}
	if report == nil {
		t.Fatalf("no Error Reporting entry in %v", m.logLines(t))
	}
	msg, _ := report["message"].(string)
	if report["@type"] != "type.googleapis.com/google.devtools.clouderrorreporting.v1beta1.ReportedErrorEvent" ||
		report["severity"] != "CRITICAL" ||
		!strings.HasPrefix(msg, "panic: database password is hunter2\n\ngoroutine ") ||
		!strings.Contains(msg, "middleware_test.go") {
		t.Errorf("error report = %v", report)
	}
	sc, _ := report["serviceContext"].(map[string]any)
	if sc["service"] != "svc" || sc["version"] != "v1.2.3" {
		t.Errorf("serviceContext = %v", sc)
	}
	hr, _ := report["context"].(map[string]any)["httpRequest"].(map[string]any)
	if hr["method"] != "GET" || hr["url"] != "/boom" || hr["responseStatusCode"] != float64(500) {
		t.Errorf("context.httpRequest = %v", hr)
	}
	if report["logging.googleapis.com/trace"] != "projects/proj/traces/"+s.SpanContext().TraceID().String() {
		t.Errorf("error report not linked to the trace: %v", report["logging.googleapis.com/trace"])
	}
}

func TestMiddlewareCustomInternalError(t *testing.T) {
	t.Parallel()
	m := newMemTelemetry(t)
	o := HTTPOptions{InternalError: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(500)
		_, _ = io.WriteString(w, `{"status":500}`)
	}}
	rec := m.serve(t, o, testMux(t), httptest.NewRequest("GET", "/boom", nil))
	if rec.Code != 500 || rec.Header().Get("Content-Type") != "application/problem+json" || rec.Body.String() != `{"status":500}` {
		t.Errorf("got %d %v %q", rec.Code, rec.Header(), rec.Body.String())
	}
}

func TestMiddlewarePanicAfterHeadersKeepsStatus(t *testing.T) {
	t.Parallel()
	m := newMemTelemetry(t)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		panic("late")
	})
	rec := m.serve(t, HTTPOptions{}, h, httptest.NewRequest("POST", "/x", nil))
	if rec.Code != http.StatusAccepted {
		t.Errorf("status rewritten to %d", rec.Code)
	}
}

func TestMiddlewareRepanicsErrAbortHandler(t *testing.T) {
	t.Parallel()
	m := newMemTelemetry(t)
	mw, err := m.Middleware(HTTPOptions{Logger: m.log})
	if err != nil {
		t.Fatal(err)
	}
	h := mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }))
	defer func() {
		if p := recover(); p != http.ErrAbortHandler { //nolint:errorlint
			t.Errorf("recovered %v, want http.ErrAbortHandler passed on to net/http", p)
		}
		if n := len(m.spans.Ended()); n != 1 {
			t.Errorf("span not ended on abort: %d", n)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
}

func TestRoutePath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                            "",
		"GET /api/items/{id}":         "/api/items/{id}",
		"/healthz":                    "/healthz",
		"POST example.com/items/{id}": "/items/{id}",
		"example.com/":                "/",
		"DELETE  /api/items/{id}":     "/api/items/{id}",
		"GET /static/{path...}":       "/static/{path...}",
	} {
		if got := routePath(in); got != want {
			t.Errorf("routePath(%q) = %q, want %q", in, got, want)
		}
	}
}

// copyKey makes the request copies of TestMiddlewareRecordRouteThroughRequestCopies.
type copyKey struct{}

func TestMiddlewareRecordRouteThroughRequestCopies(t *testing.T) {
	t.Parallel()
	m := newMemTelemetry(t)
	var h http.Handler = RecordRoute(testMux(t))
	// Like the auth middleware: the mux sees a copy of the request.
	copying := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), copyKey{}, "user")))
	})
	m.serve(t, HTTPOptions{}, copying, httptest.NewRequest("GET", "/api/items/9", nil))
	s := onlySpan(t, m)
	if s.Name() != "GET /api/items/{id}" || attrMap(s.Attributes())["http.route"] != "/api/items/{id}" {
		t.Errorf("span %q attrs %v", s.Name(), attrMap(s.Attributes()))
	}

	// A panic below RecordRoute still names the span.
	m2 := newMemTelemetry(t)
	boom := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		RecordRoute(testMux(t)).ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), copyKey{}, "user")))
	})
	m2.serve(t, HTTPOptions{}, boom, httptest.NewRequest("GET", "/boom", nil))
	if s := onlySpan(t, m2); s.Name() != "GET /boom" {
		t.Errorf("panicking route span %q", s.Name())
	}
}
