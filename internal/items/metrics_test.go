package items_test

import (
	"context"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"example.com/example-function/internal/items"
)

func TestMetricsNilIsSafe(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var m *items.Metrics
	m.ItemCreated(ctx)
	m.ItemUpdated(ctx)
	m.ItemDeleted(ctx)
	m.EditConflict(ctx)
	m.DatabaseTimeout(ctx, items.TimeoutAcquire)
}

func TestMetricsCount(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	m, err := items.NewMetrics(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m.ItemCreated(ctx)
	m.ItemCreated(ctx)
	m.ItemUpdated(ctx)
	m.ItemDeleted(ctx)
	m.EditConflict(ctx)
	m.DatabaseTimeout(ctx, items.TimeoutAcquire)
	m.DatabaseTimeout(ctx, items.TimeoutLockNotAvailable)
	m.DatabaseTimeout(ctx, items.TimeoutAcquire)

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	ms := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, x := range sm.Metrics {
			ms[x.Name] = x
		}
	}
	for name, want := range map[string]int64{
		items.MetricCreated: 2, items.MetricUpdated: 1, items.MetricDeleted: 1, items.MetricEditConflicts: 1,
	} {
		s, ok := ms[name].Data.(metricdata.Sum[int64])
		if !ok || !s.IsMonotonic || len(s.DataPoints) != 1 || s.DataPoints[0].Value != want {
			t.Errorf("%s = %+v, want one point of %d", name, ms[name], want)
		}
	}
	timeouts := map[string]int64{}
	for _, p := range ms[items.MetricDBTimeouts].Data.(metricdata.Sum[int64]).DataPoints {
		v, _ := p.Attributes.Value(items.AttrTimeoutReason)
		timeouts[v.AsString()] = p.Value
	}
	if timeouts[items.TimeoutAcquire] != 2 || timeouts[items.TimeoutLockNotAvailable] != 1 || len(timeouts) != 2 {
		t.Errorf("database timeouts by reason = %v", timeouts)
	}
}
