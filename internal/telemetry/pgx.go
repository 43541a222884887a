package telemetry

import (
	"fmt"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5/pgxpool"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// Pool metric names written by otelpgx.RecordStats; the dashboard uses them.
const (
	MetricPoolTotal       = "pgxpool.total_connections"
	MetricPoolIdle        = "pgxpool.idle_connections"
	MetricPoolAcquired    = "pgxpool.acquired_connections"
	MetricPoolMax         = "pgxpool.max_connections"
	MetricPoolAcquireWait = "pgxpool.empty_acquire_wait_time"
)

// PgxTracer returns the tracer to set as pgxpool.Config.ConnConfig.Tracer:
// every query, batch, prepare and connect becomes a child span of the
// request's span (with db.query.text, never the parameters), and query
// durations feed db.client.operation.duration. database is the database
// name, put on every span as db.namespace.
//
// Left out, as each allocates on every traced query: pool-acquire spans
// (the pool gauges report acquire wait) and otelpgx's connection details
// (host, port, user; behind the Cloud SQL connector the host is no address).
func (t *Telemetry) PgxTracer(database string) *otelpgx.Tracer {
	opts := []otelpgx.Option{
		otelpgx.WithTracerProvider(t.TracerProvider),
		otelpgx.WithMeterProvider(t.MeterProvider),
		// db.operation.name (SELECT, INSERT, ...) on the duration metric, so
		// the dashboard can split SQL latency by statement kind; the parser
		// keeps the cardinality to a handful of verbs.
		otelpgx.WithMetricOperationName(otelpgx.SQLOperationName),
		otelpgx.WithDisableAcquireTracer(),
		otelpgx.WithDisableConnectionDetailsInAttributes(),
	}
	if database != "" {
		opts = append(opts, otelpgx.WithTracerAttributes(semconv.DBNamespace(database)))
	}
	return otelpgx.NewTracer(opts...)
}

// RecordPoolStats registers observable gauges for the pool (total, idle,
// acquired and max connections, cumulative acquire wait), read at each
// metric export. Call it once after pgxpool.NewWithConfig.
func (t *Telemetry) RecordPoolStats(pool *pgxpool.Pool) error {
	if err := otelpgx.RecordStats(pool, otelpgx.WithStatsMeterProvider(t.MeterProvider)); err != nil {
		return fmt.Errorf("telemetry: pool metrics: %w", err)
	}
	return nil
}
