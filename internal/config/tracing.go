package config

import "log/slog"

// Tracing decides which traces this instance records and which incoming
// trace context it believes; Telemetry decides where they go.
type Tracing struct {
	// MaxPerSecond (TRACES_PER_SECOND) caps the traces this instance
	// starts per second, whatever callers ask for in traceparent or
	// X-Cloud-Trace-Context; spans inside a recorded trace are not counted.
	MaxPerSecond float64
	// Baggage (TRACE_BAGGAGE) reads incoming W3C baggage and forwards it
	// on outgoing calls. Off by default: baggage is whatever a client chose
	// to send, and forwarding it hands that to every service we call.
	Baggage bool
}

// DefaultTracesPerSecond is the default of TRACES_PER_SECOND, the same as
// Cloud Run's own cap on forced traces (10 per second per instance,
// https://cloud.google.com/run/docs/trace).
const DefaultTracesPerSecond = 10

func loadTracing(p *parser) Tracing {
	t := Tracing{
		MaxPerSecond: p.number("TRACES_PER_SECOND", DefaultTracesPerSecond, 0.001, 10000),
		Baggage:      p.boolean("TRACE_BAGGAGE", false),
	}
	// The SDK would read these only if the service set no sampler of its
	// own; it always does, so a value would be silently ignored.
	for _, name := range []string{"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG"} {
		if _, set := p.raw(name); set {
			p.problem(name, "is not used: the service samples parent-based with a cap of TRACES_PER_SECOND new traces "+
				"per second per instance; unset it and set TRACES_PER_SECOND instead")
		}
	}
	return t
}

// LogValue prints the tracing settings; none of them are secret.
func (t Tracing) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Float64("traces_per_second", t.MaxPerSecond),
		slog.Bool("baggage", t.Baggage),
	)
}
