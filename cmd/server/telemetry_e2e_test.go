package main_test

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/runtime"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/semconv/v1.43.0/goconv"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"example.com/example-function/internal/items"
	"example.com/example-function/internal/pgtest"
	"example.com/example-function/internal/proctest"
	"example.com/example-function/internal/telemetry"
	"example.com/example-function/internal/telemetry/otlptest"
)

// testProject is GOOGLE_CLOUD_PROJECT for the log-trace correlation field.
const testProject = "test-project"

// startObserved runs the real server binary exporting OTLP/HTTP protobuf
// to a receiver of its own. The metric export interval is an hour, so the
// only metric export is the final flush on shutdown.
func startObserved(t *testing.T) (*proctest.Proc, *otlptest.Receiver) {
	t.Helper()
	rcv := otlptest.Start(t)
	bin := proctest.Build(t, "./cmd/server")
	p := proctest.Start(t, bin, append(devEnv,
		"DATABASE_URL="+pgtest.NewDatabase(t),
		"GOOGLE_CLOUD_PROJECT="+testProject,
		"LOG_FORMAT=json",
		"OTEL_EXPORTER_OTLP_ENDPOINT="+rcv.URL,
		"OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_METRIC_EXPORT_INTERVAL=3600000",
	)...)
	p.WaitHTTP(t, "/readyz", http.StatusOK, 20*time.Second)
	return p, rcv
}

// parent is an incoming trace context: the caller's trace and span.
type parent struct{ traceID, spanID string }

func newParent(t *testing.T) parent {
	t.Helper()
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return parent{traceID: hex.EncodeToString(b[:16]), spanID: hex.EncodeToString(b[16:])}
}

// traceparent is the W3C header, sampled.
func (p parent) traceparent() string { return "00-" + p.traceID + "-" + p.spanID + "-01" }

// cloudTrace is Cloud Run's X-Cloud-Trace-Context: decimal span id, sampled.
func (p parent) cloudTrace() string {
	b, _ := hex.DecodeString(p.spanID)
	return p.traceID + "/" + strconv.FormatUint(binary.BigEndian.Uint64(b), 10) + ";o=1"
}

