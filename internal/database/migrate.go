package database

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// versionTable records the applied migration version.
const versionTable = "schema_version"

// MigrateOption adjusts Migrate.
type MigrateOption func(*migrateOptions)

type migrateOptions struct {
	appRole string
}

// WithAppRole names the role the service connects as. The migrations grant
// it row access (SELECT, INSERT, UPDATE, DELETE) on the tables they create,
// now and by default privileges later, and nothing else. Without it the
// service is expected to connect as the owner, as in a one-role setup.
func WithAppRole(name string) MigrateOption {
	return func(o *migrateOptions) { o.appRole = name }
}

// Migrate applies every embedded migration not yet applied. tern holds a
// PostgreSQL advisory lock while it migrates, so many instances starting at
// once apply each migration exactly once.
func Migrate(ctx context.Context, pool *pgxpool.Pool, opts ...MigrateOption) error {
	var o migrateOptions
	for _, opt := range opts {
		opt(&o)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: acquire connection: %w", err)
	}
	defer conn.Release()

	m, err := migrate.NewMigrator(ctx, conn.Conn(), versionTable)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	// Templates see app_role as a quoted identifier, or empty: a role name
	// never reaches SQL unquoted.
	m.Data["app_role"] = ""
	if o.appRole != "" {
		m.Data["app_role"] = pgx.Identifier{o.appRole}.Sanitize()
	}
	if err := m.LoadMigrations(embeddedMigrations()); err != nil {
		return fmt.Errorf("migrate: load: %w", err)
	}
	if err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

func embeddedMigrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the embed pattern above guarantees the directory
	}
	return sub
}
