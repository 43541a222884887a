package telemetry

import (
	"context"
	"net/http"
	"testing"

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
