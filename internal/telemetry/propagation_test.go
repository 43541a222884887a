package telemetry

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

func TestParseCloudTrace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		ok      bool
		span    string
		sampled bool
	}{
		{"105445aa7843bc8bf206b12000100000/1;o=1", true, "0000000000000001", true},
		{"105445aa7843bc8bf206b12000100000/18446744073709551615;o=0", true, "ffffffffffffffff", false},
		{"105445aa7843bc8bf206b12000100000/255", true, "00000000000000ff", false},
		{"", false, "", false},
		{"105445aa7843bc8bf206b12000100000", false, "", false},
		{"105445aa7843bc8bf206b12000100000/0;o=1", false, "", false},
		{"00000000000000000000000000000000/1;o=1", false, "", false},
		{"zz5445aa7843bc8bf206b12000100000/1;o=1", false, "", false},
		{"105445aa/1;o=1", false, "", false},
		{"105445aa7843bc8bf206b12000100000/18446744073709551616;o=1", false, "", false},
	}
	for _, tt := range tests {
		sc, ok := parseCloudTrace(tt.in)
		if ok != tt.ok {
			t.Errorf("parseCloudTrace(%q) ok = %v, want %v", tt.in, ok, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		if sc.SpanID().String() != tt.span || sc.IsSampled() != tt.sampled || !sc.IsRemote() {
			t.Errorf("parseCloudTrace(%q) = span %s sampled %v remote %v", tt.in, sc.SpanID(), sc.IsSampled(), sc.IsRemote())
		}
	}
}

func TestPropagatorIsOneWayAndPrefersTraceparent(t *testing.T) {
	t.Parallel()
	p := Propagator()
	h := http.Header{}
	h.Set("X-Cloud-Trace-Context", "105445aa7843bc8bf206b12000100000/1;o=1")
	ctx := p.Extract(context.Background(), propagation.HeaderCarrier(h))
	if got := trace.SpanContextFromContext(ctx).TraceID().String(); got != "105445aa7843bc8bf206b12000100000" {
		t.Fatalf("Cloud Trace header alone: trace %s", got)
	}

	h.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	ctx = p.Extract(context.Background(), propagation.HeaderCarrier(h))
	if got := trace.SpanContextFromContext(ctx).TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("with both headers: trace %s, want traceparent's", got)
	}

	out := http.Header{}
	p.Inject(ctx, propagation.HeaderCarrier(out))
	if out.Get("X-Cloud-Trace-Context") != "" {
		t.Error("X-Cloud-Trace-Context injected; the propagator must be one-way")
	}
	if out.Get("traceparent") == "" {
		t.Error("traceparent not injected")
	}
}

// Incoming baggage is whatever a client chose to send: by default it is
// neither read nor forwarded; TRACE_BAGGAGE=true (Options.Baggage) turns it on.
func TestBaggageOnlyWhenConfigured(t *testing.T) {
	t.Parallel()
	in := http.Header{}
	in.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	in.Set("baggage", "tenant=evil,isAdmin=true")
	for _, tt := range []struct {
		name    string
		baggage bool
	}{{"default", false}, {"configured", true}} {
		tel, err := Setup(context.Background(), Options{ServiceName: "svc", Exporter: "none", Baggage: tt.baggage})
		if err != nil {
			t.Fatal(err)
		}
		ctx := tel.Propagator.Extract(context.Background(), propagation.HeaderCarrier(in))
		if got := baggage.FromContext(ctx).Member("tenant").Value(); (got == "evil") != tt.baggage {
			t.Errorf("%s: extracted baggage tenant=%q", tt.name, got)
		}
		out := http.Header{}
		tel.Propagator.Inject(ctx, propagation.HeaderCarrier(out))
		if (out.Get("baggage") != "") != tt.baggage {
			t.Errorf("%s: outgoing baggage %q", tt.name, out.Get("baggage"))
		}
		if out.Get("traceparent") == "" {
			t.Errorf("%s: traceparent not forwarded", tt.name)
		}
		if err := tel.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if f := Propagator().Fields(); slices.Contains(f, "baggage") {
		t.Errorf("Propagator() fields %v include baggage", f)
	}
}
