package service

import (
	"context"
	"io"
	"log/slog"
	"time"

	"example.com/example-function/internal/config"
	"example.com/example-function/internal/database"
	"example.com/example-function/internal/health"
)

// MigrateTimeout bounds a one-off migration run.
const MigrateTimeout = 5 * time.Minute

// Migrate applies the embedded migrations to the configured database and
// returns: the release pipeline's migration step.
func Migrate(ctx context.Context, lookup config.Lookup, stdout io.Writer) error {
	cfg, err := config.Load(lookup)
	if err != nil {
		return err
	}
	logger := newLogger(cfg.Log, stdout, cfg.Telemetry.ProjectID)
	db, err := database.Open(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, MigrateTimeout)
	defer cancel()
	if err := database.Migrate(ctx, db.Pool); err != nil {
		return err
	}
	logger.Info("database migrations applied")
	return nil
}

// migrate applies migrations, retrying with capped exponential backoff
// until it succeeds or the service closes; /readyz stays 503 until then.
func (s *Service) migrate(ctx context.Context, checker *health.Checker) {
	delay := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, time.Minute)
		err := database.Migrate(actx, s.db.Pool)
		cancel()
		if err == nil {
			checker.SetMigrated()
			s.Logger.Info("database migrations applied", slog.Int("attempt", attempt))
			return
		}
		if ctx.Err() != nil {
			return
		}
		s.Logger.Warn("database migrations failed; retrying",
			slog.Int("attempt", attempt), slog.String("retry_in", delay.String()), slog.String("error", err.Error()))
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, 30*time.Second)
	}
}
