package config

import (
	"log/slog"
	"net/url"
	"strings"
)

// Telemetry says where traces and metrics go. The OpenTelemetry exporters
// still read the standard OTEL_* variables themselves (headers, timeouts,
// export interval, sampler); this struct only holds what decides the route.
type Telemetry struct {
	// Exporter is the resolved destination:
	//   "gcp"    the Telemetry API (telemetry.googleapis.com) with Google
	//            application-default credentials; the default on Cloud Run;
	//   "otlp"   OTEL_EXPORTER_OTLP_ENDPOINT (or the per-signal variables);
	//            the default when one of them is set;
	//   "stdout" pretty-printed to stdout, for debugging;
	//   "none"   nothing leaves the process (spans still get ids for logs).
	Exporter string
	// Protocol is the OTLP protocol for "otlp": "http/protobuf" or "grpc",
	// from OTEL_EXPORTER_OTLP_PROTOCOL as the OpenTelemetry spec names it.
	Protocol string
	// ProjectID is GOOGLE_CLOUD_PROJECT. Empty on Cloud Run means "ask the
	// metadata server" (telemetry.ResolveProjectID does).
	ProjectID string
	// APIEndpoint is the Telemetry API base URL, configurable so tests can
	// point the "gcp" route at a local receiver.
	APIEndpoint string
}

// DefaultTelemetryAPI is Google's OTLP endpoint (Telemetry API).
const DefaultTelemetryAPI = "https://telemetry.googleapis.com"

func loadTelemetry(p *parser) Telemetry {
	_, onCloudRun := p.raw("K_SERVICE")
	_, endpoint := p.raw("OTEL_EXPORTER_OTLP_ENDPOINT")
	_, tracesEndpoint := p.raw("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	_, metricsEndpoint := p.raw("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
	otlpSet := endpoint || tracesEndpoint || metricsEndpoint

	t := Telemetry{
		Exporter:    p.oneOf("TELEMETRY_EXPORTER", "auto", "auto", "gcp", "otlp", "stdout", "none"),
		Protocol:    p.oneOf("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", "http/protobuf", "grpc"),
		ProjectID:   p.str("GOOGLE_CLOUD_PROJECT", ""),
		APIEndpoint: strings.TrimRight(p.str("TELEMETRY_API_ENDPOINT", DefaultTelemetryAPI), "/"),
	}
	// The exporters send a bearer token to this endpoint: plain http only
	// where it cannot leave the machine (a local receiver in tests).
	if u, err := url.Parse(t.APIEndpoint); err != nil || u.Host == "" ||
		(u.Scheme != "https" && (u.Scheme != "http" || !isLoopbackHost(u.Hostname()))) {
		p.problem("TELEMETRY_API_ENDPOINT", "must be an https URL such as %s (http only for localhost, 127.0.0.0/8 or ::1: "+
			"the exporters send a bearer token), got %q", DefaultTelemetryAPI, t.APIEndpoint)
	}
	if t.Exporter == "auto" {
		switch {
		case p.boolean("OTEL_SDK_DISABLED", false):
			t.Exporter = "none"
		case otlpSet:
			// An explicit endpoint wins over the platform default, so a
			// collector sidecar on Cloud Run works by setting one variable.
			t.Exporter = "otlp"
		case onCloudRun:
			t.Exporter = "gcp"
		default:
			t.Exporter = "none"
		}
	}
	return t
}

// LogValue prints the telemetry settings; none of them are secret.
func (t Telemetry) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("exporter", t.Exporter),
		slog.String("protocol", t.Protocol),
		slog.String("project_id", t.ProjectID),
		slog.String("api_endpoint", t.APIEndpoint),
	)
}
