package telemetry

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/trace"

	"example.com/example-function/internal/pgtest"
)

func TestPgxTracerAndPoolStats(t *testing.T) {
	t.Parallel()
	m := newMemTelemetry(t)
	ctx := context.Background()

	cfg, err := pgxpool.ParseConfig(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Tracer = m.PgxTracer(cfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := m.RecordPoolStats(pool); err != nil {
		t.Fatal(err)
	}

	ctx, parent := m.TracerProvider.Tracer("test").Start(ctx, "GET /api/items/{id}")
	var n int
	if err := pool.QueryRow(ctx, "SELECT 1 + $1::int", 41).Scan(&n); err != nil || n != 42 {
		t.Fatalf("query = %d, %v", n, err)
	}
	parent.End()

	// pgx prepares the statement inside the query, so the SQL text shows
	// up on the query span (child of the request) and on its prepare span.
	var query trace.SpanContext
	for _, s := range m.spans.Ended() {
		a := attrMap(s.Attributes())
		if a["db.query.text"] != "SELECT 1 + $1::int" {
			continue
		}
		for _, v := range a {
			if v == "41" {
				t.Errorf("query parameters leaked into span %q attributes", s.Name())
			}
		}
		if s.Parent().SpanID() == parent.SpanContext().SpanID() && s.SpanKind() == trace.SpanKindClient {
			query = s.SpanContext()
			if a["db.namespace"] != cfg.ConnConfig.Database || a["db.system.name"] != "postgresql" || a["db.operation.name"] != "SELECT" {
				t.Errorf("query span attributes %v: want db.namespace %q, db.system.name and db.operation.name", a, cfg.ConnConfig.Database)
			}
			for _, k := range []string{"server.address", "server.port", "user.name"} {
				if _, ok := a[k]; ok {
					t.Errorf("query span has %s, left out for its per-query cost", k)
				}
			}
		}
	}
	if !query.IsValid() || query.TraceID() != parent.SpanContext().TraceID() {
		t.Fatalf("no client span for the query under the request span among %d spans", len(m.spans.Ended()))
	}

	ms := m.metrics(t)
	for _, name := range []string{MetricPoolTotal, MetricPoolIdle, MetricPoolAcquired, MetricPoolMax, MetricPoolAcquireWait} {
		if _, ok := ms[name]; !ok {
			t.Errorf("pool metric %s not recorded", name)
		}
	}
	if s, ok := ms[MetricPoolTotal].Data.(metricdata.Sum[int64]); !ok || len(s.DataPoints) == 0 || s.DataPoints[0].Value < 1 {
		t.Errorf("%s = %+v, want at least one connection", MetricPoolTotal, ms[MetricPoolTotal].Data)
	}
}
