package telemetry

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"example.com/example-function/internal/pgtest"
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

// BenchmarkMiddleware measures the middleware itself per request, export
// off (the default), the JSON log handler writing to io.Discard, around a
// handler that writes a small body: "probe" is untraced (no span, no log
// line), "request" has the default trace cap (under load nearly every span
// is not recorded), "traced" records every span (the cap lifted),
// "request-warn" is "request" at LOG_LEVEL=warn (no request line).
func BenchmarkMiddleware(b *testing.B) {
	for _, c := range []struct {
		name      string
		untraced  bool
		perSecond float64
		level     slog.Level
	}{
		{"probe", true, 0, slog.LevelInfo},
		{"request", false, 0, slog.LevelInfo},
		{"traced", false, 1e12, slog.LevelInfo},
		{"request-warn", false, 0, slog.LevelWarn},
	} {
		b.Run(c.name, func(b *testing.B) {
			tel := setupNone(b, c.perSecond)
			log := slog.New(NewLogHandler(io.Discard, LogOptions{ProjectID: "proj", Level: c.level}))
			h := benchHandler(b, tel, HTTPOptions{Logger: log, Untraced: c.untraced})
			r := benchRequest()
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(httptest.NewRecorder(), r)
			}
		})
	}
}

// BenchmarkRequestLog measures requests whose log lines go to a pipe read
// by another process, as stdout is on Cloud Run, written line by line
// ("direct") or through a LogWriter ("batched"), with 32 requests in
// flight per CPU. Run with -cpu 1, as on a one-CPU instance:
//
//	go test -run - -bench RequestLog -cpu 1 ./internal/telemetry
func BenchmarkRequestLog(b *testing.B) {
	for _, batched := range []bool{false, true} {
		name := "dest=direct"
		if batched {
			name = "dest=batched"
		}
		b.Run(name, func(b *testing.B) {
			var out io.Writer = discardProcess(b)
			if batched {
				lw := NewLogWriter(out)
				b.Cleanup(func() { _ = lw.Close() }) // before the pipe closes
				out = lw
			}
			tel := setupNone(b, 0)
			log := slog.New(NewLogHandler(out, LogOptions{ProjectID: "proj"}))
			h := benchHandler(b, tel, HTTPOptions{Logger: log})
			b.SetParallelism(32)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := benchRequest()
				for pb.Next() {
					h.ServeHTTP(httptest.NewRecorder(), r)
				}
			})
		})
	}
}

// discardReaderEnv makes the test binary a process that reads its stdin
// to the end and exits (see TestMain), the other end of discardProcess.
const discardReaderEnv = "TELEMETRY_BENCH_DISCARD_STDIN"

// discardProcess returns the writing end of a pipe to another process that
// reads and discards everything: this test binary, started again.
func discardProcess(b *testing.B) io.Writer {
	b.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), discardReaderEnv+"=1")
	w, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = w.Close()
		_ = cmd.Wait()
	})
	return w
}

// BenchmarkPgxQuery measures a query of 50 rows through the pgx tracer of
// PgxTracer under a recorded request span, export off, on a real
// PostgreSQL: what tracing adds to each query of a traced request.
func BenchmarkPgxQuery(b *testing.B) {
	tel := setupNone(b, 1e12)
	cfg, err := pgxpool.ParseConfig(pgtest.NewDatabase(b))
	if err != nil {
		b.Fatal(err)
	}
	cfg.ConnConfig.Tracer = tel.PgxTracer(cfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	tracer := tel.TracerProvider.Tracer("bench")
	const query = `SELECT g, repeat('x', 40) FROM generate_series(1, $1::int) g`
	b.ReportAllocs()
	for b.Loop() {
		ctx, span := tracer.Start(context.Background(), "GET /api/items", trace.WithSpanKind(trace.SpanKindServer))
		rows, err := pool.Query(ctx, query, 50)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for rows.Next() {
			n++
		}
		if rows.Close(); rows.Err() != nil || n != 50 {
			b.Fatal(n, rows.Err())
		}
		span.End()
	}
}

// setupNone is Setup with export off and perSecond new traces a second
// (0: the default cap).
func setupNone(b *testing.B, perSecond float64) *Telemetry {
	b.Helper()
	tel, err := Setup(context.Background(), Options{ServiceName: "svc", Exporter: "none", TracesPerSecond: perSecond})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	return tel
}

// benchHandler is the middleware made with o around a route that answers
// a small JSON body.
func benchHandler(b *testing.B, tel *Telemetry, o HTTPOptions) http.Handler {
	b.Helper()
	mw, err := tel.Middleware(o)
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/items", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = []string{"application/json"}
		_, _ = w.Write([]byte("{}\n"))
	})
	return mw(RecordRoute(mux))
}

func benchRequest() *http.Request {
	r := httptest.NewRequest("GET", "/api/items?limit=50", nil)
	r.Header.Set("User-Agent", "bench")
	r.RemoteAddr = "192.0.2.1:1234"
	return r
}
