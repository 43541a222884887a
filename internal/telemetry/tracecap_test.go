package telemetry

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric/noop"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"example.com/example-function/internal/config"
	"example.com/example-function/internal/proctest"
	"example.com/example-function/internal/telemetry/otlptest"
)

// capApp is the telemetry middleware in front of a handler that answers 401
// without X-User and otherwise makes one child span (a stand-in for a SQL
// query), exporting OTLP to a receiver of its own.
type capApp struct {
	tel     *Telemetry
	handler http.Handler
	rcv     *otlptest.Receiver
	logs    *proctest.Buffer
}

// startCapApp needs OTEL_EXPORTER_OTLP_ENDPOINT, so its tests cannot run in
// parallel.
func startCapApp(t *testing.T, perSecond float64) *capApp {
	t.Helper()
	rcv := otlptest.Start(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.URL)
	t.Setenv("OTEL_METRIC_EXPORT_INTERVAL", "3600000")
	tel, err := Setup(context.Background(), Options{ServiceName: "svc", Exporter: "otlp", Protocol: "http/protobuf", TracesPerSecond: perSecond})
	if err != nil {
		t.Fatal(err)
	}
	logs := &proctest.Buffer{}
	mw, err := tel.Middleware(HTTPOptions{Logger: slog.New(NewLogHandler(logs, LogOptions{ProjectID: "p"}))})
	if err != nil {
		t.Fatal(err)
	}
	tracer := tel.TracerProvider.Tracer("test")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/items", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-User") == "" {
			http.Error(w, "sign in", http.StatusUnauthorized)
			return
		}
		_, span := tracer.Start(r.Context(), "SELECT items")
		span.End()
		w.WriteHeader(http.StatusOK)
	})
	return &capApp{tel: tel, handler: mw(mux), rcv: rcv, logs: logs}
}

// get sends one request with the given trace header and returns its status.
func (a *capApp) get(header, value, user string) int {
	r := httptest.NewRequest("GET", "/api/items", nil)
	r.Header.Set(header, value)
	if user != "" {
		r.Header.Set("X-User", user)
	}
	w := httptest.NewRecorder()
	a.handler.ServeHTTP(w, r)
	return w.Code
}

