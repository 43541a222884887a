package config

import (
	"log/slog"
	"regexp"
	"strings"
	"time"
)

// Database says how to reach PostgreSQL: a plain URL, or a Cloud SQL instance
// through the Cloud SQL Go connector.
type Database struct {
	// URL is a libpq connection string (URL or key=value). Secret: it may
	// hold a password.
	URL string

	// Cloud SQL connector settings, used when InstanceConnectionName is set.
	InstanceConnectionName string // project:region:instance
	User                   string
	Password               string // secret
	Name                   string
	IAMAuth                bool
	IPType                 string // public, private or psc

	// Pool settings. How MaxConns, the instance count and the server's
	// max_connections must relate: docs/cloud-sql.md#connections.
	MaxConns          int
	MinConns          int
	MaxConnLifetime   time.Duration
	MaxConnIdleTime   time.Duration
	ConnectTimeout    time.Duration
	HealthCheckPeriod time.Duration

	// RequestTimeout (DB_REQUEST_TIMEOUT) bounds each request that uses the
	// database, its wait for a pool connection included. The service's
	// connections tell PostgreSQL too (statement_timeout, lock_timeout,
	// idle_in_transaction_session_timeout), so no statement outlives it
	// for long on the server either.
	RequestTimeout time.Duration

	// Migrate applies the embedded migrations at start (in the background).
	// Production leaves it to `server migrate` (a Cloud Run job) instead.
	Migrate bool

	// AppRole is the role the service runs as when it is not the owner:
	// `server migrate` grants it row access and checks it has no more.
	AppRole string
	// MigrateTimeout (DB_MIGRATE_TIMEOUT) bounds a migration run (a whole
	// `server migrate`, or one attempt at start) and each of its statements.
	// Migrations run on a connection of their own, exempt from
	// RequestTimeout: building an index on a large table takes minutes.
	MigrateTimeout time.Duration
	// MigrateLockTimeout bounds how long a migration waits for a table lock,
	// so a migration stuck behind a long transaction fails (and is retried)
	// instead of queueing every query of the service behind it.
	MigrateLockTimeout time.Duration
}

// Bounds of DB_REQUEST_TIMEOUT. PostgreSQL counts its timeouts in
// milliseconds; DefaultRequestTimeout ends a stalled request before the
// default 7 s drain does.
const (
	DefaultRequestTimeout = 5 * time.Second
	MinRequestTimeout     = 10 * time.Millisecond
	DefaultMigrateTimeout = 10 * time.Minute
)

var instanceNameRE = regexp.MustCompile(`^[a-z0-9:.\-]+:[a-z0-9\-]+:[a-z0-9\-]+$`)

