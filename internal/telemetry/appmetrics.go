package telemetry

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Business metric names; the dashboard and docs/observability.md#metrics refer to them.
const (
	MetricItemsCreated  = "app.items.created"
	MetricItemsUpdated  = "app.items.updated"
	MetricItemsDeleted  = "app.items.deleted"
	MetricEditConflicts = "app.items.edit_conflicts"
	MetricAuthRefusals  = "app.auth.refusals"
	MetricDBTimeouts    = "app.db.timeouts"

	// AttrRefusalReason is the attribute on MetricAuthRefusals.
	AttrRefusalReason = "reason"
	// AttrTimeoutReason is the attribute on MetricDBTimeouts.
	AttrTimeoutReason = "reason"
)

// AppMetrics counts the service's business events. The zero value (and a
// nil pointer) is a working no-op, so packages and tests that do not care
// need no setup. Callers should depend on a small interface of their own
// with the methods they call.
type AppMetrics struct {
	created, updated, deleted, conflicts, refusals, dbTimeouts metric.Int64Counter
}

// NewAppMetrics creates the instruments on the Telemetry's meter provider.
func (t *Telemetry) NewAppMetrics() (*AppMetrics, error) {
	meter := t.MeterProvider.Meter(instrumentationName)
	var m AppMetrics
	for _, c := range []struct {
		dst        *metric.Int64Counter
		name, unit string
		desc       string
	}{
		{&m.created, MetricItemsCreated, "{item}", "Items created."},
		{&m.updated, MetricItemsUpdated, "{item}", "Items updated."},
		{&m.deleted, MetricItemsDeleted, "{item}", "Items deleted."},
		{&m.conflicts, MetricEditConflicts, "{conflict}", "Edits refused because the item changed meanwhile (412)."},
		{&m.refusals, MetricAuthRefusals, "{request}", "Requests refused by authentication or authorization, by reason."},
		{&m.dbTimeouts, MetricDBTimeouts, "{request}", "Requests answered 503 because the database ran out of time, by reason."},
	} {
		ctr, err := meter.Int64Counter(c.name, metric.WithUnit(c.unit), metric.WithDescription(c.desc))
		if err != nil {
			return nil, fmt.Errorf("telemetry: %s: %w", c.name, err)
		}
		*c.dst = ctr
	}
	return &m, nil
}

func add(ctx context.Context, c metric.Int64Counter, opts ...metric.AddOption) {
	if c != nil {
		c.Add(ctx, 1, opts...)
	}
}

// ItemCreated counts one created item.
func (m *AppMetrics) ItemCreated(ctx context.Context) {
	if m != nil {
		add(ctx, m.created)
	}
}

// ItemUpdated counts one updated item (PUT, PATCH or the edit form).
func (m *AppMetrics) ItemUpdated(ctx context.Context) {
	if m != nil {
		add(ctx, m.updated)
	}
}

// ItemDeleted counts one deleted item.
func (m *AppMetrics) ItemDeleted(ctx context.Context) {
	if m != nil {
		add(ctx, m.deleted)
	}
}

// EditConflict counts one edit refused with 412 Precondition Failed.
func (m *AppMetrics) EditConflict(ctx context.Context) {
	if m != nil {
		add(ctx, m.conflicts)
	}
}

// AuthRefused counts one refused request. reason must come from a small
// fixed set (e.g. "no_identity", "invalid_token", "forbidden"): it becomes a
// metric label, and unbounded values would explode the series count.
func (m *AppMetrics) AuthRefused(ctx context.Context, reason string) {
	if m != nil {
		add(ctx, m.refusals, metric.WithAttributes(attribute.String(AttrRefusalReason, reason)))
	}
}

// DatabaseTimeout counts one request answered 503 because the database ran
// out of time. reason is one of internal/items' Timeout constants.
func (m *AppMetrics) DatabaseTimeout(ctx context.Context, reason string) {
	if m != nil {
		add(ctx, m.dbTimeouts, metric.WithAttributes(attribute.String(AttrTimeoutReason, reason)))
	}
}
