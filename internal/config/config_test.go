package config

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func envOf(env map[string]string) Lookup {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(envOf(map[string]string{"DATABASE_URL": "postgres://localhost/app"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Port != 8080 || c.Server.ShutdownTimeout != 7*time.Second || c.Log.Format != "json" ||
		c.Log.Level != slog.LevelInfo || c.Database.MaxConns != 4 || !c.Database.Migrate ||
		c.Database.IPType != "public" || c.Auth.Mode != "none" || c.OnCloudRun || c.Service != "example-function" {
		t.Fatalf("defaults: %+v", c)
	}
}

// One start reports every problem, each naming its variable.
func TestLoadReportsEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := Load(envOf(map[string]string{
		"PORT":               "http",
		"SHUTDOWN_TIMEOUT":   "30s",
		"LOG_LEVEL":          "loud",
		"LOG_FORMAT":         "xml",
		"DB_MAX_CONNS":       "0",
		"DB_MIGRATE":         "maybe",
		"DB_CONNECT_TIMEOUT": "soon",
	}))
	var cerr *Error
	if !errors.As(err, &cerr) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want *config.Error", err)
	}
	for _, v := range []string{"PORT", "SHUTDOWN_TIMEOUT", "LOG_LEVEL", "LOG_FORMAT", "DB_MAX_CONNS", "DB_MIGRATE", "DB_CONNECT_TIMEOUT", "DATABASE_URL"} {
		if !strings.Contains(err.Error(), "\n  "+v+": ") {
			t.Errorf("error does not name %s:\n%v", v, err)
		}
	}
}

func TestDatabaseModes(t *testing.T) {
	t.Parallel()
	cloud := map[string]string{"INSTANCE_CONNECTION_NAME": "proj:europe-west1:db", "DB_USER": "app", "DB_NAME": "app", "DB_PASSWORD": "pw"}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		problem string // variable named in the error; "" for valid
	}{
		{"url", map[string]string{"DATABASE_URL": "postgres://u:p@h:5432/d?sslmode=require"}, ""},
		{"key=value with a colon in the password", map[string]string{"DATABASE_URL": "host=h user=u password=a:b dbname=d sslmode=require"}, ""},
		{"broken url", map[string]string{"DATABASE_URL": "postgres://u:p@h:port/d"}, "DATABASE_URL"},
		{"neither", map[string]string{}, "DATABASE_URL"},
		{"both", with(cloud, "DATABASE_URL", "postgres://h/d"), "DATABASE_URL"},
		{"cloud sql password", cloud, ""},
		{"cloud sql bad name", with(cloud, "INSTANCE_CONNECTION_NAME", "just-a-name"), "INSTANCE_CONNECTION_NAME"},
		{"cloud sql without user", with(cloud, "DB_USER", ""), "DB_USER"},
		{"cloud sql without db", with(cloud, "DB_NAME", ""), "DB_NAME"},
		{"cloud sql without password", with(cloud, "DB_PASSWORD", ""), "DB_PASSWORD"},
		{"iam", with(cloud, "DB_PASSWORD", "", "DB_IAM_AUTH", "true", "DB_USER", "run@proj.iam.gserviceaccount.com"), ""},
		{"iam with password", with(cloud, "DB_IAM_AUTH", "true", "DB_USER", "run@proj.iam.gserviceaccount.com"), "DB_PASSWORD"},
		{"bad ip type", with(cloud, "DB_IP_TYPE", "ipv6"), "DB_IP_TYPE"},
		{"min above max", map[string]string{"DATABASE_URL": "postgres://h/d?sslmode=require", "DB_MIN_CONNS": "5", "DB_MAX_CONNS": "2"}, "DB_MIN_CONNS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(envOf(tc.env))
			switch {
			case tc.problem == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.problem != "" && (err == nil || !strings.Contains(err.Error(), "  "+tc.problem+": ")):
				t.Fatalf("err = %v, want a problem with %s", err, tc.problem)
			}
		})
	}
}

// The start-up log line shows the configuration without any secret.
func TestLogValueHidesSecrets(t *testing.T) {
	t.Parallel()
	for _, env := range []map[string]string{
		{"DATABASE_URL": "postgres://app:hunter2-url@db:5432/app?sslmode=disable"},
		{"INSTANCE_CONNECTION_NAME": "p:r:i", "DB_USER": "app", "DB_NAME": "app", "DB_PASSWORD": "hunter2-pw"},
	} {
		c, err := Load(envOf(env))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("starting", slog.Any("config", c))
		if strings.Contains(buf.String(), "hunter2") {
			t.Fatalf("secret in the log: %s", buf.String())
		}
		if !strings.Contains(buf.String(), `"database":{"mode":`) {
			t.Fatalf("database settings missing from the log: %s", buf.String())
		}
	}
}

func TestCloudRunIsDetected(t *testing.T) {
	t.Parallel()
	c, err := Load(envOf(map[string]string{"K_SERVICE": "items", "DATABASE_URL": "postgres://h/d?sslmode=require"}))
	if err != nil {
		t.Fatal(err)
	}
	if !c.OnCloudRun || c.Service != "items" {
		t.Fatalf("OnCloudRun=%v Service=%q", c.OnCloudRun, c.Service)
	}
}

// The migration job's settings: defaults, and a lock bound within the run's.
func TestMigrationSettings(t *testing.T) {
	t.Parallel()
	c, err := Load(envOf(map[string]string{"DATABASE_URL": "postgres://localhost/app"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Database.AppRole != "" || c.Database.MigrateTimeout != 10*time.Minute || c.Database.MigrateLockTimeout != 10*time.Second {
		t.Fatalf("defaults: %+v", c.Database)
	}
	for env, bad := range map[string]string{
		"DB_MIGRATE_LOCK_TIMEOUT": "20m",
		"DB_MIGRATE_TIMEOUT":      "0s",
		"DB_APP_ROLE":             "app\nrole",
	} {
		_, err := Load(envOf(map[string]string{"DATABASE_URL": "postgres://localhost/app", env: bad}))
		if err == nil || !strings.Contains(err.Error(), env) {
			t.Errorf("%s=%q: err %v, want a problem naming it", env, bad, err)
		}
	}
}
