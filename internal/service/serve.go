package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"example.com/example-function/internal/config"
	"example.com/example-function/internal/telemetry"
)

// Run starts the service, serves the handler build makes from it until ctx
// ends (SIGTERM, SIGINT), drains in-flight requests, then closes everything
// in reverse order of opening. It is all of cmd/server and cmd/dev.
func Run(ctx context.Context, lookup config.Lookup, stdout io.Writer, build func(*Service) (http.Handler, error), opts ...Option) error {
	// Lines are batched on their way to stdout (see telemetry.LogWriter);
	// closed last, after the drain and the telemetry flush have logged.
	logOut := telemetry.NewLogWriter(stdout)
	defer logOut.Close()
	s, err := Start(ctx, lookup, logOut, opts...)
	if err != nil {
		return err
	}
	defer s.Close()
	h, err := build(s)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	return s.Serve(ctx, h)
}

// Serve listens on the configured host (every interface when empty) and
// port and serves h with the production
// http.Server (timeouts, HTTP/1.1 plus unencrypted HTTP/2, which Cloud Run
// speaks to the container with --use-http2) until ctx ends, then drains
// within the shutdown timeout.
func (s *Service) Serve(ctx context.Context, h http.Handler) error {
	cfg := s.Config.Server
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
		ErrorLog:          slog.NewLogLogger(s.Logger.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	s.Logger.Info("listening", slog.String("addr", ln.Addr().String()))

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	s.Logger.Info("shutting down: draining in-flight requests", slog.String("timeout", cfg.ShutdownTimeout.String()))
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
	s.Logger.Info("drained", slog.String("took", time.Since(start).String()))
	return nil
}
