package telemetry

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func TestAuthRefusalsCountByReason(t *testing.T) {
	t.Parallel()
	var none *AuthRefusals
	none.Count(context.Background(), "missing") // a nil counter counts nothing, safely

	m := newMemTelemetry(t)
	ar, err := m.NewAuthRefusals()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ar.Count(ctx, "missing")
	ar.Count(ctx, "forbidden")
	ar.Count(ctx, "forbidden")
	byReason := map[string]int64{}
	s := m.metrics(t)[MetricAuthRefusals].Data.(metricdata.Sum[int64])
	if !s.IsMonotonic {
		t.Errorf("%s is not a monotonic sum", MetricAuthRefusals)
	}
	for _, p := range s.DataPoints {
		v, _ := p.Attributes.Value(AttrRefusalReason)
		byReason[v.AsString()] = p.Value
	}
	if byReason["missing"] != 1 || byReason["forbidden"] != 2 || len(byReason) != 2 {
		t.Errorf("refusals by reason = %v", byReason)
	}
}
