package config

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// A DATABASE_URL that leaves the machine must say how it uses TLS; the
// loopback, Unix sockets and the Cloud SQL connector need not.
func TestDatabaseURLNeedsSSLModeOffTheMachine(t *testing.T) {
	t.Parallel()
	const secret = "pa55-w0rd"
	tests := []struct {
		name    string
		env     map[string]string
		problem string // variable named in the error; "" for valid
	}{
		// Non-loopback hosts without sslmode.
		{"remote host", map[string]string{"DATABASE_URL": "postgres://app:" + secret + "@db.example.com:5432/app"}, "DATABASE_URL"},
		{"private address", map[string]string{"DATABASE_URL": "postgres://app:" + secret + "@10.0.0.5/app"}, "DATABASE_URL"},
		{"not quite loopback", map[string]string{"DATABASE_URL": "postgres://app@128.0.0.1/app"}, "DATABASE_URL"},
		{"sslmode in the password only", map[string]string{"DATABASE_URL": "postgres://app:sslmode=disable@db.example.com/app"}, "DATABASE_URL"},
		{"query host overrides loopback", map[string]string{"DATABASE_URL": "postgres://localhost/app?host=db.example.com"}, "DATABASE_URL"},
		{"no host, PGHOST remote", map[string]string{"DATABASE_URL": "postgres:///app", "PGHOST": "db.example.com"}, "DATABASE_URL"},

		// Explicit choices, in the URL, as ssl=true, or in PGSSLMODE.
		{"verify-full", map[string]string{"DATABASE_URL": "postgres://app@db.example.com/app?sslmode=verify-full&sslrootcert=/etc/ca.pem"}, ""},
		{"require", map[string]string{"DATABASE_URL": "postgres://app@db.example.com/app?sslmode=require"}, ""},
		{"disable", map[string]string{"DATABASE_URL": "postgres://app@db.example.com/app?sslmode=disable"}, ""},
		{"explicit prefer is a choice", map[string]string{"DATABASE_URL": "postgres://app@db.example.com/app?sslmode=prefer"}, ""},
		{"upper case mode", map[string]string{"DATABASE_URL": "postgres://app@db.example.com/app?sslmode=REQUIRE"}, ""},
		{"ssl=true means require", map[string]string{"DATABASE_URL": "postgres://app@db.example.com/app?ssl=true"}, ""},
		{"unknown mode", map[string]string{"DATABASE_URL": "postgres://app@localhost/app?sslmode=always"}, "DATABASE_URL"},
		{"PGSSLMODE", map[string]string{"DATABASE_URL": "postgres://app@db.example.com/app", "PGSSLMODE": "verify-full"}, ""},
		{"PGSSLMODE unknown", map[string]string{"DATABASE_URL": "postgres://app@db.example.com/app", "PGSSLMODE": "on"}, "PGSSLMODE"},
		{"URL sslmode wins over PGSSLMODE", map[string]string{"DATABASE_URL": "postgres://app@db.example.com/app?sslmode=require", "PGSSLMODE": "on"}, ""},

		// Loopback: localhost, 127.0.0.0/8, ::1, Unix sockets, libpq's default.
		{"localhost", map[string]string{"DATABASE_URL": "postgres://app@localhost:5432/app"}, ""},
		{"LOCALHOST", map[string]string{"DATABASE_URL": "postgres://app@LOCALHOST/app"}, ""},
		{"127.0.0.1", map[string]string{"DATABASE_URL": "postgres://app@127.0.0.1:5432/app"}, ""},
		{"127.8.9.10", map[string]string{"DATABASE_URL": "postgres://app@127.8.9.10/app"}, ""},
		{"::1", map[string]string{"DATABASE_URL": "postgres://app@[::1]:5432/app"}, ""},
		{"socket in the query", map[string]string{"DATABASE_URL": "postgres:///app?host=/var/run/postgresql"}, ""},
		{"socket in the authority", map[string]string{"DATABASE_URL": "postgres://app@%2Fvar%2Frun%2Fpostgresql/app"}, ""},
		{"no host", map[string]string{"DATABASE_URL": "postgresql:///app"}, ""},
		{"no host, PGHOST socket", map[string]string{"DATABASE_URL": "postgres:///app", "PGHOST": "/tmp"}, ""},

		// key=value strings.
		{"kv remote", map[string]string{"DATABASE_URL": "host=db.example.com user=app password=" + secret + " dbname=app"}, "DATABASE_URL"},
		{"kv remote with sslmode", map[string]string{"DATABASE_URL": "host=db.example.com dbname=app sslmode=verify-full"}, ""},
		{"kv quoted values", map[string]string{"DATABASE_URL": "host = 'db.example.com' password='a b\\' sslmode=disable' sslmode = 'require'"}, ""},
		{"kv sslmode only inside a quoted password", map[string]string{"DATABASE_URL": "host=db.example.com password='x sslmode=disable'"}, "DATABASE_URL"},
		{"kv localhost", map[string]string{"DATABASE_URL": "host=localhost dbname=app"}, ""},
		{"kv socket", map[string]string{"DATABASE_URL": "host=/var/run/postgresql dbname=app"}, ""},
		{"kv no host", map[string]string{"DATABASE_URL": "dbname=app user=app"}, ""},
		{"kv no host, PGHOST remote", map[string]string{"DATABASE_URL": "dbname=app", "PGHOST": "db.example.com"}, "DATABASE_URL"},
		{"kv unterminated quote", map[string]string{"DATABASE_URL": "host='localhost dbname=app"}, "DATABASE_URL"},

		// Multi-host: every host must be local, or sslmode set.
		{"multi-host local", map[string]string{"DATABASE_URL": "postgres://app@localhost:5432,127.0.0.1:5433,[::1]:5434/app"}, ""},
		{"multi-host one remote", map[string]string{"DATABASE_URL": "postgres://app@localhost:5432,db.example.com:5432/app"}, "DATABASE_URL"},
		{"multi-host remote with sslmode", map[string]string{"DATABASE_URL": "postgres://app@a.example.com,b.example.com/app?sslmode=verify-full"}, ""},
		{"kv multi-host one remote", map[string]string{"DATABASE_URL": "host=localhost,db.example.com port=5432,5432 dbname=app"}, "DATABASE_URL"},

		// The Cloud SQL connector makes its own TLS; the rule is not about it.
		{"cloud sql connector", map[string]string{"INSTANCE_CONNECTION_NAME": "proj:europe-west1:db", "DB_USER": "app", "DB_NAME": "app", "DB_PASSWORD": "pw"}, ""},
		{"cloud sql ignores PGSSLMODE", map[string]string{"INSTANCE_CONNECTION_NAME": "proj:europe-west1:db", "DB_USER": "app", "DB_NAME": "app", "DB_PASSWORD": "pw", "PGSSLMODE": "on"}, ""},

		{"bad port", map[string]string{"DATABASE_URL": "postgres://app@localhost:port/app?sslmode=disable"}, "DATABASE_URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(envOf(tc.env))
			if tc.problem == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "\n  "+tc.problem+": ") {
				t.Fatalf("err = %v, want a problem with %s", err, tc.problem)
			}
			msg := err.Error()
			for _, leak := range []string{secret, "example.com", "10.0.0.5", "128.0.0.1", "app@", "postgres://"} {
				if strings.Contains(msg, leak) {
					t.Errorf("error echoes %q from the URL: %s", leak, msg)
				}
			}
		})
	}
}

