package telemetry

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"go.opentelemetry.io/contrib/detectors/gcp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// newResource describes this process. service.instance.id keeps the series
// of concurrent instances apart: the Telemetry API stores metrics as
// Prometheus series (prometheus_target) whose instance label comes from it,
// and two instances writing one cumulative series would corrupt it. On Cloud
// Run the GCP detector adds region, service, revision and instance
// (cloud.region, faas.name, faas.version, faas.instance). OTEL_SERVICE_NAME
// and OTEL_RESOURCE_ATTRIBUTES override everything, as the spec says.
func newResource(ctx context.Context, o Options) (*resource.Resource, error) {
	attrs := []attribute.KeyValue{
		semconv.ServiceName(o.ServiceName),
		semconv.ServiceInstanceID(uuid.NewString()),
	}
	if o.ServiceVersion != "" {
		attrs = append(attrs, semconv.ServiceVersion(o.ServiceVersion))
	}
	if o.ProjectID != "" {
		attrs = append(attrs, attribute.String("gcp.project_id", o.ProjectID))
	}
	opts := []resource.Option{resource.WithTelemetrySDK(), resource.WithAttributes(attrs...)}
	if o.OnCloudRun {
		opts = append(opts, resource.WithDetectors(gcp.NewDetector()))
	}
	opts = append(opts, resource.WithFromEnv())
	res, err := resource.New(ctx, opts...)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}
	// A partial resource (one metadata field missing) is still worth using.
	return res, nil
}
