package telemetry

import (
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// MetricTracesDropped counts traces this instance would have recorded but
// did not export, by AttrDropReason.
const (
	MetricTracesDropped = "app.traces.dropped"
	// AttrDropReason is DropRateLimit or DropUnauthenticated.
	AttrDropReason = "reason"
	// DropRateLimit: the per-second cap on new traces was reached.
	DropRateLimit = "rate_limit"
	// DropUnauthenticated: the request was answered 401 (no accepted
	// identity); its request log line and metrics remain.
	DropUnauthenticated = "unauthenticated"
)

// traceBudget is a token bucket: up to perSecond new traces a second on
// average, and bursts of up to one second's worth (at least one). It
// starts full.
type traceBudget struct {
	mu        sync.Mutex
	perSecond float64
	burst     float64
	tokens    float64
	last      time.Time
	now       func() time.Time
}

func newTraceBudget(perSecond float64, now func() time.Time) *traceBudget {
	if now == nil {
		now = time.Now
	}
	burst := max(perSecond, 1)
	return &traceBudget{perSecond: perSecond, burst: burst, tokens: burst, last: now(), now: now}
}

// take spends one token if there is one.
func (b *traceBudget) take() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(b.burst, b.tokens+elapsed.Seconds()*b.perSecond)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// refund returns the token of a trace that was started but not exported.
func (b *traceBudget) refund() {
	b.mu.Lock()
	b.tokens = min(b.burst, b.tokens+1)
	b.mu.Unlock()
}

// cappedSampler follows the parent's sampling decision like the SDK's
// default ParentBased(AlwaysSample), but a span that starts a trace in this
// process (no parent, or a remote parent: a client's or Cloud Run's
// traceparent) is recorded only while the budget lasts. Spans below a
// recorded span follow it without counting, so a trace is kept or dropped
// whole.
type cappedSampler struct {
	parentBased sdktrace.Sampler
	budget      *traceBudget
	dropped     metric.Int64Counter
	dropAttrs   metric.AddOption
}

func newCappedSampler(budget *traceBudget, dropped metric.Int64Counter) cappedSampler {
	return cappedSampler{
		parentBased: sdktrace.ParentBased(sdktrace.AlwaysSample()),
		budget:      budget,
		dropped:     dropped,
		dropAttrs:   metric.WithAttributeSet(attribute.NewSet(attribute.String(AttrDropReason, DropRateLimit))),
	}
}

// ShouldSample implements sdktrace.Sampler.
func (s cappedSampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	res := s.parentBased.ShouldSample(p)
	parent := trace.SpanContextFromContext(p.ParentContext)
	if (parent.IsValid() && !parent.IsRemote()) || res.Decision != sdktrace.RecordAndSample {
		return res
	}
	if s.budget.take() {
		return res
	}
	s.dropped.Add(p.ParentContext, 1, s.dropAttrs)
	return sdktrace.SamplingResult{Decision: sdktrace.Drop, Tracestate: res.Tracestate}
}

// Description implements sdktrace.Sampler.
func (s cappedSampler) Description() string {
	return fmt.Sprintf("Capped{%g/s}%s", s.budget.perSecond, s.parentBased.Description())
}
