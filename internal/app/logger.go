package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"example.com/example-function/internal/buildinfo"
	"example.com/example-function/internal/config"
	"example.com/example-function/internal/telemetry"
)

// NewLogger returns the process logger: Cloud Logging's structured JSON
// (severity, message, trace correlation with projectID), or text for local
// runs.
func NewLogger(c config.Log, w io.Writer, projectID string) *slog.Logger {
	return slog.New(telemetry.NewLogHandler(w, telemetry.LogOptions{Level: c.Level, Format: c.Format, ProjectID: projectID}))
}

// Observe sets up the logger and OpenTelemetry for cfg. The project id
// (for log-trace correlation and the Telemetry API) comes from
// GOOGLE_CLOUD_PROJECT or, on Cloud Run, the metadata server.
func Observe(ctx context.Context, cfg config.Config, stdout io.Writer) (*slog.Logger, *telemetry.Telemetry, error) {
	projectID, perr := telemetry.ResolveProjectID(ctx, cfg.Telemetry.ProjectID, cfg.OnCloudRun)
	logger := NewLogger(cfg.Log, stdout, projectID)
	if perr != nil {
		logger.Warn("no Google Cloud project id; logs will not link to traces", slog.String("error", perr.Error()))
	}
	tel, err := telemetry.Setup(ctx, telemetry.FromConfig(cfg, projectID, buildinfo.Get().Version))
	if err != nil {
		return logger, nil, fmt.Errorf("telemetry: %w", err)
	}
	tel.SetGlobal(logger)
	return logger, tel, nil
}
