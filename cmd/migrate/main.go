// Command migrate applies the embedded database migrations and exits; the
// deploy pipeline runs it before shifting traffic. The server also applies
// them at start, under the same advisory lock, so running both is safe.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"example.com/example-function/internal/app"
	"example.com/example-function/internal/config"
	"example.com/example-function/internal/database"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "migrate:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		return err
	}
	logger := app.NewLogger(cfg.Log, os.Stdout, cfg.Telemetry.ProjectID)
	db, err := database.Open(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, cfg.Database.MigrateTimeout)
	defer cancel()
	if err := database.Migrate(ctx, db.Pool); err != nil {
		return err
	}
	logger.Info("database migrations applied")
	return nil
}
