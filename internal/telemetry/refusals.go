package telemetry

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// MetricAuthRefusals counts refused requests by AttrRefusalReason; the
// dashboard and docs/observability.md#metrics refer to it.
const (
	MetricAuthRefusals = "app.auth.refusals"
	AttrRefusalReason  = "reason"
)

// AuthRefusals counts requests refused by sign-in, roles or the
// cross-origin check. A nil *AuthRefusals counts nothing.
type AuthRefusals struct{ c metric.Int64Counter }

// NewAuthRefusals creates the counter on the Telemetry's meter provider.
func (t *Telemetry) NewAuthRefusals() (*AuthRefusals, error) {
	c, err := t.MeterProvider.Meter(instrumentationName).Int64Counter(MetricAuthRefusals,
		metric.WithUnit("{request}"), metric.WithDescription("Requests refused by authentication or authorization, by reason."))
	if err != nil {
		return nil, fmt.Errorf("telemetry: %s: %w", MetricAuthRefusals, err)
	}
	return &AuthRefusals{c: c}, nil
}

// Count counts one refusal. reason comes from internal/auth's small fixed
// set: it becomes a metric label, and unbounded values would explode the
// series count.
func (a *AuthRefusals) Count(ctx context.Context, reason string) {
	if a != nil {
		a.c.Add(ctx, 1, metric.WithAttributes(attribute.String(AttrRefusalReason, reason)))
	}
}
