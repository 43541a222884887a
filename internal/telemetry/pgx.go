package telemetry

import (
	"fmt"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5/pgxpool"
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
// durations feed db.client.operation.duration. Pool acquires get no span:
// one per query cost measurable throughput, and the pool gauges already
// report acquire wait.
func (t *Telemetry) PgxTracer() *otelpgx.Tracer {
	return otelpgx.NewTracer(
		otelpgx.WithTracerProvider(t.TracerProvider),
		otelpgx.WithMeterProvider(t.MeterProvider),
		// db.operation.name (SELECT, INSERT, ...) on the duration metric, so
		// the dashboard can split SQL latency by statement kind; the parser
		// keeps the cardinality to a handful of verbs.
		otelpgx.WithMetricOperationName(otelpgx.SQLOperationName),
		otelpgx.WithDisableAcquireTracer(),
	)
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
