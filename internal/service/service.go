// Package service is the composition root: it turns the environment into a
// running, drainable service. Every entry point goes through it: cmd/server
// and cmd/dev with Run, the Functions Framework (package function) with
// StartProcess. Only it and the mains read the environment.
package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/example-function/internal/auth"
	"example.com/example-function/internal/buildinfo"
	"example.com/example-function/internal/config"
	"example.com/example-function/internal/database"
	"example.com/example-function/internal/items"
	"example.com/example-function/internal/telemetry"
	"example.com/example-function/internal/web"
)

// HealthInterval is how often the database is checked in the background.
const HealthInterval = 5 * time.Second

// FlushTimeout bounds the final telemetry export in Close: with the default
// 7 s drain it keeps shutdown inside Cloud Run's 10 s.
const FlushTimeout = 1500 * time.Millisecond

// Service is a started service: its configuration, logger, telemetry,
// database pool and background work, and the dependencies the HTTP handlers
// are built from. A function in package function turns it into a handler.
type Service struct {
	Config config.Config
	Logger *slog.Logger
	// Web holds what package web's handlers need; web.NewHandler(s.Web)
	// is the "app" function.
	Web web.Deps

	db     *database.DB
	tel    *telemetry.Telemetry
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Option adjusts Start.
type Option func(*options)

type options struct {
	dbOpts []database.Option
}

// WithDatabaseOptions passes options to database.Open (tests use it to point
// the Cloud SQL connector at a fake).
func WithDatabaseOptions(opts ...database.Option) Option {
	return func(o *options) { o.dbOpts = append(o.dbOpts, opts...) }
}

// Start validates the configuration from lookup, sets up logging (to stdout)
// and telemetry, opens the pool without connecting, and starts the
// background health checks, key fetch and (when enabled) migrations. It
// returns at once: a database outage never stops the service from starting.
// An invalid configuration is a *config.Error naming every bad variable.
func Start(ctx context.Context, lookup config.Lookup, stdout io.Writer, opts ...Option) (*Service, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := config.Load(lookup)
	if err != nil {
		return nil, err
	}
	logger, tel, err := observe(ctx, cfg, stdout)
	if err != nil {
		return nil, err
	}
	logger.Info("starting", slog.Any("config", cfg))
	warnExposedDevIdentity(cfg, logger)
	s, err := start(ctx, cfg, logger, tel, o)
	if err != nil {
		// Close would have flushed telemetry; the service never started.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), FlushTimeout)
		defer cancel()
		return nil, errors.Join(fmt.Errorf("start: %w", err), tel.Shutdown(fctx))
	}
	return s, nil
}

// StartProcess starts the service from the process environment, logging to
// stdout, for entry points that have no main of their own (the Functions
// Framework's generated one). It is never closed: that server offers no
// shutdown hook, so telemetry is exported periodically but not flushed.
func StartProcess(ctx context.Context) (*Service, error) {
	s, err := Start(ctx, os.LookupEnv, os.Stdout)
	if err != nil {
		// There is no main to print the error, and maybe no logger yet:
		// report it in the format Cloud Logging reads.
		newLogger(config.Log{Format: "json", Level: slog.LevelInfo}, os.Stdout, "").
			Error("cannot start", slog.String("error", err.Error()))
		return nil, err
	}
	return s, nil
}

func start(ctx context.Context, cfg config.Config, logger *slog.Logger, tel *telemetry.Telemetry, o options) (*Service, error) {
	dbOpts := append(o.dbOpts, database.WithTracer(func(name string) pgx.QueryTracer { return tel.PgxTracer(name) }))
	db, err := database.Open(ctx, cfg.Database, dbOpts...)
	if err != nil {
		return nil, err
	}
	obs, err := instrument(tel, db, logger)
	if err != nil {
		db.Close()
		return nil, err
	}
	authn, err := auth.New(authOptions(cfg.Auth), logger)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("auth: %w", err)
	}
	policy := authPolicy(cfg.Auth)
	warnWildcardGrants(cfg.Auth, logger)
	// A check also answers /readyz, which must answer within the request
	// deadline (web.Deps.DatabaseTimeout).
	checker := database.NewChecker(db.Pool.Ping, min(cfg.Database.ConnectTimeout+time.Second, cfg.Database.RequestTimeout), logger)
	s := &Service{
		Config: cfg,
		Logger: logger,
		db:     db,
		tel:    tel,
		Web: web.Deps{
			Items:           items.NewStore(db.Pool),
			Health:          checker,
			Authn:           authn,
			Policy:          &policy,
			TrustedOrigins:  cfg.Auth.TrustedOrigins,
			SignOutURL:      cfg.Auth.SignOutURL,
			OnAuthRefusal:   func(ctx context.Context, r auth.Reason) { obs.refusals.Count(ctx, string(r)) },
			Events:          obs.metrics,
			DatabaseTimeout: cfg.Database.RequestTimeout,
			Observe:         obs.requests,
			ObserveProbes:   obs.probes,
			Logger:          logger,
			Build:           buildinfo.Get(),
			Started:         time.Now(),
		},
	}
	// Background work outlives the start-up context; Close stops it.
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.wg.Go(func() { checker.Run(bg, HealthInterval) })
	if ks, ok := authn.(interface{ KeySet() *auth.KeySet }); ok {
		// Fetch the signing keys now so the first request does not wait.
		s.wg.Go(func() {
			if err := ks.KeySet().Warm(bg); err != nil {
				logger.Warn("auth: cannot fetch signing keys yet; will retry on demand", slog.String("error", err.Error()))
			}
		})
	}
	// Ready means the schema this build needs, whoever applies it.
	checker.CheckSchema(database.SchemaStatus(db.Pool))
	if cfg.Database.Migrate {
		s.wg.Go(func() {
			s.migrate(bg, checker, cfg.Database.MigrateTimeout, database.WithAppRole(cfg.Database.AppRole))
		})
	}
	return s, nil
}

// Observe wraps a function's handler in the service's outermost middleware:
// panics recovered, each request traced, measured and logged.
func (s *Service) Observe(h http.Handler) http.Handler { return s.Web.Observe(h) }

// Close stops background work, flushes telemetry (its last spans may be SQL
// queries, so before the pool goes), and closes the pool, then the dialer.
// Call it after the HTTP server has drained.
func (s *Service) Close() {
	s.cancel()
	s.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), FlushTimeout)
	if err := s.tel.Shutdown(ctx); err != nil {
		s.Logger.Warn("telemetry flush failed", slog.String("error", err.Error()))
	}
	cancel()
	s.db.Close()
}
