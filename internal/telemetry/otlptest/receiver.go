// Package otlptest runs a real OTLP receiver for tests: it accepts
// OTLP/HTTP protobuf and OTLP/gRPC, decodes the requests with the
// OpenTelemetry protobuf definitions and keeps what arrived, so tests can
// assert on exactly what an exporter would have sent to a collector or to
// Google's Telemetry API.
package otlptest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// Receiver collects OTLP exports. Its zero value is not usable; call Start.
type Receiver struct {
	// URL is the OTLP/HTTP base URL (http://127.0.0.1:PORT), the value for
	// OTEL_EXPORTER_OTLP_ENDPOINT with the http/protobuf protocol.
	URL string
	// GRPCEndpoint is http://127.0.0.1:PORT of the OTLP/gRPC server.
	GRPCEndpoint string

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every export
	spans    []Span
	metrics  []Metric
	requests []Request
}

// Request is one export call as received.
type Request struct {
	Signal   string // "traces" or "metrics"
	Protocol string // "http" or "grpc"
	Header   http.Header
	At       time.Time
}

// Span is one received span with its resource and scope.
type Span struct {
	Resource *resourcepb.Resource
	Scope    *commonpb.InstrumentationScope
	*tracepb.Span
}

// TraceIDHex returns the span's trace id as 32 hex digits.
func (s Span) TraceIDHex() string { return hex.EncodeToString(s.TraceId) }

// SpanIDHex returns the span id as 16 hex digits.
func (s Span) SpanIDHex() string { return hex.EncodeToString(s.SpanId) }

// ParentIDHex returns the parent span id, or "" for a root span.
func (s Span) ParentIDHex() string { return hex.EncodeToString(s.ParentSpanId) }

// Attr returns the string form of attribute key, and whether it is present.
func (s Span) Attr(key string) (string, bool) { return attr(s.Attributes, key) }

// Metric is one received metric with its resource and scope.
type Metric struct {
	Resource *resourcepb.Resource
	Scope    *commonpb.InstrumentationScope
	*metricpb.Metric
}

// Start runs the receiver until the test ends.
func Start(t testing.TB) *Receiver {
	t.Helper()
	r := &Receiver{changed: make(chan struct{})}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", r.httpTraces)
	mux.HandleFunc("POST /v1/metrics", r.httpMetrics)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	r.URL = hs.URL

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("otlptest: listen: %v", err)
	}
	gs := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(gs, grpcTraces{r: r})
	colmetricpb.RegisterMetricsServiceServer(gs, grpcMetrics{r: r})
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	r.GRPCEndpoint = "http://" + lis.Addr().String()
	return r
}

func readBody(req *http.Request) ([]byte, error) {
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			return nil, err
		}
		body = zr
	}
	return io.ReadAll(body)
}

func (r *Receiver) httpTraces(w http.ResponseWriter, req *http.Request) {
	var msg coltracepb.ExportTraceServiceRequest
	if !decodeHTTP(w, req, &msg) {
		return
	}
	r.addTraces(&msg, Request{Signal: "traces", Protocol: "http", Header: req.Header.Clone(), At: time.Now()})
	writeProto(w, &coltracepb.ExportTraceServiceResponse{})
}

func (r *Receiver) httpMetrics(w http.ResponseWriter, req *http.Request) {
	var msg colmetricpb.ExportMetricsServiceRequest
	if !decodeHTTP(w, req, &msg) {
		return
	}
	r.addMetrics(&msg, Request{Signal: "metrics", Protocol: "http", Header: req.Header.Clone(), At: time.Now()})
	writeProto(w, &colmetricpb.ExportMetricsServiceResponse{})
}

