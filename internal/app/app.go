// Package app wires the service together from a Config: database pool,
// background health checks and migrations, the item store and the web
// dependencies. cmd/server and the Functions Framework registration in
// package function both start the service through it.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/example-function/internal/auth"
	"example.com/example-function/internal/buildinfo"
	"example.com/example-function/internal/config"
	"example.com/example-function/internal/database"
	"example.com/example-function/internal/health"
	"example.com/example-function/internal/items"
	"example.com/example-function/internal/telemetry"
	"example.com/example-function/internal/web"
)

// HealthInterval is how often the database is checked in the background.
const HealthInterval = 5 * time.Second

// App is a started service.
type App struct {
	// Deps are the handlers' dependencies; function.NewHandlers turns them
	// into the "app" and "healthz" handlers.
	Deps web.Deps

	db     *database.DB
	tel    *telemetry.Telemetry
	cancel context.CancelFunc
	wg     sync.WaitGroup
	logger *slog.Logger
}

// Option adjusts Start.
type Option func(*options)

type options struct {
	dbOpts []database.Option
	tel    *telemetry.Telemetry
}

// WithTelemetry instruments the pool, the handlers and the business
// events, and makes Close flush telemetry before closing the pool.
func WithTelemetry(t *telemetry.Telemetry) Option {
	return func(o *options) { o.tel = t }
}

// FlushTimeout bounds the final telemetry export in Close: with the
// default 7 s drain it keeps shutdown inside Cloud Run's 10 s.
const FlushTimeout = 1500 * time.Millisecond

// WithDatabaseOptions passes options to database.Open (tests use it to
// point the Cloud SQL connector at a fake).
func WithDatabaseOptions(opts ...database.Option) Option {
	return func(o *options) { o.dbOpts = append(o.dbOpts, opts...) }
}

// Start opens the pool without connecting, starts background health checks
// and (when enabled) migrations with retry, and returns at once: a database
// outage never stops the service from starting.
func Start(ctx context.Context, cfg config.Config, logger *slog.Logger, opts ...Option) (*App, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.tel != nil {
		o.dbOpts = append(o.dbOpts, database.WithTracer(func(name string) pgx.QueryTracer { return o.tel.PgxTracer(name) }))
	}
	db, err := database.Open(ctx, cfg.Database, o.dbOpts...)
	if err != nil {
		return nil, err
	}
	metrics, mw, err := instrument(o.tel, db, logger)
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
	// A check also answers /readyz, which must answer within the request
	// deadline (web.Deps.DatabaseTimeout).
	checker := health.NewChecker(db.Pool.Ping, min(cfg.Database.ConnectTimeout+time.Second, cfg.Database.RequestTimeout), logger)
	a := &App{
		db:     db,
		tel:    o.tel,
		logger: logger,
		Deps: web.Deps{
			Items:           items.NewStore(db.Pool),
			Health:          checker,
			Authn:           authn,
			Policy:          &policy,
			TrustedOrigins:  cfg.Auth.TrustedOrigins,
			SignOutURL:      cfg.Auth.SignOutURL,
			OnAuthRefusal:   func(ctx context.Context, r auth.Reason) { metrics.AuthRefused(ctx, string(r)) },
			Events:          metrics,
			DatabaseTimeout: cfg.Database.RequestTimeout,
			Middleware:      mw,
			Logger:          logger,
			Build:           buildinfo.Get(),
			Started:         time.Now(),
		},
	}
	// Background work outlives the start-up context; Close stops it.
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancel = cancel
	a.wg.Go(func() { checker.Run(bg, HealthInterval) })
	if ks, ok := authn.(interface{ KeySet() *auth.KeySet }); ok {
		// Fetch the signing keys now so the first request does not wait.
		a.wg.Go(func() {
			if err := ks.KeySet().Warm(bg); err != nil {
				logger.Warn("auth: cannot fetch signing keys yet; will retry on demand", slog.String("error", err.Error()))
			}
		})
	}
	if cfg.Database.Migrate {
		a.wg.Go(func() { a.migrate(bg, checker, cfg.Database.MigrateTimeout) })
	} else {
		checker.SetMigrated()
	}
	return a, nil
}

// migrate applies migrations, each attempt bounded by timeout, retrying
// with capped exponential backoff until it succeeds or the app closes;
// /readyz stays 503 until then.
func (a *App) migrate(ctx context.Context, checker *health.Checker, timeout time.Duration) {
	delay := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, timeout)
		err := database.Migrate(actx, a.db.Pool)
		cancel()
		if err == nil {
			checker.SetMigrated()
			a.logger.Info("database migrations applied", slog.Int("attempt", attempt))
			return
		}
		if ctx.Err() != nil {
			return
		}
		a.logger.Warn("database migrations failed; retrying",
			slog.Int("attempt", attempt), slog.String("retry_in", delay.String()), slog.String("error", err.Error()))
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, 30*time.Second)
	}
}

// DB returns the pool wrapper (for tools like cmd/dev's seeding).
func (a *App) DB() *database.DB { return a.db }

// Close stops background work, flushes telemetry (its last spans may be
// SQL queries, so before the pool goes), and closes the pool, then the
// dialer. Call it after the HTTP server has drained.
func (a *App) Close() {
	a.cancel()
	a.wg.Wait()
	if a.tel != nil {
		ctx, cancel := context.WithTimeout(context.Background(), FlushTimeout)
		if err := a.tel.Shutdown(ctx); err != nil {
			a.logger.Warn("telemetry flush failed", slog.String("error", err.Error()))
		}
		cancel()
	}
	a.db.Close()
}

// instrument creates the business metrics, pool gauges and HTTP middleware;
// without telemetry the metrics are a no-op and there is no middleware.
func instrument(tel *telemetry.Telemetry, db *database.DB, logger *slog.Logger) (*telemetry.AppMetrics, []func(http.Handler) http.Handler, error) {
	if tel == nil {
		return nil, nil, nil
	}
	if err := tel.RecordPoolStats(db.Pool); err != nil {
		return nil, nil, fmt.Errorf("telemetry: %w", err)
	}
	metrics, err := tel.NewAppMetrics()
	if err != nil {
		return nil, nil, fmt.Errorf("telemetry: %w", err)
	}
	mw, err := tel.Middleware(telemetry.HTTPOptions{Logger: logger, InternalError: web.InternalError})
	if err != nil {
		return nil, nil, fmt.Errorf("telemetry: %w", err)
	}
	return metrics, []func(http.Handler) http.Handler{mw}, nil
}