// The missing-sslmode problem names each choice, so the fix needs no
// documentation lookup.
func TestMissingSSLModeNamesTheChoices(t *testing.T) {
	t.Parallel()
	_, err := Load(envOf(map[string]string{"DATABASE_URL": "postgres://app@db.example.com/app"}))
	if err == nil {
		t.Fatal("no error for a remote host without sslmode")
	}
	for _, want := range []string{"sslmode=verify-full", "sslmode=require", "sslmode=disable", "PGSSLMODE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
}

func TestDeadlineSettings(t *testing.T) {
	t.Parallel()
	c, err := Load(envOf(map[string]string{"DATABASE_URL": "postgres://localhost/app"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Database.RequestTimeout != 5*time.Second || c.Database.MigrateTimeout != 10*time.Minute || c.Auth.KeysMaxStale != 24*time.Hour {
		t.Fatalf("defaults: request %s, migrate %s, keys %s", c.Database.RequestTimeout, c.Database.MigrateTimeout, c.Auth.KeysMaxStale)
	}
	tests := []struct {
		name    string
		env     map[string]string
		problem string
	}{
		{"short request timeout", map[string]string{"DB_REQUEST_TIMEOUT": "300ms"}, ""},
		{"request timeout below a millisecond scale", map[string]string{"DB_REQUEST_TIMEOUT": "1ms"}, "DB_REQUEST_TIMEOUT"},
		{"request timeout zero", map[string]string{"DB_REQUEST_TIMEOUT": "0s"}, "DB_REQUEST_TIMEOUT"},
		{"request timeout at the write timeout", map[string]string{"DB_REQUEST_TIMEOUT": "60s"}, "DB_REQUEST_TIMEOUT"},
		{"request timeout above a lowered write timeout", map[string]string{"DB_REQUEST_TIMEOUT": "5s", "HTTP_WRITE_TIMEOUT": "4s"}, "DB_REQUEST_TIMEOUT"},
		{"no write timeout", map[string]string{"DB_REQUEST_TIMEOUT": "20s", "HTTP_WRITE_TIMEOUT": "0s"}, ""},
		{"migrate timeout", map[string]string{"DB_MIGRATE_TIMEOUT": "30m"}, ""},
		{"migrate timeout too short", map[string]string{"DB_MIGRATE_TIMEOUT": "100ms"}, "DB_MIGRATE_TIMEOUT"},
		{"keys max stale", map[string]string{"AUTH_KEYS_MAX_STALE": "72h"}, ""},
		{"keys max stale not past the refresh age", map[string]string{"AUTH_KEYS_MAX_STALE": "1h"}, "AUTH_KEYS_MAX_STALE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"DATABASE_URL": "postgres://localhost/app"}
			for k, v := range tc.env {
				env[k] = v
			}
			_, err := Load(envOf(env))
			switch {
			case tc.problem == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.problem != "" && (err == nil || !strings.Contains(err.Error(), "\n  "+tc.problem+": ")):
				t.Fatalf("err = %v, want a problem with %s", err, tc.problem)
			}
		})
	}
}

// The host lists read here are the ones pgx connects to: for each
// connection string, both agree on whether every host is local.
func TestHostsAgreeWithPgx(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{
		"postgres://app:pw@db.example.com:5432/app",
		"postgres://app:p%40ss@localhost/app",
		"postgres://localhost/app?host=db.example.com",
		"postgres://app@%2Fvar%2Frun%2Fpostgresql/app",
		"postgres:///app?host=/tmp",
		"postgres://app@localhost:5432,127.0.0.1:5433,[::1]:5434/app",
		"postgres://app@localhost:5432,db.example.com:5432/app",
		"postgres://[::1],[2001:db8::1]/app",
		"host=localhost,db.example.com port=5432,5432 dbname=app",
		"host = 'localhost' dbname=app password='a b\\' host=db.example.com'",
		"host=127.0.0.2 dbname=app",
		"host=/var/run/postgresql dbname=app",
	} {
		settings, err := connSettings(dsn)
		if err != nil {
			t.Errorf("%q: %v", dsn, err)
			continue
		}
		ours := true
		for _, h := range strings.Split(settings["host"], ",") {
			ours = ours && isLocalPostgresHost(h)
		}
		cfg, err := pgconn.ParseConfig(dsn + sep(dsn) + "sslmode=disable")
		if err != nil {
			t.Errorf("pgx cannot parse %q: %v", dsn, err)
			continue
		}
		pgxLocal := isLocalPostgresHost(cfg.Host)
		for _, fb := range cfg.Fallbacks {
			pgxLocal = pgxLocal && isLocalPostgresHost(fb.Host)
		}
		if ours != pgxLocal {
			t.Errorf("%q: local = %v here, %v by pgx (host %q)", dsn, ours, pgxLocal, cfg.Host)
		}
	}
}

// sep is what joins one more setting to a connection string.
func sep(dsn string) string {
	switch {
	case !looksLikeURL(dsn):
		return " "
	case strings.Contains(dsn, "?"):
		return "&"
	}
	return "?"
}
