package telemetry

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// BenchmarkExport measures what exporting costs per request: the
// middleware around a handler that makes one child span (as a SQL query
// does), with export off and with OTLP/HTTP to a local receiver that
// discards, every request traced (the trace cap lifted); "otlp-capped" has
// the default cap, so nearly every request's trace is dropped. Run with
// -cpu 1 so the exporter's background work is charged to the requests, as
// it is on a one-CPU instance:
//
//	go test -run - -bench Export -cpu 1 ./internal/telemetry
func BenchmarkExport(b *testing.B) {
	discard := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	b.Cleanup(discard.Close)
	for _, c := range []struct {
		name, exporter string
		perSecond      float64
	}{{"none", "none", 1e12}, {"otlp", "otlp", 1e12}, {"otlp-capped", "otlp", 0}} {
		b.Run(c.name, func(b *testing.B) {
			b.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", discard.URL)
			tel, err := Setup(context.Background(), Options{ServiceName: "svc", Exporter: c.exporter, Protocol: "http/protobuf",
				TracesPerSecond: c.perSecond})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
			mw, err := tel.Middleware(HTTPOptions{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			tracer := tel.TracerProvider.Tracer("bench")
			query := []attribute.KeyValue{
				attribute.String("db.system.name", "postgresql"), attribute.String("db.namespace", "app"),
				attribute.String("server.address", "127.0.0.1"), attribute.Int("server.port", 5432),
				attribute.String("db.query.text", "SELECT id, name, description, created_by, created_at, updated_by, updated_at, version FROM items ORDER BY created_at DESC, id DESC LIMIT $1"),
				attribute.String("db.operation.name", "SELECT"),
			}
			h := mw(RecordRoute(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, span := tracer.Start(r.Context(), "SELECT", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(query...))
				span.End()
				_, _ = w.Write([]byte("{}\n"))
			})))
			mux := http.NewServeMux()
			mux.Handle("GET /api/items", h)
			r := httptest.NewRequest("GET", "/api/items?limit=50", nil)
			r.Header.Set("User-Agent", "bench")
			b.ReportAllocs()
			for b.Loop() {
				mux.ServeHTTP(httptest.NewRecorder(), r)
			}
		})
	}
}
