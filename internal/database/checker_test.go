package database_test

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"example.com/example-function/internal/database"
	"example.com/example-function/internal/localpg"
	"example.com/example-function/internal/pgtest"
)

// Many simultaneous /readyz requests share one database check, so the
// endpoint cannot be used to flood the database.
func TestConcurrentChecksAreCoalesced(t *testing.T) {
	t.Parallel()
	pool, err := pgxpool.New(context.Background(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var pings atomic.Int32
	c := database.NewChecker(func(ctx context.Context) error {
		pings.Add(1)
		time.Sleep(50 * time.Millisecond) // keep the check open while others arrive
		return pool.Ping(ctx)
	}, 2*time.Second, slog.New(slog.DiscardHandler))

	if got := c.State().Status; got != "unknown" {
		t.Fatalf("before any check: %q", got)
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if s := c.Check(context.Background()); s.Status != "up" {
				t.Errorf("status %q, want up", s.Status)
			}
		})
	}
	wg.Wait()
	if n := pings.Load(); n != 1 {
		t.Fatalf("%d pings for 50 concurrent checks, want 1", n)
	}
	// Within the freshness window the cached answer is reused.
	c.Check(context.Background())
	if n := pings.Load(); n != 1 {
		t.Fatalf("%d pings, want the cached state reused", n)
	}
}

func TestStateFollowsTheDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, err := localpg.Start(ctx, localpg.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	pool, err := pgxpool.New(ctx, srv.URL("postgres")+"&connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	c := database.NewChecker(pool.Ping, time.Second, slog.New(slog.DiscardHandler))

	waitFor := func(want string) database.State {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			s := c.Check(ctx)
			if s.Status == want {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("status %q, want %q", s.Status, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	up := waitFor("up")
	if up.CheckedAt.IsZero() || up.Since.IsZero() {
		t.Fatalf("state lacks times: %+v", up)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	down := waitFor("down")
	if !down.Since.After(up.Since) {
		t.Fatalf("since did not move on the change: %+v then %+v", up, down)
	}
	c.SetMigrated()
	if !c.State().Migrated {
		t.Fatal("SetMigrated not reported")
	}
}

func TestNoDatabaseIsDown(t *testing.T) {
	t.Parallel()
	c := database.NewChecker(nil, time.Second, slog.New(slog.DiscardHandler))
	if s := c.Check(context.Background()); s.Status != "down" {
		t.Fatalf("status %q, want down", s.Status)
	}
}

// With a schema check, Migrated follows the database's schema version, not
// who migrated it: behind -> not migrated; current or newer -> migrated.
func TestSchemaCheckDecidesMigrated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	c := database.NewChecker(pool.Ping, 2*time.Second, slog.New(slog.DiscardHandler))
	c.CheckSchema(database.SchemaStatus(pool))
	want := database.LatestVersion()

	waitFor := func(migrated bool, version int32) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			s := c.Check(ctx)
			if s.Status == "up" && s.Migrated == migrated && s.SchemaVersion == version && s.SchemaWanted == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("state %+v, want migrated=%v at version %d of %d", s, migrated, version, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitFor(false, 0)
	if err := database.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	waitFor(true, want)
	// The next release's migration ran: this build still serves on it.
	if _, err := pool.Exec(ctx, "UPDATE schema_version SET version = version + 1"); err != nil {
		t.Fatal(err)
	}
	waitFor(true, want+1)
	if _, err := pool.Exec(ctx, "UPDATE schema_version SET version = 1"); err != nil {
		t.Fatal(err)
	}
	waitFor(false, 1)
}
