package telemetry

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
)

type exporters struct {
	spans   sdktrace.SpanExporter
	metrics sdkmetric.Exporter
}

// cloudPlatformScope is the OAuth scope the Telemetry API accepts.
const cloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

func newExporters(ctx context.Context, o Options) (exporters, error) {
	switch o.Exporter {
	case "", "none":
		return exporters{}, nil
	case "stdout":
		return stdoutExporters(o)
	case "otlp":
		return otlpExporters(ctx, o.Protocol)
	case "gcp":
		return telemetryAPIExporters(ctx, o)
	default:
		return exporters{}, fmt.Errorf("telemetry: unknown exporter %q", o.Exporter)
	}
}

func stdoutExporters(o Options) (exporters, error) {
	w := o.Stdout
	if w == nil {
		w = os.Stdout
	}
	se, err := stdouttrace.New(stdouttrace.WithWriter(w))
	if err != nil {
		return exporters{}, fmt.Errorf("telemetry: stdout trace exporter: %w", err)
	}
	me, err := stdoutmetric.New(stdoutmetric.WithWriter(w))
	if err != nil {
		return exporters{}, fmt.Errorf("telemetry: stdout metric exporter: %w", err)
	}
	return exporters{spans: se, metrics: me}, nil
}

// otlpExporters configure themselves from the standard OTEL_EXPORTER_OTLP_*
// variables (endpoint, headers, timeout, compression, certificates).
func otlpExporters(ctx context.Context, protocol string) (exporters, error) {
	var (
		e   exporters
		err error
	)
	if protocol == "grpc" {
		if e.spans, err = otlptracegrpc.New(ctx); err != nil {
			return exporters{}, fmt.Errorf("telemetry: otlp/grpc trace exporter: %w", err)
		}
		if e.metrics, err = otlpmetricgrpc.New(ctx); err != nil {
			return exporters{}, fmt.Errorf("telemetry: otlp/grpc metric exporter: %w", err)
		}
		return e, nil
	}
	if e.spans, err = otlptracehttp.New(ctx); err != nil {
		return exporters{}, fmt.Errorf("telemetry: otlp/http trace exporter: %w", err)
	}
	if e.metrics, err = otlpmetrichttp.New(ctx); err != nil {
		return exporters{}, fmt.Errorf("telemetry: otlp/http metric exporter: %w", err)
	}
	return e, nil
}

// telemetryAPIExporters send OTLP/HTTP protobuf to Google's Telemetry API
// with application-default credentials (on Cloud Run: the service account,
// through the metadata server), and the quota project header only where the
// credentials need one (quotaProject).
func telemetryAPIExporters(ctx context.Context, o Options) (exporters, error) {
	creds, err := google.FindDefaultCredentials(ctx, cloudPlatformScope)
	if err != nil {
		return exporters{}, fmt.Errorf("telemetry: application default credentials: %w", err)
	}
	client := &http.Client{Transport: &oauth2.Transport{
		Source: oauth2.ReuseTokenSource(nil, creds.TokenSource),
		Base:   http.DefaultTransport,
	}}
	qp, err := quotaProject(ctx, creds, o.ProjectID)
	if err != nil {
		return exporters{}, err
	}
	headers := map[string]string{}
	if qp != "" {
		headers["x-goog-user-project"] = qp
	}
	se, err := otlptracehttp.New(ctx,
		otlptracehttp.WithEndpointURL(o.APIEndpoint+"/v1/traces"),
		otlptracehttp.WithHTTPClient(client),
		otlptracehttp.WithHeaders(headers),
	)
	if err != nil {
		return exporters{}, fmt.Errorf("telemetry: Telemetry API trace exporter: %w", err)
	}
	me, err := otlpmetrichttp.New(ctx,
		otlpmetrichttp.WithEndpointURL(o.APIEndpoint+"/v1/metrics"),
		otlpmetrichttp.WithHTTPClient(client),
		otlpmetrichttp.WithHeaders(headers),
	)
	if err != nil {
		return exporters{}, fmt.Errorf("telemetry: Telemetry API metric exporter: %w", err)
	}
	return exporters{spans: se, metrics: me}, nil
}
