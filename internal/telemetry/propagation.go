package telemetry

import (
	"context"
	"encoding/hex"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// cloudTraceHeader is the header Cloud Run's front end sets on every request:
// TRACE_ID/SPAN_ID;o=OPTIONS, with a 32-hex trace id, a decimal span id and
// o=1 when the request is sampled.
const cloudTraceHeader = "X-Cloud-Trace-Context"

// cloudTraceOneWay reads X-Cloud-Trace-Context and never writes it, so our
// spans join the trace Cloud Run started while outgoing calls carry W3C
// traceparent only. Google's own propagator module for this is deprecated,
// and the format is small enough to own (with tests).
type cloudTraceOneWay struct{}

// Propagator returns the propagators the service uses by default: the
// one-way Cloud Trace header first, then W3C traceparent, which wins when
// both are present because later extractors overwrite earlier ones.
// Incoming baggage is neither read nor forwarded (see newPropagator).
func Propagator() propagation.TextMapPropagator { return newPropagator(false) }

// newPropagator is Propagator, plus W3C baggage when baggage is true.
// Baggage is whatever the client chose to send; forwarding it by default
// would pass that to every service this one calls.
func newPropagator(baggage bool) propagation.TextMapPropagator {
	ps := []propagation.TextMapPropagator{cloudTraceOneWay{}, propagation.TraceContext{}}
	if baggage {
		ps = append(ps, propagation.Baggage{})
	}
	return propagation.NewCompositeTextMapPropagator(ps...)
}

func (cloudTraceOneWay) Inject(context.Context, propagation.TextMapCarrier) {}

func (cloudTraceOneWay) Fields() []string { return nil }

func (cloudTraceOneWay) Extract(ctx context.Context, c propagation.TextMapCarrier) context.Context {
	sc, ok := parseCloudTrace(c.Get(cloudTraceHeader))
	if !ok {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, sc)
}

func parseCloudTrace(h string) (trace.SpanContext, bool) {
	if h == "" {
		return trace.SpanContext{}, false
	}
	traceHex, rest, _ := strings.Cut(h, "/")
	if len(traceHex) != 32 {
		return trace.SpanContext{}, false
	}
	var tid trace.TraceID
	if _, err := hex.Decode(tid[:], []byte(traceHex)); err != nil || !tid.IsValid() {
		return trace.SpanContext{}, false
	}
	spanDec, opts, _ := strings.Cut(rest, ";")
	n, err := strconv.ParseUint(spanDec, 10, 64)
	if err != nil || n == 0 {
		return trace.SpanContext{}, false
	}
	var sid trace.SpanID
	for i := 7; i >= 0; i-- {
		sid[i] = byte(n)
		n >>= 8
	}
	var flags trace.TraceFlags
	if strings.TrimSpace(opts) == "o=1" {
		flags = trace.FlagsSampled
	}
	return trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: flags, Remote: true,
	}), true
}
