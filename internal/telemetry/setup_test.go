package telemetry

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"example.com/example-function/internal/telemetry/otlptest"

	"example.com/example-function/internal/proctest"
)

// fakeMetadata serves the few Cloud Run metadata server paths the service
// reads: project id, region, instance id and an access token.
func fakeMetadata(t *testing.T) (host string, tokenRequests *int) {
	t.Helper()
	var n int
	values := map[string]string{
		"/computeMetadata/v1/project/project-id": "meta-proj",
		"/computeMetadata/v1/instance/region":    "projects/123456/regions/europe-west1",
		"/computeMetadata/v1/instance/id":        "instance-abc",
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "missing Metadata-Flavor", http.StatusForbidden)
			return
		}
		w.Header().Set("Metadata-Flavor", "Google")
		if r.URL.Path == "/computeMetadata/v1/instance/service-accounts/default/token" {
			n++
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"access_token":"test-token","expires_in":3600,"token_type":"Bearer"}`))
			return
		}
		v, ok := values[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(v))
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), &n
}

// exercise sends one traced request and bumps one app metric, then shuts
// the providers down, which must flush both to the exporter.
func exercise(t *testing.T, tel *Telemetry) {
	t.Helper()
	mw, err := tel.Middleware(HTTPOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ar, err := tel.NewAuthRefusals()
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/items", func(w http.ResponseWriter, r *http.Request) {
		ar.Count(r.Context(), "missing")
		w.WriteHeader(http.StatusCreated)
	})
	req := httptest.NewRequest("POST", "/api/items", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	mw(mux).ServeHTTP(httptest.NewRecorder(), req)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tel.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func assertExported(t *testing.T, rcv *otlptest.Receiver) {
	t.Helper()
	var span otlptest.Span
	for _, s := range rcv.Spans() {
		if s.Name == "POST /api/items" {
			span = s
		}
	}
	if span.Span == nil {
		t.Fatalf("route span not exported; got %d spans", len(rcv.Spans()))
	}
	if span.TraceIDHex() != "4bf92f3577b34da6a3ce929d0e0e4736" || span.ParentIDHex() != "00f067aa0ba902b7" {
		t.Errorf("span trace %s parent %s: incoming traceparent not honoured", span.TraceIDHex(), span.ParentIDHex())
	}
	if v, _ := otlptest.ResourceAttr(span.Resource, "service.name"); v != "svc" {
		t.Errorf("service.name = %q", v)
	}
	if v, _ := otlptest.ResourceAttr(span.Resource, "service.instance.id"); v == "" {
		t.Error("service.instance.id missing: Cloud Monitoring needs it to keep instances apart")
	}
	for name, unit := range map[string]string{
		MetricHTTPDuration: "s", MetricHTTPRequests: "{request}", MetricAuthRefusals: "{request}",
		"go.goroutine.count": "{goroutine}",
	} {
		m, ok := rcv.LastMetric(name)
		if !ok {
			t.Errorf("metric %s not exported", name)
			continue
		}
		if m.Unit != unit {
			t.Errorf("metric %s unit %q, want %q", name, m.Unit, unit)
		}
	}
	if m, ok := rcv.LastMetric(MetricHTTPDuration); ok {
		pts := otlptest.PointAttrs(m.Metric)
		if len(pts) != 1 || pts[0]["http.route"] != "/api/items" || pts[0]["http.response.status_code"] != "201" {
			t.Errorf("%s points = %v", MetricHTTPDuration, pts)
		}
	}
}

func TestSetupOTLPHTTP(t *testing.T) {
	rcv := otlptest.Start(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.URL)
	tel, err := Setup(context.Background(), Options{ServiceName: "svc", Exporter: "otlp", Protocol: "http/protobuf"})
	if err != nil {
		t.Fatal(err)
	}
	exercise(t, tel)
	assertExported(t, rcv)
	for _, r := range rcv.Requests() {
		if r.Protocol != "http" {
			t.Errorf("request over %s, want http", r.Protocol)
		}
	}
}

func TestSetupOTLPGRPC(t *testing.T) {
	rcv := otlptest.Start(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.GRPCEndpoint)
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=acme")
	tel, err := Setup(context.Background(), Options{ServiceName: "svc", Exporter: "otlp", Protocol: "grpc"})
	if err != nil {
		t.Fatal(err)
	}
	exercise(t, tel)
	assertExported(t, rcv)
	reqs := rcv.Requests()
	if len(reqs) == 0 || reqs[0].Protocol != "grpc" || reqs[0].Header.Get("x-tenant") != "acme" {
		t.Errorf("requests = %+v; want gRPC with the OTEL_EXPORTER_OTLP_HEADERS header", reqs)
	}
}

func TestSetupTelemetryAPIOnCloudRun(t *testing.T) {
	host, tokens := fakeMetadata(t)
	t.Setenv("GCE_METADATA_HOST", host)
	t.Setenv("K_SERVICE", "svc")
	t.Setenv("K_REVISION", "svc-00007-xyz")
	t.Setenv("K_CONFIGURATION", "svc")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("CLOUDSDK_CONFIG", t.TempDir())
	rcv := otlptest.Start(t)

	ctx := context.Background()
	project, err := ResolveProjectID(ctx, "", true)
	if err != nil || project != "meta-proj" {
		t.Fatalf("ResolveProjectID = %q, %v", project, err)
	}
	tel, err := Setup(ctx, Options{
		ServiceName: "svc", Exporter: "gcp", ProjectID: project, APIEndpoint: rcv.URL, OnCloudRun: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	exercise(t, tel)
	assertExported(t, rcv)

	reqs := rcv.Requests()
	if len(reqs) < 2 {
		t.Fatalf("got %d export requests, want traces and metrics", len(reqs))
	}
	// The metadata server's account is a service account: Google takes its
	// own project as the quota project, so no x-goog-user-project is sent
	// (quota.go; TestTelemetryAPIQuotaProjectByCredentialKind covers the rest).
	for _, r := range reqs {
		if r.Header.Get("Authorization") != "Bearer test-token" || len(r.Header.Values("X-Goog-User-Project")) != 0 {
			t.Errorf("%s export headers: Authorization %q, x-goog-user-project %q (want none)",
				r.Signal, r.Header.Get("Authorization"), r.Header.Get("X-Goog-User-Project"))
		}
	}
	if *tokens == 0 {
		t.Error("no token fetched from the metadata server")
	}
	res := rcv.Spans()[0].Resource
	for k, want := range map[string]string{
		"cloud.platform": "gcp_cloud_run", "cloud.region": "europe-west1", "faas.name": "svc",
		"faas.version": "svc-00007-xyz", "faas.instance": "instance-abc", "gcp.project_id": "meta-proj",
		"cloud.account.id": "meta-proj",
	} {
		if got, _ := otlptest.ResourceAttr(res, k); got != want {
			t.Errorf("resource %s = %q, want %q", k, got, want)
		}
	}
}

func TestSetupStdout(t *testing.T) {
	var buf proctest.Buffer
	tel, err := Setup(context.Background(), Options{ServiceName: "svc", Exporter: "stdout", Stdout: &buf})
	if err != nil {
		t.Fatal(err)
	}
	exercise(t, tel)
	out := buf.String()
	for _, want := range []string{`"Name":"POST /api/items"`, MetricHTTPDuration} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout export lacks %s", want)
		}
	}
}

func TestSetupNoneStillCorrelatesLogs(t *testing.T) {
	t.Parallel()
	tel, err := Setup(context.Background(), Options{ServiceName: "svc", Exporter: "none"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	mw, err := tel.Middleware(HTTPOptions{Logger: slog.New(NewLogHandler(&buf, LogOptions{ProjectID: "p"}))})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	mw(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), req)
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	lines := decodeLines(t, buf.String())
	if len(lines) != 1 || lines[0]["logging.googleapis.com/trace"] != "projects/p/traces/4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("log lines = %v", lines)
	}
}

func TestSetupGCPNeedsProject(t *testing.T) {
	t.Parallel()
	if _, err := Setup(context.Background(), Options{Exporter: "gcp"}); err == nil {
		t.Error("Setup without project id succeeded")
	}
	if _, err := Setup(context.Background(), Options{Exporter: "zipkin"}); err == nil {
		t.Error("Setup with unknown exporter succeeded")
	}
}

func TestResolveProjectIDOffCloudRunAsksNobody(t *testing.T) {
	t.Parallel()
	// No metadata server is reachable here; a call would fail or hang.
	for _, c := range []struct{ configured, want string }{{"", ""}, {"p", "p"}} {
		got, err := ResolveProjectID(context.Background(), c.configured, false)
		if err != nil || got != c.want {
			t.Errorf("ResolveProjectID(%q) = %q, %v", c.configured, got, err)
		}
	}
}
