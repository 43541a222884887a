package monitoring

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"example.com/example-function/internal/items"
	"example.com/example-function/internal/pgtest"
	"example.com/example-function/internal/telemetry"
)

// emitted is one metric as the Telemetry API stores it.
type emitted struct {
	instrument string          // OpenTelemetry instrument name
	unit       string          // OpenTelemetry unit
	labels     map[string]bool // attribute keys seen on its points
}

// telemetryAPIType maps an OTLP metric to the Cloud Monitoring metric type
// the Telemetry API writes. The API stores OTLP metrics the way Managed
// Service for Prometheus does: type prometheus.googleapis.com/NAME/KIND on
// the prometheus_target resource, the OTLP name kept as is (dots included),
// KIND "counter" for monotonic sums, "gauge" for gauges and non-monotonic
// sums, "histogram" for (exponential) histograms. See
// https://cloud.google.com/stackdriver/docs/reference/telemetry/v1.metrics
// ("Metric mapping") and
// https://cloud.google.com/stackdriver/docs/otlp-metrics/overview
// ("Metric and label names in the Telemetry API").
func telemetryAPIType(m metricdata.Metrics) string {
	kind := ""
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		kind = sumKind(d.IsMonotonic)
	case metricdata.Sum[float64]:
		kind = sumKind(d.IsMonotonic)
	case metricdata.Gauge[int64], metricdata.Gauge[float64]:
		kind = "gauge"
	case metricdata.Histogram[int64], metricdata.Histogram[float64],
		metricdata.ExponentialHistogram[int64], metricdata.ExponentialHistogram[float64]:
		kind = "histogram"
	default:
		kind = "unknown"
	}
	return "prometheus.googleapis.com/" + m.Name + "/" + kind
}

func sumKind(monotonic bool) string {
	if monotonic {
		return "counter"
	}
	return "gauge"
}

// emittedMetrics runs the service's instrumentation the way production
// does (Setup, HTTP middleware, app metrics, pgx tracer and pool stats
// against a real PostgreSQL, Go runtime metrics) and returns every metric
// it produced, keyed by Cloud Monitoring type. Nothing here is a hand list:
// a renamed instrument changes this set and fails the file checks.
func emittedMetrics(t *testing.T) map[string]emitted {
	t.Helper()
	ctx := context.Background()
	reader := sdkmetric.NewManualReader()
	tel, err := telemetry.Setup(ctx, telemetry.Options{
		ServiceName: "example-function", Exporter: "none", MetricReaders: []sdkmetric.Reader{reader},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })

	cfg, err := pgxpool.ParseConfig(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Tracer = tel.PgxTracer(cfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := tel.RecordPoolStats(pool); err != nil {
		t.Fatal(err)
	}
	am, err := items.NewMetrics(tel.MeterProvider)
	if err != nil {
		t.Fatal(err)
	}
	refusals, err := tel.NewAuthRefusals()
	if err != nil {
		t.Fatal(err)
	}
	mw, err := tel.Middleware(telemetry.HTTPOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		var n int
		if err := pool.QueryRow(r.Context(), "SELECT 1").Scan(&n); err != nil {
			t.Error(err)
		}
		am.ItemCreated(r.Context())
		am.ItemUpdated(r.Context())
		am.ItemDeleted(r.Context())
		am.EditConflict(r.Context())
		am.DatabaseTimeout(r.Context(), items.TimeoutQuery)
		refusals.Count(r.Context(), "missing")
	})
	mw(mux).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/items/1", nil))

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]emitted{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[telemetryAPIType(m)] = emitted{instrument: m.Name, unit: m.Unit, labels: labelKeys(m)}
		}
	}
	return out
}

func labelKeys(m metricdata.Metrics) map[string]bool {
	var sets []attribute.Set
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		sets = pointSets(d.DataPoints)
	case metricdata.Sum[float64]:
		sets = pointSets(d.DataPoints)
	case metricdata.Gauge[int64]:
		sets = pointSets(d.DataPoints)
	case metricdata.Gauge[float64]:
		sets = pointSets(d.DataPoints)
	case metricdata.Histogram[int64]:
		sets = histogramSets(d.DataPoints)
	case metricdata.Histogram[float64]:
		sets = histogramSets(d.DataPoints)
	}
	keys := map[string]bool{}
	for _, s := range sets {
		for _, kv := range s.ToSlice() {
			keys[string(kv.Key)] = true
		}
	}
	return keys
}

func pointSets[N int64 | float64](dps []metricdata.DataPoint[N]) []attribute.Set {
	out := make([]attribute.Set, 0, len(dps))
	for _, p := range dps {
		out = append(out, p.Attributes)
	}
	return out
}

func histogramSets[N int64 | float64](dps []metricdata.HistogramDataPoint[N]) []attribute.Set {
	out := make([]attribute.Set, 0, len(dps))
	for _, p := range dps {
		out = append(out, p.Attributes)
	}
	return out
}
