package database_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"example.com/example-function/internal/config"
	"example.com/example-function/internal/database"
	"example.com/example-function/internal/pgtest"
)

// openService opens the service's pool on a fresh database, as the app
// does, with the given request timeout.
func openService(t *testing.T, requestTimeout time.Duration) (*database.DB, string) {
	t.Helper()
	url := pgtest.NewDatabase(t)
	db, err := database.Open(t.Context(), config.Database{
		URL: url, MaxConns: 4, ConnectTimeout: 5 * time.Second,
		MaxConnLifetime: time.Hour, MaxConnIdleTime: time.Hour, HealthCheckPeriod: time.Minute,
		RequestTimeout: requestTimeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db, url
}

// The service's connections tell PostgreSQL the request deadline: a
// statement, a lock wait and an idle transaction each end on the server.
func TestServiceConnectionsCarryTheDeadline(t *testing.T) {
	t.Parallel()
	db, url := openService(t, 300*time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for name, want := range map[string]string{
		"statement_timeout": "300ms", "lock_timeout": "240ms", "idle_in_transaction_session_timeout": "300ms",
	} {
		var got string
		if err := db.Pool.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}

	// A long statement is cancelled by the server (57014), with the
	// client's context still far from its end.
	_, err := db.Pool.Exec(ctx, "SELECT pg_sleep(2)")
	if code := pgCode(err); code != "57014" {
		t.Errorf("pg_sleep(2): %v, want 57014 query_canceled", err)
	}

	// A lock wait ends at lock_timeout (55P03).
	if err := database.Migrate(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	locker, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close(context.Background())
	tx, err := locker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE items IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	_, err = db.Pool.Exec(ctx, "SELECT count(*) FROM items")
	if code := pgCode(err); code != "55P03" {
		t.Errorf("query under a lock: %v, want 55P03 lock_not_available", err)
	}
	_ = tx.Rollback(ctx)

	// A transaction left idle is ended by the server, and the pool drops
	// the connection instead of handing it out again.
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond)
	if _, err := conn.Exec(ctx, "SELECT 1"); err == nil {
		t.Error("an idle transaction outlived idle_in_transaction_session_timeout")
	}
	conn.Release()
	if err := db.Pool.Ping(ctx); err != nil {
		t.Errorf("pool after a terminated session: %v", err)
	}
}

// Migrations run on a connection of their own, exempt from the request
// deadline (a lock wait of a second is fine) but bounded by their own
// context, which the server is told as well.
func TestMigrationConnectionHasItsOwnBound(t *testing.T) {
	t.Parallel()
	db, url := openService(t, 200*time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := database.Migrate(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	// Undo the index migration so Migrate has work left that needs a
	// lock another session holds.
	for _, sql := range []string{"DROP INDEX items_name_trgm", "UPDATE schema_version SET version = 3"} {
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	// hold locks items from a session of its own for d; the returned
	// channel closes when the lock is gone.
	hold := func(d time.Duration) <-chan struct{} {
		t.Helper()
		locker, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := locker.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// SHARE conflicts with the index build's SHARE UPDATE EXCLUSIVE.
		if _, err := tx.Exec(ctx, "LOCK TABLE items IN SHARE MODE"); err != nil {
			t.Fatal(err)
		}
		gone := make(chan struct{})
		go func() {
			defer close(gone)
			time.Sleep(d)
			_ = locker.Close(context.Background())
		}()
		return gone
	}

	// Bounded by its own (short) context: gives up while the lock is held.
	gone := hold(3 * time.Second)
	short, cancelShort := context.WithTimeout(ctx, 700*time.Millisecond)
	start := time.Now()
	err = database.Migrate(short, db.Pool)
	cancelShort()
	if err == nil {
		t.Fatal("migration finished while its lock was held past its deadline")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("migration gave up after %s, want about its 700ms bound", took)
	}
	<-gone

	// WithLockTimeout ends a lock wait long before the run's own bound.
	gone = hold(3 * time.Second)
	start = time.Now()
	err = database.Migrate(ctx, db.Pool, database.WithLockTimeout(300*time.Millisecond))
	if err == nil {
		t.Fatal("migration finished while its lock was held past its lock timeout")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("migration gave up after %s, want about its 300ms lock timeout", took)
	}
	<-gone

	// Exempt from the 200ms request deadline: waits a second for the lock.
	gone = hold(time.Second)
	if err := database.Migrate(ctx, db.Pool); err != nil {
		t.Fatalf("migration behind a 1 s lock: %v", err)
	}
	<-gone
	wantValidIndex(t, ctx, admin, "after migrating behind the lock")
}

// A build interrupted half-way leaves an invalid index; the migration's
// retry replaces it with a valid one.
func TestIndexMigrationReplacesAnInvalidIndex(t *testing.T) {
	t.Parallel()
	db, url := openService(t, time.Second)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := database.Migrate(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	// What an interrupted CREATE INDEX CONCURRENTLY leaves behind, before
	// tern could record the version (pgtest runs as a superuser).
	for _, sql := range []string{
		"UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'items_name_trgm'::regclass",
		"UPDATE schema_version SET version = 3",
	} {
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	if err := database.Migrate(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	wantValidIndex(t, ctx, admin, "after the retry")
}

// An instance that finds another one migrating waits outside any
// statement: CREATE INDEX CONCURRENTLY would otherwise wait for the waiting
// statement's snapshot while it waits for the lock, a deadlock.
func TestMigrateWaitsForTheLockOutsideStatements(t *testing.T) {
	t.Parallel()
	db, url := openService(t, time.Second)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	holder, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(context.Background())
	// tern's own lock, as an older release's migrator would hold it.
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_lock(9628173550095224)"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- database.Migrate(ctx, db.Pool) }()
	time.Sleep(time.Second)
	select {
	case err := <-done:
		t.Fatalf("Migrate returned while the lock was held: %v", err)
	default:
	}
	var waiting int
	if err := holder.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").Scan(&waiting); err != nil {
		t.Fatal(err)
	}
	if waiting != 0 {
		t.Errorf("%d sessions wait on a lock inside a statement, want 0", waiting)
	}
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_unlock(9628173550095224)"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Migrate after the lock was released: %v", err)
	}
}

func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// wantValidIndex fails the test unless the trigram index exists and is valid.
func wantValidIndex(t *testing.T, ctx context.Context, admin *pgx.Conn, what string) {
	t.Helper()
	var valid bool
	if err := admin.QueryRow(ctx, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_name_trgm'::regclass").Scan(&valid); err != nil || !valid {
		t.Fatalf("%s: valid = %v, %v", what, valid, err)
	}
}
