package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"example.com/example-function/internal/database"
	"example.com/example-function/internal/items"
	"example.com/example-function/internal/localpg"
)

// The domain as the load test sees it: the list route it loads and the
// rows it seeds. With bare/main.go's list handler, this is what a copy
// that replaces items changes here (tools/loadtest/README.md#a-copy-with-another-domain).

// listPath is the list request of the "items", "telemetry" and "aa"
// scenarios; the bare reference answers the same path.
const listPath = "/api/items?limit=50"

// prepareDatabase creates a database, applies the service's own migrations
// and seeds rows items through the service's own store, so the schema and
// the data follow the domain code.
func prepareDatabase(ctx context.Context, pg *localpg.Server, rows int) (string, error) {
	admin, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		return "", fmt.Errorf("postgres: %w", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE loadtest"); err != nil {
		return "", fmt.Errorf("create database: %w", err)
	}
	url := pg.URL("loadtest")
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return "", err
	}
	defer pool.Close()
	if err := database.Migrate(ctx, pool); err != nil {
		return "", err
	}
	store := items.NewStore(pool)
	for i := 1; i <= rows; i++ {
		in := items.Input{
			Name:        "Item " + strconv.Itoa(i),
			Description: "Sample description number " + strconv.Itoa(i) + ", long enough to look like real text in a list.",
		}
		if _, err := store.Create(ctx, in, "loadtest@example.com"); err != nil {
			return "", fmt.Errorf("seed: %w", err)
		}
	}
	// Statistics for every table, so the planner chooses as it would on a
	// database that has been running for a while.
	if _, err := pool.Exec(ctx, "ANALYZE"); err != nil {
		return "", err
	}
	return url, nil
}
