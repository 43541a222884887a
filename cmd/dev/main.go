// Command dev runs the service locally (`make run`). When neither
// DATABASE_URL nor INSTANCE_CONNECTION_NAME is set it starts a PostgreSQL
// server of its own, keeping data in .data/postgres so it survives restarts,
// migrates it as the owner role and adds a few sample items, then serves as
// the app role (rows only), as production does. Ctrl-C stops both.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	neturl "net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"example.com/example-function/function"
	"example.com/example-function/internal/database"
	"example.com/example-function/internal/items"
	"example.com/example-function/internal/localpg"
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
		srv, err := localpg.Start(ctx, localpg.Options{DataDir: dataDir, Durable: true})
		if errors.Is(err, localpg.ErrNotInstalled) {
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
		env["DB_MIGRATE"] = "false" // prepare migrated as the owner
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

// Local roles, as in production: the owner migrates, the service connects
// as the app role, which may only read and write rows.
const (
	ownerRole = "app_owner"
	appRole   = "app"
)

// prepare creates the roles and the "app" database (owned by ownerRole) if
// needed, migrates it as the owner, seeds a few sample items into an empty
// table, and returns the app role's URL.
func prepare(ctx context.Context, srv *localpg.Server) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := createRoles(ctx, srv); err != nil {
		return "", fmt.Errorf("local PostgreSQL: %w", err)
	}
	pool, err := database.Open(ctx, dbConfig(roleURL(srv, ownerRole)))
	if err != nil {
		return "", err
	}
	defer pool.Close()
	if err := database.Migrate(ctx, pool.Pool, database.WithAppRole(appRole)); err != nil {
		return "", err
	}
	conn, err := pool.Pool.Acquire(ctx)
	if err != nil {
		return "", err
	}
	_, err = database.CheckAppRole(ctx, conn.Conn(), appRole)
	conn.Release()
	if err != nil {
		return "", err
	}
	store := items.NewStore(pool.Pool)
	url := roleURL(srv, appRole)
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

// createRoles makes the two roles and the database, as the superuser. A
// data directory from before the two roles had its tables owned by the
// superuser: they are handed to the owner role, so it can migrate them.
func createRoles(ctx context.Context, srv *localpg.Server) error {
	conn, err := pgx.Connect(ctx, srv.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, role := range []string{ownerRole, appRole} {
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", role).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			if _, err := conn.Exec(ctx, "CREATE ROLE "+role+" LOGIN"); err != nil {
				return fmt.Errorf("create role %s: %w", role, err)
			}
		}
	}
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'app')").Scan(&exists); err != nil {
		return err
	}
	if !exists {
		_, err := conn.Exec(ctx, "CREATE DATABASE app OWNER "+ownerRole)
		return err
	}
	if _, err := conn.Exec(ctx, "ALTER DATABASE app OWNER TO "+ownerRole); err != nil {
		return err
	}
	app, err := pgx.Connect(ctx, srv.URL("app"))
	if err != nil {
		return err
	}
	defer app.Close(ctx)
	_, err = app.Exec(ctx, `DO $$
DECLARE t record;
BEGIN
  FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tableowner <> '`+ownerRole+`' LOOP
    EXECUTE format('ALTER TABLE public.%I OWNER TO `+ownerRole+`', t.tablename);
  END LOOP;
END $$`)
	return err
}

// roleURL is the URL of database app on srv as role.
func roleURL(srv *localpg.Server, role string) string {
	u, err := neturl.Parse(srv.URL("app"))
	if err != nil {
		panic(err) // pgtest builds the URL
	}
	u.User = neturl.User(role)
	return u.String()
}

var sampleItems = []items.Input{
	{Name: "Read the README", Description: "It lists every route, setting and how to deploy."},
	{Name: "Try the JSON API", Description: "curl -s localhost:8080/api/items | jq"},
	{Name: "Edit me", Description: "Open this item, press Edit, and save. Then try editing it from two tabs at once."},
}
