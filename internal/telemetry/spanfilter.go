package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// unauthenticatedFilter keeps the server spans of requests answered 401
// from the exporter: anyone can send those, with a sampled traceparent, as
// fast as they like. The request log line and the HTTP metrics still
// record them. The trace's token goes back to the budget, so refused
// requests cannot crowd out the traces of signed-in users.
type unauthenticatedFilter struct {
	next      sdktrace.SpanProcessor
	budget    *traceBudget
	dropped   metric.Int64Counter
	dropAttrs metric.AddOption
}

func newUnauthenticatedFilter(next sdktrace.SpanProcessor, budget *traceBudget, dropped metric.Int64Counter) *unauthenticatedFilter {
	return &unauthenticatedFilter{
		next:      next,
		budget:    budget,
		dropped:   dropped,
		dropAttrs: metric.WithAttributeSet(attribute.NewSet(attribute.String(AttrDropReason, DropUnauthenticated))),
	}
}

// OnStart implements sdktrace.SpanProcessor.
func (f *unauthenticatedFilter) OnStart(ctx context.Context, s sdktrace.ReadWriteSpan) {
	f.next.OnStart(ctx, s)
}

// OnEnd implements sdktrace.SpanProcessor.
func (f *unauthenticatedFilter) OnEnd(s sdktrace.ReadOnlySpan) {
	if startsTrace(s) && s.SpanKind() == trace.SpanKindServer && status(s) == 401 {
		f.budget.refund()
		f.dropped.Add(context.Background(), 1, f.dropAttrs)
		return
	}
	f.next.OnEnd(s)
}

// Shutdown implements sdktrace.SpanProcessor.
func (f *unauthenticatedFilter) Shutdown(ctx context.Context) error {
	return f.next.Shutdown(ctx)
}

// ForceFlush implements sdktrace.SpanProcessor.
func (f *unauthenticatedFilter) ForceFlush(ctx context.Context) error {
	return f.next.ForceFlush(ctx)
}

// startsTrace reports a span with no parent in this process: the one that
// spent a token of the budget.
func startsTrace(s sdktrace.ReadOnlySpan) bool {
	p := s.Parent()
	return !p.IsValid() || p.IsRemote()
}

func status(s sdktrace.ReadOnlySpan) int64 {
	for _, kv := range s.Attributes() {
		if kv.Key == semconv.HTTPResponseStatusCodeKey {
			return kv.Value.AsInt64()
		}
	}
	return 0
}