// send makes one request and returns the status and body.
func send(t *testing.T, method, url, body string, header ...string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{Timeout: 5 * time.Second}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

// createItem POSTs an item under trace p and returns its id.
func createItem(t *testing.T, proc *proctest.Proc, p parent, name string) int64 {
	t.Helper()
	status, body := send(t, "POST", proc.URL("/api/items"), `{"name":"`+name+`"}`, "traceparent", p.traceparent())
	if status != http.StatusCreated {
		t.Fatalf("POST /api/items: %d %s", status, body)
	}
	var it struct{ ID int64 }
	if err := json.Unmarshal(body, &it); err != nil || it.ID == 0 {
		t.Fatalf("POST /api/items: body %s: %v", body, err)
	}
	return it.ID
}

// shutDown sends SIGTERM while a request is in flight, completes it, and
// checks that it succeeded and the process exited 0 within Cloud Run's
// 10 s. It returns when SIGTERM was sent.
func shutDown(t *testing.T, proc *proctest.Proc, p parent) time.Time {
	t.Helper()
	finish := inFlight(t, proc, "traceparent", p.traceparent())
	sigterm := time.Now()
	proc.Signal(t, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if !proc.WaitOutput(ctx, "draining") {
		t.Fatal("server did not start draining")
	}
	status, err := finish()
	if err != nil || status != http.StatusCreated {
		t.Fatalf("in-flight request: status %d, err %v", status, err)
	}
	if code := proc.Wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	t.Logf("SIGTERM to exit: %s", time.Since(sigterm))
	return sigterm
}

// serverSpan returns the one server span of trace p.
func serverSpan(t *testing.T, spans []otlptest.Span, p parent) otlptest.Span {
	t.Helper()
	var found []otlptest.Span
	for _, s := range spans {
		if s.TraceIDHex() == p.traceID && s.Kind == tracepb.Span_SPAN_KIND_SERVER {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("trace %s: %d server spans, want 1 (%d spans received)", p.traceID, len(found), len(spans))
	}
	return found[0]
}

// sqlChildren returns the SQL query spans whose parent is span, by start.
func sqlChildren(spans []otlptest.Span, span otlptest.Span) []otlptest.Span {
	var out []otlptest.Span
	for _, s := range spans {
		if _, ok := s.Attr(string(semconv.DBQueryTextKey)); ok && s.ParentIDHex() == span.SpanIDHex() {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b otlptest.Span) int { return cmp.Compare(a.StartTimeUnixNano, b.StartTimeUnixNano) })
	return out
}

func TestTelemetryExportEndToEnd(t *testing.T) {
	t.Parallel()
	proc, rcv := startObserved(t)

	var (
		tpCreate, tpGet, tpPut    = newParent(t), newParent(t), newParent(t)
		tpConflict, tpMissing     = newParent(t), newParent(t)
		tpList, tpProbe, tpFlight = newParent(t), newParent(t), newParent(t)
	)
	id := createItem(t, proc, tpCreate, "first")
	itemURL := proc.URL(fmt.Sprintf("/api/items/%d", id))
	if status, body := send(t, "GET", itemURL, "", "traceparent", tpGet.traceparent()); status != http.StatusOK {
		t.Fatalf("GET item: %d %s", status, body)
	}
	if status, body := send(t, "PUT", itemURL, `{"name":"renamed"}`, "traceparent", tpPut.traceparent(), "If-Match", `"1"`); status != http.StatusOK {
		t.Fatalf("PUT item: %d %s", status, body)
	}
	// The same stale version again: someone else changed it meanwhile.
	if status, body := send(t, "PUT", itemURL, `{"name":"stale"}`, "traceparent", tpConflict.traceparent(), "If-Match", `"1"`); status != http.StatusPreconditionFailed {
		t.Fatalf("stale PUT: %d %s, want 412", status, body)
	}
	if status, body := send(t, "GET", proc.URL("/api/items/987654321"), "", "traceparent", tpMissing.traceparent()); status != http.StatusNotFound {
		t.Fatalf("GET missing item: %d %s, want 404", status, body)
	}
	if status, body := send(t, "GET", proc.URL("/api/items"), "", "X-Cloud-Trace-Context", tpList.cloudTrace()); status != http.StatusOK {
		t.Fatalf("GET list: %d %s", status, body)
	}
	if status, body := send(t, "GET", proc.URL("/healthz"), "", "traceparent", tpProbe.traceparent()); status != http.StatusOK {
		t.Fatalf("GET /healthz: %d %s", status, body)
	}
	for _, r := range rcv.Requests() {
		if r.Signal == "metrics" {
			t.Fatalf("metrics exported at %s before SIGTERM: the export interval is an hour", r.At.Format(time.RFC3339Nano))
		}
	}

	sigterm := shutDown(t, proc, tpFlight)
	exited := time.Now()

	spans := rcv.Spans()
	t.Run("spans", func(t *testing.T) {
		for _, c := range []struct {
			name   string
			p      parent
			span   string
			status int
			sql    []string // the operations of the SQL child spans, in order
		}{
			{"create", tpCreate, "POST /api/items", 201, []string{"INSERT"}},
			{"get", tpGet, "GET /api/items/{id}", 200, []string{"SELECT"}},
			{"update", tpPut, "PUT /api/items/{id}", 200, []string{"UPDATE"}},
			{"conflict", tpConflict, "PUT /api/items/{id}", 412, []string{"UPDATE", "SELECT"}},
			{"not found", tpMissing, "GET /api/items/{id}", 404, []string{"SELECT"}},
			{"cloud trace header", tpList, "GET /api/items", 200, []string{"SELECT"}},
			{"in flight during drain", tpFlight, "POST /api/items", 201, []string{"INSERT"}},
		} {
			s := serverSpan(t, spans, c.p)
			if s.Name != c.span {
				t.Errorf("%s: span name %q, want %q", c.name, s.Name, c.span)
			}
			if s.ParentIDHex() != c.p.spanID {
				t.Errorf("%s: parent span %s, want the incoming %s", c.name, s.ParentIDHex(), c.p.spanID)
			}
			route := strings.TrimPrefix(c.span, strings.SplitN(c.span, " ", 2)[0]+" ")
			if v, _ := s.Attr(string(semconv.HTTPRouteKey)); v != route {
				t.Errorf("%s: http.route %q, want %q", c.name, v, route)
			}
			if v, _ := s.Attr(string(semconv.HTTPResponseStatusCodeKey)); v != strconv.Itoa(c.status) {
				t.Errorf("%s: http.response.status_code %q, want %d", c.name, v, c.status)
			}
			if v, _ := otlptest.ResourceAttr(s.Resource, string(semconv.ServiceNameKey)); v != "example-function" {
				t.Errorf("%s: service.name %q", c.name, v)
			}
			// The conflict's UPDATE matches no row; a SELECT then tells
			// why (gone, or changed meanwhile).
			kids := sqlChildren(spans, s)
			var ops []string
			for _, k := range kids {
				ops = append(ops, k.Name)
				if k.TraceIDHex() != c.p.traceID || k.Kind != tracepb.Span_SPAN_KIND_CLIENT {
					t.Errorf("%s: SQL span %q: trace %s kind %s", c.name, k.Name, k.TraceIDHex(), k.Kind)
				}
				if k.StartTimeUnixNano < s.StartTimeUnixNano || k.EndTimeUnixNano > s.EndTimeUnixNano {
					t.Errorf("%s: SQL span %q lies outside its request span", c.name, k.Name)
				}
			}
			if !slices.Equal(ops, c.sql) {
				t.Errorf("%s: SQL child spans %q, want %q", c.name, ops, c.sql)
			}
		}
		for _, s := range spans {
			path, _ := s.Attr(string(semconv.URLPathKey))
			if s.TraceIDHex() == tpProbe.traceID || path == "/healthz" || path == "/readyz" {
				t.Errorf("probe traced: span %q trace %s path %q", s.Name, s.TraceIDHex(), path)
			}
		}
	})

	t.Run("metrics", func(t *testing.T) {
		var exports []otlptest.Request
		for _, r := range rcv.Requests() {
			if r.Signal == "metrics" {
				exports = append(exports, r)
			}
		}
		if len(exports) != 1 {
			t.Fatalf("%d metric exports, want exactly the final flush", len(exports))
		}
		if at := exports[0].At; at.Before(sigterm) || at.After(exited) {
			t.Errorf("metrics arrived at %s, not between SIGTERM (%s) and exit (%s)",
				at.Format(time.RFC3339Nano), sigterm.Format(time.RFC3339Nano), exited.Format(time.RFC3339Nano))
		}

		type key struct {
			route, method string
			status        int
		}
		// The in-flight POST finished during the drain and is counted: the
		// flush came after the drain.
		want := map[key]int64{
			{"/api/items", "POST", 201}:     2,
			{"/api/items/{id}", "GET", 200}: 1,
			{"/api/items/{id}", "PUT", 200}: 1,
			{"/api/items/{id}", "PUT", 412}: 1,
			{"/api/items/{id}", "GET", 404}: 1,
			{"/api/items", "GET", 200}:      1,
		}
		httpKey := func(a map[string]string) (key, bool) {
			st, err := strconv.Atoi(a[string(semconv.HTTPResponseStatusCodeKey)])
			k := key{a[string(semconv.HTTPRouteKey)], a[string(semconv.HTTPRequestMethodKey)], st}
			_, ok := want[k]
			return k, ok && err == nil
		}

		dur := metric(t, rcv, telemetry.MetricHTTPDuration, "s")
		hist := dur.GetHistogram()
		if hist == nil {
			t.Fatalf("%s is %T, want a histogram", dur.Name, dur.GetData())
		}
		got := map[key]int64{}
		for _, dp := range hist.GetDataPoints() {
			a := attrs(dp.GetAttributes())
			if r := a[string(semconv.HTTPRouteKey)]; regexp.MustCompile(`/\d`).MatchString(r) {
				t.Errorf("%s: raw path as http.route: %q", dur.Name, r)
			}
			if k, ok := httpKey(a); ok {
				got[k] += int64(dp.GetCount())
			}
		}
		assertCounts(t, dur.Name, got, want)

		cnt := metric(t, rcv, telemetry.MetricHTTPRequests, "{request}")
		got = map[key]int64{}
		for _, dp := range points(t, cnt, true) {
			if k, ok := httpKey(attrs(dp.GetAttributes())); ok {
				got[k] += dp.GetAsInt()
			}
		}
		assertCounts(t, cnt.Name, got, want)

		for _, c := range []struct {
			name, unit string
			want       int64
		}{
			{items.MetricCreated, "{item}", 2},
			{items.MetricUpdated, "{item}", 1},
			{items.MetricEditConflicts, "{conflict}", 1},
		} {
			if v := sum(t, metric(t, rcv, c.name, c.unit), true); v != c.want {
				t.Errorf("%s = %d, want %d", c.name, v, c.want)
			}
		}

		// Read at the final flush: the pool was still open, as it must be.
		if v := sum(t, metric(t, rcv, telemetry.MetricPoolTotal, ""), false); v < 1 {
			t.Errorf("%s = %d at the final flush: the pool closed before the flush", telemetry.MetricPoolTotal, v)
		}
		for _, name := range []string{telemetry.MetricPoolIdle, telemetry.MetricPoolAcquired, telemetry.MetricPoolMax} {
			points(t, metric(t, rcv, name, ""), false)
		}
		points(t, metric(t, rcv, telemetry.MetricPoolAcquireWait, "ns"), true)

		var runtimeNames []string
		for _, m := range rcv.Metrics() {
			if m.Scope.GetName() == runtime.ScopeName {
				runtimeNames = append(runtimeNames, m.Name)
			}
		}
		for _, name := range []string{goconv.GoroutineCount{}.Name(), goconv.MemoryUsed{}.Name()} {
			if !slices.Contains(runtimeNames, name) {
				t.Errorf("Go runtime metric %s missing; runtime scope has %q", name, runtimeNames)
			}
		}
		if v := sum(t, metric(t, rcv, goconv.GoroutineCount{}.Name(), goconv.GoroutineCount{}.Unit()), false); v < 1 {
			t.Errorf("%s = %d", goconv.GoroutineCount{}.Name(), v)
		}
	})
}

// metric returns the named metric of the (single) export, checking its unit
// unless unit is "".
func metric(t *testing.T, rcv *otlptest.Receiver, name, unit string) otlptest.Metric {
	t.Helper()
	m, ok := rcv.LastMetric(name)
	if !ok {
		t.Fatalf("metric %s not exported", name)
	}
	if unit != "" && m.Unit != unit {
		t.Errorf("%s: unit %q, want %q", name, m.Unit, unit)
	}
	return m
}

// points returns a sum's or gauge's data points; monotonic asks for a
// monotonic sum (a counter).
func points(t *testing.T, m otlptest.Metric, monotonic bool) []*metricpb.NumberDataPoint {
	t.Helper()
	var dps []*metricpb.NumberDataPoint
	switch d := m.GetData().(type) {
	case *metricpb.Metric_Sum:
		if monotonic && !d.Sum.GetIsMonotonic() {
			t.Errorf("%s: not a monotonic sum", m.Name)
		}
		dps = d.Sum.GetDataPoints()
	case *metricpb.Metric_Gauge:
		if monotonic {
			t.Errorf("%s: a gauge, want a counter", m.Name)
		}
		dps = d.Gauge.GetDataPoints()
	default:
		t.Fatalf("%s is %T, want a sum or gauge", m.Name, m.GetData())
	}
	if len(dps) == 0 {
		t.Errorf("%s: no data points", m.Name)
	}
	return dps
}

// sum adds up the integer data points of a sum or gauge.
func sum(t *testing.T, m otlptest.Metric, monotonic bool) int64 {
	t.Helper()
	var n int64
	for _, dp := range points(t, m, monotonic) {
		n += dp.GetAsInt()
	}
	return n
}

func attrs(kvs []*commonpb.KeyValue) map[string]string {
	out := map[string]string{}
	for _, kv := range kvs {
		out[kv.GetKey()] = otlptest.AnyString(kv.GetValue())
	}
	return out
}

func assertCounts[K comparable](t *testing.T, name string, got, want map[K]int64) {
	t.Helper()
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s%+v = %d, want %d", name, k, got[k], w)
		}
	}
}

// Every line the server writes is a Cloud Logging structured entry, and the
// request line of a traced request links to the exported server span.
func TestLogsLinkToExportedSpans(t *testing.T) {
	t.Parallel()
	proc, rcv := startObserved(t)
	tpCreate, tpGet, tpList, tpFlight := newParent(t), newParent(t), newParent(t), newParent(t)
	id := createItem(t, proc, tpCreate, "logged")
	path := fmt.Sprintf("/api/items/%d", id)
	if status, body := send(t, "GET", proc.URL(path), "", "traceparent", tpGet.traceparent(), "User-Agent", "e2e-test/1"); status != http.StatusOK {
		t.Fatalf("GET item: %d %s", status, body)
	}
	if status, body := send(t, "GET", proc.URL("/api/items"), "", "X-Cloud-Trace-Context", tpList.cloudTrace()); status != http.StatusOK {
		t.Fatalf("GET list: %d %s", status, body)
	}
	shutDown(t, proc, tpFlight)
	spans := rcv.Spans()

	byMessage := map[string][]map[string]any{}
	for i, line := range strings.Split(strings.TrimSpace(proc.Output()), "\n") {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Errorf("line %d is not JSON: %v\n%s", i+1, err, line)
			continue
		}
		sev, _ := e["severity"].(string)
		if !slices.Contains([]string{"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}, sev) {
			t.Errorf("line %d: severity %q", i+1, e["severity"])
		}
		msg, _ := e["message"].(string)
		if msg == "" {
			t.Errorf("line %d: no message: %s", i+1, line)
		}
		if ts, _ := e["time"].(string); ts == "" {
			t.Errorf("line %d: no time: %s", i+1, line)
		} else if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
			t.Errorf("line %d: time: %v", i+1, err)
		}
		if src, _ := e["logging.googleapis.com/sourceLocation"].(map[string]any); src["file"] == nil || src["line"] == nil {
			t.Errorf("line %d: no sourceLocation: %s", i+1, line)
		}
		if strings.Contains(msg, "/healthz") || strings.Contains(msg, "/readyz") {
			t.Errorf("probe request logged: %s", line)
		}
		byMessage[msg] = append(byMessage[msg], e)
	}

	for _, c := range []struct {
		p      parent
		method string
		url    string
		status int
	}{
		{tpCreate, "POST", "/api/items", 201},
		{tpGet, "GET", path, 200},
		{tpList, "GET", "/api/items", 200},
	} {
		msg := fmt.Sprintf("%s %s %d", c.method, c.url, c.status)
		var e map[string]any
		for _, cand := range byMessage[msg] {
			if strings.HasSuffix(fmt.Sprint(cand["logging.googleapis.com/trace"]), c.p.traceID) {
				e = cand
			}
		}
		if e == nil {
			t.Errorf("no request line %q for trace %s", msg, c.p.traceID)
			continue
		}
		span := serverSpan(t, spans, c.p)
		if got, want := e["logging.googleapis.com/trace"], "projects/"+testProject+"/traces/"+span.TraceIDHex(); got != want {
			t.Errorf("%s: trace %q, want %q", msg, got, want)
		}
		if got := e["logging.googleapis.com/spanId"]; got != span.SpanIDHex() {
			t.Errorf("%s: spanId %q, want the server span %s", msg, got, span.SpanIDHex())
		}
		if got := e["logging.googleapis.com/trace_sampled"]; got != true {
			t.Errorf("%s: trace_sampled %v", msg, got)
		}
		hr, _ := e["httpRequest"].(map[string]any)
		if hr["requestMethod"] != c.method || hr["requestUrl"] != c.url || hr["status"] != float64(c.status) ||
			hr["protocol"] != "HTTP/1.1" || hr["remoteIp"] != "127.0.0.1" {
			t.Errorf("%s: httpRequest %v", msg, hr)
		}
		if l, _ := hr["latency"].(string); !regexp.MustCompile(`^\d+\.\d{9}s$`).MatchString(l) {
			t.Errorf("%s: latency %q, want a Duration like 0.001234567s", msg, l)
		}
		if n, err := strconv.Atoi(fmt.Sprint(hr["responseSize"])); err != nil || n <= 0 {
			t.Errorf("%s: responseSize %v", msg, hr["responseSize"])
		}
	}
	if e := byMessage["GET "+path+" 200"]; len(e) == 1 {
		if ua := e[0]["httpRequest"].(map[string]any)["userAgent"]; ua != "e2e-test/1" {
			t.Errorf("userAgent %v", ua)
		}
	}
}
