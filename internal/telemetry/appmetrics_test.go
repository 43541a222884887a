package telemetry

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func TestAppMetricsZeroValueIsSafe(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, m := range []*AppMetrics{nil, {}} {
		m.ItemCreated(ctx)
		m.ItemUpdated(ctx)
		m.ItemDeleted(ctx)
		m.EditConflict(ctx)
		m.AuthRefused(ctx, "missing")
		m.DatabaseTimeout(ctx, "acquire")
	}
}

func TestAppMetricsCount(t *testing.T) {
	t.Parallel()
	m := newMemTelemetry(t)
	am, err := m.NewAppMetrics()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	am.ItemCreated(ctx)
	am.ItemCreated(ctx)
	am.ItemUpdated(ctx)
	am.ItemDeleted(ctx)
	am.EditConflict(ctx)
	am.AuthRefused(ctx, "missing")
	am.AuthRefused(ctx, "forbidden")
	am.AuthRefused(ctx, "forbidden")

	ms := m.metrics(t)
	for name, want := range map[string]int64{
		MetricItemsCreated: 2, MetricItemsUpdated: 1, MetricItemsDeleted: 1, MetricEditConflicts: 1,
	} {
		s, ok := ms[name].Data.(metricdata.Sum[int64])
		if !ok || !s.IsMonotonic || len(s.DataPoints) != 1 || s.DataPoints[0].Value != want {
			t.Errorf("%s = %+v, want one point of %d", name, ms[name], want)
		}
	}
	byReason := map[string]int64{}
	for _, p := range ms[MetricAuthRefusals].Data.(metricdata.Sum[int64]).DataPoints {
		v, _ := p.Attributes.Value(AttrRefusalReason)
		byReason[v.AsString()] = p.Value
	}
	if byReason["missing"] != 1 || byReason["forbidden"] != 2 || len(byReason) != 2 {
		t.Errorf("refusals by reason = %v", byReason)
	}
	am.DatabaseTimeout(ctx, "acquire")
	am.DatabaseTimeout(ctx, "lock_not_available")
	am.DatabaseTimeout(ctx, "acquire")
	timeouts := map[string]int64{}
	for _, p := range m.metrics(t)[MetricDBTimeouts].Data.(metricdata.Sum[int64]).DataPoints {
		v, _ := p.Attributes.Value(AttrTimeoutReason)
		timeouts[v.AsString()] = p.Value
	}
	if timeouts["acquire"] != 2 || timeouts["lock_not_available"] != 1 || len(timeouts) != 2 {
		t.Errorf("database timeouts by reason = %v", timeouts)
	}
}