// flush shuts the providers down, exporting every span and a final metric
// collection.
func (a *capApp) flush(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.tel.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// sumPoints adds up a counter's data points whose attribute key has value.
func sumPoints(t *testing.T, rcv *otlptest.Receiver, name, key, value string) int64 {
	t.Helper()
	m, ok := rcv.LastMetric(name)
	if !ok {
		return 0
	}
	var n int64
	for _, p := range m.GetSum().GetDataPoints() {
		for _, kv := range p.GetAttributes() {
			if kv.GetKey() == key && otlptest.AnyString(kv.GetValue()) == value {
				n += p.GetAsInt()
			}
		}
	}
	return n
}

func traceHeader(i int) (string, string, string) {
	tid := fmt.Sprintf("%032x", i+1)
	if i%2 == 0 {
		return "traceparent", "00-" + tid + "-00f067aa0ba902b7-01", tid
	}
	// Cloud Run's front end's own header, sampled.
	return "X-Cloud-Trace-Context", tid + "/" + strconv.FormatUint(binary.BigEndian.Uint64([]byte{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}), 10) + ";o=1", tid
}

// A burst of requests that all ask to be sampled exports at most the
// budget's worth of traces, each whole (server span and its child), and
// counts the rest as dropped.
func TestTraceCapUnderClientSampledBurst(t *testing.T) {
	const burst, perSecond = 60, 5
	a := startCapApp(t, perSecond)
	start := time.Now()
	for i := range burst {
		h, v, _ := traceHeader(i)
		if code := a.get(h, v, "alice"); code != http.StatusOK {
			t.Fatalf("request %d: %d", i, code)
		}
	}
	elapsed := time.Since(start)
	a.flush(t)

	roots := map[string]string{} // trace id -> server span id
	children := map[string]string{}
	for _, s := range a.rcv.Spans() {
		switch s.Kind {
		case tracepb.Span_SPAN_KIND_SERVER:
			roots[s.TraceIDHex()] = s.SpanIDHex()
		default:
			children[s.TraceIDHex()] = s.ParentIDHex()
		}
	}
	// The budget starts full (5) and refills at 5/s while the burst runs.
	most := perSecond + int(elapsed.Seconds()*perSecond)
	if len(roots) < perSecond || len(roots) > most {
		t.Errorf("%d traces exported from a burst of %d in %s, want %d to %d", len(roots), burst, elapsed, perSecond, most)
	}
	for tid, span := range roots {
		if children[tid] != span {
			t.Errorf("trace %s: server span exported without its child", tid)
		}
	}
	for tid := range children {
		if _, ok := roots[tid]; !ok {
			t.Errorf("trace %s: child exported without its server span", tid)
		}
	}
	if got := sumPoints(t, a.rcv, MetricTracesDropped, AttrDropReason, DropRateLimit); got != int64(burst-len(roots)) {
		t.Errorf("%s{reason=%s} = %d, want %d", MetricTracesDropped, DropRateLimit, got, burst-len(roots))
	}
	// Every request is still logged, dropped traces included.
	lines := decodeLines(t, a.logs.String())
	if len(lines) != burst {
		t.Fatalf("%d request log lines, want %d", len(lines), burst)
	}
	sampled := 0
	for i, l := range lines {
		_, _, tid := traceHeader(i)
		if l["logging.googleapis.com/trace"] != "projects/p/traces/"+tid {
			t.Errorf("line %d: trace %v, want %s", i, l["logging.googleapis.com/trace"], tid)
		}
		if l["logging.googleapis.com/trace_sampled"] == true {
			sampled++
		}
	}
	if sampled != len(roots) {
		t.Errorf("%d log lines marked sampled, %d traces exported", sampled, len(roots))
	}
	t.Logf("burst of %d in %s: %d traces exported", burst, elapsed, len(roots))
}

// Refused anonymous requests are logged and counted but never exported,
// and their traces do not use up the budget signed-in users' traces need.
func TestTraceCapDropsUnauthenticated(t *testing.T) {
	const anonymous, perSecond = 12, 2
	a := startCapApp(t, perSecond)
	for i := range anonymous {
		h, v, _ := traceHeader(i)
		if code := a.get(h, v, ""); code != http.StatusUnauthorized {
			t.Fatalf("anonymous request %d: %d", i, code)
		}
	}
	var signedIn []string
	for i := anonymous; i < anonymous+perSecond; i++ {
		h, v, tid := traceHeader(i)
		if code := a.get(h, v, "alice"); code != http.StatusOK {
			t.Fatalf("request %d: %d", i, code)
		}
		signedIn = append(signedIn, tid)
	}
	a.flush(t)

	exported := map[string]bool{}
	for _, s := range a.rcv.Spans() {
		exported[s.TraceIDHex()] = true
	}
	for i := range anonymous {
		if _, _, tid := traceHeader(i); exported[tid] {
			t.Errorf("anonymous request %d (trace %s) exported", i, tid)
		}
	}
	for _, tid := range signedIn {
		if !exported[tid] {
			t.Errorf("signed-in trace %s not exported: the refused requests used up the budget", tid)
		}
	}
	if got := sumPoints(t, a.rcv, MetricTracesDropped, AttrDropReason, DropUnauthenticated); got != anonymous {
		t.Errorf("%s{reason=%s} = %d, want %d", MetricTracesDropped, DropUnauthenticated, got, anonymous)
	}
	if got := sumPoints(t, a.rcv, MetricHTTPRequests, "http.response.status_code", "401"); got != anonymous {
		t.Errorf("%s{status 401} = %d, want %d: refused requests stay in the metrics", MetricHTTPRequests, got, anonymous)
	}
	refusedLines := 0
	for _, l := range decodeLines(t, a.logs.String()) {
		if hr, _ := l["httpRequest"].(map[string]any); hr["status"] == float64(401) {
			refusedLines++
		}
	}
	if refusedLines != anonymous {
		t.Errorf("%d request log lines for 401s, want %d", refusedLines, anonymous)
	}
}

func TestFromConfigCarriesTracing(t *testing.T) {
	t.Parallel()
	var c config.Config
	c.Tracing = config.Tracing{MaxPerSecond: 0.5, Baggage: true}
	if o := FromConfig(c, "p", "v1"); o.TracesPerSecond != 0.5 || !o.Baggage {
		t.Errorf("FromConfig = %+v, want the tracing settings", o)
	}
	s, _, err := newTraceCap(noop.NewMeterProvider(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("Capped{%g/s}", float64(config.DefaultTracesPerSecond)); !strings.HasPrefix(s.Description(), want) {
		t.Errorf("zero Options sampler %q, want the default cap %s", s.Description(), want)
	}
}
