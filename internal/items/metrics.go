package items

import (
	"context"
	"fmt"
	"reflect"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Names of the items' business metrics; the dashboard and
// docs/observability.md#metrics refer to them.
const (
	MetricCreated       = "app.items.created"
	MetricUpdated       = "app.items.updated"
	MetricDeleted       = "app.items.deleted"
	MetricEditConflicts = "app.items.edit_conflicts"
	MetricDBTimeouts    = "app.db.timeouts"

	// AttrTimeoutReason is the attribute on MetricDBTimeouts: one of the
	// Timeout constants.
	AttrTimeoutReason = "reason"
)

// scope is this package's import path, the instrumentation scope of its
// metrics; read from the code so a renamed copy names itself.
var scope = reflect.TypeFor[Metrics]().PkgPath()

// Metrics counts the items' business events. A nil *Metrics is a working
// no-op, so tests that do not care need no setup.
type Metrics struct {
	created, updated, deleted, conflicts, timeouts metric.Int64Counter
}

// NewMetrics creates the instruments on mp.
func NewMetrics(mp metric.MeterProvider) (*Metrics, error) {
	meter := mp.Meter(scope)
	var m Metrics
	for _, c := range []struct {
		dst              *metric.Int64Counter
		name, unit, desc string
	}{
		{&m.created, MetricCreated, "{item}", "Items created."},
		{&m.updated, MetricUpdated, "{item}", "Items updated."},
		{&m.deleted, MetricDeleted, "{item}", "Items deleted."},
		{&m.conflicts, MetricEditConflicts, "{conflict}", "Edits refused because the item changed meanwhile (412)."},
		{&m.timeouts, MetricDBTimeouts, "{request}", "Requests answered 503 because the database ran out of time, by reason."},
	} {
		ctr, err := meter.Int64Counter(c.name, metric.WithUnit(c.unit), metric.WithDescription(c.desc))
		if err != nil {
			return nil, fmt.Errorf("items: metric %s: %w", c.name, err)
		}
		*c.dst = ctr
	}
	return &m, nil
}

func (m *Metrics) add(ctx context.Context, c func(*Metrics) metric.Int64Counter, opts ...metric.AddOption) {
	if m != nil {
		c(m).Add(ctx, 1, opts...)
	}
}

// ItemCreated counts one created item.
func (m *Metrics) ItemCreated(ctx context.Context) {
	m.add(ctx, func(m *Metrics) metric.Int64Counter { return m.created })
}

// ItemUpdated counts one updated item (PUT, PATCH or the edit form).
func (m *Metrics) ItemUpdated(ctx context.Context) {
	m.add(ctx, func(m *Metrics) metric.Int64Counter { return m.updated })
}

// ItemDeleted counts one deleted item.
func (m *Metrics) ItemDeleted(ctx context.Context) {
	m.add(ctx, func(m *Metrics) metric.Int64Counter { return m.deleted })
}

// EditConflict counts one edit refused with 412 Precondition Failed.
func (m *Metrics) EditConflict(ctx context.Context) {
	m.add(ctx, func(m *Metrics) metric.Int64Counter { return m.conflicts })
}

// DatabaseTimeout counts one request answered 503 because its store work
// ran out of time; reason is one of the Timeout constants (TimeoutReason).
func (m *Metrics) DatabaseTimeout(ctx context.Context, reason string) {
	m.add(ctx, func(m *Metrics) metric.Int64Counter { return m.timeouts },
		metric.WithAttributes(attribute.String(AttrTimeoutReason, reason)))
}
