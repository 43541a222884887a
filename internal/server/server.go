// Package server runs the service behind its own http.Server: timeouts,
// HTTP/1.1 plus unencrypted HTTP/2 (h2c, which Cloud Run speaks to the
// container when --use-http2 is set), and a graceful drain on shutdown.
// cmd/server and cmd/dev are thin mains around Main.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"example.com/example-function/internal/app"
	"example.com/example-function/internal/config"
	"example.com/example-function/internal/telemetry"
	"example.com/example-function/internal/web"
)

// Main loads the configuration, starts the service and serves until ctx
// ends (SIGTERM/SIGINT), then drains in-flight requests and closes the
// pool. Invalid configuration returns an error naming every bad variable.
func Main(ctx context.Context, lookup config.Lookup, stdout io.Writer, opts ...app.Option) error {
	cfg, err := config.Load(lookup)
	if err != nil {
		return err
	}
	// Lines are batched on their way to stdout (see telemetry.LogWriter);
	// closed last, after the drain and the telemetry flush have logged.
	logOut := telemetry.NewLogWriter(stdout)
	defer logOut.Close()
	logger, tel, err := app.Observe(ctx, cfg, logOut)
	if err != nil {
		return err
	}
	logger.Info("starting", slog.Any("config", cfg))
	warnExposedDevIdentity(cfg, logger)

	a, err := app.Start(ctx, cfg, logger, append(opts, app.WithTelemetry(tel))...)
	if err != nil {
		// The app would have flushed telemetry on Close; it never started.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), app.FlushTimeout)
		defer cancel()
		return errors.Join(fmt.Errorf("start: %w", err), tel.Shutdown(sctx))
	}
	// After the drain: flush telemetry, then close the pool and dialer.
	defer a.Close()

	// The same handler the "app" function serves (function.NewHandlers),
	// built without importing package function: its Functions Framework
	// registration pulls in the CloudEvents SDK, whose package
	// initialisation alone doubled this binary's start-up time.
	h, err := web.NewApp(a.Deps)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	return Serve(ctx, cfg.Server, h, logger)
}

// Serve listens on cfg.Host (every interface when empty) and cfg.Port and
// serves h until ctx ends, then shuts down within cfg.ShutdownTimeout.
func Serve(ctx context.Context, cfg config.Server, h http.Handler, logger *slog.Logger) error {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		Protocols:         &protocols,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	logger.Info("listening", slog.String("addr", ln.Addr().String()))

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	logger.Info("shutting down: draining in-flight requests", slog.String("timeout", cfg.ShutdownTimeout.String()))
	start := time.Now()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Requests still running after the budget are cut off: Cloud Run
		// would kill the container moments later anyway.
		_ = srv.Close()
		return fmt.Errorf("shutdown: drain did not finish within %s: %w", cfg.ShutdownTimeout, err)
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("drained", slog.String("took", time.Since(start).String()))
	return nil
}
