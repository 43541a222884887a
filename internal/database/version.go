package database

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/tern/v2/migrate"
)

// LatestVersion is the schema version this build's embedded migrations
// reach: the number of migration files (tern numbers them 1..n).
func LatestVersion() int32 {
	paths, err := migrate.FindMigrations(embeddedMigrations())
	if err != nil {
		panic(fmt.Sprintf("database: embedded migrations: %v", err)) // a build-time mistake
	}
	return int32(len(paths))
}

// Querier is what SchemaVersion needs: a pool, a connection or a transaction.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// SchemaVersion reads the version tern recorded in the database; 0 when no
// migration has run yet (no version table).
func SchemaVersion(ctx context.Context, q Querier) (int32, error) {
	var v int32
	err := q.QueryRow(ctx, "SELECT version FROM "+versionTable).Scan(&v)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

// SchemaStatus returns a check of q's schema version against LatestVersion,
// in the shape Checker.CheckSchema takes.
func SchemaStatus(q Querier) func(ctx context.Context) (have, want int32, err error) {
	want := LatestVersion()
	return func(ctx context.Context) (int32, int32, error) {
		have, err := SchemaVersion(ctx, q)
		return have, want, err
	}
}
