package telemetry

import (
	"context"
	"fmt"

	"cloud.google.com/go/compute/metadata"
)

// ResolveProjectID returns configured (GOOGLE_CLOUD_PROJECT) when set, else,
// on Cloud Run, the project the metadata server reports. Elsewhere it
// returns "" without a network call: off Google Cloud there is no metadata
// server to ask. The metadata client honours GCE_METADATA_HOST, which tests
// point at a local fake.
func ResolveProjectID(ctx context.Context, configured string, onCloudRun bool) (string, error) {
	if configured != "" || !onCloudRun {
		return configured, nil
	}
	id, err := metadata.ProjectIDWithContext(ctx)
	if err != nil {
		return "", fmt.Errorf("project id from the metadata server: %w", err)
	}
	return id, nil
}