func decodeHTTP(w http.ResponseWriter, req *http.Request, msg proto.Message) bool {
	if ct := req.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		http.Error(w, "otlptest: only application/x-protobuf, got "+ct, http.StatusUnsupportedMediaType)
		return false
	}
	b, err := readBody(req)
	if err == nil {
		err = proto.Unmarshal(b, msg)
	}
	if err != nil {
		http.Error(w, "otlptest: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func writeProto(w http.ResponseWriter, m proto.Message) {
	b, _ := proto.Marshal(m)
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = io.Copy(w, bytes.NewReader(b))
}

type grpcTraces struct {
	coltracepb.UnimplementedTraceServiceServer
	r *Receiver
}

func (g grpcTraces) Export(ctx context.Context, msg *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	g.r.addTraces(msg, Request{Signal: "traces", Protocol: "grpc", Header: grpcHeader(ctx), At: time.Now()})
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

type grpcMetrics struct {
	colmetricpb.UnimplementedMetricsServiceServer
	r *Receiver
}

func (g grpcMetrics) Export(ctx context.Context, msg *colmetricpb.ExportMetricsServiceRequest) (*colmetricpb.ExportMetricsServiceResponse, error) {
	g.r.addMetrics(msg, Request{Signal: "metrics", Protocol: "grpc", Header: grpcHeader(ctx), At: time.Now()})
	return &colmetricpb.ExportMetricsServiceResponse{}, nil
}

func grpcHeader(ctx context.Context) http.Header {
	h := http.Header{}
	md, _ := metadata.FromIncomingContext(ctx)
	for k, vs := range md {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	return h
}

func (r *Receiver) addTraces(msg *coltracepb.ExportTraceServiceRequest, req Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range msg.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				r.spans = append(r.spans, Span{Resource: rs.GetResource(), Scope: ss.GetScope(), Span: s})
			}
		}
	}
	r.record(req)
}

func (r *Receiver) addMetrics(msg *colmetricpb.ExportMetricsServiceRequest, req Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rm := range msg.GetResourceMetrics() {
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				r.metrics = append(r.metrics, Metric{Resource: rm.GetResource(), Scope: sm.GetScope(), Metric: m})
			}
		}
	}
	r.record(req)
}

// record must be called with r.mu held.
func (r *Receiver) record(req Request) {
	r.requests = append(r.requests, req)
	close(r.changed)
	r.changed = make(chan struct{})
}

// Spans returns every span received so far.
func (r *Receiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.spans...)
}

// Metrics returns every metric received so far, one entry per export.
func (r *Receiver) Metrics() []Metric {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Metric(nil), r.metrics...)
}

// Requests returns the export calls received so far.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.requests...)
}

// Wait blocks until cond holds for the receiver or timeout passes; it
// reports whether cond held. cond runs without the lock held.
func (r *Receiver) Wait(timeout time.Duration, cond func(*Receiver) bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ch := r.changed
		r.mu.Unlock()
		if cond(r) {
			return true
		}
		select {
		case <-ch:
		case <-deadline.C:
			return cond(r)
		}
	}
}

// LastMetric returns the most recent export of the named metric.
func (r *Receiver) LastMetric(name string) (Metric, bool) {
	ms := r.Metrics()
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Name == name {
			return ms[i], true
		}
	}
	return Metric{}, false
}

// Attr returns the string form of an attribute in kvs.
func attr(kvs []*commonpb.KeyValue, key string) (string, bool) {
	for _, kv := range kvs {
		if kv.GetKey() == key {
			return AnyString(kv.GetValue()), true
		}
	}
	return "", false
}

// ResourceAttr returns a resource attribute's string form.
func ResourceAttr(res *resourcepb.Resource, key string) (string, bool) {
	return attr(res.GetAttributes(), key)
}

// PointAttrs returns the string forms of attributes of every data point of
// m, one map per point, whatever the metric's data type.
func PointAttrs(m *metricpb.Metric) []map[string]string {
	var sets [][]*commonpb.KeyValue
	switch d := m.GetData().(type) {
	case *metricpb.Metric_Sum:
		for _, p := range d.Sum.GetDataPoints() {
			sets = append(sets, p.GetAttributes())
		}
	case *metricpb.Metric_Gauge:
		for _, p := range d.Gauge.GetDataPoints() {
			sets = append(sets, p.GetAttributes())
		}
	case *metricpb.Metric_Histogram:
		for _, p := range d.Histogram.GetDataPoints() {
			sets = append(sets, p.GetAttributes())
		}
	case *metricpb.Metric_ExponentialHistogram:
		for _, p := range d.ExponentialHistogram.GetDataPoints() {
			sets = append(sets, p.GetAttributes())
		}
	}
	out := make([]map[string]string, 0, len(sets))
	for _, kvs := range sets {
		m := map[string]string{}
		for _, kv := range kvs {
			m[kv.GetKey()] = AnyString(kv.GetValue())
		}
		out = append(out, m)
	}
	return out
}

// AnyString renders an OTLP attribute value for comparisons.
func AnyString(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return fmt.Sprint(x.IntValue)
	case *commonpb.AnyValue_BoolValue:
		return fmt.Sprint(x.BoolValue)
	case *commonpb.AnyValue_DoubleValue:
		return fmt.Sprint(x.DoubleValue)
	default:
		return v.String()
	}
}
