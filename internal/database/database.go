// Package database opens the PostgreSQL connection pool, either from a plain
// connection string or through the Cloud SQL Go connector, and applies the
// embedded schema migrations. It knows nothing about items or HTTP.
package database

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"cloud.google.com/go/cloudsqlconn"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"example.com/example-function/internal/config"
)

// DB is an open pool and, on Cloud SQL, the dialer behind it.
type DB struct {
	Pool   *pgxpool.Pool
	dialer *cloudsqlconn.Dialer
}

// Option adjusts Open.
type Option func(*options)

type options struct {
	dialerOpts []cloudsqlconn.Option
	tracer     func(database string) pgx.QueryTracer
}

// WithDialerOptions passes extra options to cloudsqlconn.NewDialer, e.g.
// WithAdminAPIEndpoint for tests against a fake Cloud SQL.
func WithDialerOptions(opts ...cloudsqlconn.Option) Option {
	return func(o *options) { o.dialerOpts = append(o.dialerOpts, opts...) }
}

// WithTracer sets a pgx query tracer (telemetry), made by t for the
// database name in the settings.
func WithTracer(t func(database string) pgx.QueryTracer) Option {
	return func(o *options) { o.tracer = t }
}

// ErrNotConfigured means neither DATABASE_URL nor INSTANCE_CONNECTION_NAME is set.
var ErrNotConfigured = errors.New("no database configured: set DATABASE_URL or INSTANCE_CONNECTION_NAME")

// Open builds the pool. It does not connect: the first query (or the
// background health check) does, so a database outage never stops start-up.
func Open(ctx context.Context, c config.Database, opts ...Option) (*DB, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	var (
		pc  *pgxpool.Config
		err error
	)
	switch {
	case c.URL != "":
		pc, err = pgxpool.ParseConfig(c.URL)
		if err != nil {
			// pgx errors can echo the connection string; keep the password out.
			return nil, errors.New("database: DATABASE_URL cannot be parsed as a PostgreSQL connection string")
		}
	case c.InstanceConnectionName != "":
		// sslmode=disable: the connector already wraps the connection in
		// mutual TLS; a second handshake inside the tunnel would only cost time.
		// host names the instance (the dialer ignores it) so connection
		// errors say which instance they are about; see cloudSQLLookup.
		dsn := fmt.Sprintf("host=%s port=3307 user=%s dbname=%s sslmode=disable",
			quote(c.InstanceConnectionName), quote(cloudSQLUser(c)), quote(c.Name))
		if !c.IAMAuth {
			dsn += " password=" + quote(c.Password)
		}
		pc, err = pgxpool.ParseConfig(dsn)
		if err != nil {
			return nil, fmt.Errorf("database: cloud sql settings: %w", err)
		}
	default:
		return nil, ErrNotConfigured
	}
	pc.MaxConns = int32(c.MaxConns)
	pc.MinConns = int32(c.MinConns)
	pc.MaxConnLifetime = c.MaxConnLifetime
	pc.MaxConnLifetimeJitter = c.MaxConnLifetime / 10
	pc.MaxConnIdleTime = c.MaxConnIdleTime
	pc.HealthCheckPeriod = c.HealthCheckPeriod
	pc.ConnConfig.ConnectTimeout = c.ConnectTimeout
	for k, v := range ServiceTimeouts(c.RequestTimeout) {
		pc.ConnConfig.RuntimeParams[k] = v
	}
	if o.tracer != nil {
		pc.ConnConfig.Tracer = o.tracer(pc.ConnConfig.Database)
	}

	db := &DB{}
	if c.InstanceConnectionName != "" {
		db.dialer, err = newDialer(ctx, c, o.dialerOpts)
		if err != nil {
			return nil, err
		}
		pc.ConnConfig.DialFunc = dialFunc(db.dialer, c)
		pc.ConnConfig.LookupFunc = cloudSQLLookup
		pc.ConnConfig.OnPgError = explainLoginError(c, pc.ConnConfig.OnPgError)
	}
	db.Pool, err = pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		db.closeDialer()
		return nil, fmt.Errorf("database: pool: %w", err)
	}
	return db, nil
}

// ServiceTimeouts are the session settings that tell PostgreSQL the
// request deadline d, so a statement whose client gave up (or vanished)
// does not keep running or holding locks on the server: statements and
// idle transactions end after d. Lock waits end at four fifths of d, so a
// request stalled behind a lock usually gets a clean error from the server
// before its own deadline cuts the connection, and the pool keeps its
// connections through a stall. d <= 0 sets nothing.
func ServiceTimeouts(d time.Duration) map[string]string {
	if d <= 0 {
		return nil
	}
	return map[string]string{
		"statement_timeout":                   millis(d),
		"lock_timeout":                        millis(d - d/5),
		"idle_in_transaction_session_timeout": millis(d),
	}
}

// millis renders d in whole milliseconds (PostgreSQL's unit for its
// timeouts), at least 1: 0 would mean no limit.
func millis(d time.Duration) string {
	return strconv.FormatInt(max(d.Milliseconds(), 1), 10)
}

func ipTypeOption(t string) cloudsqlconn.DialOption {
	switch t {
	case "private":
		return cloudsqlconn.WithPrivateIP()
	case "psc":
		return cloudsqlconn.WithPSC()
	default:
		return cloudsqlconn.WithPublicIP()
	}
}

// Close closes the pool first, then the dialer: the reverse of opening, so
// no connection is left needing a dialer that is gone.
func (db *DB) Close() {
	db.Pool.Close()
	db.closeDialer()
}

func (db *DB) closeDialer() {
	if db.dialer != nil {
		_ = db.dialer.Close()
	}
}

// quote makes a value safe inside a libpq key=value string.
func quote(s string) string {
	r := []rune{'\''}
	for _, c := range s {
		if c == '\'' || c == '\\' {
			r = append(r, '\\')
		}
		r = append(r, c)
	}
	return string(append(r, '\''))
}
