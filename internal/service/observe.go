package service

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"example.com/example-function/internal/buildinfo"
	"example.com/example-function/internal/config"
	"example.com/example-function/internal/database"
	"example.com/example-function/internal/items"
	"example.com/example-function/internal/telemetry"
	"example.com/example-function/internal/web"
)

// newLogger returns the process logger: Cloud Logging's structured JSON
// (severity, message, trace correlation with projectID), or text for local
// runs.
func newLogger(c config.Log, w io.Writer, projectID string) *slog.Logger {
	return slog.New(telemetry.NewLogHandler(w, telemetry.LogOptions{Level: c.Level, Format: c.Format, ProjectID: projectID}))
}

// observe sets up the logger and OpenTelemetry for cfg. The project id (for
// log-trace correlation and the Telemetry API) comes from
// GOOGLE_CLOUD_PROJECT or, on Cloud Run, the metadata server.
func observe(ctx context.Context, cfg config.Config, stdout io.Writer) (*slog.Logger, *telemetry.Telemetry, error) {
	projectID, perr := telemetry.ResolveProjectID(ctx, cfg.Telemetry.ProjectID, cfg.OnCloudRun)
	logger := newLogger(cfg.Log, stdout, projectID)
	if perr != nil {
		logger.Warn("no Google Cloud project id; logs will not link to traces", slog.String("error", perr.Error()))
	}
	tel, err := telemetry.Setup(ctx, telemetry.FromConfig(cfg, projectID, buildinfo.Get().Version))
	if err != nil {
		return nil, nil, fmt.Errorf("telemetry: %w", err)
	}
	tel.SetGlobal(logger)
	return logger, tel, nil
}

// observers are the telemetry pieces the handlers are built with.
type observers struct {
	metrics  *items.Metrics
	refusals *telemetry.AuthRefusals
	// requests traces, measures, logs and recovers every request.
	requests func(http.Handler) http.Handler
	// probes measures and recovers, without a span or a log line.
	probes func(http.Handler) http.Handler
}

// instrument creates the business metrics, the refusal counter, the pool
// gauges and the HTTP middleware.
func instrument(tel *telemetry.Telemetry, db *database.DB, logger *slog.Logger) (observers, error) {
	if err := tel.RecordPoolStats(db.Pool); err != nil {
		return observers{}, fmt.Errorf("telemetry: %w", err)
	}
	metrics, err := items.NewMetrics(tel.MeterProvider)
	if err != nil {
		return observers{}, err
	}
	refusals, err := tel.NewAuthRefusals()
	if err != nil {
		return observers{}, err
	}
	o := telemetry.HTTPOptions{Logger: logger, InternalError: web.InternalError}
	requests, err := tel.Middleware(o)
	if err != nil {
		return observers{}, fmt.Errorf("telemetry: %w", err)
	}
	o.Untraced = true
	probes, err := tel.Middleware(o)
	if err != nil {
		return observers{}, fmt.Errorf("telemetry: %w", err)
	}
	return observers{metrics: metrics, refusals: refusals, requests: requests, probes: probes}, nil
}
