package database

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"time"

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
	appRole     string
	lockTimeout time.Duration
}

// WithAppRole names the role the service connects as. The migrations grant
// it row access (SELECT, INSERT, UPDATE, DELETE) on the tables they create,
// now and by default privileges later, and nothing else. Without it the
// service is expected to connect as the owner, as in a one-role setup.
func WithAppRole(name string) MigrateOption {
	return func(o *migrateOptions) { o.appRole = name }
}

// WithLockTimeout bounds how long a migration statement waits for a table
// lock (DB_MIGRATE_LOCK_TIMEOUT): a migration stuck behind a long
// transaction fails and is retried, instead of queueing every query of the
// service behind the lock it waits for. Without it the run's deadline bounds
// the wait.
func WithLockTimeout(d time.Duration) MigrateOption {
	return func(o *migrateOptions) { o.lockTimeout = d }
}

// DefaultMigrateTimeout bounds a migration whose context has no deadline.
const DefaultMigrateTimeout = 10 * time.Minute

// migrationLock is the advisory lock tern takes around a migration run
// (lockNum in tern's migrate.go). Taking the same lock first makes tern's
// own pg_advisory_lock call return at once, nested inside ours.
const migrationLock = int64(9628173550095224)

// Migrate applies every embedded migration not yet applied, exactly once
// however many instances start at once. It runs on a connection of its own,
// exempt from the service's request timeouts (an index built on a large
// table takes minutes) and bounded instead by ctx's deadline, which
// PostgreSQL is told as well (DefaultMigrateTimeout when ctx has none).
//
// Instances that find another one migrating poll for the lock instead of
// waiting on it inside a statement: a waiting statement holds a snapshot,
// and CREATE INDEX CONCURRENTLY waits for every older snapshot, so waiting
// there would deadlock with the migration it waits for.
func Migrate(ctx context.Context, pool *pgxpool.Pool, opts ...MigrateOption) error {
	var o migrateOptions
	for _, opt := range opts {
		opt(&o)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultMigrateTimeout)
		defer cancel()
	}
	deadline, _ := ctx.Deadline()
	cc := pool.Config().ConnConfig.Copy()
	for k, v := range migrationTimeouts(time.Until(deadline), o.lockTimeout) {
		cc.RuntimeParams[k] = v
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return fmt.Errorf("migrate: connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()

	if err := lockMigrations(ctx, conn); err != nil {
		return err
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, _ = conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", migrationLock)
	}()

	m, err := migrate.NewMigrator(ctx, conn, versionTable)
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

// migrationTimeouts bound the migration connection's statements and idle
// transactions by the time the run has left, and its lock waits by lock
// (when set and shorter). tern resets the session (RESET ALL) after each
// migration, which returns to these connection-time values.
func migrationTimeouts(left, lock time.Duration) map[string]string {
	v := millis(left)
	l := v
	if lock > 0 && lock < left {
		l = millis(lock)
	}
	return map[string]string{
		"statement_timeout":                   v,
		"lock_timeout":                        l,
		"idle_in_transaction_session_timeout": v,
	}
}

// lockMigrations takes the migration lock, polling with a capped backoff
// until it is free or ctx ends.
func lockMigrations(ctx context.Context, conn *pgx.Conn) error {
	delay := 50 * time.Millisecond
	for {
		var locked bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", migrationLock).Scan(&locked); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		if locked {
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("migrate: another instance is still migrating: %w", ctx.Err())
		case <-t.C:
		}
		delay = min(delay*2, time.Second)
	}
}

func embeddedMigrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the embed pattern above guarantees the directory
	}
	return sub
}
