package config

import (
	"errors"
	"testing"
)

func TestLoadTelemetry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want Telemetry
	}{
		{
			name: "off by default on a laptop",
			env:  nil,
			want: Telemetry{Exporter: "none", Protocol: "http/protobuf", APIEndpoint: DefaultTelemetryAPI},
		},
		{
			name: "Telemetry API on Cloud Run",
			env:  map[string]string{"K_SERVICE": "svc", "GOOGLE_CLOUD_PROJECT": "proj"},
			want: Telemetry{Exporter: "gcp", Protocol: "http/protobuf", ProjectID: "proj", APIEndpoint: DefaultTelemetryAPI},
		},
		{
			name: "an OTLP endpoint wins over Cloud Run",
			env:  map[string]string{"K_SERVICE": "svc", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4318"},
			want: Telemetry{Exporter: "otlp", Protocol: "http/protobuf", APIEndpoint: DefaultTelemetryAPI},
		},
		{
			name: "per-signal endpoint and grpc",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://localhost:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
			want: Telemetry{Exporter: "otlp", Protocol: "grpc", APIEndpoint: DefaultTelemetryAPI},
		},
		{
			name: "SDK disabled",
			env:  map[string]string{"K_SERVICE": "svc", "OTEL_SDK_DISABLED": "true"},
			want: Telemetry{Exporter: "none", Protocol: "http/protobuf", APIEndpoint: DefaultTelemetryAPI},
		},
		{
			name: "explicit stdout and endpoint override",
			env:  map[string]string{"TELEMETRY_EXPORTER": "STDOUT", "TELEMETRY_API_ENDPOINT": "http://127.0.0.1:9/"},
			want: Telemetry{Exporter: "stdout", Protocol: "http/protobuf", APIEndpoint: "http://127.0.0.1:9"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := &parser{lookup: telemetryEnv(tt.env)}
			got := loadTelemetry(p)
			if len(p.problems) > 0 {
				t.Fatalf("problems: %v", p.problems)
			}
			if got != tt.want {
				t.Errorf("Telemetry = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLoadTelemetryProblems(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"TELEMETRY_EXPORTER":          "zipkin",
		"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
		"TELEMETRY_API_ENDPOINT":      "telemetry.googleapis.com",
	}
	// Through Load, so the problems reach the operator with the others.
	_, err := Load(telemetryEnv(env))
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Fatalf("Load error = %v, want *Error", err)
	}
	got := map[string]bool{}
	for _, p := range cerr.Problems {
		got[p.Var] = true
	}
	for _, v := range []string{"TELEMETRY_EXPORTER", "OTEL_EXPORTER_OTLP_PROTOCOL", "TELEMETRY_API_ENDPOINT"} {
		if !got[v] {
			t.Errorf("no problem reported for %s; got %v", v, cerr.Problems)
		}
	}
}

func telemetryEnv(env map[string]string) Lookup {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

// The exporters send a bearer token to TELEMETRY_API_ENDPOINT: https, or
// plain http only where it cannot leave the machine.
func TestTelemetryEndpointNeedsTLSOffLoopback(t *testing.T) {
	t.Parallel()
	for endpoint, ok := range map[string]bool{
		"https://telemetry.googleapis.com":   true,
		"https://collector.example.com:4318": true,
		"http://127.0.0.1:4318":              true,
		"http://127.9.9.9:4318":              true,
		"http://localhost:4318":              true,
		"http://[::1]:4318":                  true,
		"http://telemetry.googleapis.com":    false,
		"http://collector.internal:4318":     false,
		"http://10.0.0.5:4318":               false,
		"http://0.0.0.0:4318":                false,
		"http://localhost.example.com":       false,
		"ftp://127.0.0.1":                    false,
		"https://":                           false,
	} {
		p := &parser{lookup: telemetryEnv(map[string]string{"TELEMETRY_API_ENDPOINT": endpoint})}
		loadTelemetry(p)
		if got := len(p.problems) == 0; got != ok {
			t.Errorf("TELEMETRY_API_ENDPOINT=%s: accepted %v, want %v (%v)", endpoint, got, ok, p.problems)
		}
	}
}
