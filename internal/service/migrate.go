package service

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"example.com/example-function/internal/config"
	"example.com/example-function/internal/database"
)

// Migrate is `server migrate`: it applies the embedded migrations as the
// owner role, grants the app role (DB_APP_ROLE) row access, checks it has no
// more, and exits. The release pipeline runs it as a Cloud Run job of the
// release's image before any revision of it serves.
//
// Migrations run on a connection of their own with its own limits instead
// of the service's request timeouts: statements may run up to
// DB_MIGRATE_TIMEOUT (which also bounds the whole run) and wait for a lock
// up to DB_MIGRATE_LOCK_TIMEOUT.
func Migrate(ctx context.Context, lookup config.Lookup, stdout io.Writer) error {
	cfg, err := config.Load(lookup)
	if err != nil {
		return err
	}
	logger := newLogger(cfg.Log, stdout, cfg.Telemetry.ProjectID)
	c := cfg.Database
	c.MaxConns, c.MinConns = 1, 0
	db, err := database.Open(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, c.MigrateTimeout)
	defer cancel()

	from, err := database.SchemaVersion(ctx, db.Pool)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := database.Migrate(ctx, db.Pool, database.WithAppRole(c.AppRole), database.WithLockTimeout(c.MigrateLockTimeout)); err != nil {
		return err
	}
	if c.AppRole != "" {
		conn, err := db.Pool.Acquire(ctx)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		warnings, err := database.CheckAppRole(ctx, conn.Conn(), c.AppRole)
		conn.Release()
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		for _, w := range warnings {
			logger.Warn("migrate: " + w)
		}
	}
	logger.Info("database migrations applied",
		slog.Int("from_version", int(from)), slog.Int("to_version", int(database.LatestVersion())),
		slog.String("app_role", c.AppRole))
	return nil
}

// migrate applies migrations, each attempt bounded by timeout, retrying with
// capped exponential backoff until it succeeds or the service closes;
// /readyz stays 503 until then.
func (s *Service) migrate(ctx context.Context, checker *database.Checker, timeout time.Duration, opts ...database.MigrateOption) {
	delay := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, timeout)
		err := database.Migrate(actx, s.db.Pool, opts...)
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
