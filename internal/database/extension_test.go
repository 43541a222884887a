package database_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"example.com/example-function/internal/database"
	"example.com/example-function/internal/pgtest"
)

// Cloud SQL lets only members of cloudsqlsuperuser create extensions, and an
// IAM database user is none (https://cloud.google.com/sql/docs/postgres/extensions).
// Migrating as such a user works once pg_trgm has been created by a user
// who may (docs/performance.md says how); until then the migration fails,
// naming the extension.
func TestMigrateAsAnUnprivilegedUser(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	// The role is cluster-wide: dropped after the database (Cleanup runs
	// last in, first out).
	role := "app_" + strings.ReplaceAll(strings.ToLower(t.Name()), "/", "_")[:20] + "_" + time.Now().Format("150405000")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, pgtest.AdminURL(t)); err == nil {
			_, _ = c.Exec(ctx, "DROP ROLE IF EXISTS "+role)
			_ = c.Close(ctx)
		}
	})
	adminURL := pgtest.NewDatabase(t)
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	for _, sql := range []string{
		`CREATE ROLE ` + role + ` LOGIN`,
		`GRANT ALL ON SCHEMA public TO ` + role,
		`REVOKE CREATE ON DATABASE ` + strings.TrimPrefix(mustParse(t, adminURL).Path, "/") + ` FROM PUBLIC`,
	} {
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	u := mustParse(t, adminURL)
	u.User = url.User(role)
	pool, err := pgxpool.New(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	if err := database.Migrate(ctx, pool); err == nil || !strings.Contains(err.Error(), "pg_trgm") {
		t.Fatalf("migrating without the right to create pg_trgm: %v, want an error naming it", err)
	}
	if _, err := admin.Exec(ctx, "CREATE EXTENSION pg_trgm"); err != nil {
		t.Fatal(err)
	}
	if err := database.Migrate(ctx, pool); err != nil {
		t.Fatalf("migrating once pg_trgm exists: %v", err)
	}
	var valid bool
	if err := pool.QueryRow(ctx, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'items_name_trgm'::regclass").Scan(&valid); err != nil || !valid {
		t.Fatalf("trigram index: valid %v, %v", valid, err)
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
