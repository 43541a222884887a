package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"go.opentelemetry.io/contrib/instrumentation/runtime"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"example.com/example-function/internal/config"
)

// Options configures Setup. FromConfig fills it from the service config.
type Options struct {
	ServiceName    string
	ServiceVersion string
	// Exporter is "gcp", "otlp", "stdout" or "none"; see config.Telemetry.
	Exporter string
	// Protocol is "http/protobuf" (default) or "grpc", for Exporter "otlp".
	Protocol string
	// ProjectID is the Google Cloud project (ResolveProjectID). Required for
	// "gcp": it is the resource's gcp.project_id, and the quota project of
	// user credentials (quotaProject).
	ProjectID string
	// APIEndpoint is the Telemetry API base URL (config.DefaultTelemetryAPI).
	APIEndpoint string
	// OnCloudRun turns on the GCP resource detector, which asks the metadata
	// server for region and instance; elsewhere it is never called.
	OnCloudRun bool
	// Stdout receives the "stdout" exporter's output; nil means os.Stdout.
	Stdout io.Writer
	// MetricReaders are added to the exporter's reader; tests pass an
	// sdkmetric.ManualReader to see every instrument the service creates.
	MetricReaders []sdkmetric.Reader
	// TracesPerSecond caps the traces this instance starts per second
	// (config.Tracing.MaxPerSecond); 0 means config.DefaultTracesPerSecond.
	TracesPerSecond float64
	// Baggage reads incoming W3C baggage and forwards it on outgoing calls.
	Baggage bool
}

// FromConfig builds Options from the loaded config; projectID comes from
// ResolveProjectID and version from buildinfo.
func FromConfig(c config.Config, projectID, version string) Options {
	return Options{
		ServiceName:    c.Service,
		ServiceVersion: version,
		Exporter:       c.Telemetry.Exporter,
		Protocol:       c.Telemetry.Protocol,
		ProjectID:      projectID,
		APIEndpoint:    c.Telemetry.APIEndpoint,
		OnCloudRun:     c.OnCloudRun,
		// Tracing policy.
		TracesPerSecond: c.Tracing.MaxPerSecond,
		Baggage:         c.Tracing.Baggage,
	}
}

// Telemetry holds the providers built by Setup. Pass them explicitly (the
// middleware, the pgx tracer and the metrics take them from here); call
// SetGlobal as well for libraries that only know the global providers.
type Telemetry struct {
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	Propagator     propagation.TextMapPropagator
	Options        Options

	shutdown []func(context.Context) error
}

// Setup builds the tracer and meter providers, their exporters, the resource
// and the Go runtime metrics. With Exporter "none" the providers still
// create spans (so log lines carry trace ids) but nothing is exported.
// Traces are sampled parent-based under a per-instance cap (cappedSampler)
// and the spans of 401 answers are never exported (unauthenticatedFilter).
func Setup(ctx context.Context, o Options) (*Telemetry, error) {
	if o.ServiceName == "" {
		o.ServiceName = "example-function"
	}
	if o.APIEndpoint == "" {
		o.APIEndpoint = config.DefaultTelemetryAPI
	}
	if o.Exporter == "gcp" && o.ProjectID == "" {
		return nil, errors.New("telemetry: the gcp exporter needs a project id (GOOGLE_CLOUD_PROJECT or the metadata server)")
	}
	res, err := newResource(ctx, o)
	if err != nil {
		return nil, err
	}
	exp, err := newExporters(ctx, o)
	if err != nil {
		return nil, err
	}

	mopts := []sdkmetric.Option{sdkmetric.WithResource(res)}
	if exp.metrics != nil {
		mopts = append(mopts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp.metrics)))
	}
	for _, r := range o.MetricReaders {
		mopts = append(mopts, sdkmetric.WithReader(r))
	}
	mp := sdkmetric.NewMeterProvider(mopts...)
	sampler, filter, err := newTraceCap(mp, o.TracesPerSecond, exp.spans)
	if err != nil {
		return nil, errors.Join(err, mp.Shutdown(ctx))
	}
	topts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithSampler(sampler)}
	if filter != nil {
		// Without a processor the SDK skips copying each span at its end.
		topts = append(topts, sdktrace.WithSpanProcessor(filter))
	}
	tp := sdktrace.NewTracerProvider(topts...)
	t := &Telemetry{
		TracerProvider: tp,
		MeterProvider:  mp,
		Propagator:     newPropagator(o.Baggage),
		Options:        o,
		// Traces first: the span batch is the bigger loss if time runs out.
		shutdown: []func(context.Context) error{tp.Shutdown, mp.Shutdown},
	}
	if err := runtime.Start(runtime.WithMeterProvider(mp)); err != nil {
		return nil, errors.Join(fmt.Errorf("telemetry: runtime metrics: %w", err), t.Shutdown(ctx))
	}
	return t, nil
}

// Shutdown flushes pending spans and a final metric collection, then stops
// the exporters. Call it once, after the HTTP server drained and before the
// database pool closes, with a context bounded by Cloud Run's 10 s.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for _, f := range t.shutdown {
		if err := f(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("telemetry shutdown: %w", errors.Join(errs...))
	}
	return nil
}

// SetGlobal installs the providers and propagator as OpenTelemetry's
// globals, for libraries that read them (the Cloud SQL connector, for
// one), and routes OpenTelemetry's internal errors (failed exports) to log.
func (t *Telemetry) SetGlobal(log *slog.Logger) {
	otel.SetTracerProvider(t.TracerProvider)
	otel.SetMeterProvider(t.MeterProvider)
	otel.SetTextMapPropagator(t.Propagator)
	if log != nil {
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			log.Warn("telemetry export failed", "error", err)
		}))
	}
}

// newTraceCap builds the sampler and the span processor in front of the
// batch exporter of spans that share one trace budget and count what they
// drop in MetricTracesDropped. Without an exporter there is no processor.
func newTraceCap(mp metric.MeterProvider, perSecond float64, spans sdktrace.SpanExporter) (sdktrace.Sampler, sdktrace.SpanProcessor, error) {
	if perSecond <= 0 {
		perSecond = config.DefaultTracesPerSecond
	}
	dropped, err := mp.Meter(instrumentationName).Int64Counter(MetricTracesDropped,
		metric.WithUnit("{trace}"),
		metric.WithDescription("Traces not exported: over the per-instance cap, or answered 401, by reason."))
	if err != nil {
		return nil, nil, fmt.Errorf("telemetry: %s: %w", MetricTracesDropped, err)
	}
	budget := newTraceBudget(perSecond, nil)
	sampler := newCappedSampler(budget, dropped)
	if spans == nil {
		return sampler, nil, nil
	}
	return sampler, newUnauthenticatedFilter(sdktrace.NewBatchSpanProcessor(spans), budget, dropped), nil
}
