package telemetry

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric/noop"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// fakeClock is a settable clock for the trace budget.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func takeAll(b *traceBudget) int {
	n := 0
	for b.take() {
		n++
	}
	return n
}

func TestTraceBudget(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	b := newTraceBudget(10, clock.now)
	if n := takeAll(b); n != 10 {
		t.Fatalf("a full budget gave %d traces, want a burst of 10", n)
	}
	clock.advance(300 * time.Millisecond)
	if n := takeAll(b); n != 3 {
		t.Fatalf("after 0.3 s: %d traces, want 3", n)
	}
	clock.advance(time.Hour)
	if n := takeAll(b); n != 10 {
		t.Fatalf("after an idle hour: %d traces, want the burst of 10, not more", n)
	}
	for range 20 {
		b.refund()
	}
	if n := takeAll(b); n != 10 {
		t.Fatalf("after refunds: %d traces, want at most the burst of 10", n)
	}

	slow := newTraceBudget(0.1, clock.now) // Cloud Run's own rate
	if n := takeAll(slow); n != 1 {
		t.Fatalf("0.1/s: burst %d, want 1", n)
	}
	clock.advance(9 * time.Second)
	if slow.take() {
		t.Fatal("0.1/s: a trace after 9 s")
	}
	clock.advance(time.Second)
	if !slow.take() {
		t.Fatal("0.1/s: no trace after 10 s")
	}
}

func TestCappedSamplerFollowsParents(t *testing.T) {
	t.Parallel()
	tid := trace.TraceID{1}
	parent := func(sampled, remote bool) context.Context {
		var flags trace.TraceFlags
		if sampled {
			flags = trace.FlagsSampled
		}
		sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{2}, TraceFlags: flags, Remote: remote})
		return trace.ContextWithSpanContext(context.Background(), sc)
	}
	tests := []struct {
		name     string
		ctx      context.Context
		budget   bool // a token left
		want     sdktrace.SamplingDecision
		spends   bool
		rejected bool
	}{
		{"new trace", context.Background(), true, sdktrace.RecordAndSample, true, false},
		{"new trace over the cap", context.Background(), false, sdktrace.Drop, false, true},
		{"caller sampled (traceparent -01, o=1)", parent(true, true), true, sdktrace.RecordAndSample, true, false},
		{"caller sampled over the cap", parent(true, true), false, sdktrace.Drop, false, true},
		{"caller not sampled", parent(false, true), true, sdktrace.Drop, false, false},
		{"child of a recorded span", parent(true, false), false, sdktrace.RecordAndSample, false, false},
		{"child of a dropped span", parent(false, false), true, sdktrace.Drop, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
			b := newTraceBudget(1, clock.now)
			if !tt.budget {
				b.take()
			}
			counter, _ := noop.NewMeterProvider().Meter("t").Int64Counter("c")
			s := newCappedSampler(b, counter)
			res := s.ShouldSample(sdktrace.SamplingParameters{ParentContext: tt.ctx, TraceID: tid, Name: "GET /", Kind: trace.SpanKindServer})
			if res.Decision != tt.want {
				t.Errorf("decision %v, want %v", res.Decision, tt.want)
			}
			left := b.take()
			if spent := tt.budget && !left; spent != tt.spends {
				t.Errorf("token spent %v, want %v", spent, tt.spends)
			}
		})
	}
}
