package database_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"example.com/example-function/internal/database"
	"example.com/example-function/internal/items"
	"example.com/example-function/internal/pgtest"
)

func connect(t *testing.T, ctx context.Context, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// The service's role, granted by the migrations, reads and writes rows and
// can do nothing else to the schema; the owner keeps DDL.
func TestAppRoleOnlyReadsAndWritesRows(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := pgtest.NewRoles(t)
	owner, err := pgxpool.New(ctx, r.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	if v, err := database.SchemaVersion(ctx, owner); err != nil || v != 0 {
		t.Fatalf("fresh database: schema version %d, %v; want 0", v, err)
	}
	if err := database.Migrate(ctx, owner, database.WithAppRole(r.App)); err != nil {
		t.Fatal(err)
	}
	ownerConn := connect(t, ctx, r.OwnerURL)
	warnings, err := database.CheckAppRole(ctx, ownerConn, r.App)
	if err != nil || len(warnings) != 0 {
		t.Fatalf("CheckAppRole: %v, warnings %q", err, warnings)
	}

	// The service works as the app role: every store operation.
	app, err := pgxpool.New(ctx, r.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	if v, err := database.SchemaVersion(ctx, app); err != nil || v != database.LatestVersion() {
		t.Fatalf("app role reads schema version %d, %v; want %d", v, err, database.LatestVersion())
	}
	store := items.NewStore(app)
	it, err := store.Create(ctx, items.Input{Name: "as the app role"}, "alice")
	if err != nil {
		t.Fatalf("create as app role: %v", err)
	}
	if it, err = store.Update(ctx, it.ID, items.Input{Name: "renamed"}, it.Version, "alice"); err != nil {
		t.Fatalf("update as app role: %v", err)
	}
	if list, _, err := store.List(ctx, items.Page{Limit: 10, Query: "renamed"}); err != nil || len(list) != 1 {
		t.Fatalf("list as app role: %v, %d items", err, len(list))
	}
	if err := store.Delete(ctx, it.ID, it.Version); err != nil {
		t.Fatalf("delete as app role: %v", err)
	}

	// And it can change nothing but rows.
	appConn := connect(t, ctx, r.AppURL)
	var serverVersion int
	if err := appConn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&serverVersion); err != nil {
		t.Fatal(err)
	}
	refused := []string{
		"DROP TABLE items",
		"ALTER TABLE items ADD COLUMN extra text",
		"TRUNCATE items",
		"CREATE INDEX items_by_name ON items (name)",
		"UPDATE schema_version SET version = 0",
		"DELETE FROM schema_version",
	}
	if serverVersion >= 150000 {
		// Before PostgreSQL 15 every role may create in schema public.
		refused = append(refused, "CREATE TABLE mine (id int)")
	}
	for _, sql := range refused {
		_, err := appConn.Exec(ctx, sql)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" { // insufficient_privilege
			t.Errorf("app role ran %q: %v; want insufficient_privilege", sql, err)
		}
	}

	// A table a later migration creates (as the owner) is the app role's to
	// use at once, through the default privileges.
	if _, err := owner.Exec(ctx, "CREATE TABLE later (id bigint GENERATED ALWAYS AS IDENTITY, note text)"); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Exec(ctx, "INSERT INTO later (note) VALUES ('x')"); err != nil {
		t.Errorf("app role cannot use a table created after the grants: %v", err)
	}
	if _, err := app.Exec(ctx, "DROP TABLE later"); err == nil {
		t.Error("app role dropped a table a later migration created")
	}
}

// A database migrated without the app role (or for another one) fails the
// check, naming the tables, instead of leaving a service that cannot read.
func TestCheckAppRoleNamesMissingGrants(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := pgtest.NewRoles(t)
	owner, err := pgxpool.New(ctx, r.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	if err := database.Migrate(ctx, owner); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, ctx, r.OwnerURL)
	tests := []struct{ role, want string }{
		{r.App, "items"},
		{"no_such_role_" + r.Database, "does not exist"},
		{r.Owner, "can act as the owner"},
	}
	for _, tt := range tests {
		_, err := database.CheckAppRole(ctx, conn, tt.role)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CheckAppRole(%s) = %v, want an error containing %q", tt.role, err, tt.want)
		}
	}
}

func TestLatestVersionCountsEmbeddedMigrations(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if got := database.LatestVersion(); int(got) != len(files) {
		t.Fatalf("LatestVersion() = %d, want %d (the migration files)", got, len(files))
	}
}