func loadDatabase(p *parser) Database {
	d := Database{
		URL:                    p.str("DATABASE_URL", ""),
		InstanceConnectionName: p.str("INSTANCE_CONNECTION_NAME", ""),
		User:                   p.str("DB_USER", ""),
		Password:               p.str("DB_PASSWORD", ""),
		Name:                   p.str("DB_NAME", ""),
		IAMAuth:                p.boolean("DB_IAM_AUTH", false),
		IPType:                 p.oneOf("DB_IP_TYPE", "public", "public", "private", "psc"),
		MaxConns:               p.integer("DB_MAX_CONNS", 4, 1, 1000),
		MinConns:               p.integer("DB_MIN_CONNS", 0, 0, 1000),
		MaxConnLifetime:        p.duration("DB_MAX_CONN_LIFETIME", 30*time.Minute),
		MaxConnIdleTime:        p.duration("DB_MAX_CONN_IDLE_TIME", 5*time.Minute),
		ConnectTimeout:         p.duration("DB_CONNECT_TIMEOUT", 5*time.Second),
		HealthCheckPeriod:      p.duration("DB_HEALTH_CHECK_PERIOD", 10*time.Second),
		RequestTimeout:         p.duration("DB_REQUEST_TIMEOUT", DefaultRequestTimeout),
		Migrate:                p.boolean("DB_MIGRATE", true),
		AppRole:                p.str("DB_APP_ROLE", ""),
		MigrateTimeout:         p.duration("DB_MIGRATE_TIMEOUT", DefaultMigrateTimeout),
		MigrateLockTimeout:     p.duration("DB_MIGRATE_LOCK_TIMEOUT", 10*time.Second),
	}
	if d.RequestTimeout < MinRequestTimeout {
		p.problem("DB_REQUEST_TIMEOUT", "must be at least %s, got %s", MinRequestTimeout, d.RequestTimeout)
	}
	if len(d.AppRole) > 63 || strings.ContainsFunc(d.AppRole, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		p.problem("DB_APP_ROLE", "must be a PostgreSQL role name (at most 63 bytes, no control characters)")
	}
	if d.MigrateTimeout < time.Second {
		p.problem("DB_MIGRATE_TIMEOUT", "must be at least 1s, got %s", d.MigrateTimeout)
	}
	if d.MigrateLockTimeout <= 0 || d.MigrateLockTimeout > d.MigrateTimeout {
		p.problem("DB_MIGRATE_LOCK_TIMEOUT", "must be greater than zero and at most DB_MIGRATE_TIMEOUT (%s)", d.MigrateTimeout)
	}
	if d.MinConns > d.MaxConns {
		p.problem("DB_MIN_CONNS", "must not exceed DB_MAX_CONNS (%d), got %d", d.MaxConns, d.MinConns)
	}
	if d.ConnectTimeout == 0 {
		p.problem("DB_CONNECT_TIMEOUT", "must be greater than zero")
	}
	switch {
	case d.URL == "" && d.InstanceConnectionName == "":
		p.problem("DATABASE_URL", "set DATABASE_URL (any libpq URL) or INSTANCE_CONNECTION_NAME (Cloud SQL); `make run` starts a local PostgreSQL for you")
	case d.URL != "" && d.InstanceConnectionName != "":
		p.problem("DATABASE_URL", "set either DATABASE_URL or INSTANCE_CONNECTION_NAME, not both")
	case d.URL != "":
		// pgx accepts both URLs and key=value strings; problems never echo
		// the value (it may hold a password).
		checkSSLMode(p, d.URL)
	case d.InstanceConnectionName != "":
		if !instanceNameRE.MatchString(d.InstanceConnectionName) {
			p.problem("INSTANCE_CONNECTION_NAME", "must look like project:region:instance, got %q", d.InstanceConnectionName)
		}
		if d.User == "" {
			p.problem("DB_USER", "is required with INSTANCE_CONNECTION_NAME (for IAM login: the service account email)")
		}
		if d.Name == "" {
			p.problem("DB_NAME", "is required with INSTANCE_CONNECTION_NAME")
		}
		if d.IAMAuth && d.User != "" && !strings.Contains(d.User, "@") {
			// An IAM database user is always named after an email; a bare name
			// is a built-in user, which cannot log in with a token.
			p.problem("DB_USER", "must be the IAM principal's email when DB_IAM_AUTH=true (e.g. SA@PROJECT.iam.gserviceaccount.com), got %q", d.User)
		}
		if d.IAMAuth && d.Password != "" {
			p.problem("DB_PASSWORD", "must be empty when DB_IAM_AUTH=true")
		}
		if !d.IAMAuth && d.Password == "" {
			p.problem("DB_PASSWORD", "is required unless DB_IAM_AUTH=true")
		}
	}
	return d
}

// looksLikeURL tells a postgres:// URL from a key=value string (whose
// values, such as passwords, may contain anything, colons included).
func looksLikeURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// LogValue hides the URL and password.
func (d Database) LogValue() slog.Value {
	mode := "none"
	switch {
	case d.URL != "":
		mode = "url"
	case d.InstanceConnectionName != "":
		mode = "cloudsql"
	}
	return slog.GroupValue(
		slog.String("mode", mode),
		slog.String("instance", d.InstanceConnectionName),
		slog.String("user", d.User),
		slog.String("name", d.Name),
		slog.Bool("iam_auth", d.IAMAuth),
		slog.String("ip_type", d.IPType),
		slog.Int("max_conns", d.MaxConns),
		slog.String("request_timeout", d.RequestTimeout.String()),
		slog.Bool("migrate", d.Migrate),
		slog.String("app_role", d.AppRole),
		slog.String("migrate_timeout", d.MigrateTimeout.String()),
	)
}
