// Command dev runs the service locally (`make run`). When neither
// DATABASE_URL nor INSTANCE_CONNECTION_NAME is set it starts a PostgreSQL
// server of its own, keeping data in .data/postgres so it survives restarts,
// migrates it and adds a few sample items. Ctrl-C stops both.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/example-function/function"
	"example.com/example-function/internal/database"
	"example.com/example-function/internal/items"
	"example.com/example-function/internal/pgtest"
	"example.com/example-function/internal/service"
)

// Local defaults: the dev identity, on the loopback interface only (every
// caller is an editor), and readable logs.
var devDefaults = map[string]string{
	"LISTEN_HOST": "127.0.0.1",
	"AUTH_MODE":   "dev",
	"DEV_USER":    "developer@example.com",
	"DEV_GROUPS":  "editors",
	"LOG_FORMAT":  "text",
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "dev:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, stdout io.Writer) error {
	env := map[string]string{}
	if os.Getenv("DATABASE_URL") == "" && os.Getenv("INSTANCE_CONNECTION_NAME") == "" {
		dataDir := os.Getenv("DEV_DATA_DIR")
		if dataDir == "" {
			dataDir = filepath.Join(".data", "postgres")
		}
		fmt.Fprintf(stdout, "dev: starting a local PostgreSQL (data in %s)\n", dataDir)
		srv, err := pgtest.Start(ctx, pgtest.Options{DataDir: dataDir, Durable: true})
		if errors.Is(err, pgtest.ErrNotInstalled) {
			return err
		}
		if err != nil {
			return fmt.Errorf("local PostgreSQL: %w", err)
		}
		defer func() {
			fmt.Fprintln(stdout, "dev: stopping the local PostgreSQL")
			if err := srv.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, "dev:", err)
			}
		}()
		fmt.Fprintf(stdout, "dev: PostgreSQL on 127.0.0.1:%d (psql %q)\n", srv.Port(), srv.URL("app"))
		url, err := prepare(ctx, srv)
		if err != nil {
			return err
		}
		env["DATABASE_URL"] = url
	}
	lookup := func(name string) (string, bool) {
		if v, ok := env[name]; ok {
			return v, true
		}
		if v, ok := os.LookupEnv(name); ok {
			return v, true
		}
		v, ok := devDefaults[name]
		return v, ok
	}
	return service.Run(ctx, lookup, stdout, function.Target)
}

// prepare creates the "app" database if needed, migrates it and seeds a few
// sample items into an empty table.
func prepare(ctx context.Context, srv *pgtest.Server) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, srv.URL("postgres"))
	if err != nil {
		return "", fmt.Errorf("local PostgreSQL: %w", err)
	}
	var exists bool
	err = conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'app')").Scan(&exists)
	if err == nil && !exists {
		_, err = conn.Exec(ctx, "CREATE DATABASE app")
	}
	conn.Close(ctx)
	if err != nil {
		return "", fmt.Errorf("create database app: %w", err)
	}

	url := srv.URL("app")
	pool, err := database.Open(ctx, dbConfig(url))
	if err != nil {
		return "", err
	}
	defer pool.Close()
	if err := database.Migrate(ctx, pool.Pool); err != nil {
		return "", err
	}
	store := items.NewStore(pool.Pool)
	if list, _, err := store.List(ctx, items.Page{Limit: 1}); err != nil || len(list) > 0 {
		return url, err
	}
	for _, in := range sampleItems {
		if _, err := store.Create(ctx, in, "seed"); err != nil {
			return "", fmt.Errorf("seed: %w", err)
		}
	}
	return url, nil
}

var sampleItems = []items.Input{
	{Name: "Read the README", Description: "It lists every route, setting and how to deploy."},
	{Name: "Try the JSON API", Description: "curl -s localhost:8080/api/items | jq"},
	{Name: "Edit me", Description: "Open this item, press Edit, and save. Then try editing it from two tabs at once."},
}
