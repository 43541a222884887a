package database_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"example.com/example-function/internal/database"
	"example.com/example-function/internal/pgtest"
)

// Many instances starting together must not race: every migration is
// applied once, and every caller returns without error.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	const instances = 6
	errs := make(chan error, instances)
	var wg sync.WaitGroup
	for range instances {
		// Separate pools, as separate instances would have.
		pool, err := pgxpool.New(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		wg.Go(func() { errs <- database.Migrate(ctx, pool) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent migrate: %v", err)
		}
	}

	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// And once more later, as a restart would: a no-op.
	if err := database.Migrate(ctx, pool); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	var version, tables int
	if err := pool.QueryRow(ctx, "SELECT version FROM schema_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'items'").Scan(&tables); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if version != len(files) || tables != 1 {
		t.Fatalf("schema version %d, items tables %d; want %d and 1", version, tables, len(files))
	}
}
