package telemetry

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"example.com/example-function/internal/proctest"
)

// memTelemetry is a Telemetry whose spans and metrics stay in memory.
type memTelemetry struct {
	*Telemetry
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	logs   *proctest.Buffer
	log    *slog.Logger
}

func newMemTelemetry(t *testing.T) *memTelemetry {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	reader := sdkmetric.NewManualReader()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	logs := &proctest.Buffer{}
	return &memTelemetry{
		Telemetry: &Telemetry{
			TracerProvider: tp,
			MeterProvider:  mp,
			Propagator:     Propagator(),
			Options:        Options{ServiceName: "svc", ServiceVersion: "v1.2.3"},
		},
		spans:  rec,
		reader: reader,
		logs:   logs,
		log:    slog.New(NewLogHandler(logs, LogOptions{ProjectID: "proj", Level: slog.LevelDebug})),
	}
}

// metrics collects the current metric data by name.
func (m *memTelemetry) metrics(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := m.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("collect: %v", err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, mm := range sm.Metrics {
			out[mm.Name] = mm
		}
	}
	return out
}

// logLines decodes every JSON log line written so far.
func (m *memTelemetry) logLines(t *testing.T) []map[string]any {
	t.Helper()
	return decodeLines(t, m.logs.String())
}

func decodeLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("log line is not JSON: %v\n%s", err, line)
		}
		out = append(out, v)
	}
	return out
}
